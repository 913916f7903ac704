"""Fast exact solver: row-by-row elimination of the crossbar nodal system (block Thomas).

Structure used (see :mod:`circuitsim.crossbar.spec` for the topology):

1. The row nodes of row i touch only their own row wire chain (tridiagonal), the driver and
   the cells of row i.  Eliminating them exactly gives, for every row,
   ``v_row_i = p_i V_i + H_i (j_row_i + G_i v_col_i)`` with ``H_i`` the inverse of the row's
   tridiagonal matrix (C x C) and ``p_i`` the row's response to its input voltage.  Zero
   resistances are exact special cases (a merged row is one node, ``r_source = 0`` makes
   node (i, 0) a known voltage), never a division by zero.
2. What is left couples only the column nodes: row i's column nodes form a dense block
   ``K_i = diag(G_i + column-wire terms) - G_i H_i G_i`` and neighbouring rows couple through
   the column wire conductance ``g_c I``: a block-tridiagonal SPD system, solved by block
   Gaussian elimination (``S_i = K_i - g_c^2 S_{i-1}^-1``, Cholesky per block).  With
   ``r_wire_col = 0`` the columns are single nodes and the blocks simply add up.
3. For a linear (1R) array only the last block's column voltages matter for the outputs, and
   they depend linearly on V: carrying the right-hand sides of all inputs through the forward
   sweep gives the whole (rows x cols) transfer matrix ``A`` with ``I = A^T V`` in
   O(R C^3) time and O(C^2 + R C) memory.  After that, every input vector costs one dense
   matrix-vector product -- exactly the cost of the ideal MVM.

With ``store=True`` the per-row factors are kept (O(R C^2) memory) so that arbitrary
right-hand sides (current injections at every node) can be solved: that serves
``node_voltages`` and the Newton/chord iterations of nonlinear (1T1R, sinh) arrays.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import blas, lapack

from ..crossbar.spec import CrossbarSpec
from ..errors import ConfigError


def _tri_inverse_upper(diag: np.ndarray, off: float) -> np.ndarray:
    """Inverse of the symmetric tridiagonal matrix with diagonal ``diag`` and constant
    off-diagonal ``-off`` (diagonally dominant: a row wire chain), UPPER triangle valid.

    O(n^2) closed form: with forward pivots f (f_0 = d_0, f_m = d_m - off^2/f_{m-1}) and
    backward pivots b, H[k, k] = 1/(f_k + b_k - d_k) and, for j < k,
    H[j, k] = H[k, k] * prod_{m=j}^{k-1} (off/f_m); the products are evaluated as exp of
    differences of cumulative logs (every ratio < 1: no overflow)."""
    n = diag.size
    if n == 1:
        return np.array([[1.0 / diag[0]]])
    f = np.empty(n)
    b = np.empty(n)
    f[0] = diag[0]
    o2 = off * off
    for m in range(1, n):
        f[m] = diag[m] - o2 / f[m - 1]
    b[n - 1] = diag[n - 1]
    for m in range(n - 2, -1, -1):
        b[m] = diag[m] - o2 / b[m + 1]
    hdiag = 1.0 / (f + b - diag)
    L = np.zeros(n)
    np.cumsum(np.log(off / f[:-1]), out=L[1:])
    E = L[None, :] - L[:, None]
    np.minimum(E, 0.0, out=E)
    np.exp(E, out=E)
    E *= hdiag[None, :]
    return E


def _spd_inverse_upper(S: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive-definite matrix given by its UPPER triangle (Cholesky,
    LAPACK potrf + potri).  Only the upper triangle of the result is valid: use it with
    :func:`_symm` or :func:`_symmetrize`."""
    c, info = lapack.dpotrf(S, lower=0, clean=0, overwrite_a=0)
    if info != 0:
        raise ConfigError(f"crossbar block matrix is not positive definite (LAPACK dpotrf "
                          f"info={info}); are all conductances > 0 and finite?")
    inv, info = lapack.dpotri(c, lower=0, overwrite_c=1)
    if info != 0:
        raise ConfigError(f"crossbar block inversion failed (LAPACK dpotri info={info})")
    return inv


def _symm(a_upper: np.ndarray, b: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """alpha * A @ b for symmetric A given by its upper triangle (BLAS dsymm)."""
    return blas.dsymm(alpha, a_upper, b, side=0, lower=0)


def _symmetrize(a_upper: np.ndarray) -> np.ndarray:
    u = np.triu(a_upper)
    return u + np.triu(u, 1).T


class RowElimination:
    """Per-row factors ``(H_i, p_i)`` of the exact row-node elimination (step 1 above)."""

    def __init__(self, spec: CrossbarSpec, g: np.ndarray):
        self.spec = spec
        self.g = g
        self.C = spec.cols

    def row(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """``H`` (C, C) and ``p`` (C,) of row i: ``v_row = p V_i + H (j_row + G v_col)``.
        Only the upper triangle of ``H`` is valid (see :func:`_symmetrize`)."""
        spec, C = self.spec, self.C
        gi = self.g[i]
        if spec.r_wire_row == 0:
            if spec.r_source == 0:
                return np.zeros((C, C)), np.ones(C)
            gs = 1.0 / spec.r_source
            tot = gs + gi.sum()
            return np.full((C, C), 1.0 / tot), np.full(C, gs / tot)
        gr = 1.0 / spec.r_wire_row
        deg = np.full(C, 2.0)
        deg[0] -= 1
        deg[-1] -= 1
        if spec.r_source > 0:
            gs = 1.0 / spec.r_source
            d = gi + gr * deg
            d[0] += gs
            H = _tri_inverse_upper(d, gr)
            return H, gs * H[0, :].copy()  # first column = first row (symmetric)
        # node (i, 0) is the driven input itself (known voltage V_i)
        H = np.zeros((C, C))
        p = np.zeros(C)
        p[0] = 1.0
        if C > 1:
            d = gi[1:] + gr * deg[1:]  # deg counts the segment to the driven node (i, 0)
            Hs = _tri_inverse_upper(d, gr)
            H[1:, 1:] = Hs
            p[1:] = gr * Hs[0, :]
        return H, p


class BlockSolver:
    """Exact linear solve of the crossbar with cell conductances ``g`` (default: the spec's).

    ``transfer_matrix()`` -> A (rows, cols) with ``I = A^T V``;
    ``solve(V, j_row=None, j_col=None)`` -> (v_row, v_col) (rows, cols, K) for inputs V and
    extra current injections [A] into the row / column nodes (needs ``store=True``)."""

    def __init__(self, spec: CrossbarSpec, g: np.ndarray | None = None, *, store: bool = False,
                 progress: bool = False):
        self.spec = spec
        self.g = np.asarray(spec.conductance if g is None else g, dtype=np.float64)
        self.rows_elim = RowElimination(spec, self.g)
        self.store = store
        self.progress = progress
        R, C = spec.shape
        self.gc = 1.0 / spec.r_wire_col if spec.r_wire_col > 0 else None
        self.gk = 1.0 / spec.r_sense if spec.r_sense > 0 else None
        if self.gc is not None:
            self.nb = R if self.gk is not None else R - 1  # unknown column-node blocks
        self._A = None
        self._factors = None
        if store:
            self._factor_store()

    # ------------------------------------------------------------------ helpers

    def _lc(self, i: int) -> float:
        """Column-wire (and sense) conductance on the diagonal of row i's column nodes."""
        R = self.spec.rows
        n = (i > 0) + (i < R - 1)
        extra = self.gk if (i == R - 1 and self.gk is not None) else 0.0
        return self.gc * n + extra

    def _K(self, i: int, H: np.ndarray) -> np.ndarray:
        gi = self.g[i]
        K = -(gi[:, None] * H * gi[None, :])
        K[np.diag_indices_from(K)] += gi + self._lc(i)
        return K

    def _rows_iter(self, n: int):
        it = range(n)
        if self.progress:
            from tqdm import tqdm

            it = tqdm(it, desc="crossbar setup", unit="row", leave=False)
        return it

    # ------------------------------------------------------------------ transfer matrix

    def transfer_matrix(self) -> np.ndarray:
        """A (rows, cols) with column currents ``I = A^T V`` (exact, linear cells)."""
        if self._A is not None:
            return self._A
        spec, g = self.spec, self.g
        R, C = spec.shape
        if spec.is_ideal:
            A = g.copy()
        elif self.gc is None:
            A = self._transfer_merged_columns()
        else:
            A = np.empty((R, C))
            nb = self.nb
            if nb > 0:
                S = None
                Y = np.empty((C, nb), order="F")  # Y[:, :i] stays contiguous for BLAS
                for i in self._rows_iter(nb):
                    H, p = self.rows_elim.row(i)
                    K = self._K(i, H)
                    if S is None:
                        S = K
                    else:
                        Sinv = _spd_inverse_upper(S)  # upper triangle only (see _symm)
                        # Y[:, :i] <- g_c S^-1 Y[:, :i]   (the earlier inputs, carried on)
                        Y[:, :i] = _symm(Sinv, Y[:, :i], self.gc)
                        Sinv *= -(self.gc ** 2)
                        Sinv += K  # only its upper triangle is read by the next potrf
                        S = Sinv
                    Y[:, i] = g[i] * p
                vlast = _symm(_spd_inverse_upper(S), Y)  # (C, nb): last block's voltages
                scale = self.gk if self.gk is not None else self.gc
                A[:nb] = scale * vlast.T
            if self.gk is None:  # r_sense = 0: last row's column nodes are the outputs
                _, p = self.rows_elim.row(R - 1)
                A[R - 1] = g[R - 1] * p
        self._A = A
        return A

    def _transfer_merged_columns(self) -> np.ndarray:
        spec, g = self.spec, self.g
        R, C = spec.shape
        if self.gk is None:  # columns are the 0 V outputs themselves
            return np.stack([g[i] * self.rows_elim.row(i)[1] for i in range(R)])
        M = np.zeros((C, C))
        U = np.empty((C, R))
        for i in self._rows_iter(R):
            H, p = self.rows_elim.row(i)
            M += self._K_merged(i, H)
            U[:, i] = g[i] * p
        M[np.diag_indices_from(M)] += self.gk
        return self.gk * np.linalg.solve(_symmetrize(M), U).T

    def _K_merged(self, i, H):
        gi = self.g[i]
        K = -(gi[:, None] * H * gi[None, :])
        K[np.diag_indices_from(K)] += gi
        return K

    # ------------------------------------------------------------------ general solves

    def _factor_store(self):
        spec = self.spec
        R, C = spec.shape
        Hs = np.empty((R, C, C))
        ps = np.empty((R, C))
        for i in range(R):
            H, ps[i] = self.rows_elim.row(i)
            Hs[i] = _symmetrize(H)
        f = {"H": Hs, "p": ps}
        if self.gc is not None:
            Sinv = np.empty((max(self.nb, 0), C, C))
            S = None
            for i in self._rows_iter(self.nb):
                K = self._K(i, Hs[i])
                S = K if S is None else K - (self.gc ** 2) * Sinv[i - 1]
                Sinv[i] = _symmetrize(_spd_inverse_upper(S))
            f["Sinv"] = Sinv
        elif self.gk is not None:
            M = sum(self._K_merged(i, Hs[i]) for i in range(R))
            M[np.diag_indices_from(M)] += self.gk
            f["Minv"] = _symmetrize(_spd_inverse_upper(M))
        self._factors = f

    def factors(self) -> dict:
        if self._factors is None:
            self._factor_store()
        return self._factors

    def solve(self, V: np.ndarray, j_row: np.ndarray | None = None,
              j_col: np.ndarray | None = None):
        """Node voltages for inputs V (rows, K) [V] and optional injected currents j_row,
        j_col (rows, cols, K) [A] (current *into* each node).  Returns (v_row, v_col), each
        (rows, cols, K)."""
        return solve_with_factors(self.factors(), self.g, V, j_row, j_col, self.gc, self.gk,
                                  xp=np)


def solve_with_factors(f, g, V, j_row, j_col, gc, gk, *, xp):
    """The forward/backward block sweeps on stored factors; ``xp`` is numpy or torch (same
    code for both backends).  ``f``: dict of H (R,C,C), p (R,C), Sinv or Minv."""
    H, p = f["H"], f["p"]
    R, C = p.shape
    # f_i = j_col_i + G_i p_i V_i + G_i H_i j_row_i ; rhs at the column nodes (R, C, K)
    rhs = (g * p)[:, :, None] * V[:, None, :]
    if j_row is not None:
        rhs = rhs + g[:, :, None] * xp.matmul(H, j_row)
    if j_col is not None:
        rhs = rhs + j_col
    if gc is not None:
        Sinv = f["Sinv"]
        nb = Sinv.shape[0]
        vc = [None] * R
        ys = [None] * nb
        for i in range(nb):
            ys[i] = rhs[i] if i == 0 else rhs[i] + gc * (Sinv[i - 1] @ ys[i - 1])
        for i in range(nb - 1, -1, -1):
            y = ys[i] if i == nb - 1 else ys[i] + gc * vc[i + 1]
            vc[i] = Sinv[i] @ y
        zero = xp.zeros_like(rhs[0])
        for i in range(nb, R):
            vc[i] = zero
        v_col = xp.stack(vc)
    elif gk is not None:
        vcol = f["Minv"] @ rhs.sum(0)
        v_col = xp.stack([vcol] * R)
    else:
        v_col = xp.zeros_like(rhs)
    inj = g[:, :, None] * v_col
    if j_row is not None:
        inj = inj + j_row
    v_row = p[:, :, None] * V[:, None, :] + xp.matmul(H, inj)
    return v_row, v_col
