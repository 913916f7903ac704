"""Write-verify ladders and cards: width steps vs amplitude steps (ISPP) on VTEAM_CROSSBAR, and
linear ion drift (LID_CROSSBAR) with and without re-verify on random and on reachable targets.

    python benchmarks/bench_program_steps.py            # both tables (a few minutes, 2 cores)
    python benchmarks/bench_program_steps.py --only ladders   # or: lid, lines

Writes benchmarks/results/program_steps.md / .json (ladders: twin 16x16, SPICE check on 4x4)
program_lid.md / .json (twin; the 3x3 rows also in SPICE) and program_lid_lines.md / .json
(the line-pulse controller).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _table import write_table  # noqa: E402

from circuitsim.program import CellArray, ProgramConfig, program_array  # noqa: E402
from circuitsim.program.config import LID_CROSSBAR  # noqa: E402
from circuitsim.program.lines import program_lines  # noqa: E402
from circuitsim.program.reachable import reachability, reachable_targets  # noqa: E402
from circuitsim.program.schedule import build_line_iteration  # noqa: E402
from circuitsim.program.twin import TwinProgrammer  # noqa: E402
from circuitsim.spice import BatchRunner  # noqa: E402


def _random(cfg, shape, seed=0):
    lo, hi = cfg.target_window
    return np.random.default_rng(seed).uniform(lo, hi, shape)


def _within(cfg, r):
    m = np.isfinite(r.targets)
    return float(np.mean(np.abs(r.g - r.targets)[m] <= cfg.tolerance * cfg.g_range
                         * (1 + 1e-9)))


IDEAL = {"r_wire_row": 1e-3, "r_wire_col": 1e-3, "r_driver": 1e-3}
"""Near-ideal wiring (1 mΩ segments and drivers), to show what the IR drop costs ISPP."""


def ladders(runner) -> list[dict]:
    rows = []
    cases = [("width", "ladder", "v2", {}), ("width", "model", "v2", {}),
             ("amplitude", "ladder", "v2", {"w_amp": 5e-6}),
             ("amplitude", "ladder", "v2", {"w_amp": 10e-6}),
             ("amplitude", "model", "v2", {"w_amp": 10e-6}),
             ("amplitude", "ladder", "v2", {"w_amp": 10e-6, **IDEAL}),
             ("width", "ladder", "v3", {}),
             ("amplitude", "ladder", "v3", {"w_amp": 5e-6})]
    for step, sizing, scheme, kw in cases:
        cfg = ProgramConfig(step=step, sizing=sizing, scheme=scheme, **kw)
        t = _random(cfg, (16, 16))
        t0 = time.perf_counter()
        tw = program_array(cfg, t, world="twin")
        wall = time.perf_counter() - t0
        ts = _random(cfg, (4, 4), seed=1)
        sw = program_array(cfg, ts, world="twin")
        sp = program_array(cfg, ts, world="spice", runner=runner)
        amp = (f"{cfg.v_pulse:.3g} V" if step == "width"
               else f"{cfg.v_start:.3g}..{cfg.v_pulse:.3g} V by {cfg.v_step:.3g}")
        wid = (f"{cfg.widths[0] * 1e9:.0f} ns..{cfg.widths[-1] * 1e6:.1f} us"
               if step == "width" else f"{cfg.w_amp * 1e6:.0f} us")
        rows.append({"step": step, "sizing": sizing, "scheme": scheme,
                     "wires": "1 mOhm" if kw.get("r_driver") else "1 Ohm, 10 Ohm driver",
                     "amplitude": amp,
                     "width": wid, "converged 16x16": tw.converged_fraction,
                     "pulses/cell mean": float(tw.pulses.mean()),
                     "pulses max": int(tw.pulses.max()), "energy 16x16 [J]": tw.energy_j,
                     "programming time [s]": tw.time_s, "twin wall [s]": wall,
                     "SPICE 4x4 converged": sp.converged_fraction,
                     "SPICE 4x4 pulses/cell": float(sp.pulses.mean()),
                     "SPICE vs twin max dG 4x4 (of range)":
                         float(np.max(np.abs(sp.g - sw.g)) / cfg.g_range)})
        print(rows[-1], flush=True)
    return rows


def lid(runner) -> list[dict]:
    rows = []
    for shape in ((3, 3), (8, 8), (16, 16)):
        for scheme in ("v2", "v3"):
            for kind in ("random", "reachable"):
                for rev in (False, True):
                    if shape == (16, 16) and (kind == "random" or not rev):
                        continue  # 80 s each in the twin: the informative rows only
                    cfg = ProgramConfig(device=LID_CROSSBAR, v_pulse=1.0, x0=0.5, ladder=7,
                                        max_pulses=40, scheme=scheme, reverify=rev)
                    t = (_random(cfg, shape) if kind == "random"
                         else reachable_targets(cfg, shape, seed=1))
                    a = reachability(cfg, t)
                    t0 = time.perf_counter()
                    tw = program_array(cfg, t, world="twin")
                    wall = time.perf_counter() - t0
                    row = {"array": f"{shape[0]}x{shape[1]}", "scheme": scheme,
                           "targets": kind, "reverify": rev,
                           "reachable (exact)": a["feasible"],
                           "dof / cells": f"{a['dof']} / {a['cells']}",
                           "best reachable within tol": a["ls_within"],
                           "accepted (counted converged)": tw.converged_fraction,
                           "final within tol (twin)": _within(cfg, tw),
                           "pulses/cell": float(tw.pulses.mean()), "twin wall [s]": wall,
                           "final within tol (SPICE)": "-"}
                    if shape == (3, 3):
                        sp = program_array(cfg, t, world="spice", runner=runner)
                        row["final within tol (SPICE)"] = _within(cfg, sp)
                    rows.append(row)
                    print(row, flush=True)
    return rows


def _wire_reachable(cfg, shape, seed=5, span=6e3):
    """Targets [S] reachable on the real wiring: the twin's G after one random line-pulse
    iteration from x0 (charges uniform in ±span ohm of drift coordinate per line)."""
    rng = np.random.default_rng(seed)
    k = cfg.device.k
    it = build_line_iteration(cfg, shape, {i: rng.uniform(-span, span) / k
                                           for i in range(shape[0])},
                              {j: rng.uniform(-span, span) / k for j in range(shape[1])}, [])
    x = TwinProgrammer(cfg, CellArray(cfg.device, shape)).run(np.full(shape, cfg.x0), it)["x"]
    return np.clip(1.0 / cfg.device.resistance(x), *cfg.target_window)


def lines(runner) -> list[dict]:
    """The line-pulse controller (circuitsim.program.lines) on reachable and random
    targets."""
    rows = []
    cfg = ProgramConfig(device=LID_CROSSBAR, v_pulse=1.0, x0=0.5)
    for shape, kinds in (((3, 3), ("reachable", "random")), ((16, 16), ("reachable", "random")),
                         ((65, 32), ("reachable", "reachable on wires"))):
        for kind in kinds:
            if kind == "random":
                t = _random(cfg, shape)
            elif kind == "reachable":
                t = reachable_targets(cfg, shape, seed=1)
            else:
                t = _wire_reachable(cfg, shape)
            t0 = time.perf_counter()
            tw = program_lines(cfg, t, world="twin")
            wall = time.perf_counter() - t0
            row = {"array": f"{shape[0]}x{shape[1]}", "targets": kind,
                   "reachable (exact)": reachability(cfg, t)["feasible"],
                   "pulse iterations": tw.iterations,
                   "line pulses/cell": float(tw.pulses[np.isfinite(t)].mean()),
                   "final within tol (twin)": _within(cfg, tw),
                   "max |G - target| (of range)": float(np.max(np.abs(tw.g - t))
                                                        / cfg.g_range),
                   "energy [J]": tw.energy_j, "programming time [s]": tw.time_s,
                   "twin wall [s]": wall, "final within tol (SPICE)": "-",
                   "SPICE vs twin max dG (of range)": "-"}
            if shape == (3, 3):
                sp = program_lines(cfg, t, world="spice", runner=runner)
                row["final within tol (SPICE)"] = _within(cfg, sp)
                row["SPICE vs twin max dG (of range)"] = float(np.max(np.abs(sp.g - tw.g))
                                                               / cfg.g_range)
            rows.append(row)
            print(row, flush=True)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=("ladders", "lid", "lines"), default=None)
    a = ap.parse_args()
    with BatchRunner() as runner:
        if a.only in (None, "ladders"):
            write_table("program_steps", ladders(runner),
                        title="Write-verify: width ladder vs amplitude ladder (ISPP), "
                              "VTEAM_CROSSBAR, random targets, budget 40 pulses",
                        notes="Twin on 16x16 (seed 0), SPICE (KLU ngspice, transient) vs "
                              "twin on 4x4 (seed 1).  `python benchmarks/"
                              "bench_program_steps.py --only ladders`.")
        if a.only in (None, "lid"):
            write_table("program_lid", lid(runner),
                        title="Linear ion drift (LID_CROSSBAR, 1 V, x0 0.5) write-verify: "
                              "random vs reachable targets, with and without re-verify",
                        notes="'reachable (exact)': whether any pulse sequence can put every "
                              "cell within tolerance (ideal wires; "
                              "circuitsim.program.reachable).  'accepted': the controller's "
                              "converged fraction (a cell accepted once); 'final within "
                              "tol': the device G at the end.  `python benchmarks/"
                              "bench_program_steps.py --only lid`.")
        if a.only in (None, "lines"):
            write_table("program_lid_lines", lines(runner),
                        title="Linear ion drift (LID_CROSSBAR, 1 V, x0 0.5): line-pulse "
                              "programming (one pulse per row and column per iteration)",
                        notes="circuitsim.program.lines.program_lines; at most 8 pulse "
                              "iterations.  'reachable': y0 + a_i + b_j (ideal wires); "
                              "'reachable on wires': the twin's G after one random "
                              "line-pulse iteration on the real wiring.  `python "
                              "benchmarks/bench_program_steps.py --only lines`.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
