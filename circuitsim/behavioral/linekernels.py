"""Compiled kernels (numba) for the PCG of :mod:`.pcg`: tridiagonal line solves, and the
whole CG of one (vector, draw) pair on its own cache-sized arrays (:data:`cg_batch`).

LAPACK ``dpttrs`` solves one long tridiagonal as a sequential recurrence (~16 ns per node
measured here); the kernels below apply the same LDL^T factors (from ``dpttrf``) with the
independent lines interleaved in the inner loop where the layout allows it (column lines:
contiguous across lines, SIMD), 2-10x faster on this machine (benchmarks/bench_crossbar.py
records which path ran).  Used only when numba imports (it is in setup.cfg); otherwise the
LAPACK path runs, and the tests check both give the same answer.
"""

from __future__ import annotations

import numpy as np

try:
    import numba
except ImportError:  # pragma: no cover - numba is in install_requires
    numba = None

AVAILABLE = numba is not None


def threads() -> int:
    """numba's current thread count (``numba.set_num_threads``; default: every core)."""
    return numba.get_num_threads()


def _solve_last(l, dinv, b, out):  # pragma: no cover - compiled
    """Lines along the last axis: b, out (B, K, N, L); l, dinv (K, N, L)."""
    nb, nk, nn, nl = b.shape
    for r in range(nb):
        for k in range(nk):
            for j in range(nn):
                y = b[r, k, j, 0]
                out[r, k, j, 0] = y
                for i in range(1, nl):
                    y = b[r, k, j, i] - l[k, j, i - 1] * y
                    out[r, k, j, i] = y
                x = out[r, k, j, nl - 1] * dinv[k, j, nl - 1]
                out[r, k, j, nl - 1] = x
                for i in range(nl - 2, -1, -1):
                    x = out[r, k, j, i] * dinv[k, j, i] - l[k, j, i] * x
                    out[r, k, j, i] = x
    return out


def _solve_mid(l, dinv, b, out):  # pragma: no cover - compiled
    """Lines along axis 2: b, out (B, K, L, M); l, dinv (K, L, M) (M lines side by side)."""
    nb, nk, nl, nm = b.shape
    for r in range(nb):
        for k in range(nk):
            for m in range(nm):
                out[r, k, 0, m] = b[r, k, 0, m]
            for i in range(1, nl):
                for m in range(nm):
                    out[r, k, i, m] = b[r, k, i, m] - l[k, i - 1, m] * out[r, k, i - 1, m]
            for m in range(nm):
                out[r, k, nl - 1, m] = out[r, k, nl - 1, m] * dinv[k, nl - 1, m]
            for i in range(nl - 2, -1, -1):
                for m in range(nm):
                    out[r, k, i, m] = out[r, k, i, m] * dinv[k, i, m] - l[k, i, m] * \
                        out[r, k, i + 1, m]
    return out


if AVAILABLE:
    solve_last = numba.njit(cache=True, nogil=True)(_solve_last)
    solve_mid = numba.njit(cache=True, nogil=True)(_solve_mid)
else:  # pragma: no cover
    solve_last = solve_mid = None


# ---------------------------------------------------------------------- fused CG per vector


ROW_BLOCK = 8
"""Row lines advanced together by the one-thread row factorization (:func:`_factor_lines`):
each line is a serial recurrence through a division, so interleaving 8 independent lines
keeps the core busy (31 -> 13 us at 64^2 measured here).  Not used by the row SOLVES: there the
blocked loop measured no faster (16 -> 18 us; its stores may alias its loads), so each line
keeps its running value in a register."""


def _rows_solve(l, dinv, rhs, out):  # pragma: no cover - compiled
    """T_r^-1 rhs: lines along the last axis of rhs/out (R, Cr); l, dinv (R, Cr)."""
    nr, nc = rhs.shape
    for i in range(nr):
        y = rhs[i, 0]
        out[i, 0] = y
        for j in range(1, nc):
            y = rhs[i, j] - l[i, j - 1] * y
            out[i, j] = y
        x = out[i, nc - 1] * dinv[i, nc - 1]
        out[i, nc - 1] = x
        for j in range(nc - 2, -1, -1):
            x = out[i, j] * dinv[i, j] - l[i, j] * x
            out[i, j] = x


def _cols_solve(l, dinv, rhs, out):  # pragma: no cover - compiled
    """T_c^-1 rhs: lines along the first axis of rhs/out (Rc, C), side by side."""
    nr, nc = rhs.shape
    for j in range(nc):
        out[0, j] = rhs[0, j]
    for i in range(1, nr):
        for j in range(nc):
            out[i, j] = rhs[i, j] - l[i - 1, j] * out[i - 1, j]
    for j in range(nc):
        out[nr - 1, j] = out[nr - 1, j] * dinv[nr - 1, j]
    for i in range(nr - 2, -1, -1):
        for j in range(nc):
            out[i, j] = out[i, j] * dinv[i, j] - l[i, j] * out[i + 1, j]


def _col_rhs(G, a, mc, out):  # pragma: no cover - compiled
    """out = mc * reduce_c(G * a), a (R, Cr) a row-network vector (Cr = 1: merged rows),
    out (Rc, C) (Rc = 1: merged columns)."""
    R, C = G.shape
    cr = a.shape[1]
    if out.shape[0] > 1:
        if cr > 1:
            for i in range(R):
                for j in range(C):
                    out[i, j] = mc[i, j] * G[i, j] * a[i, j]
        else:
            for i in range(R):
                ai = a[i, 0]
                for j in range(C):
                    out[i, j] = mc[i, j] * G[i, j] * ai
    else:
        for j in range(C):
            out[0, j] = 0.0
        for i in range(R):
            for j in range(C):
                out[0, j] += G[i, j] * a[i, j if cr > 1 else 0]
        for j in range(C):
            out[0, j] *= mc[0, j]


def _row_cells(G, u, out):  # pragma: no cover - compiled
    """out (R, Cr) = reduce_r(G * u), u (Rc, C) a column-network vector."""
    R, C = G.shape
    merged_c = u.shape[0] == 1
    if out.shape[1] > 1:
        for i in range(R):
            ii = 0 if merged_c else i
            for j in range(C):
                out[i, j] = G[i, j] * u[ii, j]
    else:
        for i in range(R):
            ii = 0 if merged_c else i
            s = 0.0
            for j in range(C):
                s += G[i, j] * u[ii, j]
            out[i, 0] = s


def _cg_pair(Gk, drk, lrk, dirk, mrk, lck, dick, mck, gr, frk, fck, tol, maxiter, x,
             u):  # pragma: no cover - compiled
    """The Schur-complement PCG of :meth:`circuitsim.behavioral.pcg.Grid._cg` for ONE
    (vector, draw) pair: right-hand sides frk (R, Cr) / fck (Rc, C), max-norm residual
    criterion ``tol``.  Writes x (R, Cr) and the column voltages u (Rc, C); returns the
    iterations."""
    R, Cr = frk.shape
    Rc, C = fck.shape
    x[:, :] = 0.0
    r = np.empty((R, Cr))
    z = np.empty((R, Cr))
    p = np.empty((R, Cr))
    q = np.empty((R, Cr))
    w = np.empty((Rc, C))
    # Schur right-hand side: r = mr (fr + reduce_r(G T_c^-1 (mc fc)))
    for i in range(Rc):
        for j in range(C):
            w[i, j] = mck[i, j] * fck[i, j]
    _cols_solve(lck, dick, w, u)
    _row_cells(Gk, u, q)
    for i in range(R):
        for j in range(Cr):
            r[i, j] = mrk[i, j] * (frk[i, j] + q[i, j])
    _rows_solve(lrk, dirk, r, z)
    rz = 0.0
    for i in range(R):
        for j in range(Cr):
            p[i, j] = z[i, j]
            rz += r[i, j] * z[i, j]
    half = 0.5 * tol
    it = 0
    while it < maxiter:
        big = 0.0
        for i in range(R):
            for j in range(Cr):
                big = max(big, abs(r[i, j]))
        if big <= half:
            break
        it += 1
        # q = S p = mr (chain_r(p) - reduce_r(G T_c^-1 (mc reduce_c(G p))))
        _col_rhs(Gk, p, mck, w)
        _cols_solve(lck, dick, w, u)
        _row_cells(Gk, u, q)
        pq = 0.0
        for i in range(R):
            for j in range(Cr):
                v = drk[i, j] * p[i, j] - q[i, j]
                if j > 0:
                    v -= gr * p[i, j - 1]
                if j < Cr - 1:
                    v -= gr * p[i, j + 1]
                v *= mrk[i, j]
                q[i, j] = v
                pq += p[i, j] * v
        alpha = rz / pq if pq > 0 else 0.0
        for i in range(R):
            for j in range(Cr):
                x[i, j] += alpha * p[i, j]
                r[i, j] -= alpha * q[i, j]
        _rows_solve(lrk, dirk, r, z)
        rz_new = 0.0
        for i in range(R):
            for j in range(Cr):
                rz_new += r[i, j] * z[i, j]
        beta = rz_new / rz if rz > 0 else 0.0
        rz = rz_new
        for i in range(R):
            for j in range(Cr):
                p[i, j] = z[i, j] + beta * p[i, j]
    # column voltages: T_c^-1 (mc (fc + reduce_c(G x)))
    _col_rhs(Gk, x, mck, w)
    for i in range(Rc):
        for j in range(C):
            w[i, j] += mck[i, j] * fck[i, j]
    _cols_solve(lck, dick, w, u)
    return it


def _cg_batch(G, dr, lr, dir_, mr, lc, dic, mc, gr, fr, fc, tol, maxiter, xout, cout,
              iters):  # pragma: no cover - compiled
    """:func:`_cg_pair` for every (vector, draw) pair of fr (B, K, R, Cr) / fc (B, K, Rc,
    C), each pair on its own arrays (in cache).  Writes x (B, K, R, Cr), the column voltages
    (B, K, Rc, C) and the iterations per pair.  ``gr`` = 0: no row chains."""
    B, K = fr.shape[0], fr.shape[1]
    for t in range(B * K):
        b = t // K
        k = t - b * K
        iters[b, k] = _cg_pair(G[k], dr[k], lr[k], dir_[k], mr[k], lc[k], dic[k], mc[k], gr,
                               fr[b, k], fc[b, k], tol[b, k], maxiter, xout[b, k],
                               cout[b, k])


def _residual_pair(Gk, drk, dck, gr, gc, gs, Vk, xr, xc, jr, jc, has_j, mrk, mck, rr, rc
                   ):  # pragma: no cover - compiled
    """KCL imbalance at every node of ONE (vector, draw) pair: xr / jr / rr (R, Cr), xc /
    jc / rc (Rc, C), Vk (R,)."""
    R, Cr = xr.shape
    Rc, C = xc.shape
    for i in range(R):
        ii = i if Rc > 1 else 0
        for j in range(Cr):
            if Cr > 1:
                cells = Gk[i, j] * xc[ii, j]
            else:
                cells = 0.0
                for jj in range(C):
                    cells += Gk[i, jj] * xc[ii, jj]
            v = drk[i, j] * xr[i, j]
            if j > 0:
                v -= gr * xr[i, j - 1]
            if j < Cr - 1:
                v -= gr * xr[i, j + 1]
            val = cells - v
            if j == 0:
                val += gs * Vk[i]
            if has_j:
                val += jr[i, j]
            rr[i, j] = val * mrk[i, j]
    for i in range(Rc):
        for j in range(C):
            jr_ = j if Cr > 1 else 0
            if Rc > 1:
                cells = Gk[i, j] * xr[i, jr_]
            else:
                cells = 0.0
                for i2 in range(R):
                    cells += Gk[i2, j] * xr[i2, jr_]
            v = dck[i, j] * xc[i, j]
            if i > 0:
                v -= gc * xc[i - 1, j]
            if i < Rc - 1:
                v -= gc * xc[i + 1, j]
            val = cells - v
            if has_j:
                val += jc[i, j]
            rc[i, j] = val * mck[i, j]


def _residual(G, dr, dc, gr, gc, gs, V, xr, xc, jr, jc, has_j, mr, mc, rr, rc
              ):  # pragma: no cover - compiled
    """KCL imbalance at every node (:meth:`circuitsim.behavioral.pcg.Grid.residual`), into
    rr (B, K, R, Cr) and rc (B, K, Rc, C).  ``gr`` / ``gc`` 0: no chains; ``gs`` 0: no
    driver resistance; jr / jc read only when ``has_j``."""
    B, K = xr.shape[0], xr.shape[1]
    for b in range(B):
        for k in range(K):
            _residual_pair(G[k], dr[k], dc[k], gr, gc, gs, V[b, k], xr[b, k], xc[b, k],
                           jr[b if has_j else 0, k if has_j else 0],
                           jc[b if has_j else 0, k if has_j else 0], has_j, mr[k], mc[k],
                           rr[b, k], rc[b, k])


# ------------------------------------------------ one pair on both cores (numba prange)

COL_BLOCK = 64
"""Fewest columns per parallel task of the column line solves of :func:`_cg_par` (lines side
by side: each thread sweeps one wide block of columns down the rows -- narrow blocks defeat
the hardware prefetch of the row-strided streams)."""


def _p_cols(l, dinv, mc, G, a, f, z, beta, mode, u, threads):  # pragma: no cover - compiled
    """Column line solve u = T_c^-1 w in parallel over ``threads`` blocks of columns (both
    chains: every array (R, C)), with the right-hand side w formed on the fly:  mode 0: w =
    mc f;  mode 1: a <- z + beta a (the CG direction, in place), w = mc G a;  mode 2: w = mc
    (f + G a)."""
    R, C = u.shape
    nblk = max(1, min(threads, C // COL_BLOCK))
    width = (C + nblk - 1) // nblk
    for blk in numba.prange(nblk):
        j0 = blk * width
        j1 = min(C, j0 + width)
        for i in range(R):
            if mode == 0:
                for j in range(j0, j1):
                    u[i, j] = mc[i, j] * f[i, j]
            elif mode == 1:
                for j in range(j0, j1):
                    pij = z[i, j] + beta * a[i, j]
                    a[i, j] = pij
                    u[i, j] = mc[i, j] * G[i, j] * pij
            else:
                for j in range(j0, j1):
                    u[i, j] = mc[i, j] * (f[i, j] + G[i, j] * a[i, j])
            if i > 0:
                for j in range(j0, j1):
                    u[i, j] -= l[i - 1, j] * u[i - 1, j]
        for j in range(j0, j1):
            u[R - 1, j] = u[R - 1, j] * dinv[R - 1, j]
        for i in range(R - 2, -1, -1):
            for j in range(j0, j1):
                u[i, j] = u[i, j] * dinv[i, j] - l[i, j] * u[i + 1, j]


def _p_apply(G, dr, mr, gr, p, u, q, part):  # pragma: no cover - compiled
    """q = S p = mr (chain_r(p) - G u) and part[i] = sum_j p q, in parallel over rows."""
    R, C = p.shape
    for i in numba.prange(R):
        s = 0.0
        for j in range(C):
            v = dr[i, j] * p[i, j] - G[i, j] * u[i, j]
            if j > 0:
                v -= gr * p[i, j - 1]
            if j < C - 1:
                v -= gr * p[i, j + 1]
            v *= mr[i, j]
            q[i, j] = v
            s += p[i, j] * v
        part[i] = s


def _p_rows(l, dinv, mr, G, f, u, alpha, x, p, q, r, z, init, part,
            big):  # pragma: no cover - compiled
    """In parallel over rows: init: r = mr (f + G u) (the Schur right-hand side), else
    x += alpha p, r -= alpha q; then z = T_r^-1 r (the row line solve), part[i] = sum_j r z
    and big[i] = max_j |r|."""
    R, C = r.shape
    for i in numba.prange(R):
        if init:
            for j in range(C):
                r[i, j] = mr[i, j] * (f[i, j] + G[i, j] * u[i, j])
        else:
            for j in range(C):
                x[i, j] += alpha * p[i, j]
                r[i, j] -= alpha * q[i, j]
        y = r[i, 0]
        z[i, 0] = y
        for j in range(1, C):
            y = r[i, j] - l[i, j - 1] * y
            z[i, j] = y
        xx = z[i, C - 1] * dinv[i, C - 1]
        z[i, C - 1] = xx
        for j in range(C - 2, -1, -1):
            xx = z[i, j] * dinv[i, j] - l[i, j] * xx
            z[i, j] = xx
        s = 0.0
        m = 0.0
        for j in range(C):
            s += r[i, j] * z[i, j]
            m = max(m, abs(r[i, j]))
        part[i] = s
        big[i] = m


def _cg_par(Gk, drk, lrk, dirk, mrk, lck, dick, mck, gr, frk, fck, tol, maxiter, x, u,
            threads):  # pragma: no cover - compiled
    """:func:`_cg_pair` (same arguments, same iteration) for ONE pair with row AND column
    chains (every array (R, C)), its passes fused (three per iteration instead of nine) and
    run on the numba threads (``threads`` of them, numba's current setting): rows in
    parallel for the row line solves, blocks of columns for the column line solves."""
    R, C = frk.shape
    x[:, :] = 0.0
    r = np.empty((R, C))
    z = np.empty((R, C))
    p = np.empty((R, C))
    q = np.empty((R, C))
    part = np.empty(R)
    big = np.empty(R)
    _p_cols(lck, dick, mck, Gk, p, fck, z, 0.0, 0, u, threads)
    _p_rows(lrk, dirk, mrk, Gk, frk, u, 0.0, x, p, q, r, z, True, part, big)
    p[:, :] = z
    rz = part.sum()
    half = 0.5 * tol
    beta = 0.0
    it = 0
    while it < maxiter:
        if big.max() <= half:
            break
        it += 1
        _p_cols(lck, dick, mck, Gk, p, fck, z, beta, 1, u, threads)  # p = z + beta p, G p
        _p_apply(Gk, drk, mrk, gr, p, u, q, part)
        pq = part.sum()
        alpha = rz / pq if pq > 0 else 0.0
        _p_rows(lrk, dirk, mrk, Gk, frk, u, alpha, x, p, q, r, z, False, part, big)
        rz_new = part.sum()
        beta = rz_new / rz if rz > 0 else 0.0
        rz = rz_new
    _p_cols(lck, dick, mck, Gk, x, fck, z, 0.0, 2, u, threads)
    return it


# ------------------------------------------------------- one whole solve in one compiled call


def _factor_lines(diag, fixed, g, along_rows, l, dinv):  # pragma: no cover - compiled
    """LDL^T factors (the ``dpttrf`` recurrence) of the independent tridiagonal lines of a
    (n_a, n_b) network: along the last axis (``along_rows``) or the first (then the lines
    are advanced side by side); coupling -g between neighbours unless either is a known node
    (identity rows, diagonal 1).  Writes l (the multipliers, 0 at each line's end) and 1/d;
    returns False when a pivot is not positive (not positive definite)."""
    n_a, n_b = diag.shape
    ok = True
    if along_rows:  # blocks of ROW_BLOCK lines side by side
        for i0 in range(0, n_a, ROW_BLOCK):
            i1 = min(n_a, i0 + ROW_BLOCK)
            for i in range(i0, i1):
                d = 1.0 if fixed[i, 0] else diag[i, 0]
                ok &= d > 0.0
                dinv[i, 0] = 1.0 / d
            for j in range(1, n_b):
                for i in range(i0, i1):
                    e = 0.0 if (fixed[i, j - 1] or fixed[i, j]) else -g
                    lm = e * dinv[i, j - 1]
                    l[i, j - 1] = lm
                    d = (1.0 if fixed[i, j] else diag[i, j]) - lm * e
                    ok &= d > 0.0
                    dinv[i, j] = 1.0 / d
            for i in range(i0, i1):
                l[i, n_b - 1] = 0.0
        return ok
    for j in range(n_b):
        d = 1.0 if fixed[0, j] else diag[0, j]
        ok &= d > 0.0
        dinv[0, j] = 1.0 / d
    for i in range(1, n_a):
        for j in range(n_b):
            e = 0.0 if (fixed[i - 1, j] or fixed[i, j]) else -g
            lm = e * dinv[i - 1, j]
            l[i - 1, j] = lm
            d = (1.0 if fixed[i, j] else diag[i, j]) - lm * e
            ok &= d > 0.0
            dinv[i, j] = 1.0 / d
    for j in range(n_b):
        l[n_a - 1, j] = 0.0
    return ok


def _maxabs(a):  # pragma: no cover - compiled
    m = 0.0
    for v in a.flat:
        m = max(m, abs(v))
    return m


def _sumabs(a):  # pragma: no cover - compiled
    s = 0.0
    for v in a.flat:
        s += abs(v)
    return s


def _solve_one(G, V, gr, gc, gs, gk, rtol, maxiter, max_restarts, threads, I, vr, vc, rep
               ):  # pragma: no cover - compiled
    """The whole of :func:`circuitsim.behavioral.pcg.solve` for ONE vector V (R,) and one
    conductance matrix G (R, C) in one compiled call: the network diagonals, the line
    factors, the KCL criterion (i_ref, rounding floor), CG restarts from the true KCL
    residual, and the outputs -- column currents I (C,), node voltages vr / vc (R, C).
    ``gr`` / ``gc`` / ``gs`` / ``gk`` [S]: 0 = zero resistance (merged line / known node).
    ``threads`` > 1: the CG on that many numba threads (:func:`_cg_par`, both chains only).
    rep = [max |KCL|, sum |KCL|, max |KCL| / i_ref, max |KCL| / criterion, CG iterations,
    rounding floor].
    Returns 0 (accepted), 1 (not positive definite) or 2 (criterion not met)."""
    R, C = G.shape
    Cr = C if gr > 0 else 1
    Rc = R if gc > 0 else 1
    dr = np.empty((R, Cr))
    dc = np.empty((Rc, C))
    for i in range(R):
        if Cr > 1:
            for j in range(C):
                dr[i, j] = G[i, j] + gr * ((j > 0) + (j < C - 1))
        else:
            s = 0.0
            for j in range(C):
                s += G[i, j]
            dr[i, 0] = s
    if Rc > 1:
        for i in range(R):
            for j in range(C):
                dc[i, j] = G[i, j] + gc * ((i > 0) + (i < R - 1))
    else:
        for j in range(C):
            dc[0, j] = 0.0
        for i in range(R):
            for j in range(C):
                dc[0, j] += G[i, j]
    fr = np.zeros((R, Cr), dtype=np.bool_)
    fc = np.zeros((Rc, C), dtype=np.bool_)
    mr = np.ones((R, Cr))
    mc = np.ones((Rc, C))
    for i in range(R):
        if gs > 0:
            dr[i, 0] += gs
        else:
            fr[i, 0] = True
            mr[i, 0] = 0.0
    for j in range(C):
        if gk > 0:
            dc[Rc - 1, j] += gk
        else:
            fc[Rc - 1, j] = True
            mc[Rc - 1, j] = 0.0
    gmax = max(dr.max(), dc.max())
    lr, dir_ = np.empty((R, Cr)), np.empty((R, Cr))
    lc, dic = np.empty((Rc, C)), np.empty((Rc, C))
    if not (_factor_lines(dr, fr, gr, True, lr, dir_)
            and _factor_lines(dc, fc, gc, False, lc, dic)):
        return 1
    # known nodes and the KCL criterion
    xr = np.zeros((R, Cr))
    xc = np.zeros((Rc, C))
    vmax = 0.0
    for i in range(R):
        vmax = max(vmax, abs(V[i]))
        if gs == 0:
            xr[i, 0] = V[i]
    i_ref = 0.0
    for j in range(C):
        s = 0.0
        for i in range(R):
            s += G[i, j] * abs(V[i])
        i_ref = max(i_ref, s)
    floor = 16 * np.finfo(np.float64).eps * gmax * max(vmax, 1e-300)
    tol = rtol * i_ref + floor
    rr = np.empty((R, Cr))
    rc = np.empty((Rc, C))
    dx = np.empty((R, Cr))
    du = np.empty((Rc, C))
    none = np.zeros((1, 1))
    fast = threads > 1 and Cr == C and Rc == R and R > 1 and C > 1
    total_it = 0
    best = np.inf
    stall = 0
    ok = False
    kmax = 0.0
    for _ in range(max_restarts + 1):
        _residual_pair(G, dr, dc, gr, gc, gs, V, xr, xc, none, none, False, mr, mc, rr, rc)
        kmax = max(_maxabs(rr), _maxabs(rc))
        if kmax <= tol:
            ok = True
            break
        worst = kmax / tol if tol > 0 else kmax
        if worst >= 0.5 * best:
            stall += 1
            if stall >= 2:
                break
        best = min(best, worst)
        if fast:
            total_it += _cg_par(G, dr, lr, dir_, mr, lc, dic, mc, gr, rr, rc, 0.25 * tol,
                                maxiter, dx, du, threads)
        else:
            total_it += _cg_pair(G, dr, lr, dir_, mr, lc, dic, mc, gr, rr, rc, 0.25 * tol,
                                 maxiter, dx, du)
        xr += dx
        xc += du
    if not ok:
        _residual_pair(G, dr, dc, gr, gc, gs, V, xr, xc, none, none, False, mr, mc, rr, rc)
        kmax = max(_maxabs(rr), _maxabs(rc))
    for j in range(C):
        I[j] = 0.0
    for i in range(R):
        ii = i if Rc > 1 else 0
        for j in range(C):
            a = xr[i, j if Cr > 1 else 0]
            b = xc[ii, j]
            vr[i, j] = a
            vc[i, j] = b
            I[j] += G[i, j] * (a - b)
    rep[0] = kmax
    rep[1] = _sumabs(rr) + _sumabs(rc)
    rep[2] = kmax / i_ref if i_ref > 0 else kmax
    rep[3] = kmax / tol
    rep[4] = total_it
    rep[5] = floor
    return 0 if ok else 2


if AVAILABLE:
    _inner = numba.njit(cache=True, nogil=True)
    _rows_solve = _inner(_rows_solve)
    _cols_solve = _inner(_cols_solve)
    _col_rhs = _inner(_col_rhs)
    _row_cells = _inner(_row_cells)
    _cg_pair = _inner(_cg_pair)
    _residual_pair = _inner(_residual_pair)
    _factor_lines = _inner(_factor_lines)
    _maxabs = _inner(_maxabs)
    _sumabs = _inner(_sumabs)
    _parallel = numba.njit(cache=True, nogil=True, parallel=True)
    _p_cols = _parallel(_p_cols)
    _p_apply = _parallel(_p_apply)
    _p_rows = _parallel(_p_rows)
    _cg_par = _inner(_cg_par)
    cg_batch = numba.njit(cache=True, nogil=True)(_cg_batch)
    residual = numba.njit(cache=True, nogil=True)(_residual)
    solve_one = numba.njit(cache=True, nogil=True)(_solve_one)
else:  # pragma: no cover
    cg_batch = residual = solve_one = None
