"""Whole-network SPICE cost: seconds per image for the digits MLP (64-16-10, sigmoid), one
image per ngspice run vs many images per run (one ``.dc`` slot sweep), with and without wire
resistance; deck size, ngspice peak memory, SPICE vs behavioral twin agreement and accuracy.

    .venv/bin/python benchmarks/bench_network.py [--quick] [--one 10]

Writes benchmarks/results/network.md and .json.  The model is the demo checkpoint
``circuitsim/data/digits_mlp.pt`` when present (``python netlists/write_netlists.py`` writes
it), else the same model trained here (seeded).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

from _table import write_table  # noqa: E402

from circuitsim.cards import ACCESS_018UM  # noqa: E402
from circuitsim.data import DEMO_CHECKPOINT, data_path  # noqa: E402
from circuitsim.emit import emit_deck  # noqa: E402
from circuitsim.generators import OpAmpCard  # noqa: E402
from circuitsim.mapping import MappingConfig  # noqa: E402
from circuitsim.mapping.converters import adc_codes, near_code_boundary  # noqa: E402
from circuitsim.network import CircuitConfig, build_network  # noqa: E402
from circuitsim.nn import load_digits  # noqa: E402
from circuitsim.spice import BatchRunner, find_ngspice  # noqa: E402

MAPPING = MappingConfig(g_min=1e-6, g_max=100e-6, v_read=0.2)
CONFIGS = {
    "1R, no wire R": CircuitConfig(),
    "1R, wire 1 ohm/segment": CircuitConfig(r_wire_row=1.0, r_wire_col=1.0, r_source=10.0,
                                            r_sense=10.0),
    "1T1R, wire 1 ohm/segment": CircuitConfig(r_wire_row=1.0, r_wire_col=1.0, r_source=10.0,
                                              r_sense=10.0, access=ACCESS_018UM),
    "1T1R, wire 1 ohm, circuit neurons + saturating sense": CircuitConfig(
        r_wire_row=1.0, r_wire_col=1.0, r_source=10.0, r_sense=10.0, access=ACCESS_018UM,
        neuron_flavour="circuit", sense_opamp=OpAmpCard("saturating", a0=1e5)),
}


def demo_model():
    ck = data_path(DEMO_CHECKPOINT)
    if ck.exists():
        from circuitsim.nn.train import load_checkpoint

        return load_checkpoint(ck)[0], f"circuitsim/data/{DEMO_CHECKPOINT}"
    sys.path.insert(0, str(ROOT / "netlists"))
    from write_netlists import train_demo_model

    return train_demo_model(), "trained here (netlists/write_netlists.py recipe)"


def peak_memory_mb(deck_text: str) -> float | None:
    """Peak RSS of ``ngspice -b`` on the deck [MB] (GNU time), or None without it."""
    gnu_time = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists()
                                        else None)
    if gnu_time is None:
        return None
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "deck.cir").write_text(deck_text)
        p = subprocess.run([gnu_time, "-f", "MAXRSS %M", find_ngspice(), "-b", "-r", "o.raw",
                            "deck.cir"], cwd=d, capture_output=True, text=True)
    for line in p.stderr.splitlines():
        if line.startswith("MAXRSS"):
            return int(line.split()[1]) / 1024
    return None


def child_cpu_s() -> float:
    """CPU seconds used so far by finished child processes (the ngspice runs)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


TILED = MappingConfig(g_min=1e-6, g_max=100e-6, v_read=0.2, tile_size=16, dac_bits=6,
                      adc_bits=8)
WIRE1 = CircuitConfig(r_wire_row=1.0, r_wire_col=1.0, r_source=10.0, r_sense=10.0)


def cnn_model(ds):
    """The studies' small CNN (circuitsim.nn.make_cnn: conv 3x3 (8) ReLU, conv 3x3 stride 2
    (16) ReLU, linear), 10 epochs of Adam, seed 0."""
    from circuitsim.nn import TrainConfig, make_cnn, train

    m = make_cnn((1, 8, 8), 10, seed=0)
    train(m, ds, TrainConfig(epochs=10, seed=0, device="cpu", progress=False))
    return m.cpu().eval()


def digital_row(label: str, net, X, y, runner, cal_n: int) -> dict:
    """One co-simulated network (tiles / converters / CNN): every layer one ngspice run over
    all images (conv: all images x positions), the digital steps in Python."""
    t0, c0 = time.perf_counter(), child_cpu_s()
    sp = net.spice_forward(X, runner=runner, chunk=len(X))
    t_sp, cpu = time.perf_counter() - t0, child_cpu_s() - c0
    tw = net.behavioral_forward(X)
    rel, flips, near, codes = 0.0, 0, 0, 0
    for p, a, b in zip(net.plans, sp.tiles, tw.tiles, strict=True):
        fs = (p.adc_full_scale[None, :, None] if p.adc_bits is not None
              else np.abs(b).max())
        rel = max(rel, float((np.abs(a - b) / fs).max()))
        if p.adc_bits is not None:
            ca, cb = adc_codes(a, p.adc_bits, fs), adc_codes(b, p.adc_bits, fs)
            flips += int((ca != cb).sum())
            near += int(near_code_boundary(b, p.adc_bits, fs, 1e-6).sum())
            codes += int(ca.size)
    ref = net.reference_forward(X).argmax(1)
    return {"circuit": label, "images": len(X), "s/image, 1 per run": None,
            "s/image, all in 1 run": t_sp / len(X), f"s for {len(X)} in 1 run": t_sp,
            "ngspice CPU s/image, all in 1 run": cpu / len(X),
            "ngspice runs (one per layer)": sp.meta.get("runs"), "twin s": tw.wall_s,
            "max|spice-twin| tiles / full scale": rel,
            "ADC codes differing / near boundary / all": f"{flips} / {near} / {codes}",
            "max|spice-twin| logits [V]": float(np.abs(sp.pre[-1] - tw.pre[-1]).max()),
            "calibration images": cal_n,
            "acc spice": float(np.mean(sp.predict() == y)),
            "acc twin": float(np.mean(tw.predict() == y)),
            "acc software": float(np.mean(ref == y)),
            "argmax spice==twin": float(np.mean(sp.predict() == tw.predict()))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="60 images, skip the 1T1R and circuit-neuron cases")
    ap.add_argument("--one", type=int, default=10, help="images run one per ngspice run [10]")
    ap.add_argument("--only-digital", action="store_true",
                    help="only the tiled + ADC and CNN rows (co-simulation)")
    args = ap.parse_args()
    ds = load_digits()
    model, origin = demo_model()
    n = 60 if args.quick else len(ds.x_test)
    X, y = np.asarray(ds.x_test[:n], dtype=float), np.asarray(ds.y_test[:n])
    runner = BatchRunner()
    rows = []
    cal = np.asarray(ds.x_train, dtype=float)
    nets = [("tiled 16, DAC 6 / ADC 8 bit, wire 1 ohm", build_network(model, WIRE1, TILED,
                                                                      calibration=cal)),
            ("CNN 8x8 (conv 8, conv 16 stride 2), tile 16, wire 1 ohm",
             build_network(cnn_model(ds), WIRE1, MappingConfig(tile_size=16),
                           calibration=cal))]
    drows = []
    for label, net in nets:
        drows.append(digital_row(label, net, X, y, runner, len(cal)))
        print(drows[-1], flush=True)
    write_table("network_digital", drows, title="Tiles, converters and a CNN co-simulated: "
                "ngspice analog tiles + Python digital steps vs the twin",
                notes=f"Model: {origin} (tiled row) and circuitsim.nn.make_cnn trained 10 "
                      "epochs (CNN row); ADC full scales calibrated on all training images. "
                      "Reproduce: `.venv/bin/python benchmarks/bench_network.py "
                      "--only-digital`.")
    if args.only_digital:
        return 0
    for label, circuit in CONFIGS.items():
        if args.quick and circuit.access is not None:
            continue
        if args.quick and circuit.neuron_flavour == "circuit":
            continue
        net = build_network(model, circuit, MAPPING)
        text = emit_deck(net.deck(X))
        t0, c0 = time.perf_counter(), child_cpu_s()
        one = net.spice_forward(X[:args.one], runner=runner, chunk=1)
        t_one = (time.perf_counter() - t0) / args.one
        cpu_one = (child_cpu_s() - c0) / args.one
        t0, c0 = time.perf_counter(), child_cpu_s()
        many = net.spice_forward(X, runner=runner, chunk=len(X))
        t_many = time.perf_counter() - t0
        cpu_many = (child_cpu_s() - c0) / n
        twin = net.behavioral_forward(X)
        ref = net.reference_forward(X).argmax(1)
        d_layers = [float(np.abs(a - b).max()) for a, b in zip(many.layers, twin.layers,
                                                                strict=True)]
        d_one = max(float(np.abs(a - b[:args.one]).max())
                    for a, b in zip(one.layers, many.layers, strict=True))
        rows.append({
            "circuit": label,
            "images": n,
            "s/image, 1 per run": t_one,
            "s/image, all in 1 run": t_many / n,
            f"s for {n} in 1 run": t_many,
            "speed-up": t_one / (t_many / n),
            "ngspice CPU s/image, 1 per run": cpu_one,
            "ngspice CPU s/image, all in 1 run": cpu_many,
            "deck MB": len(text) / 1e6,
            "deck lines": text.count("\n"),
            "ngspice peak MB": peak_memory_mb(text),
            "twin s": twin.wall_s,
            "max|spice-twin| hidden [V]": d_layers[0],
            "max|spice-twin| logits [V]": d_layers[-1],
            "max|1/run - all/run| [V]": d_one,
            "acc spice": float(np.mean(many.predict() == y)),
            "acc twin": float(np.mean(twin.predict() == y)),
            "acc software": float(np.mean(ref == y)),
            "argmax spice==twin": float(np.mean(many.predict() == twin.predict())),
        })
        print(rows[-1], flush=True)
    notes = (f"Model: digits MLP 64-16-10 sigmoid ({origin}); mapping g 1-100 uS, v_read "
             "0.2 V, ideal sense op-amps (a0 1e6) and ideal neurons unless the row says otherwise "
             "(circuit neurons: bipolar-pair sigmoid + TIA, rails ±2.5 V; saturating sense: "
             "a0 1e5, diode-clamped at ±2.5 V), v_per_unit 0.25 V. "
             "'1 per run' = a fresh deck and ngspice process per image (chunk=1); 'all in 1 "
             "run' = one deck whose .dc sweep of the slot source visits every image "
             "(Network.spice_forward). ngspice spends its time factoring the MNA matrix at "
             "every Newton iteration (~3 per sweep point); the ordering is done once per run. "
             "Wall-clock timings on a 2-core machine shared with other jobs (load average up to 7 "
             "while measuring): the ngspice CPU columns (child-process CPU time) are the "
             "contention-free cost.  Tiled / CNN rows: co-simulation, one ngspice run per layer "
             "(each tile its own crossbar subcircuit and sense stage; a conv layer's kernel "
             "crossbar evaluated at every output position as one sweep point), DAC / ADC / "
             "partial sums / activation / pooling in Python, the same code for the twin; ADC "
             "full scales from the training images (calibration), never the test images.  "
             "Reproduce: "
             "`.venv/bin/python benchmarks/bench_network.py`.")
    write_table("network", rows, title="Whole-network SPICE evaluation: digits MLP 64-16-10",
                notes=notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
