"""Cell I-V laws shared by the behavioral solvers (the same equations as the netlist).

A cell joins row node (i, j) to column node (i, j): a memristor (ohmic G·v, or G·v0·sinh(v/v0)
when ``spec.sinh_v0`` is set) optionally in series with the access NMOS of the card (drain at
the memristor, gate at the word line, source at the column), evaluated with
:meth:`circuitsim.cards.Nmos1Card.drain_current` -- the level-1 equations ngspice uses.
"""

from __future__ import annotations

import numpy as np

from ..crossbar.spec import CrossbarSpec


def memristor_current(spec: CrossbarSpec, g, v):
    """Memristor current [A] and its conductance d i / d v [S] for voltage ``v`` across it."""
    if spec.sinh_v0 is None:
        return g * v, np.broadcast_to(g, np.shape(v)) * 1.0
    v0 = spec.sinh_v0
    return g * v0 * np.sinh(v / v0), g * np.cosh(v / v0)


def cell_current(spec: CrossbarSpec, g, vr, vc, vm0=None, *, tol: float = 1e-15,
                 max_iter: int = 60):
    """Current through each cell from its row node (voltage ``vr``) to its column node (``vc``).

    Returns ``(i, di/dvr, di/dvc, vm)``; ``vm`` is the internal memristor-transistor node for
    1T1R (``None`` for 1R).  For 1T1R the internal node is solved per cell with a bracketed
    Newton iteration (the series current is monotone in vm and vm lies between vr and vc).
    ``vm0`` is an optional warm start.  Arrays broadcast elementwise."""
    if spec.access is None:
        i, gd = memristor_current(spec, g, vr - vc)
        return i, gd, -gd, None
    nmos, vwl = spec.access.nmos, spec.access.v_wordline
    lo, hi = np.minimum(vr, vc), np.maximum(vr, vc)
    if vm0 is None:
        ron = 1.0 / (nmos.beta * max(vwl - nmos.vto, 1e-3))
        vm = vc + (vr - vc) * (ron * g) / (1.0 + ron * g)
    else:
        vm = np.clip(vm0, lo, hi)
    vgs = vwl - vc
    for _ in range(max_iter):
        im, gmem = memristor_current(spec, g, vr - vm)
        it, gm_t, gds = nmos.drain_current(vgs, vm - vc)
        h = im - it  # KCL at the internal node: decreasing in vm
        new = vm + h / (gmem + gds)
        # keep inside the bracket: bisect toward the side the residual points to
        bad = (new < lo) | (new > hi)
        if bad.any():
            lo = np.where(h > 0, np.maximum(lo, vm), lo)
            hi = np.where(h < 0, np.minimum(hi, vm), hi)
            new = np.where(bad, 0.5 * (lo + hi), new)
        if (np.abs(new - vm) <= tol + 1e-13 * np.abs(vm)).all():
            break  # the values evaluated at vm are final (vm moves by <= tol)
        vm = new
    else:
        im, gmem = memristor_current(spec, g, vr - vm)
        it, gm_t, gds = nmos.drain_current(vgs, vm - vc)
    # i = im(vr - vm) with vm(vr, vc) from gmem(vr - vm) = it(vgs = vwl - vc, vds = vm - vc):
    # dvm/dvr = gmem / (gmem + gds);  dvm/dvc = (gm_t + gds) / (gmem + gds)
    den = gmem + gds
    di_dvr = gmem * gds / den
    di_dvc = -gmem * (gm_t + gds) / den
    return im, di_dvr, di_dvc, vm
