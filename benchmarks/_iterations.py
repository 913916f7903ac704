"""A random write-verify iteration for the programming benchmarks (only APIs older than
issue 15's Python work, so bench_program_iteration.py still runs against an old checkout)."""

from __future__ import annotations

import numpy as np

from circuitsim.program import CellArray, CellPulse, ProgramConfig, build_iteration


def random_iteration(shape=(65, 32), rows=8, seed=0):
    """(cfg, cells, x, pulsed rows, iteration): ``rows`` random rows of a ``shape`` array at
    random states, every cell of them pulsed with a random polarity and one of the first four
    widths, the pulsed rows read."""
    R, C = shape
    cfg = ProgramConfig(sizing="model")
    cells = CellArray(cfg.device, shape)
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.2, 0.9, shape)
    pulsed = sorted(rng.choice(R, size=min(rows, R), replace=False).tolist())
    pulses = [CellPulse(i, j, int(rng.choice([-1, 1])), float(cfg.widths[rng.integers(0, 4)]))
              for i in pulsed for j in range(C)]
    return cfg, cells, x, pulsed, build_iteration(cfg, shape, pulses, pulsed)
