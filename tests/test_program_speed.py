"""The programming run's fast paths (issue 15, scale): the driver energy from the transient's
source currents, block decks side by side, the twin's thresholded segment integrals."""

from __future__ import annotations

import numpy as np
import pytest

from circuitsim.errors import ConfigError
from circuitsim.program import CellArray, CellPulse, ProgramConfig, build_iteration
from circuitsim.program.spice import driver_energy, run_iteration
from circuitsim.program.twin import TwinProgrammer, segment_integral


def test_driver_energy_exact_for_linear_segments():
    """∫ −v·i dt of piecewise-linear v and i sampled at the corners equals a fine trapezoid
    sum of the same product."""
    t = np.array([0.0, 1e-8, 3e-8, 7e-8, 1e-7])
    v = np.array([[0.0, 0.5, 0.5, 0.2, 0.0], [0.1, 0.1, -0.3, 0.4, 0.0]])
    i = np.array([[0.0, -1e-3, -2e-3, 5e-4, 0.0], [1e-4, -2e-4, 3e-4, 0.0, -1e-4]])
    tf = np.linspace(0, 1e-7, 400001)
    p = -sum(np.interp(tf, t, v[k]) * np.interp(tf, t, i[k]) for k in range(2))
    assert driver_energy(t, v, i) == pytest.approx(np.trapezoid(p, tf), rel=1e-8)


def test_segment_integral_arrays_below_threshold_are_zero():
    """The thresholded path (only segments above zero somewhere are evaluated) on arrays:
    the exact ∫max(u, 0)^α dt per element, zero where u stays below 0."""
    rng = np.random.default_rng(3)
    u0, u1 = rng.uniform(-1, 1, (6, 5)), rng.uniform(-1, 1, (6, 5))
    u1[0] = u0[0]  # flat segments
    dt = rng.uniform(1e-9, 1e-6, (6, 1))
    got = segment_integral(u0, u1, dt, 3.0)
    s = np.linspace(0, 1, 20001)
    for a in range(6):
        for b in range(5):
            u = u0[a, b] + (u1[a, b] - u0[a, b]) * s
            ref = dt[a, 0] * np.trapezoid(np.maximum(u, 0) ** 3, s)
            assert got[a, b] == pytest.approx(ref, rel=1e-6, abs=1e-30)
    assert np.all(got[(u0 <= 0) & (u1 <= 0)] == 0)


@pytest.fixture(scope="module")
def iteration_5x4():
    cfg = ProgramConfig()
    cells = CellArray(cfg.device, (5, 4))
    x = np.random.default_rng(2).uniform(0.2, 0.9, (5, 4))
    pulses = [CellPulse(0, 1, 1, 1e-6), CellPulse(1, 0, -1, 2e-6), CellPulse(1, 3, 1, 1e-7),
              CellPulse(3, 2, -1, 4e-7), CellPulse(4, 0, 1, 3.2e-6), CellPulse(4, 1, 1, 5e-8)]
    return cfg, cells, x, build_iteration(cfg, (5, 4), pulses, [0, 1, 3, 4])


def test_block_decks_side_by_side_match_chained(batch_runner, iteration_5x4):
    """Two ngspice processes as a lagged chain (block k's deck holds the states after blocks
    0 .. k − 2, and the running neighbour block's rows at the twin's prediction of their end
    states) against the chained decks (each from the states the previous one left).
    Measured here 1e-14 in x and 9e-8 in energy; the large case is
    tests/test_program_twin_wires.py (and benchmarks/bench_program.py --lag)."""
    cfg, cells, x, it = iteration_5x4
    one = run_iteration(batch_runner, cfg, cells, x, it, workers=1)
    two = run_iteration(batch_runner, cfg, cells, x, it, workers=2)
    assert one["decks"] == two["decks"] == 5
    assert np.max(np.abs(one["x"] - x)) > 1e-3  # the pulses did move states
    assert np.max(np.abs(two["x"] - one["x"])) < 1e-6
    for r in one["reads"]:
        assert np.max(np.abs(two["reads"][r] - one["reads"][r])) < 1e-6 * cfg.g_range
    assert two["energy"] == pytest.approx(one["energy"], rel=1e-5)


def test_spice_energy_from_source_currents_matches_twin(batch_runner, iteration_5x4):
    """The decks' driver energy (bilinear sum over ngspice's own time points of the source
    currents, chained decks) against the twin's exact Simpson sum plus the moving-G
    correction: within 1e-3 (measured 3e-5 here; 2e-6 on 16x16 and 65x32 iterations)."""
    cfg, cells, x, it = iteration_5x4
    sp = run_iteration(batch_runner, cfg, cells, x, it, workers=1)
    tw = TwinProgrammer(cfg, cells).run(x, it)
    assert tw["energy"] == pytest.approx(sp["energy"], rel=1e-3)


def test_workers_must_be_whole_and_positive(iteration_5x4):
    cfg, cells, x, it = iteration_5x4
    for bad in (0, 1.5, True):
        with pytest.raises(ConfigError, match="workers"):
            run_iteration(None, cfg, cells, x, it, workers=bad)
