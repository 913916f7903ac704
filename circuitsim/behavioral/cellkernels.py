"""Compiled (numba) Newton for nonlinear crossbars: every (vector, draw) pair solved on its
own arrays, the cell law evaluated per cell inside the kernel (:func:`newton_pairs`).

The cell equations below are the ONE scalar text of them (a cell at a time, for the compiled
kernel): :func:`level1_scalar` is the level-1 NMOS of :meth:`circuitsim.cards.Nmos1Card.level1`,
:func:`series_root_scalar` the closed-form internal node of :func:`.cells.series_root`,
:func:`memristor_scalar` the ohmic / sinh memristor of :func:`.cells.memristor_current`, and
:func:`cell_scalar` the whole 1T1R / sinh cell of :func:`.cells.cell_current` (closed form when
exact, else the same bracketed Newton on the internal node).  The array texts (numpy /
torch) stay in :mod:`.cells` and :mod:`circuitsim.cards.transistor`; a test checks both
agree to rounding in every operating region (triode, saturation, reverse, off).

The Newton iteration is the one of :mod:`.newton` (cells linearised by ``a = d i / d v_row``,
inexact inner solves by the Schur-complement PCG, here :func:`.linekernels.cg_batch` on the
pair's own linearised grid), and acceptance is by the true KCL imbalance at every node:
``max |imbalance| <= rtol i_ref + 16 eps g_node_max max|V|`` for every pair, with i_ref and
g_node_max (the largest diagonal of the linearised grid) of that pair and max|V| of the whole
call (the array path takes g_node_max over all pairs: at most as strict).  Used only when numba
imports (it is in setup.cfg); :mod:`.newton` keeps the array path otherwise.
"""

from __future__ import annotations

import math

import numpy as np

from . import linekernels

numba = linekernels.numba
AVAILABLE = linekernels.AVAILABLE

EPS = float(np.finfo(np.float64).eps)


# ---------------------------------------------------------------------- the scalar cell text


def level1_scalar(vgs, vds, vto, beta, lam):
    """Level-1 ``(id, gm, gds)`` of one transistor (source/drain swap for vds < 0), the
    scalar text of :meth:`circuitsim.cards.Nmos1Card.level1`."""
    rev = vds < 0
    vgs_e = vgs - vds if rev else vgs
    vds_e = abs(vds)
    vov = vgs_e - vto
    lamf = 1.0 + lam * vds_e
    b = beta
    i = 0.0
    g_ov = 0.0
    g_ds = 0.0
    if vov > 0:
        if vds_e >= vov:  # saturation
            i = 0.5 * b * vov**2 * lamf
            g_ov = b * vov * lamf
            g_ds = 0.5 * b * vov**2 * lam
        else:  # triode
            i = b * (vov - 0.5 * vds_e) * vds_e * lamf
            g_ov = b * vds_e * lamf
            g_ds = b * (vov - vds_e) * lamf + b * (vov - 0.5 * vds_e) * vds_e * lam
    if rev:
        return -i, -g_ov, g_ov + g_ds
    return i, g_ov, g_ds


def series_root_scalar(g, beta, vto, vwl, vr, vc):
    """Internal node of an ohmic memristor ``g`` in series with a lambda = 0 level-1 NMOS,
    the scalar text of :func:`.cells.series_root`."""
    v = vr - vc
    av = abs(v)
    vov = vwl - vc - vto
    bq = beta * max(vov, 0.0) + g
    if v >= 0:
        if vov > 0:
            disc = max(bq * bq - 2.0 * beta * g * av, 0.0)
            x_tri = 2.0 * g * av / (bq + math.sqrt(disc))
            if x_tri <= vov:
                return vc + x_tri
            return vc + (av - 0.5 * beta * vov * vov / g)
        return vc + av
    if vov > 0:
        y = 2.0 * g * av / (bq + math.sqrt(bq * bq + 2.0 * beta * g * av))
        return vc - y
    w = max(av + vov, 0.0)
    if w > 0:
        u = 2.0 * g * w / (g + math.sqrt(g * g + 2.0 * beta * g * w))
        return vc - (u - vov)
    return vc - av


def memristor_scalar(g, v, v0):
    """Memristor current and d i / d v; ``v0`` > 0: the sinh law G v0 sinh(v / v0), else
    ohmic (the scalar text of :func:`.cells.memristor_current`)."""
    if v0 > 0:
        return g * v0 * math.sinh(v / v0), g * math.cosh(v / v0)
    return g * v, g


def cell_scalar(g, vr, vc, access, vto, beta, lam, vwl, v0, vm0):
    """``(i, di/dvr, di/dvc, vm)`` of one cell from its row node to its column node, the
    scalar text of :func:`.cells.cell_current` (``access`` False: the memristor alone, vm =
    nan; ``vm0``: warm start of the internal node when the closed form is not exact, nan =
    none)."""
    if not access:
        i, gd = memristor_scalar(g, vr - vc, v0)
        return i, gd, -gd, math.nan
    vgs = vwl - vc
    exact = lam == 0 and v0 <= 0
    if exact or math.isnan(vm0):
        vm = series_root_scalar(g, beta, vto, vwl, vr, vc)
    else:
        vm = vm0
    if not exact:
        lo = min(vr, vc)
        hi = max(vr, vc)
        vm = min(max(vm, lo), hi)
        for _ in range(60):
            im, gmem = memristor_scalar(g, vr - vm, v0)
            it, gm_t, gds = level1_scalar(vgs, vm - vc, vto, beta, lam)
            h = im - it  # KCL at the internal node: decreasing in vm
            new = vm + h / (gmem + gds)
            if new < lo or new > hi:  # bisect toward the side the residual points to
                if h > 0:
                    lo = max(lo, vm)
                if h < 0:
                    hi = min(hi, vm)
                new = 0.5 * (lo + hi)
            if abs(new - vm) <= 1e-15 + 1e-13 * abs(vm):
                break
            vm = new
    im, gmem = memristor_scalar(g, vr - vm, v0)
    it, gm_t, gds = level1_scalar(vgs, vm - vc, vto, beta, lam)
    den = gmem + gds
    return im, gmem * gds / den, -gmem * (gm_t + gds) / den, vm


# ---------------------------------------------------------------------- one pair's Newton


def _factor_rows(d, fixed_first, gr, lr, dinv):  # pragma: no cover - compiled
    """LDL^T of the row lines (R, Cr): diagonal d, coupling -gr between neighbours (none to
    a fixed node: node 0 when ``fixed_first``), the layout of :meth:`.pcg._Lines.natural`."""
    R, Cr = d.shape
    for i in range(R):
        di = 1.0 if fixed_first else d[i, 0]
        dinv[i, 0] = 1.0 / di
        for j in range(1, Cr):
            e = 0.0 if (j == 1 and fixed_first) else -gr
            lij = e / di
            lr[i, j - 1] = lij
            di = d[i, j] - lij * e
            dinv[i, j] = 1.0 / di
        lr[i, Cr - 1] = 0.0


def _factor_cols(d, fixed_last, gc, lc, dinv):  # pragma: no cover - compiled
    """LDL^T of the column lines (Rc, C) (lines along the first axis; node Rc-1 fixed when
    ``fixed_last``)."""
    Rc, C = d.shape
    for j in range(C):
        dj = 1.0 if (fixed_last and Rc == 1) else d[0, j]
        dinv[0, j] = 1.0 / dj
        for i in range(1, Rc):
            e = 0.0 if (i == Rc - 1 and fixed_last) else -gc
            lij = e / dj
            lc[i - 1, j] = lij
            dj = (1.0 if (i == Rc - 1 and fixed_last) else d[i, j]) - lij * e
            dinv[i, j] = 1.0 / dj
        lc[Rc - 1, j] = 0.0


def _pair(G, V, xr, xc, access, vto, beta, lam, vwl, v0, gr, gc, gs, gk, vmax,
          rtol, inner_rtol, max_iter, out_i, stats):  # pragma: no cover - compiled
    """Newton for one (vector, draw) pair: G (R, C), V (R,); xr (R, Cr), xc (Rc, C) are
    the node voltages, in: the start (xr holding the inputs at fixed driver nodes), out: the
    solution; writes the column currents out_i (C,) and stats = (kcl_max, kcl_sum, i_ref,
    tol, Newton steps, accepted, CG iterations).  gr / gc 0: merged rows / columns; gs / gk
    0: zero driver / sense resistance (known node)."""
    R, C = G.shape
    Cr = xr.shape[1]
    Rc = xc.shape[0]
    row_cells = Cr == C  # one row node per cell (else one node per row)
    col_cells = Rc == R
    fix_r = gs == 0.0
    fix_c = gk == 0.0
    a = np.empty((R, C))
    icell = np.empty((R, C))
    vm = np.full((R, C), np.nan)  # internal 1T1R nodes (warm starts); nan: none yet
    fr = np.empty((R, Cr))
    fc = np.empty((Rc, C))
    dr = np.empty((R, Cr))
    dc = np.empty((Rc, C))
    lr = np.empty((R, Cr))
    dir_ = np.empty((R, Cr))
    lc = np.empty((Rc, C))
    dic = np.empty((Rc, C))
    mr = np.ones((1, R, Cr))
    mc = np.ones((1, Rc, C))
    if fix_r:
        for i in range(R):
            mr[0, i, 0] = 0.0
    if fix_c:
        for j in range(C):
            mc[0, Rc - 1, j] = 0.0
    # i_ref: largest ideal column current of |V|
    i_ref = 0.0
    for j in range(C):
        s = 0.0
        for i in range(R):
            s += G[i, j] * abs(V[i])
        i_ref = max(i_ref, s)
    dx_r = np.empty((1, 1, R, Cr))
    dx_c = np.empty((1, 1, Rc, C))
    iters = np.zeros((1, 1), dtype=np.int64)
    tol_in = np.empty((1, 1))
    maxcg = 4 * (R + C) + 200
    kmax = np.inf
    ksum = np.inf
    tol = 0.0
    steps = 0
    cg_total = 0
    accepted = 0.0
    for step in range(max_iter + 1):
        steps = step
        # cells at the present voltages
        for i in range(R):
            ic = i if col_cells else 0
            for j in range(C):
                jr = j if row_cells else 0
                cur, dvr, _, vmn = cell_scalar(G[i, j], xr[i, jr], xc[ic, j], access, vto, beta,
                                               lam, vwl, v0, vm[i, j])
                icell[i, j] = cur
                a[i, j] = max(dvr, 1e-30)
                vm[i, j] = vmn
        # true KCL imbalance at every node, and the linearised grid's diagonals
        for i in range(R):
            for j in range(Cr):
                fr[i, j] = 0.0
                dr[i, j] = 0.0
            for j in range(C):
                jr = j if row_cells else 0
                fr[i, jr] -= icell[i, j]
                dr[i, jr] += a[i, j]
            if row_cells:
                for j in range(Cr):
                    if j > 0:
                        fr[i, j] += gr * (xr[i, j - 1] - xr[i, j])
                        dr[i, j] += gr
                    if j < Cr - 1:
                        fr[i, j] += gr * (xr[i, j + 1] - xr[i, j])
                        dr[i, j] += gr
            if fix_r:
                fr[i, 0] = 0.0
            else:
                fr[i, 0] += gs * (V[i] - xr[i, 0])
                dr[i, 0] += gs
        for i in range(Rc):
            for j in range(C):
                fc[i, j] = 0.0
                dc[i, j] = 0.0
        for i in range(R):
            ic = i if col_cells else 0
            for j in range(C):
                fc[ic, j] += icell[i, j]
                dc[ic, j] += a[i, j]
        if col_cells:
            for i in range(Rc):
                for j in range(C):
                    if i > 0:
                        fc[i, j] += gc * (xc[i - 1, j] - xc[i, j])
                        dc[i, j] += gc
                    if i < Rc - 1:
                        fc[i, j] += gc * (xc[i + 1, j] - xc[i, j])
                        dc[i, j] += gc
        for j in range(C):
            if fix_c:
                fc[Rc - 1, j] = 0.0
            else:
                fc[Rc - 1, j] -= gk * xc[Rc - 1, j]
                dc[Rc - 1, j] += gk
        kmax = 0.0
        ksum = 0.0
        gmax = 0.0
        for i in range(R):
            for j in range(Cr):
                f = abs(fr[i, j])
                kmax = max(kmax, f)
                ksum += f
                gmax = max(gmax, dr[i, j])
        for i in range(Rc):
            for j in range(C):
                f = abs(fc[i, j])
                kmax = max(kmax, f)
                ksum += f
                gmax = max(gmax, dc[i, j])
        tol = rtol * i_ref + 16.0 * EPS * gmax * max(vmax, 1e-300)
        if kmax <= tol:
            accepted = 1.0
            break
        if step == max_iter:
            break
        # inexact Newton step on the linearised grid (inner residual relative to |F|)
        _factor_rows(dr, fix_r, gr, lr, dir_)
        _factor_cols(dc, fix_c, gc, lc, dic)
        tol_in[0, 0] = 0.25 * max(inner_rtol * kmax, 0.5 * tol)
        linekernels.cg_batch(a.reshape((1, R, C)), dr.reshape((1, R, Cr)),
                             lr.reshape((1, R, Cr)), dir_.reshape((1, R, Cr)), mr,
                             lc.reshape((1, Rc, C)), dic.reshape((1, Rc, C)), mc, gr,
                             fr.reshape((1, 1, R, Cr)), fc.reshape((1, 1, Rc, C)), tol_in,
                             maxcg, dx_r, dx_c, iters)
        cg_total += iters[0, 0]
        for i in range(R):
            for j in range(Cr):
                xr[i, j] += dx_r[0, 0, i, j]
        for i in range(Rc):
            for j in range(C):
                xc[i, j] += dx_c[0, 0, i, j]
    for j in range(C):
        s = 0.0
        for i in range(R):
            s += icell[i, j]
        out_i[j] = s
    stats[0] = kmax
    stats[1] = ksum
    stats[2] = i_ref
    stats[3] = tol
    stats[4] = steps
    stats[5] = accepted
    stats[6] = cg_total


def _pairs(G, V, xr, xc, access, vto, beta, lam, vwl, v0, gr, gc, gs, gk, vmax,
           rtol, inner_rtol, max_iter, out_i, stats):  # pragma: no cover - compiled
    """:func:`_pair` for every pair t of V (T, R) with G (K, R, C) (pair t uses draw t % K);
    xr (T, R, Cr), xc (T, Rc, C), out_i (T, C), stats (T, 7)."""
    T = V.shape[0]
    K = G.shape[0]
    for t in numba.prange(T):
        _pair(G[t % K], V[t], xr[t], xc[t], access, vto, beta, lam, vwl, v0, gr, gc, gs, gk,
              vmax, rtol, inner_rtol, max_iter, out_i[t], stats[t])


if AVAILABLE:
    _jit = numba.njit(cache=True, nogil=True)
    level1_scalar = _jit(level1_scalar)
    series_root_scalar = _jit(series_root_scalar)
    memristor_scalar = _jit(memristor_scalar)
    cell_scalar = _jit(cell_scalar)
    _factor_rows = _jit(_factor_rows)
    _factor_cols = _jit(_factor_cols)
    _pair = _jit(_pair)
    newton_pairs = numba.njit(cache=True, nogil=True)(_pairs)
    newton_pairs_parallel = numba.njit(cache=True, nogil=True, parallel=True)(_pairs)
else:  # pragma: no cover
    newton_pairs = newton_pairs_parallel = None
