"""Torch twins of the cell laws in :mod:`.cells` (same equations, float64 by default).

The level-1 drain current is :meth:`circuitsim.cards.Nmos1Card.level1` itself, called with
torch as the array module (tests check both backends agree on a grid covering cut-off,
linear, saturation and the reversed drain/source case)."""

from __future__ import annotations

from ..crossbar.spec import CrossbarSpec


def drain_current(nmos, vgs, vds):
    """Torch version of :meth:`Nmos1Card.drain_current`: returns (id, gm, gds)."""
    import torch

    return nmos.level1(*torch.broadcast_tensors(vgs, vds), torch)


def memristor_current(spec: CrossbarSpec, g, v):
    import torch

    if spec.sinh_v0 is None:
        return g * v, g * torch.ones_like(v)
    v0 = spec.sinh_v0
    return g * v0 * torch.sinh(v / v0), g * torch.cosh(v / v0)


def cell_current(spec: CrossbarSpec, g, vr, vc, vm0=None, *, tol: float = 1e-15,
                 max_iter: int = 60):
    """Torch version of :func:`circuitsim.behavioral.cells.cell_current`."""
    import torch

    if spec.access is None:
        i, gd = memristor_current(spec, g, vr - vc)
        return i, gd, -gd, None
    nmos, vwl = spec.access.nmos, spec.access.v_wordline
    lo, hi = torch.minimum(vr, vc), torch.maximum(vr, vc)
    if vm0 is None:
        ron = 1.0 / (nmos.beta * max(vwl - nmos.vto, 1e-3))
        vm = vc + (vr - vc) * (ron * g) / (1.0 + ron * g)
    else:
        vm = torch.minimum(torch.maximum(vm0, lo), hi)
    vgs = vwl - vc
    for _ in range(max_iter):
        im, gmem = memristor_current(spec, g, vr - vm)
        it, gm_t, gds = drain_current(nmos, vgs, vm - vc)
        h = im - it
        new = vm + h / (gmem + gds)
        bad = (new < lo) | (new > hi)
        if bool(bad.any()):
            lo = torch.where(h > 0, torch.maximum(lo, vm), lo)
            hi = torch.where(h < 0, torch.minimum(hi, vm), hi)
            new = torch.where(bad, 0.5 * (lo + hi), new)
        if bool(((new - vm).abs() <= tol + 1e-13 * vm.abs()).all()):
            break
        vm = new
    else:
        im, gmem = memristor_current(spec, g, vr - vm)
        it, gm_t, gds = drain_current(nmos, vgs, vm - vc)
    den = gmem + gds
    return im, gmem * gds / den, -gmem * (gm_t + gds) / den, vm
