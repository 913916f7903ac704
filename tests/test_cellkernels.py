"""The compiled Newton for 1T1R / sinh crossbars (:mod:`circuitsim.behavioral.cellkernels`,
``newton.solve`` on numpy): its scalar cell text against the array text (numpy and torch),
and its solves against the array Newton, the sparse nodal reference and ngspice.

Tolerances: scalar vs array cell text 1e-14 relative (measured: equal to the last bit); where
the internal node is iterated (lambda > 0, sinh), the iteration's own stopping step; solves 1e-10
relative vs the nodal LU and the array path (measured ~1e-13), 1e-6 vs ngspice (its gmin
across the transistor junctions; measured ~1e-10).
"""

from __future__ import annotations

import itertools
import zlib

import numpy as np
import pytest
import torch

from circuitsim import spice
from circuitsim.behavioral import cells, newton
from circuitsim.behavioral.nodal import NodalSolver
from circuitsim.cards import ACCESS_018UM, AccessTransistor, Nmos1Card
from circuitsim.crossbar import CrossbarSpec
from circuitsim.errors import ConfigError, ConvergenceError

ck = pytest.importorskip("circuitsim.behavioral.cellkernels")
if not ck.AVAILABLE:  # pragma: no cover - numba is in install_requires
    pytest.skip("numba is not installed", allow_module_level=True)

PATTERNS = list(itertools.product([0, 1.5], [0, 2.5], [0, 5.0], [0, 3.0]))
NONLINEAR = [dict(access=ACCESS_018UM), dict(sinh_v0=0.2),
             dict(access=AccessTransistor(Nmos1Card(lambda_=0.1), 0.8), sinh_v0=0.3),
             dict(access=AccessTransistor(Nmos1Card(lambda_=0.05), 1.2))]


def _rel(a, ref):
    a, ref = np.asarray(a), np.asarray(ref)
    assert a.shape == ref.shape
    return float(np.abs(a - ref).max() / np.abs(ref).max())


def _scalar(f, *args):
    """Apply a compiled scalar function elementwise over broadcast arrays."""
    b = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in args))
    out = [f(*(float(x[i]) for x in b)) for i in np.ndindex(b[0].shape)]
    return [np.reshape(np.array(col), b[0].shape) for col in zip(*out, strict=True)] \
        if isinstance(out[0], tuple) else np.reshape(np.array(out), b[0].shape)


# ------------------------------------------------------------------ one text, two forms


@pytest.mark.parametrize("lam", [0.0, 0.1])
def test_scalar_level1_equals_array_text_in_every_region(lam):
    """triode, saturation, reverse (both), off: the compiled scalar level-1 equals
    Nmos1Card.level1 in numpy and torch."""
    card = Nmos1Card(lambda_=lam)
    vgs, vds = np.meshgrid(np.linspace(-0.5, 3.0, 41), np.linspace(-2.0, 2.0, 43))
    ref = card.level1(vgs, vds, np)
    tref = card.level1(torch.tensor(vgs), torch.tensor(vds), torch)
    got = _scalar(lambda a, b: ck.level1_scalar(a, b, card.vto, card.beta, card.lambda_),
                  vgs, vds)
    vov = np.where(vds < 0, vgs - vds, vgs) - card.vto
    regions = {"off": vov <= 0, "sat": (vov > 0) & (np.abs(vds) >= vov),
               "triode": (vov > 0) & (np.abs(vds) < vov)}
    assert all(m.sum() > 20 for m in regions.values())
    assert (vds < 0).sum() > 100
    for g, r, t in zip(got, ref, tref, strict=True):
        scale = np.abs(r).max()
        assert np.abs(g - r).max() <= 1e-14 * scale
        assert np.abs(g - t.numpy()).max() <= 1e-14 * scale


def test_scalar_series_root_and_cell_equal_array_text():
    """closed-form 1T1R cell (forward triode / saturation, reverse, transistor off at the
    cell's own V_GS): scalar and array text give the same internal node and current."""
    rng = np.random.default_rng(3)
    n = 4000
    g = 10 ** rng.uniform(-7, -3, n)
    vr = rng.uniform(-1.5, 1.5, n)
    vc = rng.uniform(-0.5, 1.6, n)
    acc = ACCESS_018UM
    beta, vto, vwl = acc.nmos.beta, acc.nmos.vto, acc.v_wordline
    vm = cells.series_root(g, beta, vto, vwl, vr, vc)
    got = _scalar(lambda *a: ck.series_root_scalar(a[0], beta, vto, vwl, a[1], a[2]),
                  g, vr, vc)
    assert np.abs(got - vm).max() <= 1e-14 * np.abs(vm).max()
    vov = vwl - vc - vto
    assert (vov <= 0).sum() > 100 and (vr < vc).sum() > 100  # off and reverse are covered
    s = CrossbarSpec(np.full((1, 1), 1e-5), access=acc)
    ref = cells.cell_current(s, g, vr, vc)
    c = _scalar(lambda *a: ck.cell_scalar(a[0], a[1], a[2], True, vto, beta, 0.0, vwl, 0.0,
                                          np.nan), g, vr, vc)
    for x, r in zip(c, ref, strict=True):
        assert np.abs(x - r).max() <= 1e-14 * np.abs(r).max()


@pytest.mark.parametrize("extra", [dict(sinh_v0=0.2), NONLINEAR[2], NONLINEAR[3]])
def test_scalar_iterated_cell_equals_array_text(extra):
    """lambda > 0 or a sinh memristor: the internal node by the same bracketed Newton, which
    stops when vm moves by <= 1e-15 + 1e-13 |vm| (per cell here, when every cell has in the
    array text): the two may differ by that step, so the bound is the step times the
    memristor conductance (exactly equal for the 1R sinh cell: no iteration)."""
    rng = np.random.default_rng(4)
    n = 2000
    g = 10 ** rng.uniform(-7, -4, n)
    vr = rng.uniform(-0.8, 0.8, n)
    vc = rng.uniform(-0.3, 0.6, n)
    s = CrossbarSpec(np.full((1, 1), 1e-5), **extra)
    acc = s.access
    nm = acc.nmos if acc else Nmos1Card()
    ref = cells.cell_current(s, g, vr, vc)
    c = _scalar(lambda *a: ck.cell_scalar(
        a[0], a[1], a[2], acc is not None, nm.vto, nm.beta, nm.lambda_,
        acc.v_wordline if acc else 0.0, s.sinh_v0 or 0.0, np.nan), g, vr, vc)
    if acc is None:
        for x, r in zip(c[:3], ref[:3], strict=True):
            assert np.abs(x - r).max() <= 1e-14 * np.abs(r).max()
        return
    vm = ref[3]
    step = 2 * (1e-15 + 1e-13 * np.abs(vm))
    assert (np.abs(c[3] - vm) <= step).all()
    gmem = cells.memristor_current(s, g, vr - vm)[1]
    assert (np.abs(c[0] - ref[0]) <= gmem * step + 1e-14 * np.abs(ref[0]).max()).all()
    for x, r in zip(c[1:3], ref[1:3], strict=True):  # derivatives: d/dvm ~ beta, bounded
        assert np.abs(x - r).max() <= 1e-12 * np.abs(r).max()


# ------------------------------------------------------------------ solves


@pytest.mark.parametrize("extra", NONLINEAR)
def test_compiled_newton_equals_nodal_and_array_path_for_every_zero_pattern(extra):
    rng = np.random.default_rng(zlib.crc32(repr(sorted(extra)).encode()))
    for rr, rc, rs, rk in PATTERNS:
        s = CrossbarSpec(rng.uniform(1e-6, 1e-4, (7, 5)), r_wire_row=rr, r_wire_col=rc,
                         r_source=rs, r_sense=rk, **extra)
        V = rng.uniform(-0.4, 0.4, (7, 3))
        vr, vc, I = NodalSolver(s).solve(V)
        out = newton.solve(s, V, compiled=True)
        arr = newton.solve(s, V, compiled=False)
        assert _rel(out.currents, I) <= 1e-10
        assert _rel(out.currents, arr.currents) <= 1e-10
        assert np.abs(out.v_row - vr).max() < 1e-12
        assert np.abs(out.v_col - vc).max() < 1e-12
        assert out.kcl_ratio <= 1.0 and out.kcl_sum >= out.kcl_max
        assert out.iterations >= (1 if any((rr, rc, rs, rk)) else 0)  # all zero: all known


def test_compiled_newton_torch_path_agrees():
    """torch keeps the array text (cells.cell_current in torch): same answer."""
    rng = np.random.default_rng(6)
    s = CrossbarSpec(rng.uniform(1e-6, 1e-4, (9, 6)), r_wire_row=1.0, r_wire_col=2.0,
                     r_source=3.0, r_sense=4.0, access=NONLINEAR[3]["access"], sinh_v0=0.25)
    V = rng.uniform(-0.3, 0.4, (9, 2))
    t = newton.solve(s, torch.tensor(V))
    assert isinstance(t.currents, torch.Tensor)
    assert _rel(t.currents.numpy(), newton.solve(s, V).currents) <= 1e-10


def test_compiled_newton_batched_draws_equal_one_by_one():
    rng = np.random.default_rng(8)
    s = CrossbarSpec(np.full((8, 6), 5e-5), r_wire_row=1.0, r_wire_col=2.0, r_source=3.0,
                     r_sense=4.0, access=ACCESS_018UM)
    Gk = rng.uniform(1e-6, 1e-4, (3, 8, 6))
    V = rng.uniform(-0.2, 0.4, (3, 8, 2))  # per-draw vectors (K, rows, B)
    out = newton.solve(s, V, Gk)
    assert out.currents.shape == (3, 6, 2) and out.v_row.shape == (3, 8, 6, 2)
    for k in range(3):
        sk = s.replace(conductance=Gk[k])
        for b in range(2):
            one = newton.solve(sk, V[k, :, b])
            np.testing.assert_allclose(out.currents[k][:, b], one.currents, rtol=1e-10,
                                       atol=0)
            np.testing.assert_allclose(out.v_col[k][..., b], one.v_col, rtol=0, atol=1e-13)


def test_badly_conditioned_array_meets_criterion_or_raises():
    """G spanning 1e-9..1e-3 S with 10 ohm wires: accepted by the KCL criterion (checked
    against the nodal reference) -- never an unchecked answer."""
    rng = np.random.default_rng(9)
    s = CrossbarSpec(10 ** rng.uniform(-9, -3, (24, 20)), r_wire_row=10.0, r_wire_col=10.0,
                     r_source=10.0, r_sense=10.0, access=ACCESS_018UM)
    V = rng.uniform(0.0, 0.3, (24, 2))
    try:
        out = newton.solve(s, V)
    except ConvergenceError as exc:  # pragma: no cover - what the criterion allows
        assert "KCL residual" in str(exc)
        return
    assert out.kcl_ratio <= 1.0
    assert _rel(out.currents, NodalSolver(s).solve(V)[2]) <= 1e-10


def test_compiled_newton_raises_naming_the_residual():
    s = CrossbarSpec(np.full((6, 5), 5e-5), r_wire_row=1.0, r_wire_col=1.0, r_source=1.0,
                     r_sense=1.0, access=ACCESS_018UM)
    with pytest.raises(ConvergenceError, match=r"KCL residual .* A at the worst node"):
        newton.solve(s, np.full(6, 0.2), max_iter=1)


def test_compiled_newton_bad_input():
    s = CrossbarSpec(np.full((3, 2), 5e-5), access=AccessTransistor(Nmos1Card(), 0.4))
    with pytest.raises(ConfigError, match="do not conduct"):
        newton.solve(s, np.full(3, 0.1))
    lin = CrossbarSpec(np.full((3, 2), 5e-5), sinh_v0=0.2)
    with pytest.raises(ConfigError, match="compiled=True needs the numpy backend"):
        newton.solve(lin, torch.full((3,), 0.1, dtype=torch.float64), compiled=True)


@pytest.mark.ngspice
@pytest.mark.parametrize("zero, extra", [((), dict(access=AccessTransistor(
    Nmos1Card(lambda_=0.05), 1.8))), (("r_source", "r_sense"), dict(access=ACCESS_018UM)),
    (("r_wire_row",), dict(access=AccessTransistor(Nmos1Card(lambda_=0.05), 0.9)))])
def test_compiled_newton_matches_ngspice_1t1r(batch_runner, zero, extra):
    rng = np.random.default_rng(zlib.crc32(repr(zero).encode()))
    r = {"r_wire_row": 1.0, "r_wire_col": 2.0, "r_source": 5.0, "r_sense": 3.0}
    r.update({k: 0.0 for k in zero})
    s = CrossbarSpec(rng.uniform(1e-6, 1e-4, (12, 7)), **r, **extra)
    V = rng.uniform(-0.3, 0.4, (12, 2))
    ref = spice.column_currents(s, V, runner=batch_runner)
    err = np.abs(newton.solve(s, V, compiled=True).currents - ref) / np.abs(ref)
    assert err.max() <= 1e-6


@pytest.mark.slow
def test_parallel_pairs_equal_serial(monkeypatch):
    """newton.PARALLEL (numba prange over the pairs) gives the serial answer bit for bit."""
    rng = np.random.default_rng(10)
    s = CrossbarSpec(rng.uniform(1e-6, 1e-4, (10, 8)), r_wire_row=1.0, r_wire_col=1.0,
                     r_source=1.0, r_sense=1.0, access=ACCESS_018UM)
    V = rng.uniform(0.0, 0.3, (10, 12))
    serial = newton.solve(s, V)
    monkeypatch.setattr(newton, "PARALLEL", True)
    par = newton.solve(s, V)
    np.testing.assert_array_equal(par.currents, serial.currents)


def test_auto_choice_of_the_compiled_path():
    """compiled=None: the kernel from COMPILED_MIN_CELLS cells x vectors up, the array path
    below (no numba import for small solves); both exact."""
    rng = np.random.default_rng(11)
    big = CrossbarSpec(rng.uniform(1e-6, 1e-4, (64, 64)), r_wire_row=1.0, r_wire_col=1.0,
                       r_source=1.0, r_sense=1.0, access=ACCESS_018UM)
    v = rng.uniform(0.0, 0.2, 64)
    assert 64 * 64 >= newton.COMPILED_MIN_CELLS
    np.testing.assert_array_equal(newton.solve(big, v).currents,
                                  newton.solve(big, v, compiled=True).currents)
    small = big.replace(conductance=big.conductance[:8, :8])
    np.testing.assert_array_equal(newton.solve(small, v[:8]).currents,
                                  newton.solve(small, v[:8], compiled=False).currents)
    assert _rel(newton.solve(small, v[:8], compiled=True).currents,
                newton.solve(small, v[:8]).currents) <= 1e-10
