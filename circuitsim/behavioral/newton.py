"""Nonlinear (1T1R, sinh) crossbar solves without a factorization: Newton steps whose linear
systems are solved by the PCG of :mod:`.pcg` (new cell conductances every step cost a few
sparse passes, not an O(R C^3) factorization).

Each step linearises every cell at the present node voltages with the conductance
``a = d i / d v_row`` (the symmetric part of the cell Jacobian; the 1T1R cell's extra
dependence on the column voltage through V_GS is left to the iteration, which then converges
linearly at a rate of roughly g_m / g_ds of the access transistor -- a few percent in triode),
and solves ``A_a dx = F`` with ``F`` the true KCL imbalance at every node (cell currents from
:func:`.cells.cell_current`, the level-1 equations of the card).  The inner linear solves
are inexact (max-node residual <= ``inner_rtol`` times the present one); acceptance is
decided by the true KCL residual of the nonlinear circuit at every node, with the same
criterion as :mod:`.pcg`
(``max |imbalance| <= rtol i_ref + floor``), never by an iteration count.  K conductance
draws and B vectors per call, numpy or torch.
"""

from __future__ import annotations

import numpy as np

from ..crossbar.spec import CrossbarSpec
from ..errors import ConfigError, ConvergenceError
from . import cells, pcg


def _linear_spec(spec: CrossbarSpec) -> CrossbarSpec:
    return spec.replace(access=None, sinh_v0=None, cell=None)


def solve(spec: CrossbarSpec, V, G=None, *, rtol: float = pcg.RTOL, inner_rtol: float = 1e-4,
          max_iter: int = 60, backend: str | None = None, device=None) -> pcg.LinearSolution:
    """Exact column currents and node voltages of a nonlinear (1T1R and/or sinh) crossbar;
    shapes and report as :func:`.pcg.solve` (``iterations`` counts Newton steps)."""
    if not isinstance(spec, CrossbarSpec):
        raise ConfigError(f"needs a CrossbarSpec, got {type(spec).__name__}")
    lin = _linear_spec(spec)
    xp, g, v, batched, vector = pcg.prepare(lin, V, G, backend=backend, device=device)
    B, K, R = v.shape
    C = spec.cols
    # the operating point differs per vector: every (vector, draw) pair is its own grid
    Gf = _reshape(_expand(g[None], (B, K, R, C), xp), (B * K, R, C), xp)
    vf = _reshape(v, (1, B * K, R), xp)
    G4 = Gf[None]
    z = xp.zeros_like(G4)
    _, a, _, _ = cells.cell_current(spec, G4, z, z)  # zero-bias small-signal conductance
    if not bool(xp.isfinite(a).all()) or not bool((a > 0).all()):
        raise ConfigError("the access transistors do not conduct at zero bias "
                          "(v_wordline <= vto?): the 1T1R array is off")
    grid = pcg.Grid(lin, a[0])
    xr, xc, _ = grid.solve(vf, rtol=inner_rtol)  # linear warm start
    absV = xp.abs(vf)
    vmax = float(absV.max())
    i_ref = pcg._amax((G4 * absV[..., :, None]).sum(-2), -1, xp)
    vm = None
    kmax = None
    it = 0
    for it in range(0, max_iter + 1):  # noqa: B007 (reported)
        i_cell, a, _, vm = cells.cell_current(spec, G4, xr, xc, vm)
        grid = pcg.Grid(lin, _positive(a, xp)[0])
        # true KCL imbalance: the linearised grid's residual, corrected to the true currents
        corr = a * (xr - xc) - i_cell
        fr, fc = grid.residual(vf, xr, xc, grid.reduce_r(corr), -grid.reduce_c(corr))
        kmax = pcg._maxabs2(fr, fc, xp)
        tol = rtol * i_ref + 16 * np.finfo(np.float64).eps * grid.g_node_max * max(vmax, 1e-300)
        if bool((kmax <= tol).all()):
            ksum = pcg._sumabs2(fr, fc, xp)
            rel = kmax / xp.where(i_ref > 0, i_ref, xp.ones_like(i_ref))
            I = _reshape(i_cell.sum(-2), (B, K, C), xp)
            I = pcg.currents_layout(I, batched, vector)
            vr, vc = _nodes(xr, xc, (B, K, R, C), batched, vector, xp)
            return pcg.LinearSolution(I, vr, vc, float(kmax.max()), float(ksum.max()),
                                      float(rel.max()), float((kmax / tol).max()), it)
        inner = xp.maximum(inner_rtol * kmax, 0.5 * tol)  # inexact Newton: relative to |F|
        dr, dc, _ = grid.solve(xp.zeros_like(vf), fr, fc, atol=inner)
        xr, xc = xr + dr, xc + dc
    raise ConvergenceError(f"crossbar Newton (PCG inner solves): KCL residual "
                           f"{float(kmax.max()):.3g} A at the worst node after {max_iter} "
                           "steps is above the criterion; use CrossbarSolver (chord "
                           "Newton on the block factors) or method='sparse'")


def _expand(x, shape, xp):
    return np.broadcast_to(x, shape) if xp is np else x.expand(shape)


def _reshape(x, shape, xp):
    return np.reshape(x, shape) if xp is np else x.reshape(shape)


def _nodes(xr, xc, shape, batched, vector, xp):
    """(1, B K, R, Cr) -> (K, R, C, B) full node voltages (squeezed like the currents)."""
    B, K, R, C = shape
    out = []
    for x in (xr, xc):
        x = _reshape(x, (B, K) + tuple(x.shape[2:]), xp)
        x = _expand(x, shape, xp)
        x = np.ascontiguousarray(x.transpose(1, 2, 3, 0)) if xp is np else \
            x.permute(1, 2, 3, 0).contiguous()
        if vector:
            x = x[..., 0]
        out.append(x if batched else x[0])
    return out


def _positive(a, xp):
    return xp.maximum(a, xp.zeros_like(a) + 1e-30)
