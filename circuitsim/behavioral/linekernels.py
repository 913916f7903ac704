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


def _cg_batch(G, dr, lr, dir_, mr, lc, dic, mc, gr, fr, fc, tol, maxiter, xout, cout,
              iters):  # pragma: no cover - compiled
    """The Schur-complement PCG of :meth:`circuitsim.behavioral.pcg.Grid._cg` for every
    (vector, draw) pair of fr (B, K, R, Cr) / fc (B, K, Rc, C), each pair on its own
    arrays (in cache), pairs in parallel.  Writes x (B, K, R, Cr), the column voltages
    (B, K, Rc, C) and the iterations per pair.  ``gr`` = 0: no row chains."""
    B, K, R, Cr = fr.shape
    Rc, C = fc.shape[2], fc.shape[3]
    for t in range(B * K):
        b = t // K
        k = t - b * K
        Gk, drk, lrk, dirk, mrk = G[k], dr[k], lr[k], dir_[k], mr[k]
        lck, dick, mck = lc[k], dic[k], mc[k]
        frk, fck = fr[b, k], fc[b, k]
        x = np.zeros((R, Cr))
        r = np.empty((R, Cr))
        z = np.empty((R, Cr))
        p = np.empty((R, Cr))
        q = np.empty((R, Cr))
        w = np.empty((Rc, C))
        u = np.empty((Rc, C))
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
        half = 0.5 * tol[b, k]
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
        xout[b, k] = x
        cout[b, k] = u
        iters[b, k] = it


def _residual(G, dr, dc, gr, gc, gs, V, xr, xc, jr, jc, has_j, mr, mc, rr, rc
              ):  # pragma: no cover - compiled
    """KCL imbalance at every node (:meth:`circuitsim.behavioral.pcg.Grid.residual`), into
    rr (B, K, R, Cr) and rc (B, K, Rc, C).  ``gr`` / ``gc`` 0: no chains; ``gs`` 0: no
    driver resistance; jr / jc read only when ``has_j``."""
    B, K, R, Cr = xr.shape
    Rc, C = xc.shape[2], xc.shape[3]
    for b in range(B):
        for k in range(K):
            Gk = G[k]
            for i in range(R):
                ii = i if Rc > 1 else 0
                for j in range(Cr):
                    if Cr > 1:
                        cells = Gk[i, j] * xc[b, k, ii, j]
                    else:
                        cells = 0.0
                        for jj in range(C):
                            cells += Gk[i, jj] * xc[b, k, ii, jj]
                    v = dr[k, i, j] * xr[b, k, i, j]
                    if j > 0:
                        v -= gr * xr[b, k, i, j - 1]
                    if j < Cr - 1:
                        v -= gr * xr[b, k, i, j + 1]
                    val = cells - v
                    if j == 0:
                        val += gs * V[b, k, i]
                    if has_j:
                        val += jr[b, k, i, j]
                    rr[b, k, i, j] = val * mr[k, i, j]
            for i in range(Rc):
                for j in range(C):
                    jr_ = j if Cr > 1 else 0
                    if Rc > 1:
                        cells = Gk[i, j] * xr[b, k, i, jr_]
                    else:
                        cells = 0.0
                        for i2 in range(R):
                            cells += Gk[i2, j] * xr[b, k, i2, jr_]
                    v = dc[k, i, j] * xc[b, k, i, j]
                    if i > 0:
                        v -= gc * xc[b, k, i - 1, j]
                    if i < Rc - 1:
                        v -= gc * xc[b, k, i + 1, j]
                    val = cells - v
                    if has_j:
                        val += jc[b, k, i, j]
                    rc[b, k, i, j] = val * mc[k, i, j]


if AVAILABLE:
    _inner = numba.njit(cache=True, nogil=True)
    _rows_solve = _inner(_rows_solve)
    _cols_solve = _inner(_cols_solve)
    _col_rhs = _inner(_col_rhs)
    _row_cells = _inner(_row_cells)
    cg_batch = numba.njit(cache=True, nogil=True)(_cg_batch)
    residual = numba.njit(cache=True, nogil=True)(_residual)
else:  # pragma: no cover
    cg_batch = residual = None
