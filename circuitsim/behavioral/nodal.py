"""Reference solver: full modified-nodal analysis of the crossbar with a sparse LU.

General and simple on purpose -- it handles every topology option (merged nodes for zero
resistances, 1T1R with the internal memristor/transistor node, sinh cells) by building the
nodal matrix of exactly the circuit the netlist generator writes, and solving it with SuperLU
(minimum-degree ordering on A+A^T).  Nonlinear cells are solved with Newton's method on the
full Jacobian.  The fast solvers (:mod:`.blocks`) are tested against this one; it is also the
fallback for node voltages of arrays too large to keep the block factors.
"""

from __future__ import annotations

import copy

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ..crossbar.spec import CrossbarSpec
from ..errors import ConfigError, ConvergenceError
from .cells import memristor_current


class NodeMap:
    """Index of every circuit node.  Known nodes first: ``in_i`` is ``i`` (voltage V_i),
    ``out_j`` is ``R + j`` (0 V); then the unknown nodes.  ``row``/``col`` (R, C) give the
    node of each cell's row and column side (merged nodes share an index), ``mid`` the 1T1R
    internal node (or None)."""

    def __init__(self, spec: CrossbarSpec):
        R, C = spec.shape
        self.n_known = R + C
        nxt = [self.n_known]

        def new(shape):
            k = int(np.prod(shape))
            ids = np.arange(nxt[0], nxt[0] + k).reshape(shape)
            nxt[0] += k
            return ids

        ins = np.arange(R)
        outs = R + np.arange(C)
        if spec.r_wire_row == 0:
            per_row = ins if spec.r_source == 0 else new((R,))
            self.row = np.repeat(per_row[:, None], C, axis=1)
        else:
            self.row = new((R, C))
            if spec.r_source == 0:
                self.row[:, 0] = ins
        if spec.r_wire_col == 0:
            per_col = outs if spec.r_sense == 0 else new((C,))
            self.col = np.repeat(per_col[None, :], R, axis=0)
        else:
            self.col = new((R, C))
            if spec.r_sense == 0:
                self.col[R - 1, :] = outs
        self.mid = new((R, C)) if spec.access is not None else None
        # compact: ids overwritten by known nodes above leave gaps
        parts = [self.row, self.col] + ([self.mid] if self.mid is not None else [])
        used = np.unique(np.concatenate([p.ravel() for p in parts]))
        used = used[used >= self.n_known]
        remap = np.arange(nxt[0])
        remap[used] = self.n_known + np.arange(used.size)
        self.row, self.col = remap[self.row], remap[self.col]
        self.mid = remap[self.mid] if self.mid is not None else None
        self.n = self.n_known + used.size


def _linear_branches(spec: CrossbarSpec, nm: NodeMap):
    """(a, b, g) arrays of every linear conductance in the circuit."""
    R, C = spec.shape
    a, b, g = [], [], []

    def add(p, q, cond):
        p, q = np.ravel(p), np.ravel(q)
        a.append(p)
        b.append(q)
        g.append(np.broadcast_to(np.asarray(cond, dtype=float).ravel() if np.ndim(cond) else
                                 np.asarray(cond, dtype=float), p.shape).copy())

    if spec.r_source > 0:
        add(np.arange(R), nm.row[:, 0], 1.0 / spec.r_source)
    if spec.r_wire_row > 0 and C > 1:
        add(nm.row[:, :-1], nm.row[:, 1:], 1.0 / spec.r_wire_row)
    if spec.r_wire_col > 0 and R > 1:
        add(nm.col[:-1, :], nm.col[1:, :], 1.0 / spec.r_wire_col)
    if spec.r_sense > 0:
        add(nm.col[R - 1, :], R + np.arange(C), 1.0 / spec.r_sense)
    if spec.ohmic_cells:
        add(nm.row, nm.mid if nm.mid is not None else nm.col, spec.conductance)
    if not a:
        e = np.zeros(0, dtype=np.int64)
        return e, e, np.zeros(0)
    return np.concatenate(a), np.concatenate(b), np.concatenate(g)


def _laplacian(n, a, b, g):
    rows = np.concatenate([a, b, a, b])
    cols = np.concatenate([a, b, b, a])
    vals = np.concatenate([g, g, -g, -g])
    return sp.csr_matrix((vals, (rows, cols)), shape=(n, n))


class NodalSolver:
    """Exact nodal solve of the whole crossbar circuit (sparse LU; Newton when nonlinear).

    ``solve(V)`` -> ``(v_row, v_col, I)`` with V (rows, K): v_row, v_col (rows, cols, K) [V],
    I (cols, K) [A].  For nonlinear cells the Jacobian's sparsity pattern is fixed: it is
    built once and every Newton step only sums the stamps into it."""

    def __init__(self, spec: CrossbarSpec, *, tol: float = 1e-13, max_iter: int = 100):
        self.spec = spec
        self.conductance = spec.conductance
        self.nm = nm = NodeMap(spec)
        self.tol, self.max_iter = tol, max_iter
        a, b, g = _linear_branches(spec, nm)
        Y = _laplacian(nm.n, a, b, g)
        k = nm.n_known
        self.Y_uu = Y[k:, k:].tocsc()
        self.Y_uk = Y[k:, :k].tocsr()
        self._lu = None
        if not spec.is_linear:
            self._jacobian_pattern()

    def with_conductance(self, G) -> NodalSolver:
        """The same circuit with cell conductances ``G`` (rows, cols) [S] (nonlinear cells
        only: the ohmic cells of a linear array are inside the factored matrix), without
        rebuilding the node map and the Jacobian pattern (a programming run re-solves the
        array at new states every step)."""
        G = np.asarray(G, dtype=float)
        if self.spec.is_linear or self.spec.ohmic_cells:
            raise ConfigError("NodalSolver.with_conductance: ohmic cells are part of the "
                              "linear matrix; build NodalSolver(spec.replace(conductance=G))")
        if G.shape != self.spec.shape:
            raise ConfigError(f"NodalSolver.with_conductance: G has shape {G.shape}, the "
                              f"array is {self.spec.shape}")
        if self.spec.cell is not None:
            self.spec.cell.check(G, "NodalSolver.with_conductance")
        new = copy.copy(self)
        new.conductance = G
        return new

    def _stamp_nodes(self):
        """(rows, cols) of every nonlinear stamp, in the order :meth:`_residual` writes
        them."""
        nm = self.nm
        rows, cols = [], []

        def stamp2(p, q):
            rows.extend([p, p, q, q])
            cols.extend([p, q, p, q])

        a = nm.row.ravel()
        b = (nm.mid if nm.mid is not None else nm.col).ravel()
        if not self.spec.ohmic_cells:
            stamp2(a, b)
        if nm.mid is not None:
            stamp2(b, nm.col.ravel())
        return np.concatenate(rows), np.concatenate(cols)

    def _jacobian_pattern(self) -> None:
        k0 = self.nm.n_known
        r, c = self._stamp_nodes()
        self._keep = (r >= k0) & (c >= k0)
        yc = self.Y_uu.tocoo()
        rows = np.concatenate([yc.row, r[self._keep] - k0])
        cols = np.concatenate([yc.col, c[self._keep] - k0])
        m = self.Y_uu.shape[0]
        # each contribution's slot in the data of the (column-major, sorted) pattern
        order = sp.csc_matrix((np.ones(rows.size), (rows, cols)), shape=(m, m))
        order.sum_duplicates()
        order.sort_indices()
        lin = rows.astype(np.int64) + m * cols.astype(np.int64)
        slot_lin = (order.indices.astype(np.int64)
                    + m * np.repeat(np.arange(m), np.diff(order.indptr)))
        self._slot = np.searchsorted(slot_lin, lin)
        self._y_data = yc.data
        self._pattern = order

    # -------------------------------------------------------------------- helpers

    def _known(self, v):
        R, C = self.spec.shape
        return np.concatenate([v, np.zeros(C)])

    def _factor(self):
        if self._lu is None and self.Y_uu.shape[0]:
            self._lu = spla.splu(self.Y_uu, permc_spec="MMD_AT_PLUS_A",
                                 options={"SymmetricMode": True})
        return self._lu

    def _full(self, xu, xk):
        return np.concatenate([xk, xu])

    def _split(self, x):
        nm = self.nm
        vr = x[nm.row]
        vc = x[nm.col]
        return vr, vc

    # -------------------------------------------------------------------- solve

    def solve(self, V):
        spec = self.spec
        v2, _ = spec.check_inputs(V)
        R, C = spec.shape
        K = v2.shape[1]
        vr_all = np.empty((R, C, K))
        vc_all = np.empty((R, C, K))
        I_all = np.empty((C, K))
        for k in range(K):
            xk = self._known(v2[:, k])
            if spec.is_linear:
                x = self._solve_linear(xk)
            else:
                x = self._solve_newton(xk)
            vr, vc = self._split(x)
            vm = x[self.nm.mid] if self.nm.mid is not None else None
            i_cell = self._cell_currents(vr, vc, vm)
            vr_all[..., k], vc_all[..., k] = vr, vc
            I_all[:, k] = i_cell.sum(axis=0)
        return vr_all, vc_all, I_all

    def _cell_currents(self, vr, vc, vm):
        spec = self.spec
        if vm is None:
            return memristor_current(spec, self.conductance, vr - vc)[0]
        return memristor_current(spec, self.conductance, vr - vm)[0]

    def _solve_linear(self, xk):
        rhs = -(self.Y_uk @ xk)
        lu = self._factor()
        xu = lu.solve(rhs) if lu is not None else np.zeros(0)
        return self._full(xu, xk)

    def _solve_newton(self, xk):
        nm = self.nm
        k0 = nm.n_known
        n_u = nm.n - k0
        # Newton from all unknown nodes at 0 V: the first step solves the circuit linearised
        # at zero bias (the linear warm start); the rest converge quadratically
        x = np.concatenate([xk, np.zeros(n_u)])
        m = 0.0
        for _ in range(self.max_iter):
            F, J = self._residual(x)
            dx = spla.spsolve(J.tocsc(), -F) if n_u else np.zeros(0)
            dx = np.atleast_1d(dx)
            # mild damping: limit any node step to 0.5 V
            m = np.max(np.abs(dx)) if dx.size else 0.0
            if m > 0.5:
                dx *= 0.5 / m
            x[k0:] += dx
            if m <= self.tol + 1e-12 * np.max(np.abs(x)):
                return x
        raise ConvergenceError(f"behavioral Newton did not converge in {self.max_iter} "
                               f"iterations (last step {m:.3g} V)")

    def _residual(self, x):
        """KCL residual at the unknown nodes (current leaving) and its Jacobian."""
        spec, nm = self.spec, self.nm
        k0 = nm.n_known
        n = nm.n
        G = self.conductance.ravel()
        Y = self.Y_uu
        F = Y @ x[k0:] + self.Y_uk @ x[:k0]
        rows, cols, vals = [], [], []
        Fn = np.zeros(n)

        def stamp2(p, q, i, gpp, gpq):
            # current i leaves p and enters q; di/dvp = gpp, di/dvq = gpq
            np.add.at(Fn, p, i)
            np.add.at(Fn, q, -i)
            rows.extend([p, p, q, q])
            cols.extend([p, q, p, q])
            vals.extend([gpp, gpq, -gpp, -gpq])

        a = nm.row.ravel()
        b = (nm.mid if nm.mid is not None else nm.col).ravel()
        if not spec.ohmic_cells:
            i, gd = memristor_current(spec, G, x[a] - x[b])
            stamp2(a, b, i, gd, -gd)
        if nm.mid is not None:
            s = nm.col.ravel()
            nmos, vwl = spec.access.nmos, spec.access.v_wordline
            i, gm, gds = nmos.drain_current(vwl - x[s], x[b] - x[s])
            stamp2(b, s, i, gds, -gm - gds)
        F = F + Fn[k0:]
        if rows:
            v = np.concatenate(vals)
            J = self._pattern.copy()
            J.data = np.bincount(self._slot, weights=np.concatenate([self._y_data,
                                                                     v[self._keep]]),
                                 minlength=J.data.size)
        else:
            J = Y
        return F, J
