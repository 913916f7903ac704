"""The programming array's nodal equations solved line by line (numba): the twin's correction
for conductances that moved after the iteration's one sparse factorization.

The array's nodes are its row nodes r(i, j) and column nodes c(i, j); each row line is a
ladder of its wire segments with its driver at (i, 0), each column line one with its driver
at (R − 1, j), and cell (i, j) joins r(i, j) to c(i, j).  For injected currents (``rr`` into
row nodes, ``rc`` into column nodes) :func:`solve` finds the node voltages by block
Gauss-Seidel between the two layers: every column line solved with the row nodes held, then
every row line with the column nodes held, until the update is below ``rtol`` of the
solution — each step one tridiagonal solve per line, a sweep O(cells).  The coupling per
sweep is about (Σ cell G on a line) / (its conductance to the drivers): ~0.01 for a 65x32
array of 10-100 µS cells on 1 Ω wires and 10 Ω drivers (two sweeps to 1e-4).

:func:`line_inverse_diagonals` gives every node's driving-point impedance on its own column
line (the diagonal of each column ladder's inverse), :func:`row_ladder` one row line's
matrix; :class:`~circuitsim.program.twin.TwinProgrammer` builds the drifting cells' mutual
impedance from them.
"""

from __future__ import annotations

import numba
import numpy as np

from ..errors import ConvergenceError


def diagonals(g, cfg) -> tuple[np.ndarray, np.ndarray]:
    """The ladders' diagonals [S]: every row line's (R, C) — its cells, its segments to the
    neighbours, its driver at node 0 — and every column line's (C, R), its driver at node
    R − 1 (the one text of both, for :func:`solve`, :func:`line_inverse_diagonals` and
    :func:`row_ladder`)."""
    g = np.asarray(g, dtype=float)
    R, C = g.shape
    gr, gc, gd = 1.0 / cfg.r_wire_row, 1.0 / cfg.r_wire_col, 1.0 / cfg.r_driver
    j = np.arange(C)
    i = np.arange(R)
    row = g + gr * ((j > 0).astype(float) + (j < C - 1))
    row[:, 0] += gd
    col = g.T + gc * ((i > 0).astype(float) + (i < R - 1))
    col[:, R - 1] += gd
    return np.ascontiguousarray(row), np.ascontiguousarray(col)


@numba.njit(cache=True, nogil=True)
def _factor(diag, e, lm, dinv):  # pragma: no cover - compiled
    """Thomas factors of the tridiagonal lines diag (lines, L), off-diagonal −e."""
    nl, n = diag.shape
    for a in range(nl):
        d = diag[a, 0]
        dinv[a, 0] = 1.0 / d
        for k in range(1, n):
            m = -e * dinv[a, k - 1]
            lm[a, k - 1] = m
            d = diag[a, k] + m * e
            dinv[a, k] = 1.0 / d
        lm[a, n - 1] = 0.0


@numba.njit(cache=True, nogil=True)
def _sweeps(g, drow, dcol, gr, gc, rr, rc, rtol, max_sweeps, vr, vc):  # pragma: no cover
    P, R, C = rr.shape
    # column ladders: line j along i (dcol (C, R)); row ladders: line i along j (drow (R, C))
    lc = np.empty((C, R))
    ic = np.empty((C, R))
    lr = np.empty((R, C))
    ir = np.empty((R, C))
    _factor(dcol, gc, lc, ic)
    _factor(drow, gr, lr, ir)
    y = np.empty(max(R, C))
    worst = 0
    for p in range(P):
        for i in range(R):
            for j in range(C):
                vr[p, i, j] = 0.0
                vc[p, i, j] = 0.0
        done = False
        for s in range(max_sweeps):
            change = 0.0
            size = 0.0
            for j in range(C):  # Yc vc = rc + g vr, along i
                y[0] = rc[p, 0, j] + g[0, j] * vr[p, 0, j]
                for i in range(1, R):
                    y[i] = rc[p, i, j] + g[i, j] * vr[p, i, j] - lc[j, i - 1] * y[i - 1]
                x = y[R - 1] * ic[j, R - 1]
                change = max(change, abs(x - vc[p, R - 1, j]))
                size = max(size, abs(x))
                vc[p, R - 1, j] = x
                for i in range(R - 2, -1, -1):
                    x = y[i] * ic[j, i] - lc[j, i] * x
                    change = max(change, abs(x - vc[p, i, j]))
                    size = max(size, abs(x))
                    vc[p, i, j] = x
            for i in range(R):  # Yr vr = rr + g vc, along j
                y[0] = rr[p, i, 0] + g[i, 0] * vc[p, i, 0]
                for j in range(1, C):
                    y[j] = rr[p, i, j] + g[i, j] * vc[p, i, j] - lr[i, j - 1] * y[j - 1]
                x = y[C - 1] * ir[i, C - 1]
                change = max(change, abs(x - vr[p, i, C - 1]))
                size = max(size, abs(x))
                vr[p, i, C - 1] = x
                for j in range(C - 2, -1, -1):
                    x = y[j] * ir[i, j] - lr[i, j] * x
                    change = max(change, abs(x - vr[p, i, j]))
                    size = max(size, abs(x))
                    vr[p, i, j] = x
            if s > 0 and change <= rtol * size:
                done = True
                worst = max(worst, s + 1)
                break
        if not done:
            return -1
    return worst


def solve(g, cfg, rr, rc, *, rtol: float = 1e-6, max_sweeps: int = 500):
    """Node voltages (row layer, column layer), each (P, R, C) [V], of the array with cell
    conductances ``g`` (R, C) [S], the wiring of ``cfg`` (drivers at AC ground) and injected
    currents ``rr`` / ``rc`` (P, R, C) [A] into its row / column nodes.  Raises
    :class:`ConvergenceError` when ``max_sweeps`` sweeps leave an update above ``rtol``."""
    g = np.ascontiguousarray(g, dtype=float)
    rr = np.ascontiguousarray(rr, dtype=float)
    rc = np.ascontiguousarray(rc, dtype=float)
    vr, vc = np.empty_like(rr), np.empty_like(rc)
    drow, dcol = diagonals(g, cfg)
    n = _sweeps(g, drow, dcol, 1.0 / cfg.r_wire_row, 1.0 / cfg.r_wire_col, rr, rc,
                float(rtol), int(max_sweeps), vr, vc)
    if n < 0:
        raise ConvergenceError(f"line-by-line solve of the {g.shape[0]}x{g.shape[1]} "
                               f"programming array: {max_sweeps} Gauss-Seidel sweeps left an "
                               f"update above {rtol:g} of the solution (cells far more "
                               "conductive than their wires); re-factor the twin per phase "
                               "(TwinProgrammer.run(refactor='phase'))")
    return vr, vc


@numba.njit(cache=True, nogil=True)
def _column_diagonals(dcol, gc, out):  # pragma: no cover - compiled
    C, R = dcol.shape
    fwd = np.empty(R)
    bwd = np.empty(R)
    for j in range(C):
        d = dcol[j]
        fwd[0] = d[0]
        for i in range(1, R):
            fwd[i] = d[i] - gc * gc / fwd[i - 1]
        bwd[R - 1] = d[R - 1]
        for i in range(R - 2, -1, -1):
            bwd[i] = d[i] - gc * gc / bwd[i + 1]
        for i in range(R):
            out[i, j] = 1.0 / (fwd[i] + bwd[i] - d[i])


def line_inverse_diagonals(g, cfg) -> np.ndarray:
    """(R, C) [ohm]: every column node's driving-point impedance on its own column line
    (the diagonal of each column ladder's inverse, row nodes held), from the forward and
    backward elimination pivots: 1 / (forward + backward − diagonal)."""
    g = np.asarray(g, dtype=float)
    out = np.empty_like(g)
    _column_diagonals(diagonals(g, cfg)[1], 1.0 / cfg.r_wire_col, out)
    return out


def row_ladder(g_row, cfg) -> np.ndarray:
    """(C, C) [S]: the nodal matrix of one row line (its segments, its driver at node 0, its
    cells to column nodes held)."""
    g_row = np.asarray(g_row, dtype=float).reshape(1, -1)
    gr = 1.0 / cfg.r_wire_row
    j = np.arange(g_row.shape[1])
    y = np.diag(diagonals(g_row, cfg)[0][0])
    y[j[:-1], j[1:]] = y[j[1:], j[:-1]] = -gr
    return y


__all__ = ["diagonals", "line_inverse_diagonals", "row_ladder", "solve"]
