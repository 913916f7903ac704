"""The behavioral crossbar engine against ngspice on the same generated netlist.

Tolerances (issue 3): column currents within 1e-6 relative for 1R arrays, 1e-4 for 1T1R
(and the sinh read nonlinearity).  Relative error here is per column,
|I - I_ngspice| <= rtol * |I_ngspice| + 1e-9 * max|I_ngspice| (the small absolute floor only
matters for a column whose current happens to cancel to ~0 with mixed-sign inputs).
Measured: ~1e-14 for 1R, ~3e-10 for 1T1R (ngspice's gmin across the transistor junction).
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from circuitsim import behavioral, spice
from circuitsim.cards import ACCESS_018UM, AccessTransistor, Nmos1Card
from circuitsim.crossbar import CrossbarSpec
from circuitsim.crossbar.netlist import column_current_names, crossbar_sweep_deck
from circuitsim.crossbar.spice import node_voltages as spice_node_voltages
from circuitsim.errors import SimulationError

pytestmark = pytest.mark.ngspice


def _random_spec(rng, R, C, *, zero=(), **extra):
    r = {k: float(rng.uniform(0.5, 5.0)) for k in ("r_wire_row", "r_wire_col")}
    r["r_source"] = float(rng.uniform(1.0, 50.0))
    r["r_sense"] = float(rng.uniform(1.0, 50.0))
    for k in zero:
        r[k] = 0.0
    G = rng.uniform(1e-6, 1e-4, (R, C))  # 10 kohm .. 1 Mohm cells
    return CrossbarSpec(G, **r, **extra)


def _check(I, ref, rtol):
    I, ref = np.asarray(I), np.asarray(ref)
    assert I.shape == ref.shape
    err = np.abs(I - ref)
    bound = rtol * np.abs(ref) + 1e-9 * np.abs(ref).max()
    assert (err <= bound).all(), f"max rel error {np.max(err / np.abs(ref)):.3g} > {rtol}"


CASES_1R = [
    ((12, 7), ()),
    ((12, 7), ("r_source", "r_sense")),
    ((12, 7), ("r_wire_row",)),
    ((12, 7), ("r_wire_col", "r_sense")),
    ((7, 12), ("r_wire_row", "r_source")),
    ((24, 31), ()),
    ((24, 31), ("r_source",)),
    ((40, 40), ("r_sense",)),
]


@pytest.mark.parametrize("shape, zero", CASES_1R)
def test_1r_matches_ngspice(batch_runner, shape, zero):
    rng = np.random.default_rng(zlib.crc32(repr((shape, zero)).encode()))
    spec = _random_spec(rng, *shape, zero=zero)
    V = rng.uniform(-0.3, 0.3, (shape[0], 2))  # negative inputs included
    ref = spice.column_currents(spec, V, runner=batch_runner)
    _check(behavioral.column_currents(spec, V), ref, 1e-6)


def test_1r_zero_resistances_everywhere_matches_ngspice(batch_runner):
    rng = np.random.default_rng(3)
    spec = _random_spec(rng, 9, 5, zero=("r_wire_row", "r_wire_col", "r_source", "r_sense"))
    V = rng.uniform(-0.2, 0.2, 9)
    ref = spice.column_currents(spec, V, runner=batch_runner)
    _check(behavioral.column_currents(spec, V), ref, 1e-6)
    _check(behavioral.ideal_mvm(spec.conductance, V), ref, 1e-6)


@pytest.mark.parametrize("shape, zero, vwl", [
    ((12, 7), (), 1.8),
    ((12, 7), ("r_source", "r_sense"), 0.9),
    ((24, 31), ("r_wire_col",), 1.8),
])
def test_1t1r_matches_ngspice(batch_runner, shape, zero, vwl):
    rng = np.random.default_rng(11)
    access = AccessTransistor(Nmos1Card(lambda_=0.05), vwl)
    spec = _random_spec(rng, *shape, zero=zero, access=access)
    V = rng.uniform(-0.3, 0.4, (shape[0], 2))
    ref = spice.column_currents(spec, V, runner=batch_runner)
    _check(behavioral.column_currents(spec, V), ref, 1e-4)


def test_sinh_cells_match_ngspice(batch_runner):
    rng = np.random.default_rng(5)
    spec = _random_spec(rng, 10, 6, sinh_v0=0.15)
    V = rng.uniform(-0.4, 0.4, 10)
    ref = spice.column_currents(spec, V, runner=batch_runner)
    _check(behavioral.column_currents(spec, V), ref, 1e-4)
    spec2 = _random_spec(rng, 6, 4, sinh_v0=0.2, access=ACCESS_018UM)
    V2 = rng.uniform(-0.4, 0.4, 6)
    ref2 = spice.column_currents(spec2, V2, runner=batch_runner)
    _check(behavioral.column_currents(spec2, V2), ref2, 1e-4)


@pytest.mark.parametrize("access", [None, ACCESS_018UM])
def test_node_voltages_match_ngspice(batch_runner, access):
    rng = np.random.default_rng(8)
    spec = _random_spec(rng, 6, 9, access=access)
    V = rng.uniform(-0.2, 0.3, 6)
    vr_ref, vc_ref = spice_node_voltages(spec, V, runner=batch_runner)
    vr, vc = behavioral.node_voltages(spec, V)
    assert np.max(np.abs(vr - vr_ref)) < 1e-9
    assert np.max(np.abs(vc - vc_ref)) < 1e-9


def test_shared_runner_agrees(shared_runner):
    rng = np.random.default_rng(2)
    spec = _random_spec(rng, 5, 4)
    V = rng.uniform(0, 0.2, 5)
    _check(behavioral.column_currents(spec, V), spice.column_currents(spec, V,
                                                                       runner=shared_runner), 1e-6)


def test_per_column_monotonicity_counterexample(batch_runner):
    """Documented limit of the issue's property list: a column current CAN grow with the row
    wire resistance for non-negative inputs (sneak currents from the columns back into weakly
    driven rows shrink).  ngspice shows the same increase as the engine."""
    rng = np.random.default_rng(1234)
    G = rng.uniform(1e-6, 1e-4, (9, 6))
    V = rng.uniform(0, 0.3, (9, 3))[:, 0]
    lo, hi = (CrossbarSpec(G, r_wire_row=r, r_wire_col=3.0, r_source=10.0,
                                 r_sense=20.0) for r in (0.0, 0.5))
    s_lo = spice.column_currents(lo, V, runner=batch_runner)
    s_hi = spice.column_currents(hi, V, runner=batch_runner)
    assert s_hi[0] > s_lo[0] * (1 + 1e-7)  # real, well above solver precision
    _check(behavioral.column_currents(hi, V) - behavioral.column_currents(lo, V),
           s_hi - s_lo, 1e-5)


def test_1t1r_64x64_matches_ngspice_to_1e6(batch_runner):
    """A real-size 1T1R array (KLU ngspice 46 solves it in ~0.1 s): twin within 1e-6 relative
    per column (measured ~1e-10; the residual is ngspice's gmin across the drain junction)."""
    rng = np.random.default_rng(64)
    spec = CrossbarSpec(rng.uniform(1e-6, 1e-4, (64, 64)), r_wire_row=1.0, r_wire_col=1.0,
                        r_source=1.0, r_sense=1.0, access=ACCESS_018UM)
    V = rng.uniform(0.0, 0.2, 64)
    ref = spice.column_currents(spec, V, runner=batch_runner)
    _check(behavioral.column_currents(spec, V), ref, 1e-6)


@pytest.mark.parametrize("access", [None, ACCESS_018UM])
def test_read_power_twin_matches_ngspice(batch_runner, access):
    """Read power: Σ V·I of every source in ngspice vs Σ_i V_i Σ_j I_cell in the twin."""
    from circuitsim.behavioral.energy import read_power as twin_power
    from circuitsim.crossbar.spice import read_power as spice_power

    rng = np.random.default_rng(21)
    spec = _random_spec(rng, 16, 12, access=access)
    V = rng.uniform(0.0, 0.2, (16, 2))
    ref = spice_power(spec, V, runner=batch_runner)
    got = twin_power(spec, V)
    assert ref.shape == got.shape == (2,) and (ref > 0).all()
    np.testing.assert_allclose(got, ref, rtol=1e-9 if access is None else 1e-6)


@pytest.mark.parametrize("kind", ["1r", "1t1r"])
def test_one_dc_sweep_equals_one_op_per_vector(batch_runner, kind):
    """``column_currents(..., sweep=True)``: K vectors in one ``.dc`` run (a slot source, rows
    as pwl functions of it) give the per-vector ``.op`` currents (measured: 1.4e-14 for 1R,
    3.5e-14 for 1T1R, where each sweep point starts Newton from the previous solution) and
    match the engine as the per-vector runs do (1R 1.6e-14, 1T1R 2.3e-10); a row that never
    changes is a plain DC source."""
    rng = np.random.default_rng(11)
    access = ACCESS_018UM if kind == "1t1r" else None
    spec = _random_spec(rng, 9, 6, access=access)
    V = rng.uniform(0.0, 0.2, (9, 5))
    V[3] = 0.1  # a row that never changes
    swept = spice.column_currents(spec, V, runner=batch_runner, sweep=True)
    per_op = spice.column_currents(spec, V, runner=batch_runner)
    _check(swept, per_op, 1e-9 if kind == "1r" else 1e-8)
    _check(behavioral.column_currents(spec, V), swept, 1e-9 if kind == "1r" else 1e-6)
    one = spice.column_currents(spec, V[:, 0], runner=batch_runner, sweep=True)
    _check(one, per_op[:, 0], 1e-9 if kind == "1r" else 1e-8)


def test_per_point_refuses_a_sweep_of_another_length(batch_runner):
    """``SimResult.per_point``, the one reader of per-input vectors (crossbar sweeps and the
    network's decks): the sweep's points come back one per vector, and a run whose point count
    is not the number of inputs raises SimulationError with the deck (never a silent reshape)."""
    rng = np.random.default_rng(5)
    spec = _random_spec(rng, 4, 3)
    V = rng.uniform(0.0, 0.2, (4, 3))
    res = batch_runner.run(crossbar_sweep_deck(spec, V))
    name = column_current_names(spec)[0]
    got = res.per_point(name, 3)
    _check(got, spice.column_currents(spec, V, runner=batch_runner)[0], 1e-9)
    with pytest.raises(SimulationError, match="for 4 inputs.*sweep=False") as e:
        res.per_point(name, 4, fix="rerun with sweep=False")
    assert e.value.deck == res.deck
