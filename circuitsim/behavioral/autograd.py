"""torch autograd through the exact IR-drop solve of a linear 1R crossbar.

:func:`crossbar_currents` returns exact column currents (the PCG of :mod:`.pcg`, KCL
criterion) that are differentiable in the conductances G and the inputs V.  The backward
pass is the adjoint of the nodal equations, not unrolled iterations: with ``A(G) x = b(V)``
the node voltages and ``I_j = sum_i G_ij (v_row - v_col)_ij`` the outputs, one more solve
``A lam = dL/dx`` (A is symmetric) gives

    dL/dG_ij = (dL/dI_j - (lam_row - lam_col)_ij) * (v_row - v_col)_ij
    dL/dV_i  = g_s lam_row(i, 0)                          (driver resistance > 0)
             = sum over the cells and wire of the driven node of g * (lam + dL/dI)   (ideal)

The adjoint solve runs on the same grid (same preconditioner, same KCL criterion).
"""

from __future__ import annotations

import numpy as np
import torch

from ..crossbar.spec import CrossbarSpec
from . import pcg


class _ExactSolve(torch.autograd.Function):
    """(G (K, R, C), V (B, K, R)) -> column currents (B, K, C)."""

    @staticmethod
    def forward(ctx, G, V, spec, rtol):
        cpu = G.device.type == "cpu"  # LAPACK line solves (numpy) on the CPU, PCR on CUDA
        g = G.detach().numpy() if cpu else G.detach()
        v = V.detach().numpy() if cpu else V.detach()
        grid = pcg.Grid(spec, g)
        xr, xc, _ = grid.solve(v, rtol=rtol)
        ctx.grid, ctx.rtol, ctx.cpu, ctx.x = grid, rtol, cpu, (xr, xc)
        return _t((grid.G * (xr - xc)).sum(-2))

    @staticmethod
    def backward(ctx, gI):
        grid, rtol = ctx.grid, ctx.rtol
        xr, xc = ctx.x
        xp = grid.xp
        gI = gI.detach().numpy() if ctx.cpu else gI.detach()
        G4 = grid.G  # (1, K, R, C)
        gI4 = gI[:, :, None, :]  # (B, K, 1, C)
        w = G4 * gI4  # dL/d v_row of each cell (= -dL/d v_col)
        jr = pcg._mask(grid.reduce_r(w), grid.mr)
        jc = pcg._mask(-grid.reduce_c(w), grid.mc)
        lr, lc, _ = grid.solve(_zeros_v(xr, grid), jr, jc, rtol=rtol)
        vcell = xr - xc
        lcell = lr - lc
        dG = dV = None
        if ctx.needs_input_grad[0]:
            dG = _t(((gI4 - lcell) * vcell).sum(0))
        if ctx.needs_input_grad[1]:
            if grid.gs is not None:
                dV = grid.gs * lr[..., 0]
            else:
                lc_b = lc + xp.zeros_like(vcell)
                if grid.row_chain:
                    dV = G4[..., 0] * (gI[..., 0:1] + lc_b[..., 0])
                    if lr.shape[-1] > 1:
                        dV = dV + grid.gr * lr[..., 1]
                else:
                    dV = (G4 * (gI4 + lc_b)).sum(-1)
            dV = _t(dV)
        return dG, dV, None, None


def _zeros_v(xr, grid):
    shape = tuple(xr.shape[:2]) + (grid.spec.rows,)
    if grid.xp is torch:
        return torch.zeros(shape, dtype=xr.dtype, device=xr.device)
    return np.zeros(shape)


def _t(a):
    """numpy results back to torch (CPU path); tensors pass through."""
    if isinstance(a, torch.Tensor):
        return a
    return torch.from_numpy(np.array(a))


def crossbar_currents(spec: CrossbarSpec, V, G=None, *, rtol: float = pcg.RTOL):
    """Exact, differentiable column currents [A] of a linear 1R crossbar (torch).

    ``G``: None (the spec's conductances, constant), (rows, cols) or (K, rows, cols) tensor
    [S]; ``V``: (rows,), (rows, B) or (K, rows, B) tensor [V] (device: the tensors'; float64).
    Returns (cols,), (cols, B), (K, cols) or (K, cols, B) like :func:`.pcg.solve`."""
    _, g, v, batched, vector = pcg.prepare(spec, V, G, backend="torch")
    I = _ExactSolve.apply(g, v, spec, rtol)
    return pcg.currents_layout(I, batched, vector)
