"""Exact linear (1R) crossbar solves for NEW conductances at the cost of a few sparse passes.

Used when conductances change between calls (Monte-Carlo draws, write-verify, training with
IR drop in the loop), where building the block transfer map (O(R C^3), :mod:`.blocks`) for
every draw is too slow.  Same circuit as the netlist (every zero-resistance option included:
merged rows / columns, known-voltage driver and sense nodes).

Method: the nodal matrix is SPD and splits into the row network (R row-wire chains, each a
tridiagonal system with its cells' conductances on the diagonal), the column network (C
tridiagonal chains) and the cell couplings between them.  The column network is eliminated
exactly (one tridiagonal line solve per application) and conjugate gradients run on the Schur
complement of the row network, preconditioned by the exact row line solves:

    S = T_r - G T_c^-1 G,   preconditioner T_r,   eigenvalues of T_r^-1 S in (0, 1]

so one CG iteration costs two line solves plus a few elementwise passes over the grid.  Line
solves are LAPACK ``pttrf``/``pttrs`` (numpy, and torch tensors on the CPU, converted) or
parallel cyclic reduction (torch on CUDA: log2(n) vectorised steps).  With numba installed,
one vector of one conductance matrix is solved by ONE compiled call
(:func:`.linekernels.solve_one`: the same diagonals, factors, criterion and restarts as
:class:`Grid`, see :data:`USE_ONE_CALL`) and batches by the compiled per-pair CG
(:data:`USE_FUSED`).

Exactness is decided by a residual criterion, never by an iteration count: after CG the true
Kirchhoff current-law imbalance is computed at EVERY node from the final voltages, and the
solve is accepted only when

    max_node |KCL imbalance| <= rtol * i_ref + floor,
    i_ref = max_j sum_i G_ij |V_i|          (largest ideal column current of |V|)
    floor = 16 eps * max_node(g_node) * max|V|   (rounding of the KCL sum itself)

for every draw and every vector; otherwise CG restarts from the current voltages, and a
solve that stops improving raises :class:`~circuitsim.errors.ConvergenceError` naming the
residual.  The result reports the max and the summed imbalance: ``sum_node |imbalance|`` is
a rigorous bound on the absolute error of every column current (an injected current splits
between the terminals with fractions in [0, 1]).

Batched draws: ``G`` may be (K, rows, cols) -- K conductance matrices solved in one call,
each with B input vectors (``V`` (rows, B) shared or (K, rows, B) per draw).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import lapack

from ..crossbar.spec import CrossbarSpec
from ..errors import ConfigError, ConvergenceError

RTOL = 1e-12
"""Default KCL criterion: max node imbalance / i_ref (see the module docstring)."""

USE_KERNELS = True
"""Line solves by the compiled kernels of :mod:`.linekernels` (numba) for grids of at least
:data:`KERNEL_MIN_NODES` nodes when numba is installed, else LAPACK ``dpttrs``; both apply the
same ``dpttrf`` factors.  False = always LAPACK."""

CHUNK_NODES = 1 << 21
"""numpy :func:`solve` splits draws x vectors x nodes above this many into pieces (16 MB
arrays): fresh multi-hundred-MB temporaries cost more in page faults than the solve itself
here (10 draws x 100 vectors of 128x128 in one piece: 3.9 s per draw)."""

MAX_RESTARTS = 8
"""CG restarts from the true KCL residual before a solve that still misses the criterion
raises ConvergenceError (it stops earlier when two restarts in a row do not halve it)."""

USE_FUSED = True
"""numpy CG by the compiled per-vector kernel (:func:`.linekernels.cg_batch`) when numba is
installed; False = the vectorised numpy CG (every pair advanced together)."""

KERNEL_MIN_NODES = 128 * 128
"""Smallest right-hand side (nodes x draws x vectors) whose line solves in the vectorised
numpy CG (``USE_FUSED = False``) use the numba line kernels instead of LAPACK ``dpttrs``."""

USE_ONE_CALL = True
"""One vector of one conductance matrix (numpy, or torch on the CPU) by ONE compiled call,
:func:`.linekernels.solve_one` (network diagonals, line factors, KCL criterion, CG restarts
and outputs), when numba is installed; False = the :class:`Grid` path.  The first solve in a
process pays numba's import and the load of its compiled cache (1-4 s measured here; compiling
from scratch, on a fresh install, ~15 s), every later one runs at the compiled speed."""

PAR_MIN_NODES: int | None = None
"""One-vector solves of at least this many nodes (with row and column wire chains) run their
CG on numba's threads (:func:`.linekernels._cg_par`, ``numba.set_num_threads``); None (the
default) = always one thread.  Off by default because on this shared 2-core machine it paid
only with the second core idle: at load 0.0-0.4 two threads were 1.2-1.5x faster than one
from 256^2 to 2048^2 (1024^2: 0.33 vs 0.49 s), at load 2.5 even, at load 3-5 1.4-7x SLOWER
(each of the ~60 passes of a solve waits at a barrier for the thread the scheduler parked).
Set e.g. 256 * 256 on a machine with idle cores and measure (``benchmarks/bench_crossbar.py``
prints both)."""


def line_conductances(spec: CrossbarSpec) -> tuple[float, float, float, float]:
    """``(g_row_wire, g_col_wire, g_source, g_sense)`` [S] as the compiled kernels take them:
    1/r, and 0.0 for a zero resistance (merged lines, a known driver or sense node)."""
    return tuple(1.0 / r if r > 0 else 0.0
                 for r in (spec.r_wire_row, spec.r_wire_col, spec.r_source, spec.r_sense))


def default_maxiter(rows: int, cols: int) -> int:
    """CG iterations per (re)start when the caller gives none."""
    return 4 * (rows + cols) + 200


_NOT_PD = ("crossbar line system is not positive definite ({info}); are all conductances > 0 "
           "and finite?")


def _not_converged(kmax: float, rel: float, rtol: float, floor: float, total_it: int):
    """The ConvergenceError of a solve whose KCL residual stays above the criterion."""
    return ConvergenceError(
        f"crossbar PCG: KCL residual {kmax:.3g} A at the worst node ({rel:.3g} of the largest "
        f"ideal column current) is above the criterion rtol={rtol:g} (+ rounding floor "
        f"{floor:.3g} A) after {total_it} CG iterations and restarts; the array is too "
        "ill-conditioned for this solver -- use CrossbarSolver (block elimination) or "
        "method='sparse'")


# ---------------------------------------------------------------------- array helpers


def _is_torch(x) -> bool:
    return type(x).__module__.startswith("torch")


def _xp_of(x):
    if _is_torch(x):
        import torch

        return torch
    return np


def _shift(x, s: int, axis: int, xp):
    """y[..., i, ...] = x[..., i - s, ...] along ``axis`` (zeros shifted in); s may be < 0."""
    n = x.shape[axis]
    if abs(s) >= n:
        return xp.zeros_like(x)
    idx = [slice(None)] * x.ndim
    pad_shape = list(x.shape)
    pad_shape[axis] = abs(s)
    if xp is np:
        z = np.zeros(pad_shape, dtype=x.dtype)
        cat = np.concatenate
        kw = {"axis": axis}
    else:
        z = xp.zeros(pad_shape, dtype=x.dtype, device=x.device)
        cat = xp.cat
        kw = {"dim": axis}
    if s > 0:
        idx[axis] = slice(0, n - s)
        return cat([z, x[tuple(idx)]], **kw)
    idx[axis] = slice(-s, n)
    return cat([x[tuple(idx)], z], **kw)


# ---------------------------------------------------------------------- line solvers


def _kernels():
    """:mod:`.linekernels` when numba is installed, else None (imported on first use only:
    numba's import and first compilation are paid by the first PCG solve, not by every
    ``import circuitsim``)."""
    from . import linekernels

    return linekernels if linekernels.AVAILABLE else None


class _Lines:
    """Independent symmetric tridiagonal systems along one axis of (B, K, R, C) arrays.

    ``diag`` (K, n_a, n_b) with the lines along ``axis`` (-1: rows, -2: columns); ``off`` [S]
    the chain conductance (the off-diagonal is ``-off``) or None for single-node lines;
    ``fixed`` (K, n_a, n_b) bool: known-voltage nodes (identity rows, decoupled)."""

    def __init__(self, diag, off, fixed, axis: int, xp):
        self.xp, self.axis = xp, axis
        self.fixed = fixed
        one = xp.ones_like(diag)
        self.diag = xp.where(fixed, one, diag)
        self.length = diag.shape[axis]
        self.chain = off is not None and self.length > 1
        if not self.chain:
            self.inv = 1.0 / self.diag
            return
        # coupling between node m and m+1 along the axis: -off unless either node is fixed
        nxt = _shift(fixed, -1, axis, xp)
        last = xp.zeros_like(fixed)
        idx = [slice(None)] * fixed.ndim
        idx[axis] = slice(-1, None)
        last[tuple(idx)] = True
        cup = xp.where(fixed | nxt | last, xp.zeros_like(diag), -off * one)  # to m+1
        if xp is np:
            self._lapack(cup)
        else:
            self._pcr(cup)

    # numpy: one long tridiagonal through every line (LAPACK pttrf / pttrs)
    def _lapack(self, cup):
        ax = self.axis
        d = np.ascontiguousarray(self.diag.swapaxes(ax, -1)).ravel()
        e = np.ascontiguousarray(cup.swapaxes(ax, -1)).ravel()[:-1]
        d_f, e_f, info = lapack.dpttrf(d, e)
        if info != 0:
            raise ConfigError(_NOT_PD.format(info=f"LAPACK dpttrf info={info}"))
        self.fac = (d_f, e_f)
        self._kernel = None

    def natural(self):
        """(l, 1/d) (K, n_r, n_c) of the LDL^T factors in the natural layout (l = 0 for
        single-node lines): the operands of the compiled kernels."""
        if not self.chain:
            inv = np.ascontiguousarray(np.broadcast_to(self.inv, self.diag.shape))
            return np.zeros_like(inv), inv
        ax = self.axis
        d_f, e_f = self.fac
        shape = self.diag.swapaxes(ax, -1).shape
        dinv = (1.0 / d_f).reshape(shape).swapaxes(ax, -1)
        l_ = np.append(e_f, 0.0).reshape(shape).swapaxes(ax, -1)
        return np.ascontiguousarray(l_), np.ascontiguousarray(dinv)

    def kernel_for(self, r):
        """(l, 1/d, kernel) of :mod:`.linekernels` for right-hand sides r when they are big
        enough (r.size >= KERNEL_MIN_NODES: one vector of a large array or a batch of a small
        one) and numba is installed, else None (LAPACK)."""
        if not USE_KERNELS or r.size < KERNEL_MIN_NODES:
            return None
        if self._kernel is None:
            kern = _kernels()
            if kern is None:
                return None
            l_, dinv = self.natural()  # the same LDL^T factors in the natural layout
            self._kernel = (l_, dinv, kern.solve_last if self.axis == -1 else kern.solve_mid)
        return self._kernel

    # torch: parallel cyclic reduction with precomputed coefficients
    def _pcr(self, cup):
        xp, ax = self.xp, self.axis
        a = _shift(cup, 1, ax, xp)  # coupling to m-1
        b = self.diag.clone()
        c = cup
        levels = []
        s = 1
        while s < self.length:
            al = -a / _shift(b, s, ax, xp).where(a != 0, xp.ones_like(b))
            ga = -c / _shift(b, -s, ax, xp).where(c != 0, xp.ones_like(b))
            b = b + al * _shift(c, s, ax, xp) + ga * _shift(a, -s, ax, xp)
            a, c = al * _shift(a, s, ax, xp), ga * _shift(c, -s, ax, xp)
            levels.append((s, al, ga))
            s *= 2
        self.levels = levels
        self.inv = 1.0 / b

    def solve(self, r, out=None):
        """r (B, K, n_r, n_c) -> T^-1 r (values at fixed nodes: r itself); ``out``: a numpy
        array of r's shape to write into (used when it is not r itself)."""
        if not self.chain:
            return r * self.inv if out is None else np.multiply(r, self.inv, out=out)
        xp, ax = self.xp, self.axis
        kernel = self.kernel_for(r) if xp is np else None
        if kernel is not None:
            l_, dinv, f = kernel
            r = np.ascontiguousarray(r)
            return f(l_, dinv, r, np.empty_like(r) if out is None else out)
        if xp is np:
            d_f, e_f = self.fac
            rm = r if ax == -1 else r.swapaxes(-1, -2)
            shape = rm.shape
            if shape[0] == 1:  # one right-hand side: a 1-D solve, no layout change
                x, _ = lapack.dpttrs(d_f, e_f, rm.ravel())
            else:  # (n, B) Fortran order = (B, n) C order, transposed
                x, _ = lapack.dpttrs(d_f, e_f, np.ascontiguousarray(rm).reshape(
                    shape[0], -1).T)
                x = x.T
            x = x.reshape(shape)
            x = x if ax == -1 else x.swapaxes(-1, -2)
            if out is not None:
                out[...] = x
                return out
            return x
        d = r
        for s, al, ga in self.levels:
            d = d + al * _shift(d, s, ax, xp) + ga * _shift(d, -s, ax, xp)
        return d * self.inv


# ---------------------------------------------------------------------- the grid


@dataclass
class LinearSolution:
    """Result of :func:`solve`.  Arrays are (K, ...) with the draw axis first when G was
    (K, rows, cols), else without it; B = number of input vectors (squeezed when V was a
    vector)."""

    currents: object
    """Column currents [A], (cols, B) (sum of the cell currents of each column)."""
    v_row: object
    """Row node voltages [V], (rows, cols, B) (merged rows repeat their value)."""
    v_col: object
    """Column node voltages [V], (rows, cols, B)."""
    kcl_max: float
    """Largest KCL imbalance at any node, over all draws and vectors [A]."""
    kcl_sum: float
    """Largest (over draws and vectors) sum over nodes of |KCL imbalance| [A]: bounds the
    absolute error of every column current."""
    kcl_rel: float
    """Largest kcl_max / i_ref over draws and vectors."""
    kcl_ratio: float
    """Largest kcl_max / (rtol i_ref + floor) over draws and vectors: <= 1 (accepted)."""
    iterations: int
    """CG iterations (all restarts)."""


class Grid:
    """The nodal system of a linear crossbar for K conductance draws (numpy or torch).

    ``G``: (K, rows, cols) conductances [S] in the backend's array type (float64)."""

    def __init__(self, spec: CrossbarSpec, G):
        xp = self.xp = _xp_of(G)
        self.spec = spec
        R, C = spec.shape
        if G.ndim != 3 or tuple(G.shape[1:]) != (R, C):
            raise ConfigError(f"G must have shape (K, {R}, {C}) (K conductance draws of the "
                              f"spec's array), got {tuple(G.shape)}")
        self.G = G[None]  # (1, K, R, C): broadcast over vectors
        K = G.shape[0]
        self.K = K
        self.row_chain = spec.r_wire_row > 0
        self.col_chain = spec.r_wire_col > 0
        self.gr = 1.0 / spec.r_wire_row if self.row_chain else None
        self.gc = 1.0 / spec.r_wire_col if self.col_chain else None
        self.gs = 1.0 / spec.r_source if spec.r_source > 0 else None
        self.gk = 1.0 / spec.r_sense if spec.r_sense > 0 else None
        Cr = C if self.row_chain else 1
        Rc = R if self.col_chain else 1
        kw = {} if xp is np else {"dtype": G.dtype, "device": G.device}
        bkw = {} if xp is np else {"device": G.device}

        def zeros(shape, boolean=False):
            if xp is np:
                return np.zeros(shape, bool if boolean else np.float64)
            return xp.zeros(shape, dtype=xp.bool if boolean else G.dtype, **bkw)

        # row network diagonal (K, R, Cr) and known nodes
        dr = self.reduce_r(G[None])[0] + zeros((K, R, Cr))
        if self.row_chain:
            deg = zeros((C,)) + 2.0
            deg[0] -= 1
            deg[-1] -= 1
            dr = dr + self.gr * deg
        fr = zeros((K, R, Cr), True)
        if self.gs is not None:
            dr[:, :, 0] += self.gs
        else:
            fr[:, :, 0] = True
        dc = self.reduce_c(G[None])[0] + zeros((K, Rc, C))
        if self.col_chain:
            deg = zeros((R,)) + 2.0
            deg[0] -= 1
            deg[-1] -= 1
            dc = dc + self.gc * deg[:, None]
        fc = zeros((K, Rc, C), True)
        if self.gk is not None:
            dc[:, -1, :] += self.gk
        else:
            fc[:, -1, :] = True
        self.dr, self.dc = dr, dc
        self.fr, self.fc = fr, fc
        # masks of the free nodes (None: every node free)
        self.mr = None if self.gs is not None else (
            xp.where(fr, 0.0, 1.0)[None] if xp is np else (~fr)[None].to(G.dtype))
        self.mc = None if self.gk is not None else (
            xp.where(fc, 0.0, 1.0)[None] if xp is np else (~fc)[None].to(G.dtype))
        self.rows = _Lines(dr, self.gr, fr, -1, xp)
        self.cols = _Lines(dc, self.gc, fc, -2, xp)
        self._kw = kw
        gmax = float(max(float(dr.max()), float(dc.max())))
        self.g_node_max = gmax

    # reductions from cells (B, K, R, C) onto the networks' nodes
    def reduce_r(self, a):
        return a if self.row_chain else _keepsum(a, -1, self.xp)

    def reduce_c(self, a):
        return a if self.col_chain else _keepsum(a, -2, self.xp)

    def chain_r(self, x):
        """Row-network matrix times x (free and fixed nodes; diagonal incl. cells)."""
        y = self.dr * x
        if self.row_chain and x.shape[-1] > 1:
            if self.xp is np:
                _chain_flat(y, x, self.gr, -1)
            else:
                y[..., 1:] -= self.gr * x[..., :-1]
                y[..., :-1] -= self.gr * x[..., 1:]
        return y

    def chain_c(self, x):
        y = self.dc * x
        if self.col_chain and x.shape[-2] > 1:
            if self.xp is np:
                _chain_flat(y, x, self.gc, -2)
            else:
                y[..., 1:, :] -= self.gc * x[..., :-1, :]
                y[..., :-1, :] -= self.gc * x[..., 1:, :]
        return y

    def residual(self, V, xr, xc, jr=None, jc=None):
        """KCL imbalance (currents into each node minus out) at every node; zero at known
        nodes.  V (B, K, R) inputs, xr/xc full node voltages, jr/jc injected currents."""
        if self.xp is np and USE_FUSED and _kernels() is not None:
            return self._residual_fused(V, xr, xc, jr, jc)
        G = self.G
        rr = self.reduce_r(G * xc) - self.chain_r(xr)  # b - A x (the nodal equations)
        rc = self.reduce_c(G * xr) - self.chain_c(xc)
        if self.gs is not None:  # driver: g_s V_i injected at node (i, 0)
            rr[..., 0] += self.gs * V
        if jr is not None:
            rr = rr + jr
        if jc is not None:
            rc = rc + jc
        return _mask(rr, self.mr), _mask(rc, self.mc)

    def _residual_fused(self, V, xr, xc, jr, jc):
        """:meth:`residual` by the compiled kernel :func:`.linekernels.residual`."""
        def full(a, shape):
            return np.ascontiguousarray(np.broadcast_to(a, shape), dtype=np.float64)

        shape_r = np.broadcast_shapes(xr.shape, () if jr is None else np.shape(jr))
        shape_c = np.broadcast_shapes(xc.shape, () if jc is None else np.shape(jc))
        B, K = max(shape_r[0], shape_c[0]), self.K
        shape_r, shape_c = (B, K) + shape_r[2:], (B, K) + shape_c[2:]
        has_j = jr is not None or jc is not None
        jr_ = full(0.0 if jr is None else jr, shape_r) if has_j else np.zeros((1, 1, 1, 1))
        jc_ = full(0.0 if jc is None else jc, shape_c) if has_j else np.zeros((1, 1, 1, 1))
        mr = np.ones(self.dr.shape) if self.mr is None else np.ascontiguousarray(self.mr[0])
        mc = np.ones(self.dc.shape) if self.mc is None else np.ascontiguousarray(self.mc[0])
        rr, rc = np.empty(shape_r), np.empty(shape_c)
        _kernels().residual(np.ascontiguousarray(self.G[0]), np.ascontiguousarray(self.dr),
                            np.ascontiguousarray(self.dc), float(self.gr or 0.0),
                            float(self.gc or 0.0), float(self.gs or 0.0), full(V, (B, K) +
                            V.shape[2:]), full(xr, shape_r), full(xc, shape_c), jr_, jc_,
                            has_j, mr, mc, rr, rc)
        return rr, rc

    def known(self, V):
        """Full node-voltage arrays holding only the known values (inputs; outputs are 0)."""
        B = V.shape[0]
        R, C = self.spec.shape
        xp = self.xp
        shape_r = (B, self.K, R, C if self.row_chain else 1)
        shape_c = (B, self.K, R if self.col_chain else 1, C)
        if xp is np:
            xr, xc = np.zeros(shape_r), np.zeros(shape_c)
        else:
            xr = xp.zeros(shape_r, **self._kw)
            xc = xp.zeros(shape_c, **self._kw)
        if self.gs is None:
            xr[..., 0] = V
        return xr, xc

    # ------------------------------------------------------------------ the solve

    def solve(self, V, jr=None, jc=None, *, rtol: float = RTOL, x0=None,
              max_restarts: int = MAX_RESTARTS, maxiter: int | None = None, atol=None):
        """Node voltages (xr, xc) for inputs V (B, K, R) [V] and optional injected currents
        jr / jc (shaped like xr / xc) [A], plus the KCL report dict.  ``atol`` (B, K) [A]:
        an absolute max-node criterion replacing rtol i_ref + floor (inexact inner solves)."""
        xp = self.xp
        R, C = self.spec.shape
        if x0 is None:
            xr, xc = self.known(V)
        else:
            xr, xc = (a.clone() if xp is not np else a.copy() for a in x0)
        # i_ref: largest ideal column current of |V| (and of the injections), per (B, K)
        absV = xp.abs(V)
        i_ref = _amax((self.G * absV[..., :, None]).sum(-2), -1, xp)
        for j in (jr, jc):
            if j is not None:
                i_ref = i_ref + xp.abs(j).sum((-2, -1))
        vmax = float(absV.max()) if absV.shape[-1] else 0.0
        floor = 16 * np.finfo(np.float64).eps * self.g_node_max * max(vmax, 1e-300)
        tol = rtol * i_ref + floor if atol is None else atol  # (B, K)
        maxiter = maxiter or default_maxiter(R, C)
        total_it = 0
        best = float("inf")
        stall = 0
        for _ in range(max_restarts + 1):
            rr, rc = self.residual(V, xr, xc, jr, jc)
            kmax = _maxabs2(rr, rc, xp)  # (B, K)
            ok = kmax <= tol
            worst = float((kmax / xp.where(tol > 0, tol, xp.ones_like(tol))).max())
            if bool(ok.all()):
                return xr, xc, self._report(rr, rc, kmax, i_ref, tol, total_it)
            if worst >= 0.5 * best:
                stall += 1
                if stall >= 2:
                    break
            best = min(best, worst)
            dr, dcol, it = self._cg(rr, rc, 0.25 * tol, maxiter)
            total_it += it
            xr = xr + dr
            xc = xc + dcol
        rr, rc = self.residual(V, xr, xc, jr, jc)
        kmax = _maxabs2(rr, rc, xp)
        rel = float((kmax / xp.where(i_ref > 0, i_ref, xp.ones_like(i_ref))).max())
        raise _not_converged(float(kmax.max()), rel, rtol, floor, total_it)

    def _report(self, rr, rc, kmax, i_ref, tol, it):
        xp = self.xp
        ksum = _sumabs2(rr, rc, xp)
        rel = kmax / xp.where(i_ref > 0, i_ref, xp.ones_like(i_ref))
        return {"kcl_max": float(kmax.max()), "kcl_sum": float(ksum.max()),
                "kcl_rel": float(rel.max()), "kcl_ratio": float((kmax / tol).max()),
                "iterations": it}

    def _cg(self, fr, fc, tol, maxiter):
        """Solve A (dr, dc) = (fr, fc) on the free nodes to a max-norm KCL residual <= tol
        (B, K): CG on the row-network Schur complement, row-line preconditioned."""
        if self.xp is np:
            if USE_FUSED and _kernels() is not None:
                return self._cg_fused(fr, fc, tol, maxiter)
            return self._cg_numpy(fr, fc, tol, maxiter)
        xp = self.xp
        G, mr, mc = self.G, self.mr, self.mc
        cols, rows = self.cols, self.rows

        def col_solve(f):  # T_c^-1 f on the free column nodes
            return cols.solve(_mask(f, mc))  # line solves keep known nodes at 0

        def S(p):
            u = col_solve(self.reduce_c(G * p))
            return _mask(self.chain_r(p) - self.reduce_r(G * u), mr)

        # Schur right-hand side
        wc = col_solve(fc)
        b = _mask(fr + self.reduce_r(G * wc), mr)
        x = xp.zeros_like(b)
        r = b
        z = rows.solve(r)
        p = z
        rz = _dot(r, z, xp)
        it = 0
        # the recursive residual is only used to stop; the caller checks the true KCL
        tol_r = tol[..., None, None]
        for it in range(1, maxiter + 1):  # noqa: B007 (returned)
            if bool((xp.abs(r) <= 0.5 * tol_r).all()):
                it -= 1
                break
            q = S(p)
            pq = _dot(p, q, xp)
            alpha = _safe_div(rz, pq, xp)
            x = x + alpha[..., None, None] * p
            r = r - alpha[..., None, None] * q
            z = rows.solve(r)
            rz_new = _dot(r, z, xp)
            beta = _safe_div(rz_new, rz, xp)
            rz = rz_new
            p = z + beta[..., None, None] * p
        dcol = col_solve(fc + self.reduce_c(G * x))
        return x, dcol, it


    def _cg_fused(self, fr, fc, tol, maxiter):
        """:meth:`_cg` by the compiled kernel :func:`.linekernels.cg_batch`: each (vector,
        draw) pair runs the same iteration on its own arrays, pairs in parallel."""
        lr, dir_ = self.rows.natural()
        lc, dic = self.cols.natural()
        mr = np.ones(self.dr.shape) if self.mr is None else np.ascontiguousarray(self.mr[0])
        mc = np.ones(self.dc.shape) if self.mc is None else np.ascontiguousarray(self.mc[0])
        G = np.ascontiguousarray(self.G[0])
        fr = np.ascontiguousarray(np.broadcast_to(fr, fr.shape[:2] + self.dr.shape[1:]))
        fc = np.ascontiguousarray(np.broadcast_to(fc, fc.shape[:2] + self.dc.shape[1:]))
        tol = np.ascontiguousarray(np.broadcast_to(tol, fr.shape[:2]), dtype=np.float64)
        x, dcol = np.empty_like(fr), np.empty_like(fc)
        iters = np.zeros(fr.shape[:2], dtype=np.int64)
        _kernels().cg_batch(G, np.ascontiguousarray(self.dr), lr, dir_, mr, lc, dic, mc,
                            float(self.gr or 0.0), fr, fc, tol, int(maxiter), x, dcol, iters)
        return x, dcol, int(iters.max()) if iters.size else 0

    def _cg_numpy(self, fr, fc, tol, maxiter):
        """:meth:`_cg` for numpy with every grid-sized array allocated once: the same
        operations in place (fresh multi-MB temporaries per operation cost page faults that
        made batched solves 2-3x slower here)."""
        G, mr, mc = self.G, self.mr, self.mc
        cols, rows = self.cols, self.rows
        ein = np.einsum
        B, K = fr.shape[:2]
        R, C = self.spec.shape
        cell = np.empty((B, K, R, C))  # G * (a row- or column-network vector)
        shape_c = fc.shape
        u = np.empty(shape_c)

        def col_solve(f, out):  # T_c^-1 f on the free column nodes
            if mc is not None:
                f = np.multiply(f, mc, out=out)
            return cols.solve(f, out=out)

        def S(p, out):
            np.multiply(G, p, out=cell)
            f = cell if self.col_chain else cell.sum(-2, keepdims=True)
            col_solve(f, u)
            np.multiply(G, u, out=cell)
            if self.row_chain:
                _chain_into(self.dr, p, self.gr, -1, out)
                out -= cell
            else:
                np.multiply(self.dr, p, out=out)
                out -= cell.sum(-1, keepdims=True)
            if mr is not None:
                out *= mr
            return out

        # Schur right-hand side
        wc = col_solve(np.array(fc), np.empty(shape_c))
        np.multiply(G, wc, out=cell)
        b = fr + (cell if self.row_chain else cell.sum(-1, keepdims=True))
        if mr is not None:
            b *= mr
        x = np.zeros_like(b)
        r = b
        z = rows.solve(r, out=np.empty_like(b))
        p = z.copy()
        q = np.empty_like(b)
        rz = ein("...ij,...ij->...", r, z)
        it = 0
        tol_r = 0.5 * tol[..., None, None]
        for it in range(1, maxiter + 1):  # noqa: B007 (returned)
            if bool((np.abs(r) <= tol_r).all()):
                it -= 1
                break
            S(p, q)
            pq = ein("...ij,...ij->...", p, q)
            alpha = _safe_div(rz, pq, np)[..., None, None]
            x += alpha * p  # (a temporary here is cheaper than two in-place passes)
            np.multiply(q, alpha, out=q)
            r -= q
            rows.solve(r, out=z)
            rz_new = ein("...ij,...ij->...", r, z)
            beta = _safe_div(rz_new, rz, np)[..., None, None]
            rz = rz_new
            p *= beta
            p += z
        np.multiply(G, x, out=cell)
        f = fc + (cell if self.col_chain else cell.sum(-2, keepdims=True))
        dcol = col_solve(f, f)
        return x, dcol, it


def _chain_into(d, x, g: float, axis: int, out):
    """out = d x - g (x shifted by +-1 node along the chains) (numpy, see _chain_flat)."""
    np.multiply(d, x, out=out)
    _chain_flat(out, x, g, axis)
    return out


def _chain_flat(y, x, g: float, axis: int) -> None:
    """y -= g (x shifted by +-1 node along the chains of ``axis``: -1 rows, -2 columns), in
    place, for numpy arrays (..., R, C).  Flat slices of each (R, C) plane instead of strided
    4-D slices (those cost ~10x more here); the coupling across a row chain's ends is
    multiplied by an exact 0."""
    n_r, n_c = y.shape[-2], y.shape[-1]
    y2 = y.reshape(-1, n_r * n_c)
    x2 = np.ascontiguousarray(np.broadcast_to(x, y.shape)).reshape(-1, n_r * n_c)
    if axis == -1:  # no coupling from the last node of a row to the first of the next
        w = np.full(n_r * n_c - 1, g)
        w[n_c - 1::n_c] = 0.0
        y2[:, 1:] -= w * x2[:, :-1]
        y2[:, :-1] -= w * x2[:, 1:]
    else:
        y2[:, n_c:] -= g * x2[:, :-n_c]
        y2[:, :-n_c] -= g * x2[:, n_c:]


def _mask(x, m):
    return x if m is None else x * m


def _dot(a, b, xp):
    if xp is np:
        return np.einsum("...ij,...ij->...", a, b)
    return (a * b).sum((-2, -1))


def _keepsum(a, axis, xp):
    return a.sum(axis, keepdims=True) if xp is np else a.sum(axis, keepdim=True)


def _amax(a, axis, xp):
    return a.max(axis) if xp is np else a.amax(axis)


def _safe_div(a, b, xp):
    if xp is np:
        return np.divide(a, b, out=np.zeros_like(a), where=b > 0)
    return xp.where(b > 0, a / xp.where(b > 0, b, xp.ones_like(b)), xp.zeros_like(a))


def _maxabs2(a, b, xp):
    if xp is np:
        return np.maximum(np.abs(a).max((-2, -1)), np.abs(b).max((-2, -1)))
    return xp.maximum(a.abs().amax((-2, -1)), b.abs().amax((-2, -1)))


def _sumabs2(a, b, xp):
    return xp.abs(a).sum((-2, -1)) + xp.abs(b).sum((-2, -1))


# ---------------------------------------------------------------------- public entry


def _as_backend(x, xp, like=None):
    if xp is np:
        if _is_torch(x):
            x = x.detach().cpu().numpy()
        return np.asarray(x, dtype=np.float64)
    import torch

    if isinstance(x, torch.Tensor):
        return x.to(dtype=torch.float64, device=like.device if like is not None else x.device)
    return torch.as_tensor(np.array(x, dtype=np.float64), dtype=torch.float64,
                           device=like.device if like is not None else None)


def prepare(spec: CrossbarSpec, V, G=None, *, backend: str | None = None, device=None):
    """Validate and lay out inputs: returns (xp, G (K, R, C), V (B, K, R), batched, vector).

    ``G``: None (the spec's), (rows, cols) or (K, rows, cols) [S]; ``V``: (rows,), (rows, B)
    or, with batched G, (K, rows, B) [V].  ``backend`` None: torch if G or V is a tensor."""
    if not isinstance(spec, CrossbarSpec):
        raise ConfigError(f"needs a CrossbarSpec, got {type(spec).__name__}")
    if not spec.is_linear:
        raise ConfigError("the PCG solver is for linear 1R arrays (no access transistor, no "
                          "sinh_v0); use CrossbarSolver for nonlinear cells")
    if backend is None:
        backend = "torch" if (_is_torch(G) or _is_torch(V)) else "numpy"
    if backend not in ("numpy", "torch"):
        raise ConfigError(f"backend must be 'numpy' or 'torch', got {backend!r}")
    if backend == "torch":
        import torch

        from .solver import _torch_device

        xp = torch
        dev = _torch_device(device) if device is not None or not (
            _is_torch(G) or _is_torch(V)) else (G.device if _is_torch(G) else V.device)
        ref = torch.zeros((), dtype=torch.float64, device=dev)
    else:
        xp, ref = np, None
    R, C = spec.shape
    g = _as_backend(spec.conductance if G is None else G, xp, ref)
    batched = g.ndim == 3
    if g.ndim == 2:
        g = g[None]
    if g.ndim != 3 or tuple(g.shape[1:]) != (R, C):
        raise ConfigError(f"G must have shape ({R}, {C}) or (K, {R}, {C}) (the spec's array, "
                          f"K draws), got {tuple(g.shape)}")
    if not bool((g > 0).all()) or not bool(xp.isfinite(g).all()):
        raise ConfigError("G must be finite and > 0 [S] (use a tiny g_min for an 'off' cell)")
    v = _as_backend(V, xp, g)
    vector = v.ndim == 1
    if v.ndim == 1:
        v = v[:, None]
    if v.ndim == 2:
        if v.shape[0] != R:
            raise ConfigError(f"V must have shape (rows,) or (rows, B) with rows = {R}, got "
                              f"{tuple(v.shape)}")
        v = v.T[:, None, :]  # (B, 1, R): shared by every draw
        v = v.expand(-1, g.shape[0], -1) if xp is not np else np.broadcast_to(
            v, (v.shape[0], g.shape[0], R))
    elif v.ndim == 3:
        if not batched or tuple(v.shape[:2]) != (g.shape[0], R):
            raise ConfigError(f"V of shape (K, rows, B) needs G of shape (K, rows, cols) with "
                              f"the same K and rows = {R}; got V {tuple(v.shape)}, G "
                              f"{tuple(g.shape)}")
        v = v.permute(2, 0, 1) if xp is not np else v.transpose(2, 0, 1)
    else:
        raise ConfigError(f"V must be (rows,), (rows, B) or (K, rows, B), got {tuple(v.shape)}")
    if v.shape[0] < 1:
        raise ConfigError("V has no input vectors")
    if not bool(xp.isfinite(v).all()):
        raise ConfigError("V must be finite; it holds NaN or inf values")
    v = v.contiguous() if xp is not np else np.ascontiguousarray(v)
    return xp, g, v, batched, vector


def currents_layout(I, batched: bool, vector: bool):
    """(B, K, C) column currents -> the caller's layout ((K,) (cols,) (, B))."""
    I = I.permute(1, 2, 0) if _is_torch(I) else I.transpose(1, 2, 0)  # (K, C, B)
    if vector:
        I = I[..., 0]
    return I if batched else I[0]


def _outputs(grid: Grid, xr, xc, batched: bool, vector: bool):
    """Column currents and full (K, R, C, B) node voltages from (B, K, ...) arrays."""
    xp = grid.xp
    I = currents_layout((grid.G * (xr - xc)).sum(-2), batched, vector)
    R, C = grid.spec.shape
    shape = (xr.shape[0], grid.K, R, C)
    perm4 = (1, 2, 3, 0)
    if xp is np:
        vr = np.ascontiguousarray(np.broadcast_to(xr, shape).transpose(perm4))
        vc = np.ascontiguousarray(np.broadcast_to(xc, shape).transpose(perm4))
    else:
        vr = xr.expand(shape).permute(*perm4).contiguous()
        vc = xc.expand(shape).permute(*perm4).contiguous()
    if vector:
        vr, vc = vr[..., 0], vc[..., 0]
    if not batched:
        vr, vc = vr[0], vc[0]
    return I, vr, vc


def solve(spec: CrossbarSpec, V, G=None, *, rtol: float = RTOL, backend: str | None = None,
          device=None, maxiter: int | None = None) -> LinearSolution:
    """Exact column currents and node voltages of a linear 1R crossbar with conductances
    ``G`` (default the spec's; (K, rows, cols) = K draws in one call), inputs ``V`` (rows,),
    (rows, B) or (K, rows, B).  Wire, driver and sense resistances from ``spec`` (zeros
    included).  Raises ConvergenceError when the KCL criterion cannot be met.  ``maxiter``:
    CG iterations per restart (default 4 (rows + cols) + 200; a safety cap, never the
    acceptance test)."""
    xp, g, v, batched, vector = prepare(spec, V, G, backend=backend, device=device)
    on_cpu = xp is not np and g.device.type == "cpu"
    if on_cpu:  # LAPACK line solves beat cyclic reduction on a CPU: same equations in numpy
        g, v = g.detach().numpy(), v.detach().numpy()
    R, C = spec.shape
    B, K = v.shape[0], g.shape[0]
    if (xp is np or on_cpu) and B * K == 1 and USE_ONE_CALL and _kernels() is not None:
        out = _solve_one(spec, g[0], v[0, 0], rtol, maxiter)
        I, vr, vc = out.currents, out.v_row, out.v_col
        if not vector:
            I, vr, vc = I[:, None], vr[..., None], vc[..., None]
        if batched:
            I, vr, vc = I[None], vr[None], vc[None]
        if on_cpu:
            I, vr, vc = (xp.from_numpy(a) for a in (I, vr, vc))
        out.currents, out.v_row, out.v_col = I, vr, vc
        return out
    if xp is not np or B * K * R * C <= CHUNK_NODES:
        grid = Grid(spec, g)
        xr, xc, rep = grid.solve(v, rtol=rtol, maxiter=maxiter)
        I, vr, vc = _outputs(grid, xr, xc, batched, vector)
    else:
        I, vr, vc, rep = _solve_chunked(spec, g, v, rtol, maxiter)
        if vector:
            I, vr, vc = I[..., 0], vr[..., 0], vc[..., 0]
        if not batched:
            I, vr, vc = I[0], vr[0], vc[0]
    if on_cpu:
        I, vr, vc = (xp.from_numpy(np.array(a)) for a in (I, vr, vc))
    return LinearSolution(I, vr, vc, rep["kcl_max"], rep["kcl_sum"], rep["kcl_rel"],
                          rep["kcl_ratio"], rep["iterations"])


def _solve_one(spec: CrossbarSpec, g, v, rtol: float, maxiter: int | None) -> LinearSolution:
    """One vector v (R,) of one conductance matrix g (R, C) by :func:`.linekernels.solve_one`
    (the same equations and KCL criterion as :meth:`Grid.solve`, in one compiled call)."""
    R, C = spec.shape
    I, vr, vc, rep = np.empty(C), np.empty((R, C)), np.empty((R, C)), np.zeros(6)
    kern = _kernels()
    par = (PAR_MIN_NODES is not None and R * C >= PAR_MIN_NODES and spec.r_wire_row > 0
           and spec.r_wire_col > 0)
    threads = kern.threads() if par else 1
    status = kern.solve_one(np.ascontiguousarray(g), np.ascontiguousarray(v),
                            *line_conductances(spec), float(rtol),
                            int(maxiter or default_maxiter(R, C)), MAX_RESTARTS,
                            int(threads), I, vr, vc, rep)
    if status == 1:
        raise ConfigError(_NOT_PD.format(info="a pivot <= 0 in the compiled factorization"))
    if status == 2:
        raise _not_converged(rep[0], rep[2], rtol, rep[5], int(rep[4]))
    return LinearSolution(I, vr, vc, float(rep[0]), float(rep[1]), float(rep[2]),
                          float(rep[3]), int(rep[4]))


def _solve_chunked(spec, g, v, rtol, maxiter):
    """numpy :func:`solve` of many draws x vectors in pieces of at most CHUNK_NODES nodes
    (each piece its own Grid): (K, C, B) currents, (K, R, C, B) node voltages, the report
    (worst over the pieces; iterations: the most any piece needed)."""
    R, C = spec.shape
    B, K = v.shape[0], g.shape[0]
    kc = max(1, min(K, CHUNK_NODES // (R * C)))
    bc = max(1, min(B, CHUNK_NODES // (kc * R * C)))
    I = np.empty((K, C, B))
    vr, vc = np.empty((K, R, C, B)), np.empty((K, R, C, B))
    rep = {"kcl_max": 0.0, "kcl_sum": 0.0, "kcl_rel": 0.0, "kcl_ratio": 0.0, "iterations": 0}
    for k0 in range(0, K, kc):
        grid = Grid(spec, g[k0:k0 + kc])
        for b0 in range(0, B, bc):
            xr, xc, r = grid.solve(v[b0:b0 + bc, k0:k0 + kc], rtol=rtol, maxiter=maxiter)
            i_, r_, c_ = _outputs(grid, xr, xc, True, False)
            I[k0:k0 + kc, :, b0:b0 + bc] = i_
            vr[k0:k0 + kc, ..., b0:b0 + bc] = r_
            vc[k0:k0 + kc, ..., b0:b0 + bc] = c_
            rep = {key: max(rep[key], r[key]) for key in rep}
    return I, vr, vc, rep
