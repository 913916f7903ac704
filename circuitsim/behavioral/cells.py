"""Cell I-V laws shared by the behavioral solvers (the same equations as the netlist): ONE
text for numpy and torch (the array module ``xp`` is taken from the arguments, as
:meth:`circuitsim.cards.Nmos1Card.level1` does).

A cell joins row node (i, j) to column node (i, j): a memristor (ohmic G·v, G·v0·sinh(v/v0)
when ``spec.sinh_v0`` is set, or the law ``spec.cell.current(G, v)`` of a
:class:`~circuitsim.cards.cell.CellLaw`, e.g. a characterised Verilog-A table) optionally in
series with the access NMOS of the card (drain at the memristor, gate at the word line, source
at the column), evaluated with :meth:`~circuitsim.cards.Nmos1Card.level1` -- the level-1
equations ngspice uses (or a characterised BSIM4 table through the same interface).

1T1R internal node in closed form: with an ohmic memristor and lambda = 0 the series current
is the root of a quadratic (triode: G (v - x) = beta (vov - x/2) x; saturation:
G (v - x) = beta vov^2 / 2; reverse bias: the roles of drain and source swap), solved
vectorised over every cell and vector (:func:`series_root`).  With lambda > 0 or a sinh
memristor that root is the warm start of a bracketed Newton iteration on the exact level-1
current (usually 2-4 steps instead of ~10 from a linear guess); so is any access device that is
not a level-1 card (a characterised BSIM4 table: its ``beta`` / ``vto`` give the warm start).
Either way the returned current and derivatives are evaluated from the device's own
``drain_current`` / ``level1`` at the final internal node.
"""

from __future__ import annotations

import numpy as np

from ..cards.transistor import Nmos1Card
from ..crossbar.spec import CrossbarSpec
from ..tables import array_module


def memristor_current(spec: CrossbarSpec, g, v):
    """Memristor current [A] and its conductance d i / d v [S] for voltage ``v`` across it."""
    xp = array_module(g, v)
    if spec.cell is not None:
        return spec.cell.current(g, v)
    if spec.sinh_v0 is None:
        return g * v, g * xp.ones_like(v)
    v0 = spec.sinh_v0
    return g * v0 * xp.sinh(v / v0), g * xp.cosh(v / v0)


def drain_current(nmos, vgs, vds):
    """Level-1 ``(id, gm, gds)`` of the card on arrays of either module (broadcast)."""
    xp = array_module(vgs, vds)
    if xp is np:
        return nmos.drain_current(vgs, vds)
    return nmos.level1(*xp.broadcast_tensors(vgs, vds), xp)


def series_root(g, beta: float, vto: float, vwl, vr, vc):
    """Internal node vm of an ohmic memristor ``g`` in series with a lambda = 0 level-1 NMOS
    (gate ``vwl``, source at the column ``vc``), from the quadratic of each operating region.
    Exact for lambda = 0 and an ohmic memristor (to rounding); a warm start otherwise."""
    xp = array_module(g, vr, vc)
    sqrt = xp.sqrt
    v = vr - vc
    av = xp.abs(v)
    vov = vwl - vc - vto  # overdrive with the source at the column node
    zero = xp.zeros_like(v)
    # forward (v >= 0): x = vm - vc in [0, v]
    bq = beta * xp.maximum(vov, zero) + g
    disc = xp.maximum(bq * bq - 2.0 * beta * g * av, zero)
    x_tri = 2.0 * g * av / (bq + sqrt(disc))
    x_sat = av - 0.5 * beta * vov * vov / g
    on = vov > 0
    x_f = xp.where(on & (x_tri <= vov), x_tri, xp.where(on, x_sat, av))
    # reverse (v < 0): y = vc - vm in [0, |v|]; triode when vov > 0, else saturation
    y_tri = 2.0 * g * av / (bq + sqrt(bq * bq + 2.0 * beta * g * av))
    w = xp.maximum(av + vov, zero)
    u = 2.0 * g * w / (g + sqrt(g * g + 2.0 * beta * g * w))  # u = y + vov
    y_r = xp.where(on, y_tri, xp.where(w > 0, u - vov, av))
    return xp.where(v >= 0, vc + x_f, vc - y_r)


def cell_current(spec: CrossbarSpec, g, vr, vc, vm0=None, *, tol: float = 1e-15,
                 max_iter: int = 60):
    """Current through each cell from its row node (voltage ``vr``) to its column node (``vc``).

    Returns ``(i, di/dvr, di/dvc, vm)``; ``vm`` is the internal memristor-transistor node for
    1T1R (``None`` for 1R).  1T1R: closed-form root (see the module docstring), refined by a
    bracketed Newton iteration when lambda > 0 or the memristor is nonlinear (the series
    current is monotone in vm and vm lies between vr and vc).  ``vm0``: ignored when the
    closed form is exact, else an optional warm start.  numpy or torch arrays (broadcast)."""
    if spec.access is None:
        i, gd = memristor_current(spec, g, vr - vc)
        return i, gd, -gd, None
    xp = array_module(g, vr, vc, vm0)
    nmos, vwl = spec.access.nmos, spec.access.v_wordline
    vgs = vwl - vc
    # closed form: level-1 card, lambda = 0, ohmic memristor; any other access device (e.g. a
    # characterised BSIM4 table) is solved by Newton from the level-1-like warm start
    exact = isinstance(nmos, Nmos1Card) and nmos.lambda_ == 0 and spec.ohmic_cells
    if exact or vm0 is None:
        vm = series_root(g, nmos.beta, nmos.vto, vwl, vr, vc)
    else:
        vm = vm0
    if not exact:
        lo, hi = xp.minimum(vr, vc), xp.maximum(vr, vc)
        vm = xp.minimum(xp.maximum(vm, lo), hi)
        for _ in range(max_iter):
            im, gmem = memristor_current(spec, g, vr - vm)
            it, gm_t, gds = drain_current(nmos, vgs, vm - vc)
            h = im - it  # KCL at the internal node: decreasing in vm
            new = vm + h / (gmem + gds)
            # keep inside the bracket: bisect toward the side the residual points to
            bad = (new < lo) | (new > hi)
            if bool(bad.any()):
                lo = xp.where(h > 0, xp.maximum(lo, vm), lo)
                hi = xp.where(h < 0, xp.minimum(hi, vm), hi)
                new = xp.where(bad, 0.5 * (lo + hi), new)
            if bool((xp.abs(new - vm) <= tol + 1e-13 * xp.abs(vm)).all()):
                break  # the values evaluated below at vm are final (vm moves by <= tol)
            vm = new
    im, gmem = memristor_current(spec, g, vr - vm)
    it, gm_t, gds = drain_current(nmos, vgs, vm - vc)
    # i = im(vr - vm) with vm(vr, vc) from gmem(vr - vm) = it(vgs = vwl - vc, vds = vm - vc):
    # dvm/dvr = gmem / (gmem + gds);  dvm/dvc = (gm_t + gds) / (gmem + gds)
    den = gmem + gds
    di_dvr = gmem * gds / den
    di_dvc = -gmem * (gm_t + gds) / den
    return im, di_dvr, di_dvc, vm
