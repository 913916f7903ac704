"""Verilog-A devices (OSDI) and their twins characterised from SPICE; BSIM4 access table.

    .venv/bin/python benchmarks/bench_verilog_a.py

For each packaged Verilog-A model: compile time, characterisation time (ngspice .dc + rate
probes), the twin's error against ngspice on a held-out pulse train and sine, and run times.
Also the ngspice time of the same VTEAM run as OSDI and as B-sources, the BSIM4 access
table on 32x32 and 64x64 1T1R arrays (numpy and torch), and Verilog-A cells (the packaged
VTEAM through VerilogACellLaw) in 32x32 arrays (1R, level-1 and BSIM4 1T1R) and in the demo
digits network (64-16-10).  Writes benchmarks/results/verilog_a*.md.

    .venv/bin/python benchmarks/bench_verilog_a.py --only bsim4,cells   # a part
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _table import write_table  # noqa: E402

from circuitsim import behavioral  # noqa: E402
from circuitsim.cards import ACCESS_018UM, VTEAM_CROSSBAR, VTEAM_MEMTORCH  # noqa: E402
from circuitsim.cards.bsim4 import ACCESS_BSIM4_PTM45HP, characterise_access  # noqa: E402
from circuitsim.cards.yakopcic import YAKOPCIC_KNOWM  # noqa: E402
from circuitsim.crossbar import CrossbarSpec  # noqa: E402
from circuitsim.crossbar.spice import column_currents  # noqa: E402
from circuitsim.devices.characterise import single_device_deck  # noqa: E402
from circuitsim.devices.decks import standard_runs  # noqa: E402
from circuitsim.devices.report import DeviceStudy, run_device_study  # noqa: E402
from circuitsim.devices.va_cells import VerilogACellLaw  # noqa: E402
from circuitsim.devices.verilog_a import VerilogAModel, packaged_model  # noqa: E402
from circuitsim.spice import simulate  # noqa: E402

CASES = {
    # VTEAM: the window lets x overshoot a bound by a few x_c (0.01) before it stops, so the
    # state grid runs past [0, 1] to where the motion has stopped (else the twin, clamped at
    # the grid edge, keeps moving at the edge rate), with a rate point every 0.01
    "vteam_crossbar": (packaged_model("vteam.va"), VTEAM_CROSSBAR.spice_params(),
                       DeviceStudy(v_min=-1.2, v_max=1.2, n_voltages=49, x_min=-0.05,
                                   x_max=1.05, n_states=111, n_rate_states=111,
                                   probe_time=1e-6, x0=0.3, pulse=(-0.8, 1.0, 1e-6, 2e-6),
                                   sine=(1.0, 20e3))),
    "vteam_memtorch": (packaged_model("vteam.va"), VTEAM_MEMTORCH.spice_params(),
                       DeviceStudy(v_min=-0.25, v_max=0.25, n_voltages=51, x_min=-0.05,
                                   x_max=1.05, n_states=111, n_rate_states=111,
                                   probe_time=1e-9, x0=0.3, rate_interp="smooth",
                                   pulse=(-0.21, 0.1, 50e-9, 100e-9), sine=(0.25, 5e6))),
    "yakopcic_knowm": (packaged_model("yakopcic.va"), YAKOPCIC_KNOWM.params(),
                       DeviceStudy(v_min=-1.2, v_max=1.2, n_voltages=49, n_rate_states=101,
                                   probe_time=1e-5, x0=0.11, pulse=(-0.9, 1.0, 20e-6, 50e-6),
                                   sine=(1.0, 1e3))),
}


def device_rows() -> list[dict]:
    rows = []
    for name, (src, params, study) in CASES.items():
        model = VerilogAModel(src, params, "x0", "x")
        with tempfile.TemporaryDirectory() as tmp:
            rep = run_device_study(model, study, tmp, plots=False)
        for stim, s in rep["stimuli"].items():
            rows.append({"model": name, "stimulus": stim, "compile s": rep["compile_s"],
                         "characterise s": rep["characterise_s"],
                         "max|dI|/max|I|": s["max_current_error_rel"],
                         "max|dx|": s["max_state_error"], "x swing": s["state_swing"],
                         "points": s["points"], "ngspice s": s["ngspice_s"],
                         "twin s": s["twin_s"]})
    return rows


def osdi_vs_bsource_rows() -> list[dict]:
    rows = []
    for name in ("vteam_crossbar_pulses", "vteam_memtorch_pulses"):
        r = standard_runs()[name]
        ref = simulate(r.deck())
        model = VerilogAModel(packaged_model("vteam.va"), r.card.spice_params(), "x0", "x")
        va = simulate(single_device_deck(model, r.waveform, x0=r.x0, stop=r.stop,
                                         step=r.period / 400, tmax=r.tmax))
        xr = np.interp(va.axis, ref.axis, ref["v(xm.x)"])
        rows.append({"run": name, "B-source ngspice s": ref.wall_s, "OSDI ngspice s": va.wall_s,
                     "max|dx| OSDI vs B": float(np.max(np.abs(va["v(n1#x)"] - xr)))})
    return rows


def bsim4_rows() -> list[dict]:
    torch.set_num_threads(1)  # 2 intra-op threads on 2 shared cores were 6x slower (measured)
    t0 = time.perf_counter()
    acc = characterise_access(ACCESS_BSIM4_PTM45HP)
    t_char = time.perf_counter() - t0
    rng = np.random.default_rng(32)
    rows = []
    for n in (32, 64):
        G = rng.uniform(1e-5, 1e-4, (n, n))
        kw = dict(r_wire_row=1.0, r_wire_col=1.0, r_source=1.0, r_sense=1.0)
        V = rng.uniform(0.0, 0.2, n)
        t0 = time.perf_counter()
        ref = column_currents(CrossbarSpec(G, access=ACCESS_BSIM4_PTM45HP, **kw), V)
        t_sp = time.perf_counter() - t0
        t0 = time.perf_counter()
        tw = behavioral.column_currents(CrossbarSpec(G, access=acc, **kw), V)
        t_tw = time.perf_counter() - t0
        t0 = time.perf_counter()
        tt = behavioral.column_currents(CrossbarSpec(G, access=acc, **kw), torch.tensor(V),
                                        backend="torch", device="cpu").numpy()
        t_tt = time.perf_counter() - t0
        rows.append({"array": f"{n}x{n} 1T1R, 1 ohm wires", "table s": t_char,
                     "max|dI|/max|I|": float(np.max(np.abs(tw - ref)) / np.max(np.abs(ref))),
                     "torch vs numpy": float(np.max(np.abs(tt - tw)) / np.max(np.abs(tw))),
                     "ngspice s": t_sp, "twin s": t_tw, "twin torch s": t_tt})
    return rows


def vteam_cell_law() -> tuple[VerilogACellLaw, float]:
    """The packaged VTEAM (crossbar card: 10-100 kOhm, thresholds +-0.3 V) as a cell law,
    its I-V table measured in one .dc (41 states x 41 voltages over +-0.4 V)."""
    model = VerilogAModel(packaged_model("vteam.va"), VTEAM_CROSSBAR.spice_params(), "x0", "x")
    model.osdi()  # compile outside the timing
    t0 = time.perf_counter()
    law = VerilogACellLaw.measure(model, np.linspace(0, 1, 41), np.linspace(-0.4, 0.4, 41))
    return law, time.perf_counter() - t0


def va_cell_rows() -> list[dict]:
    law, t_law = vteam_cell_law()
    bs = characterise_access(ACCESS_BSIM4_PTM45HP)
    lo, hi = law.g_range()
    rng = np.random.default_rng(11)
    G = rng.uniform(1.05 * lo, 0.95 * hi, (32, 32))
    kw = dict(r_wire_row=1.0, r_wire_col=1.0, r_source=1.0, r_sense=1.0)
    rows = []
    for name, acc_spice, acc_twin in (("1R", None, None),
                                      ("1T1R level-1", ACCESS_018UM, ACCESS_018UM),
                                      ("1T1R BSIM4", ACCESS_BSIM4_PTM45HP, bs)):
        V = rng.uniform(0.0, 0.2, 32)
        t0 = time.perf_counter()
        ref = column_currents(CrossbarSpec(G, cell=law, access=acc_spice, **kw), V)
        t_sp = time.perf_counter() - t0
        t0 = time.perf_counter()
        tw = behavioral.column_currents(CrossbarSpec(G, cell=law, access=acc_twin, **kw), V)
        t_tw = time.perf_counter() - t0
        rows.append({"case": f"32x32 {name}, VTEAM cells, 1 ohm wires", "law s": t_law,
                     "max|dI|/max|I| or max|dV|": float(np.max(np.abs(tw - ref))
                                                          / np.max(np.abs(ref))),
                     "argmax agree": "", "ngspice s": t_sp, "twin s": t_tw})
    rows.append(network_row(law, t_law))
    return rows


def network_row(law: VerilogACellLaw, t_law: float, n_images: int = 100) -> dict:
    """The demo digits MLP (64-16-10 sigmoid) with VTEAM cells and 1 ohm wires: ngspice (one
    .dc sweep, OSDI cells) vs the twin on the first test images."""
    from circuitsim.data import DEMO_CHECKPOINT, data_path
    from circuitsim.mapping import MappingConfig
    from circuitsim.network import CircuitConfig, build_network
    from circuitsim.nn.data import load_digits
    from circuitsim.nn.train import load_checkpoint

    model, _ = load_checkpoint(data_path(DEMO_CHECKPOINT))
    data = load_digits()
    x, y = data.x_test[:n_images].astype(float), data.y_test[:n_images]
    lo, hi = law.g_range()
    cfg = CircuitConfig(r_wire_row=1.0, r_wire_col=1.0, r_source=10.0, r_sense=10.0, cell=law)
    net = build_network(model, cfg, MappingConfig(g_min=1.01 * lo, g_max=0.99 * hi, v_read=0.2),
                        calibration=data.x_train[:200].astype(float))
    t0 = time.perf_counter()
    sp = net.spice_forward(x)
    t_sp = time.perf_counter() - t0
    t0 = time.perf_counter()
    tw = net.behavioral_forward(x)
    t_tw = time.perf_counter() - t0
    dv = max(float(np.max(np.abs(a - b))) for a, b in zip(sp.layers, tw.layers, strict=True))
    agree = float(np.mean(sp.predict() == tw.predict()))
    acc = (float(np.mean(sp.predict() == y)), float(np.mean(tw.predict() == y)))
    return {"case": f"digits 64-16-10 network, VTEAM cells, {n_images} images (accuracy "
                    f"SPICE {acc[0]:.2%} / twin {acc[1]:.2%}); max|dV| of layer outputs [V]",
            "law s": t_law, "max|dI|/max|I| or max|dV|": dv, "argmax agree": agree,
            "ngspice s": t_sp, "twin s": t_tw}


PARTS = ("devices", "osdi", "bsim4", "cells")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=",".join(PARTS),
                    help=f"comma-separated parts to run: {', '.join(PARTS)} (default all)")
    parts = set(ap.parse_args(argv).only.split(","))
    if parts - set(PARTS):
        ap.error(f"unknown part(s) {sorted(parts - set(PARTS))}; choose from {PARTS}")
    if "devices" in parts:
        write_table("verilog_a", device_rows(),
                    title="Verilog-A devices: twins characterised from SPICE vs ngspice",
                    notes="Held-out stimuli (the tables come from .dc sweeps and constant-"
                          "voltage probes). Error of the twin against ngspice; ngspice's own "
                          "time-step error is part of it (tmax = edge/10).")
    if "osdi" in parts:
        write_table("verilog_a_osdi_speed", osdi_vs_bsource_rows(),
                    title="The same VTEAM run in ngspice 46: OSDI (Verilog-A) vs B-sources")
    if "bsim4" in parts:
        write_table("verilog_a_bsim4", bsim4_rows(),
                    title="BSIM4 access (PTM 45 nm HP) table twin vs ngspice, 1T1R arrays",
                    notes="Residual includes the card's gate tunnelling current, which the "
                          "two-terminal table leaves out. The twin runs the table through "
                          "one text for numpy and torch (circuitsim.tables.Bicubic); "
                          "'twin s' is behavioral.column_currents (method auto), "
                          "'twin torch s' the same on torch (CPU, one thread: with torch's "
                          "default 2 threads on the 2 shared cores the table evaluation was "
                          "6x slower, measured).")
    if "cells" in parts:
        write_table("verilog_a_cells", va_cell_rows(),
                    title="Verilog-A cells (VTEAM through VerilogACellLaw) in arrays and a "
                          "network: ngspice (OSDI) vs the twin",
                    notes="One CrossbarSpec / CircuitConfig with cell=law in both worlds; "
                          "the law's I-V table is one .dc of 41 states x 41 voltages ('law "
                          "s'). VTEAM reads are ohmic (R linear in x), so the cell law is "
                          "exact up to the table; the BSIM4 rows include the card's gate "
                          "current the two-terminal table leaves out.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
