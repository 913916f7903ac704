"""The new-conductance solver (Schur-complement PCG, :mod:`circuitsim.behavioral.pcg`), its
batched draws and its adjoint gradients, against the sparse nodal reference and ngspice.

Tolerances: 1e-10 relative vs the sparse nodal LU (measured ~1e-14), 1e-9 vs ngspice for 1R
(measured ~1e-13); gradients vs finite differences (torch.autograd.gradcheck).
"""

from __future__ import annotations

import itertools
import zlib

import numpy as np
import pytest
import torch

from circuitsim import behavioral, spice
from circuitsim.behavioral import newton, pcg
from circuitsim.behavioral.autograd import crossbar_currents
from circuitsim.behavioral.nodal import NodalSolver
from circuitsim.cards import ACCESS_018UM, AccessTransistor, Nmos1Card
from circuitsim.crossbar import CrossbarSpec
from circuitsim.errors import ConfigError, ConvergenceError

PATTERNS = list(itertools.product([0, 1.5], [0, 2.5], [0, 5.0], [0, 3.0]))

W1 = {"r_wire_row": 1.0, "r_wire_col": 1.0}
"""The wires CrossbarSpec defaulted to before Wires (whose default is the ideal wire)."""


def wires(pattern) -> dict:
    """(r_wire_row, r_wire_col, r_source, r_sense) as CrossbarSpec keywords."""
    return dict(zip(("r_wire_row", "r_wire_col", "r_source", "r_sense"), pattern, strict=False))


def _close(a, ref, rtol):
    a, ref = np.asarray(a), np.asarray(ref)
    assert a.shape == ref.shape
    scale = np.abs(ref).max()
    err = np.abs(a - ref).max() / scale
    assert err <= rtol, f"max error {err:.3g} of the largest value > {rtol}"


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("shape", [(1, 1), (1, 4), (4, 1), (6, 5), (13, 8)])
def test_pcg_equals_nodal_for_every_zero_pattern(shape, backend):
    rng = np.random.default_rng(shape[0] * 31 + shape[1])
    G = rng.uniform(1e-6, 1e-4, shape)
    V = rng.uniform(-0.3, 0.3, (shape[0], 3))
    for rr, rc, rs, rk in PATTERNS:
        s = CrossbarSpec(G, r_wire_row=rr, r_wire_col=rc, r_source=rs, r_sense=rk)
        vr, vc, I = NodalSolver(s).solve(V)
        out = pcg.solve(s, V, backend=backend)
        _close(out.currents, I, 1e-10)
        assert np.abs(np.asarray(out.v_row) - vr).max() < 1e-12
        assert np.abs(np.asarray(out.v_col) - vc).max() < 1e-12
        assert out.kcl_ratio <= 1.0  # the KCL criterion (rtol i_ref + rounding floor)
        assert out.kcl_sum >= out.kcl_max


def test_kcl_report_bounds_the_column_current_error():
    rng = np.random.default_rng(5)
    s = CrossbarSpec(rng.uniform(1e-6, 1e-4, (40, 30)), r_wire_row=1.0,
                     r_wire_col=1.0, r_source=1.0, r_sense=1.0)
    V = rng.uniform(0, 0.2, 40)
    I = NodalSolver(s).solve(V[:, None])[2][:, 0]
    for rtol in (1e-6, 1e-9, 1e-12):
        out = pcg.solve(s, V, rtol=rtol)
        assert out.kcl_ratio <= 1.0 and out.kcl_rel <= rtol + 1e-13
        assert np.abs(out.currents - I).max() <= out.kcl_sum * (1 + 1e-6) + 1e-18


def test_ill_conditioned_array_meets_the_criterion_or_names_the_residual():
    rng = np.random.default_rng(9)
    G = 10 ** rng.uniform(-9, -3, (48, 40))  # 1 nS .. 1 mS, 10 ohm wires
    s = CrossbarSpec(G, r_wire_row=10.0, r_wire_col=10.0, r_source=10.0, r_sense=10.0)
    V = rng.uniform(-0.2, 0.3, (48, 2))
    out = pcg.solve(s, V)
    assert out.kcl_ratio <= 1.0
    _close(out.currents, NodalSolver(s).solve(V)[2], 1e-10)
    with pytest.raises(ConvergenceError, match=r"KCL residual .* A at the worst node"):
        pcg.solve(s, V, maxiter=1)  # capped iterations: the criterion decides, and fails


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_batched_draws_equal_one_by_one(backend):
    rng = np.random.default_rng(17)
    s = CrossbarSpec(np.full((11, 7), 5e-5), r_wire_row=1.0,
                     r_wire_col=2.0, r_source=3.0, r_sense=0.0)
    Gk = rng.uniform(1e-6, 1e-4, (5, 11, 7))
    V = rng.uniform(0, 0.2, (11, 4))
    Vk = rng.uniform(0, 0.2, (5, 11, 4))
    shared = pcg.solve(s, V, Gk, backend=backend)
    own = pcg.solve(s, Vk, Gk, backend=backend)
    assert tuple(shared.currents.shape) == (5, 7, 4)
    for k in range(5):
        sk = CrossbarSpec(Gk[k], r_wire_row=1.0, r_wire_col=2.0, r_source=3.0, r_sense=0.0)
        _close(shared.currents[k], NodalSolver(sk).solve(V)[2], 1e-10)
        one = pcg.solve(sk, V[:, 0], backend=backend)
        np.testing.assert_allclose(np.asarray(shared.currents[k][:, 0]),
                                   np.asarray(one.currents), rtol=1e-11, atol=0)
        _close(own.currents[k], NodalSolver(sk).solve(Vk[k])[2], 1e-10)
        vr, vc, _ = NodalSolver(sk).solve(Vk[k])
        assert np.abs(np.asarray(own.v_row[k]) - vr).max() < 1e-12


def test_auto_method_uses_pcg_for_few_vectors():
    from circuitsim.behavioral.solver import _pick_method

    s = CrossbarSpec(np.full((64, 64), 5e-5), **W1)
    assert _pick_method(s, np.zeros(64)) == "pcg"
    assert _pick_method(s, np.zeros((64, 16))) == "pcg"
    assert _pick_method(s, np.zeros((64, 17))) == "map"
    assert _pick_method(CrossbarSpec(np.full((4, 4), 5e-5), r_wire_row=0,
                                     r_wire_col=0, r_source=0, r_sense=0), np.zeros(4)) == "map"
    V = np.random.default_rng(0).uniform(0, 0.2, 64)
    np.testing.assert_allclose(behavioral.column_currents(s, V),
                               behavioral.column_currents(s, V, method="map"), rtol=1e-11)
    t = behavioral.column_currents(s, V, backend="torch")
    assert isinstance(t, torch.Tensor)
    np.testing.assert_allclose(t.numpy(), behavioral.column_currents(s, V, method="map"),
                               rtol=1e-11)


def test_bad_inputs():
    s = CrossbarSpec(np.full((4, 3), 5e-5), **W1)
    with pytest.raises(ConfigError, match=r"\(K, 4, 3\)"):
        pcg.solve(s, np.zeros(4), np.ones((2, 3, 3)))
    with pytest.raises(ConfigError, match="rows = 4"):
        pcg.solve(s, np.zeros(5))
    with pytest.raises(ConfigError, match="finite and > 0"):
        pcg.solve(s, np.zeros(4), -np.ones((4, 3)))
    with pytest.raises(ConfigError, match="same K"):
        pcg.solve(s, np.zeros((3, 4, 2)), np.full((2, 4, 3), 1e-5))
    with pytest.raises(ConfigError, match="linear 1R"):
        pcg.solve(s.replace(access=ACCESS_018UM), np.zeros(4))


# ------------------------------------------------------------------ gradients


@pytest.mark.parametrize("pattern", [(1.5, 2.5, 5.0, 3.0), (0, 2.5, 0, 3.0), (1.5, 0, 5.0, 0),
                                     (1.5, 2.5, 0, 0), (0, 0, 5.0, 3.0)])
def test_adjoint_gradient_equals_finite_differences(pattern):
    rng = np.random.default_rng(4)
    s = CrossbarSpec(np.full((5, 3), 5e-5), **wires(pattern))
    g = torch.tensor(rng.uniform(0.1, 1.0, (5, 3)), requires_grad=True)  # [100 uS]
    v = torch.tensor(rng.uniform(-0.3, 0.3, (5, 2)), requires_grad=True)

    def f(g, v):
        return crossbar_currents(s, v, g * 1e-4) * 1e4

    assert torch.autograd.gradcheck(f, (g, v), eps=1e-6, atol=1e-8, rtol=1e-6)


def test_adjoint_gradient_of_batched_draws():
    rng = np.random.default_rng(6)
    s = CrossbarSpec(np.full((4, 3), 5e-5), r_wire_row=1.0,
                     r_wire_col=2.0, r_source=0.0, r_sense=3.0)
    g = torch.tensor(rng.uniform(0.1, 1.0, (3, 4, 3)), requires_grad=True)
    v = torch.tensor(rng.uniform(-0.3, 0.3, (3, 4, 2)), requires_grad=True)
    assert torch.autograd.gradcheck(lambda g, v: crossbar_currents(s, v, g * 1e-4) * 1e4,
                                    (g, v), eps=1e-6, atol=1e-8, rtol=1e-6)


def test_gradient_through_the_default_conductances_is_constant():
    s = CrossbarSpec(np.full((4, 3), 5e-5), r_wire_row=1.0, r_wire_col=1.0)
    v = torch.full((4,), 0.1, dtype=torch.float64, requires_grad=True)
    I = crossbar_currents(s, v)
    I.sum().backward()
    # dI_total / dV_i > 0 and below the ideal sum_j G_ij
    assert (v.grad > 0).all() and (v.grad < 3 * 5e-5).all()


# ------------------------------------------------------------------ ngspice


@pytest.mark.ngspice
@pytest.mark.parametrize("zero", [(), ("r_source", "r_sense"), ("r_wire_row",),
                                  ("r_wire_col", "r_sense"), ("r_wire_row", "r_wire_col")])
def test_pcg_matches_ngspice(batch_runner, zero):
    rng = np.random.default_rng(zlib.crc32(repr(zero).encode()))
    r = {"r_wire_row": 1.0, "r_wire_col": 2.0, "r_source": 5.0, "r_sense": 3.0}
    r.update({k: 0.0 for k in zero})
    s = CrossbarSpec(rng.uniform(1e-6, 1e-4, (14, 9)), **r)
    V = rng.uniform(-0.3, 0.3, (14, 2))
    ref = spice.column_currents(s, V, runner=batch_runner)
    err = np.abs(pcg.solve(s, V).currents - ref) / np.abs(ref)
    assert err.max() <= 1e-9
    one = pcg.solve(s, V[:, 1]).currents  # one vector: the one-call compiled solve
    assert (np.abs(one - ref[:, 1]) / np.abs(ref[:, 1])).max() <= 1e-9


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_column_currents_draws_both_methods(backend):
    rng = np.random.default_rng(21)
    s = CrossbarSpec(np.full((9, 6), 5e-5), r_wire_row=1.0,
                     r_wire_col=2.0, r_source=3.0, r_sense=4.0)
    Gk = rng.uniform(1e-6, 1e-4, (3, 9, 6))
    V = rng.uniform(0, 0.2, (9, 5))
    ref = np.stack([NodalSolver(s.replace(conductance=g)).solve(V)[2] for g in Gk])
    for method in ("pcg", "map", "auto"):
        out = behavioral.column_currents_draws(s, Gk, V, backend=backend, method=method)
        _close(out, ref, 1e-10)
    one = behavioral.column_currents_draws(s, Gk, V[:, 0], backend=backend, method="map")
    _close(one, ref[..., 0], 1e-10)


# ------------------------------------------------------------------ 1T1R cells


@pytest.mark.parametrize("vwl", [0.3, 0.6, 0.9, 1.8])
@pytest.mark.parametrize("lam, v0", [(0.0, None), (0.07, None), (0.0, 0.2)])
def test_1t1r_cell_root_satisfies_kcl_in_every_region(vwl, lam, v0):
    """The closed-form root (lambda = 0, ohmic) and its Newton refinement (lambda > 0 or sinh)
    make the memristor current equal the level-1 drain current at the internal node, on a grid
    covering forward triode / saturation / off and reverse bias; numpy = torch."""
    from circuitsim.behavioral import cells

    s = CrossbarSpec(np.full((1, 1), 1e-4), sinh_v0=v0,
                     access=AccessTransistor(Nmos1Card(lambda_=lam), vwl), **W1)
    vr, vc = np.meshgrid(np.linspace(-1.0, 1.5, 51), np.linspace(-0.4, 0.6, 21))
    g = 10 ** np.linspace(-6, -3, vr.size).reshape(vr.shape)
    i, _, _, vm = cells.cell_current(s, g, vr, vc)
    assert ((vm >= np.minimum(vr, vc) - 1e-15) & (vm <= np.maximum(vr, vc) + 1e-15)).all()
    it, _, _ = s.access.nmos.drain_current(vwl - vc, vm - vc)
    assert np.abs(i - it).max() <= 1e-12 * np.abs(i).max()
    ti, tdr, tdc, tvm = cells.cell_current(s, torch.tensor(g), torch.tensor(vr),
                                           torch.tensor(vc))
    np.testing.assert_allclose(ti.numpy(), i, rtol=1e-12, atol=1e-20)
    np.testing.assert_allclose(tvm.numpy(), vm, rtol=0, atol=1e-14)


# ------------------------------------------------------------------ nonlinear: Newton + PCG

NONLINEAR = [dict(access=ACCESS_018UM), dict(sinh_v0=0.2),
             dict(access=AccessTransistor(Nmos1Card(lambda_=0.1), 0.8), sinh_v0=0.3)]


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("extra", NONLINEAR)
def test_newton_pcg_equals_nodal_for_every_zero_pattern(extra, backend):
    rng = np.random.default_rng(2)
    for rr, rc, rs, rk in PATTERNS:
        s = CrossbarSpec(rng.uniform(1e-6, 1e-4, (7, 5)), r_wire_row=rr,
                         r_wire_col=rc, r_source=rs, r_sense=rk, **extra)
        V = rng.uniform(-0.4, 0.4, (7, 3))
        vr, vc, I = NodalSolver(s).solve(V)
        out = newton.solve(s, V, backend=backend)
        _close(out.currents, I, 1e-10)
        assert np.abs(np.asarray(out.v_row) - vr).max() < 1e-12
        assert np.abs(np.asarray(out.v_col) - vc).max() < 1e-12
        assert out.kcl_ratio <= 1.0


def test_newton_pcg_batched_draws_equal_one_by_one():
    rng = np.random.default_rng(8)
    s = CrossbarSpec(np.full((8, 6), 5e-5), r_wire_row=1.0,
                     r_wire_col=2.0, r_source=3.0, r_sense=4.0, access=ACCESS_018UM)
    Gk = rng.uniform(1e-6, 1e-4, (3, 8, 6))
    V = rng.uniform(-0.2, 0.4, (8, 2))
    out = newton.solve(s, V, Gk)
    for k in range(3):
        sk = s.replace(conductance=Gk[k])
        _close(out.currents[k], NodalSolver(sk).solve(V)[2], 1e-10)
        np.testing.assert_allclose(out.currents[k][:, 1], newton.solve(sk, V[:, 1]).currents,
                                   rtol=1e-10, atol=0)


@pytest.mark.ngspice
@pytest.mark.parametrize("zero, vwl", [((), 1.8), (("r_source", "r_sense"), 0.9),
                                       (("r_wire_col",), 1.8), (("r_wire_row",), 1.2)])
def test_newton_pcg_matches_ngspice_1t1r(batch_runner, zero, vwl):
    rng = np.random.default_rng(zlib.crc32(repr((zero, vwl)).encode()))
    r = {"r_wire_row": 1.0, "r_wire_col": 2.0, "r_source": 5.0, "r_sense": 3.0}
    r.update({k: 0.0 for k in zero})
    s = CrossbarSpec(rng.uniform(1e-6, 1e-4, (12, 7)), **r,
                     access=AccessTransistor(Nmos1Card(lambda_=0.05), vwl))
    V = rng.uniform(-0.3, 0.4, (12, 2))
    ref = spice.column_currents(s, V, runner=batch_runner)
    err = np.abs(newton.solve(s, V).currents - ref) / np.abs(ref)
    assert err.max() <= 1e-6


def test_cyclic_reduction_path_equals_lapack_path():
    """The CUDA code path (torch Grid: parallel cyclic reduction line solves) run on the CPU
    gives the numpy (LAPACK) answer for every zero pattern, batched draws included."""
    rng = np.random.default_rng(12)
    Gk = rng.uniform(1e-6, 1e-4, (2, 9, 13))
    V = rng.uniform(-0.3, 0.3, (3, 2, 9))  # (B, K, rows)
    for pattern in PATTERNS:
        s = CrossbarSpec(Gk[0], **wires(pattern))
        xr, xc, _ = pcg.Grid(s, Gk).solve(V)
        tr, tc, rep = pcg.Grid(s, torch.tensor(Gk)).solve(torch.tensor(V))
        assert np.abs(tr.numpy() - xr).max() < 1e-13
        assert np.abs(tc.numpy() - xc).max() < 1e-13
        assert rep["kcl_ratio"] <= 1.0


def test_compiled_line_kernels_equal_lapack(monkeypatch):
    """numba line kernels (when installed) and LAPACK dpttrs give the same solve."""
    from circuitsim.behavioral import linekernels

    rng = np.random.default_rng(13)
    Gk = rng.uniform(1e-6, 1e-4, (2, 10, 12))
    V = rng.uniform(-0.3, 0.3, (10, 3))
    monkeypatch.setattr(pcg, "KERNEL_MIN_NODES", 0)
    for pattern in PATTERNS:
        s = CrossbarSpec(Gk[0], **wires(pattern))
        monkeypatch.setattr(pcg, "USE_KERNELS", True)
        a = pcg.solve(s, V, Gk)
        monkeypatch.setattr(pcg, "USE_KERNELS", False)
        b = pcg.solve(s, V, Gk)
        np.testing.assert_allclose(a.currents, b.currents, rtol=1e-12, atol=0)
        np.testing.assert_allclose(a.v_col, b.v_col, rtol=0, atol=1e-15)
    assert linekernels.AVAILABLE  # numba is in setup.cfg: the fast path must be testable


def test_fused_cg_kernel_equals_the_vectorised_cg(monkeypatch):
    """The compiled per-vector CG (pcg.USE_FUSED) and the vectorised numpy CG give the same
    solve for every zero-resistance pattern, batched draws and vectors included."""
    rng = np.random.default_rng(17)
    Gk = rng.uniform(1e-6, 1e-4, (3, 9, 7))
    V = rng.uniform(-0.3, 0.3, (3, 9, 4))
    for pattern in PATTERNS:
        s = CrossbarSpec(Gk[0], **wires(pattern))
        monkeypatch.setattr(pcg, "USE_FUSED", True)
        a = pcg.solve(s, V, Gk)
        monkeypatch.setattr(pcg, "USE_FUSED", False)
        b = pcg.solve(s, V, Gk)
        assert a.kcl_ratio <= 1.0 and b.kcl_ratio <= 1.0
        np.testing.assert_allclose(a.currents, b.currents, rtol=1e-11, atol=0)
        np.testing.assert_allclose(a.v_row, b.v_row, rtol=0, atol=1e-13)


def test_fused_kcl_residual_equals_numpy(monkeypatch):
    """The compiled KCL residual (pcg.USE_FUSED) equals the numpy one at arbitrary voltages
    and injections, for every zero-resistance pattern (broadcast injections included)."""
    rng = np.random.default_rng(3)
    Gk = rng.uniform(1e-6, 1e-4, (2, 6, 5))
    V = rng.uniform(-0.3, 0.3, (3, 2, 6))
    for pattern in PATTERNS:
        grid = pcg.Grid(CrossbarSpec(Gk[0], **wires(pattern)), Gk)
        xr, xc = grid.known(V)
        xr, xc = xr + rng.normal(size=xr.shape), xc + rng.normal(size=xc.shape)
        for jr, jc in ((None, None), (rng.normal(size=xr.shape),
                                      rng.normal(size=(1,) + xc.shape[1:]))):
            monkeypatch.setattr(pcg, "USE_FUSED", True)
            a = grid.residual(V, xr, xc, jr, jc)
            monkeypatch.setattr(pcg, "USE_FUSED", False)
            b = grid.residual(V, xr, xc, jr, jc)
            for fused, ref in zip(a, b, strict=True):
                np.testing.assert_allclose(fused, np.broadcast_to(ref, fused.shape),
                                           rtol=1e-14, atol=1e-18)


def test_chunked_solve_equals_one_piece(monkeypatch):
    """Many draws x vectors are solved in pieces (pcg.CHUNK_NODES); the result and the KCL
    report equal the one-piece solve in every layout."""
    rng = np.random.default_rng(21)
    Gk = rng.uniform(1e-6, 1e-4, (5, 6, 4))
    s = CrossbarSpec(Gk[0], **W1, r_source=1.0)
    for G, V in ((Gk, rng.uniform(0, 0.2, (6, 7))), (Gk, rng.uniform(0, 0.2, (5, 6, 3))),
                 (Gk[1], rng.uniform(0, 0.2, (6, 9))), (Gk, rng.uniform(0, 0.2, 6))):
        whole = pcg.solve(s, V, G)
        monkeypatch.setattr(pcg, "CHUNK_NODES", 2 * 6 * 4)  # 2 draws x 1 vector a piece
        parts = pcg.solve(s, V, G)
        monkeypatch.undo()
        for a, b in ((parts.currents, whole.currents), (parts.v_row, whole.v_row),
                     (parts.v_col, whole.v_col)):
            assert np.shape(a) == np.shape(b)
            np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-16)
        assert parts.kcl_ratio <= 1.0


def test_list_inputs_are_accepted():
    s = CrossbarSpec(np.full((2, 3), 5e-5), r_wire_row=1.0, r_wire_col=1.0)
    ref = behavioral.column_currents(s, np.array([0.1, 0.2]), method="map")
    np.testing.assert_allclose(behavioral.column_currents(s, [0.1, 0.2]), ref, rtol=1e-12)
    np.testing.assert_allclose(behavioral.column_currents_draws(s, np.full((1, 2, 3), 5e-5),
                                                                [[0.1], [0.2]])[0][:, 0],
                               ref, rtol=1e-12)


# ------------------------------------------------------------------ one vector, one call


@pytest.mark.parametrize("shape", [(1, 1), (1, 4), (4, 1), (13, 8)])
def test_one_call_solve_equals_grid_path_and_nodal(shape, monkeypatch):
    """One vector of one conductance matrix runs as ONE compiled call
    (linekernels.solve_one); it equals the Grid path (pcg.USE_ONE_CALL = False) and the
    sparse nodal reference for every zero-resistance pattern, in every input layout."""
    rng = np.random.default_rng(shape[0] * 7 + shape[1])
    G = rng.uniform(1e-6, 1e-4, shape)
    v = rng.uniform(-0.3, 0.3, shape[0])
    for pattern in PATTERNS:
        s = CrossbarSpec(G, **wires(pattern))
        vr, vc, I = NodalSolver(s).solve(v[:, None])
        out = pcg.solve(s, v)
        monkeypatch.setattr(pcg, "USE_ONE_CALL", False)
        ref = pcg.solve(s, v)
        monkeypatch.undo()
        assert out.kcl_ratio <= 1.0 and out.kcl_sum >= out.kcl_max
        _close(out.currents, I[:, 0], 1e-10)
        assert np.abs(out.v_row - vr[..., 0]).max() < 1e-12
        assert np.abs(out.v_col - vc[..., 0]).max() < 1e-12
        np.testing.assert_allclose(out.currents, ref.currents, rtol=1e-11, atol=0)
        assert out.iterations == ref.iterations and ref.kcl_ratio <= 1.0
        # layouts: (rows, 1), batched (1, rows, cols), torch on the CPU
        two = pcg.solve(s, v[:, None])
        assert two.currents.shape == (shape[1], 1) and two.v_row.shape == shape + (1,)
        np.testing.assert_array_equal(two.currents[:, 0], out.currents)
        bat = pcg.solve(s, v, G[None])
        assert bat.currents.shape == (1, shape[1]) and bat.v_col.shape == (1,) + shape
        np.testing.assert_array_equal(bat.currents[0], out.currents)
        tor = pcg.solve(s, torch.tensor(v))
        assert isinstance(tor.currents, torch.Tensor)
        np.testing.assert_array_equal(tor.currents.numpy(), out.currents)


def test_parallel_cg_equals_the_serial_one(monkeypatch):
    """The CG of one big solve on all numba threads (linekernels._cg_par, forced here by
    pcg.PAR_MIN_NODES = 0 with two threads) equals the one-thread CG and the nodal reference;
    patterns without both wire chains fall back to the one-thread CG."""
    import numba

    rng = np.random.default_rng(29)
    G = rng.uniform(1e-6, 1e-4, (37, 131))  # 131 columns: two column blocks, 66 + 65
    v = rng.uniform(-0.3, 0.3, 37)
    threads = numba.get_num_threads()
    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    try:
        for pattern in ((1.0, 2.0, 0.5, 3.0), (1.0, 2.0, 0, 0), (1.0, 0, 0.5, 3.0)):
            s = CrossbarSpec(G, **wires(pattern))
            monkeypatch.setattr(pcg, "PAR_MIN_NODES", 0)
            par = pcg.solve(s, v)
            monkeypatch.setattr(pcg, "PAR_MIN_NODES", 1 << 60)
            ser = pcg.solve(s, v)
            assert par.kcl_ratio <= 1.0
            np.testing.assert_allclose(par.currents, ser.currents, rtol=1e-11, atol=0)
            _close(par.currents, NodalSolver(s).solve(v[:, None])[2][:, 0], 1e-10)
    finally:
        numba.set_num_threads(threads)


@pytest.mark.parametrize("par", [0, 1 << 60])
def test_one_call_ill_conditioned_meets_the_criterion_or_names_the_residual(par, monkeypatch):
    rng = np.random.default_rng(9)
    G = 10 ** rng.uniform(-9, -3, (48, 40))  # 1 nS .. 1 mS, 10 ohm wires
    s = CrossbarSpec(G, r_wire_row=10.0, r_wire_col=10.0, r_source=10.0, r_sense=10.0)
    v = rng.uniform(-0.2, 0.3, 48)
    monkeypatch.setattr(pcg, "PAR_MIN_NODES", par)
    out = pcg.solve(s, v)
    assert out.kcl_ratio <= 1.0
    _close(out.currents, NodalSolver(s).solve(v[:, None])[2][:, 0], 1e-10)
    with pytest.raises(ConvergenceError, match=r"KCL residual .* A at the worst node"):
        pcg.solve(s, v, maxiter=1)  # capped iterations: the criterion decides, and fails
