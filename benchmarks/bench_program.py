"""Write-verify programming: transient ngspice (KLU) vs the twin, random targets in the
device window, V/2 scheme, default ProgramConfig (``--sizing model``: rungs capped by the
card's prediction).

    python benchmarks/bench_program.py                          # 4x4, 8x8, 16x16
    python benchmarks/bench_program.py --size 65x32 --sizing model --topic program_65x32 \
        --state /tmp/bench_program_state      # resumable
    python benchmarks/bench_program.py --size 65x32 --sizing adaptive --ladder 11 \
        --topic program_65x32_adaptive --state /tmp/bench_program_state
    python benchmarks/bench_program.py --profile                # where one iteration's time goes
    python benchmarks/bench_program.py --profile-slot           # ngspice's statistics of a slot
    python benchmarks/bench_program.py --lag                    # side-by-side decks' error

Writes benchmarks/results/<topic>.md / .json (``program`` by default; the profile writes
``program_profile``).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _table import write_table  # noqa: E402

from circuitsim.emit.ngspice import emit_deck  # noqa: E402
from circuitsim.program import (  # noqa: E402
    CellArray,
    CellPulse,
    ProgramConfig,
    build_iteration,
    divergence,
    program_array,
)
from circuitsim.program.config import SIZINGS  # noqa: E402
from circuitsim.program.spice import (  # noqa: E402
    WORKERS,
    DeckParts,
    iteration_deck,
    read_iteration,
    run_iteration,
)
from circuitsim.program.twin import TwinProgrammer  # noqa: E402
from circuitsim.spice import BatchRunner  # noqa: E402


def _targets(cfg, shape, seed=0):
    lo = cfg.g_min + cfg.tolerance * cfg.g_range
    return np.random.default_rng(seed).uniform(lo, cfg.g_max - cfg.tolerance * cfg.g_range,
                                               shape)


def bench(shape, sizing="ladder", seed=0, state=None, ladder=None) -> dict:
    cfg = ProgramConfig(sizing=sizing, **({} if ladder is None else {"ladder": ladder}))
    t = _targets(cfg, shape, seed)
    load0 = os.getloadavg()[0]
    # once per process, not per run: scipy's and the compiled (numba) kernels' first calls
    w0 = time.perf_counter()
    program_array(cfg, t[:2, :2], world="twin")
    warm = time.perf_counter() - w0
    c0 = time.process_time()
    tw = program_array(cfg, t, world="twin")
    tw_cpu = time.process_time() - c0
    t0 = time.perf_counter()
    c0 = os.times()
    sp = program_array(cfg, t, world="spice", progress=True, timeout_s=3600,
                       state_dir=state and Path(state) / f"{shape[0]}x{shape[1]}_{sizing}_"
                                                        f"{cfg.ladder}")
    total = time.perf_counter() - t0
    c1 = os.times()
    cpu_ngspice = (c1.children_user - c0.children_user) + (c1.children_system
                                                           - c0.children_system)
    cpu_python = (c1.user - c0.user) + (c1.system - c0.system)
    d = divergence(sp, tw)
    return {"array": f"{shape[0]}x{shape[1]}", "sizing": sizing, "ladder": cfg.ladder,
            "longest_pulse_s": float(cfg.widths[-1]), "cells": int(t.size),
            "iterations_spice": sp.iterations, "iterations_twin": tw.iterations,
            "row_slots_spice": sum(len({p[0] for p in it}) for it in sp.decisions),
            "pulses_mean_spice": float(sp.pulses.mean()), "pulses_max_spice": int(sp.pulses.max()),
            "converged_spice": sp.converged_fraction, "converged_twin": tw.converged_fraction,
            "max_dG_spice_vs_twin": float(np.max(np.abs(sp.g - tw.g)) / cfg.g_range),
            "first_divergent_iteration": d["first_divergent_iteration"],
            "energy_spice_j": sp.energy_j, "energy_twin_j": tw.energy_j,
            "programming_time_s": sp.time_s,
            "wall_spice_s": sp.wall_s, "total_spice_s": total, "wall_twin_s": tw.wall_s,
            "twin_warmup_s": warm, "speedup": sp.wall_s / tw.wall_s,
            "ngspice_workers": WORKERS,
            "cpu_ngspice_s": cpu_ngspice, "cpu_python_spice_run_s": cpu_python,
            "cpu_twin_s": tw_cpu,
            "load_1min_start_end": f"{load0:.1f}/{os.getloadavg()[0]:.1f}"}


def profile(shape=(65, 32), rows=4, seed=0) -> list[dict]:
    """One iteration with ``rows`` rows pulsed (every cell, random polarity, one width per
    row) and every row read: the single all-dynamic deck against the blocked run."""
    R, C = shape
    cfg = ProgramConfig()
    cells = CellArray(cfg.device, shape)
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.2, 0.9, shape)
    pulses = [CellPulse(i, j, int(rng.choice([-1, 1])), float(cfg.widths[i % 4]))
              for i in range(rows) for j in range(C)]
    it = build_iteration(cfg, shape, pulses, range(R))
    t0 = time.perf_counter()
    tw = TwinProgrammer(cfg, cells).run(x, it)
    out = [{"run": "twin", "decks": 0, "python_s": time.perf_counter() - t0, "ngspice_s": 0.0,
            "max_dx_vs_one_deck": float("nan")}]
    with BatchRunner() as runner:
        t0 = time.perf_counter()
        text = emit_deck(iteration_deck(cfg, cells, x, it))
        t1 = time.perf_counter()
        full = read_iteration(runner.run(text, timeout_s=3600), cfg, it, shape)
        out.append({"run": "one all-dynamic deck", "decks": 1, "python_s": t1 - t0,
                    "ngspice_s": time.perf_counter() - t1, "max_dx_vs_one_deck": 0.0})
        for k in (1, 2, 4):
            t0 = time.perf_counter()
            b = run_iteration(runner, cfg, cells, x, it, rows_per_deck=k, timeout_s=3600)
            out.append({"run": f"blocks of {k} row(s) + .dc reads", "decks": b["decks"],
                        "python_s": float("nan"), "ngspice_s": time.perf_counter() - t0,
                        "max_dx_vs_one_deck": float(np.max(np.abs(b["x"] - full["x"])))})
    for r in out:
        r.update(array=f"{R}x{C}", pulsed_rows=rows,
                 twin_max_dx_vs_one_deck=float(np.max(np.abs(tw["x"] - full["x"]))))
    return out


_ACCT = re.compile(r"^\s*(Transient iterations|Transient timepoints|Rejected timepoints|"
                   r"Transient factor time|Transient load time|Transient solve time|"
                   r"Total analysis time \(seconds\)|Total elapsed time \(seconds\))"
                   r"\s*=\s*([-+\d.eE]+)", re.M)


def profile_slot(shape=(65, 32), seed=0) -> list[dict]:
    """One row slot of a 65x32 iteration (row 5: every cell pulsed, random polarity, widths
    from the first 4 rungs, so two phases with their column returns) as its block deck,
    with ngspice's ``.options acct``: Newton iterations, time points, factor / load / solve
    time, and the Python around it (deck build with and without the prebuilt DeckParts,
    emit)."""
    R, C = shape
    cfg = ProgramConfig(sizing="model")
    cells = CellArray(cfg.device, shape)
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.2, 0.9, shape)
    pulses = [CellPulse(5, j, int(rng.choice([-1, 1])), float(cfg.widths[rng.integers(0, 4)]))
              for j in range(C)]
    it = build_iteration(cfg, shape, pulses, [5])
    sub = it.window(min(p.t0 for p in it.phases), max(p.t1 for p in it.phases))
    t0 = time.perf_counter()
    parts = DeckParts(cfg, cells, x)
    t1 = time.perf_counter()
    deck = iteration_deck(cfg, cells, x, sub, dynamic_rows=[5], parts=parts)
    t2 = time.perf_counter()
    text = emit_deck(deck.replace(options={**deck.options, "acct": True}))
    t3 = time.perf_counter()
    with BatchRunner() as runner:
        res = runner.run(text, timeout_s=600)
    acct = {k: float(v) for k, v in _ACCT.findall(res.log)}
    return [{"array": f"{R}x{C}", "corners": len(sub.breakpoints(0.0, sub.stop)),
             "newton_iterations": int(acct.get("Transient iterations", -1)),
             "timepoints": int(acct.get("Transient timepoints", -1)),
             "rejected": int(acct.get("Rejected timepoints", -1)),
             "factor_s": acct.get("Transient factor time"),
             "load_s": acct.get("Transient load time"),
             "solve_s": acct.get("Transient solve time"),
             "analysis_s": acct.get("Total analysis time (seconds)"),
             "ngspice_elapsed_s": acct.get("Total elapsed time (seconds)"),
             "ngspice_wall_s": res.wall_s, "parts_build_s": t1 - t0,
             "deck_with_parts_s": t2 - t1, "emit_s": t3 - t2,
             "load_1min": os.getloadavg()[0]}]


def lag(shape=(16, 16), seed=1) -> list[dict]:
    """One iteration from R_off (every cell SET, widths from the top 5 rungs: the largest G
    changes, so the largest effect of a row deck holding another row at a stale state) with
    the row decks chained (workers = 1), as the lagged chain of 2 processes (the default),
    and every deck from the iteration's start states (workers = rows): states and energy
    against the chained run and the twin."""
    R, C = shape
    cfg = ProgramConfig(sizing="model")
    cells = CellArray(cfg.device, shape)
    rng = np.random.default_rng(seed)
    x = np.full(shape, 1.0)
    pulses = [CellPulse(i, j, -1, float(cfg.widths[rng.integers(5, 10)]))
              for i in range(R) for j in range(C)]
    it = build_iteration(cfg, shape, pulses, range(R))
    tw = TwinProgrammer(cfg, cells).run(x, it)
    out, ref = [], None
    with BatchRunner() as runner:
        for w, pr, name in ((1, False, "chained"),
                            (2, True, "lagged, 2 processes, running rows predicted"),
                            (2, False, "lagged, 2 processes, running rows at start"),
                            (R, False, "all from start")):
            t0 = time.perf_counter()
            r = run_iteration(runner, cfg, cells, x, it, workers=w, predict=pr)
            ref = r if ref is None else ref
            out.append({"array": f"{R}x{C}", "run": name, "workers": w,
                        "wall_s": time.perf_counter() - t0, "energy_j": r["energy"],
                        "energy_vs_chained": r["energy"] / ref["energy"] - 1,
                        "energy_vs_twin": r["energy"] / tw["energy"] - 1,
                        "max_dx_vs_chained": float(np.max(np.abs(r["x"] - ref["x"])))})
    return out


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", action="append", default=None, help="RxC (repeatable)")
    ap.add_argument("--sizing", default="ladder", choices=SIZINGS)
    ap.add_argument("--ladder", type=int, default=None,
                    help="rungs above w0 (ProgramConfig.ladder) [the config's default]")
    ap.add_argument("--topic", default="program")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--lag", action="store_true",
                    help="row decks chained vs side by side (lagged) vs all from the start")
    ap.add_argument("--profile-slot", action="store_true",
                    help="ngspice's own statistics of one 65x32 row slot")
    ap.add_argument("--state", default=None,
                    help="write the SPICE run's state here after every iteration and resume "
                         "from it (long sizes)")
    ap.add_argument("--rows", type=int, default=4, help="pulsed rows of the profile")
    args = ap.parse_args(argv)
    if args.lag:
        write_table("program_lag", lag(),
                    title="Row decks side by side: chained vs lagged vs all from the start",
                    notes="energy_vs_*: relative difference; max_dx: largest state "
                          "difference from the chained run.")
        return
    if args.profile_slot:
        write_table("program_profile_slot", profile_slot(),
                    title="One 65x32 row slot in ngspice (.options acct)",
                    notes="factor/load/solve_s: ngspice's transient statistics; "
                          "parts_build_s: the wiring and static rows (once per iteration); "
                          "deck_with_parts_s: a block deck from them; load_1min: the "
                          "machine's load (shared).")
        return
    if args.profile:
        write_table("program_profile", profile(rows=args.rows),
                    title="One write-verify iteration at 65x32: where the time goes",
                    notes="ngspice_s of a blocked run includes its Python deck building; "
                          "python_s of the one-deck run is building + emitting its text.")
        return
    sizes = args.size or ["4x4", "8x8", "16x16"]
    rows = [bench(tuple(int(v) for v in s.split("x")), args.sizing, state=args.state,
                  ladder=args.ladder)
            for s in sizes]
    write_table(args.topic, rows, title="Write-verify programming: ngspice (KLU) vs twin",
                notes="SPICE runs each iteration as one transient deck per pulsed row (only "
                      "that row's cells VTEAM instances), ngspice_workers of them side by "
                      "side, plus one .dc deck of the verify reads "
                      "(circuitsim.program.spice.run_iteration); driver energy from the "
                      "decks' source currents; wall_* = the simulations only, total_spice_s "
                      "includes the verify controller; the twin's wall time excludes the "
                      "import of scipy and the first call of its kernels in the process "
                      "(twin_warmup_s: a 2x2 run before it, loading numba's compiled "
                      "kernels); load_1min = os.getloadavg() at the start and the end "
                      "(the machine is shared); cpu_ngspice_s: user + system seconds of all "
                      "ngspice processes (os.times children), cpu_python_spice_run_s: this "
                      "process's during the SPICE run (deck building, raw parsing, the "
                      "verify controller), cpu_twin_s: the whole twin run's (controller "
                      "included).")


if __name__ == "__main__":
    main()
