"""Write-verify programming: transient ngspice (KLU) vs the twin, random targets in the
device window, V/2 scheme, default ProgramConfig.

    python benchmarks/bench_program.py                 # 4x4, 8x8, 16x8
    python benchmarks/bench_program.py --size 65x32    # the issue's target size (long: run once)

Writes benchmarks/results/program.md / .json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _table import write_table  # noqa: E402

from circuitsim.program import ProgramConfig, divergence, program_array  # noqa: E402


def bench(shape, seed=0) -> dict:
    cfg = ProgramConfig()
    lo = cfg.g_min + cfg.tolerance * cfg.g_range
    t = np.random.default_rng(seed).uniform(lo, cfg.g_max - cfg.tolerance * cfg.g_range,
                                            shape)
    tw = program_array(cfg, t, world="twin")
    sp = program_array(cfg, t, world="spice", progress=True, timeout_s=3600)
    d = divergence(sp, tw)
    return {"array": f"{shape[0]}x{shape[1]}", "cells": int(t.size),
            "iterations_spice": sp.iterations, "iterations_twin": tw.iterations,
            "pulses_mean_spice": float(sp.pulses.mean()), "pulses_max_spice": int(sp.pulses.max()),
            "converged_spice": sp.converged_fraction, "converged_twin": tw.converged_fraction,
            "max_dG_spice_vs_twin": float(np.max(np.abs(sp.g - tw.g)) / cfg.g_range),
            "first_divergent_iteration": d["first_divergent_iteration"],
            "energy_spice_j": sp.energy_j, "programming_time_s": sp.time_s,
            "wall_spice_s": sp.wall_s, "wall_twin_s": tw.wall_s,
            "speedup": sp.wall_s / tw.wall_s}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", action="append", default=None, help="RxC (repeatable)")
    args = ap.parse_args(argv)
    sizes = args.size or ["4x4", "8x8", "16x8"]
    rows = [bench(tuple(int(v) for v in s.split("x"))) for s in sizes]
    write_table("program", rows, title="Write-verify programming: ngspice (KLU) vs twin",
                notes="One ngspice deck per write-verify iteration (every row slot and the "
                      "verify reads), chained by the cells' states; wall times exclude "
                      "Python start-up; the twin's wall time excludes the import of scipy.")


if __name__ == "__main__":
    main()
