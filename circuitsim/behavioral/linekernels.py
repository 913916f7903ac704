"""Compiled tridiagonal line solves (numba) for the PCG of :mod:`.pcg`.

LAPACK ``dpttrs`` solves one long tridiagonal as a sequential recurrence (~16 ns per node
measured here); the kernels below apply the same LDL^T factors (from ``dpttrf``) with the
independent lines interleaved in the inner loop where the layout allows it (column lines:
contiguous across lines, SIMD), 2-10x faster on this machine (benchmarks/bench_crossbar.py
records which path ran).  Used only when numba imports (it is in setup.cfg); otherwise the
LAPACK path runs, and the tests check both give the same answer.
"""

from __future__ import annotations

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
