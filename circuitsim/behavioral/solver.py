"""CrossbarSolver: factor once, evaluate many input vectors (numpy or torch).

* Linear 1R arrays: the exact input -> output map is a fixed (rows x cols) matrix ``A``
  (``I = A^T V``), computed once by the block elimination of :mod:`.blocks`; every input
  vector then costs one dense matrix-vector product, like the ideal MVM.
* Nonlinear arrays (1T1R access transistor, sinh read I-V): the circuit linearised at zero
  bias is factored once (same block elimination, factors kept); each batch is then solved by
  a chord-Newton iteration on the node voltages -- the linear solution is the warm start, and
  each step re-evaluates the exact cell currents (level-1 equations of the card, internal
  memristor/transistor node solved per cell) and corrects with the fixed factorization.  A
  vector that does not converge falls back to full Newton on the sparse nodal Jacobian
  (:class:`.nodal.NodalSolver`).
"""

from __future__ import annotations

import numpy as np

from ..crossbar.spec import CrossbarSpec
from ..errors import ConfigError, ConvergenceError
from . import cells as cells_np
from .blocks import BlockSolver, solve_with_factors
from .nodal import NodalSolver

STORE_LIMIT_BYTES = 1 << 30
"""Above this size the per-row factors (2 R C^2 doubles) are not kept: node voltages of very
large arrays use the sparse nodal solver instead."""


def _check_backend(backend: str, device):
    if backend not in ("numpy", "torch"):
        raise ConfigError(f"backend must be 'numpy' or 'torch', got {backend!r}")
    if backend == "numpy" and device is not None:
        raise ConfigError("device is only meaningful with backend='torch'")


def _torch_device(device):
    import torch

    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class CrossbarSolver:
    """Reusable exact crossbar solver (see the module docstring).

    ``backend``: "numpy" or "torch" (float64 by default; ``device`` None = CUDA when
    available, else CPU).  ``tol`` [V]: chord-Newton step tolerance for nonlinear cells.
    ``progress``: tqdm bar over rows during setup of large arrays."""

    def __init__(self, spec: CrossbarSpec, backend: str = "numpy", device=None, *,
                 dtype=None, tol: float = 1e-13, max_iter: int = 100,
                 progress: bool = False):
        if not isinstance(spec, CrossbarSpec):
            raise ConfigError(f"CrossbarSolver needs a CrossbarSpec, got {type(spec).__name__}")
        _check_backend(backend, device)
        self.spec = spec
        self.backend = backend
        self.tol, self.max_iter = tol, max_iter
        self.progress = progress
        self._A = None
        self._block = None
        self._factors_t = None
        self.stats: dict = {}
        if backend == "torch":
            import torch

            self.device = _torch_device(device)
            self.dtype = dtype or torch.float64
        else:
            self.device = None
            self.dtype = dtype or np.float64
        if spec.is_linear:
            self._A = BlockSolver(spec, progress=progress).transfer_matrix()
            self._A_t = self._to(self._A) if backend == "torch" else None
        else:
            self.g0 = self._zero_bias_conductance()
            self._block = BlockSolver(spec, self.g0, store=True, progress=progress)

    # ------------------------------------------------------------------ conversions

    def _to(self, a):
        import torch

        return torch.tensor(np.array(a), dtype=self.dtype, device=self.device)

    def _inputs(self, V):
        """(rows, K) array in the backend's type, and whether V was a vector."""
        if self.backend == "torch":
            import torch

            if isinstance(V, torch.Tensor):
                Vn = V.detach().cpu().numpy()
                v2, vector = self.spec.check_inputs(Vn)
                Vt = V.to(device=self.device, dtype=self.dtype)
                return (Vt[:, None] if vector else Vt), vector
            v2, vector = self.spec.check_inputs(V)
            return self._to(v2), vector
        return self.spec.check_inputs(V)

    # ------------------------------------------------------------------ public API

    @property
    def transfer_matrix(self):
        """A (rows, cols) with ``I = A^T V`` (linear 1R arrays only)."""
        if self._A is None:
            raise ConfigError("transfer_matrix exists only for linear 1R arrays (no access "
                              "transistor, no sinh_v0): the nonlinear map depends on V")
        return self._A_t if self.backend == "torch" else self._A

    def column_currents(self, V):
        """Column currents [A]: V (rows,) -> (cols,), (rows, K) -> (cols, K)."""
        v, vector = self._inputs(V)
        if self.spec.is_linear:
            A = self._A_t if self.backend == "torch" else self._A
            out = A.T @ v
        else:
            vr, vc, vm = self._newton(v)
            out = self._cell_currents(vr, vc, vm).sum(0)
        return out[:, 0] if vector else out

    def node_voltages(self, V):
        """Row and column node voltages ``(v_row, v_col)``, each (rows, cols[, K]) [V] (cell
        voltage = v_row - v_col; merged nodes repeat their value)."""
        v, vector = self._inputs(V)
        if self.spec.is_linear:
            vr, vc = self._linear_nodes(v)
        else:
            vr, vc, _ = self._newton(v)
        if vector:
            return vr[..., 0], vc[..., 0]
        return vr, vc

    # ------------------------------------------------------------------ linear

    def _linear_nodes(self, v):
        R, C = self.spec.shape
        if 2 * R * C * C * 8 <= STORE_LIMIT_BYTES:
            if self._block is None:
                self._block = BlockSolver(self.spec, store=True)
            return self._solve(v, None, None)
        vn = v.cpu().numpy() if self.backend == "torch" else v
        vr, vc, _ = NodalSolver(self.spec).solve(vn)
        if self.backend == "torch":
            return self._to(vr), self._to(vc)
        return vr, vc

    def _solve(self, v, j_row, j_col):
        b = self._block
        f = b.factors()
        if self.backend == "torch":
            import torch

            if self._factors_t is None:
                self._factors_t = ({k: self._to(a) for k, a in f.items()}, self._to(b.g))
            ft, gt = self._factors_t
            return solve_with_factors(ft, gt, v, j_row, j_col, b.gc, b.gk, xp=torch)
        return solve_with_factors(f, b.g, v, j_row, j_col, b.gc, b.gk, xp=np)

    # ------------------------------------------------------------------ nonlinear

    def _zero_bias_conductance(self) -> np.ndarray:
        """Small-signal cell conductance d i / d v_row at v_row = v_col = 0 [S]."""
        G = self.spec.conductance
        z = np.zeros_like(G)
        _, di_dvr, _, _ = cells_np.cell_current(self.spec, G, z, z)
        if not (np.isfinite(di_dvr).all() and (di_dvr > 0).all()):
            raise ConfigError("the access transistors do not conduct at zero bias "
                              "(v_wordline <= vto?): the 1T1R array is off")
        return di_dvr

    def _cells(self):
        if self.backend == "torch":
            from . import cells_torch

            return cells_torch
        return cells_np

    def _cell_currents(self, vr, vc, vm):
        G = self._G()
        mod = self._cells()
        if vm is None:
            return mod.memristor_current(self.spec, G, vr - vc)[0]
        return mod.memristor_current(self.spec, G, vr - vm)[0]

    def _G(self):
        if self.backend == "torch":
            if getattr(self, "_G_t", None) is None:
                self._G_t = self._to(self.spec.conductance)[:, :, None]
            return self._G_t
        return self.spec.conductance[:, :, None]

    def _newton(self, v):
        """Chord-Newton on (v_row, v_col) for a batch; returns (vr, vc, vm)."""
        mod = self._cells()
        G = self._G()
        g0 = self._to(self.g0)[:, :, None] if self.backend == "torch" else self.g0[:, :, None]
        vr, vc = self._solve(v, None, None)  # linear warm start
        vm = None
        it = 0
        step = float("inf")
        for it in range(1, self.max_iter + 1):  # noqa: B007 (it is reported in stats)
            i_cell, _, _, vm = mod.cell_current(self.spec, G, vr, vc, vm)
            corr = g0 * (vr - vc) - i_cell  # current into the row node, out of the column
            vr_new, vc_new = self._solve(v, corr, -corr)
            step = float(max(_absmax(vr_new - vr), _absmax(vc_new - vc)))
            vr, vc = vr_new, vc_new
            if step <= self.tol:
                break
        else:
            vr, vc = self._fallback(v, vr, vc, step)
        _, _, _, vm = mod.cell_current(self.spec, G, vr, vc, vm)
        self.stats = {"iterations": it, "last_step_v": step}
        return vr, vc, vm

    def _fallback(self, v, vr, vc, step):
        """Full Newton (sparse nodal Jacobian) for a batch the chord iteration could not
        converge (strongly nonlinear operating points)."""
        try:
            vn = v.cpu().numpy() if self.backend == "torch" else v
            vr_n, vc_n, _ = NodalSolver(self.spec).solve(vn)
        except ConvergenceError as exc:
            raise ConvergenceError(f"crossbar chord-Newton stalled (last step {step:.3g} V) "
                                   f"and full Newton failed: {exc}") from None
        if self.backend == "torch":
            return self._to(vr_n), self._to(vc_n)
        return vr_n, vc_n


def _absmax(x) -> float:
    if hasattr(x, "abs") and not isinstance(x, np.ndarray):
        return float(x.abs().max()) if x.numel() else 0.0
    return float(np.max(np.abs(x))) if x.size else 0.0


def column_currents(spec: CrossbarSpec, V, backend: str = "numpy", device=None):
    """Exact column currents [A] of the crossbar (IR drop, access transistors, nonlinear
    cells): V (rows,) -> (cols,), (rows, K) -> (cols, K).  For repeated use build a
    :class:`CrossbarSolver` once."""
    return CrossbarSolver(spec, backend=backend, device=device).column_currents(V)


def node_voltages(spec: CrossbarSpec, V, backend: str = "numpy", device=None):
    """Row and column node voltages (rows, cols[, K]) [V]; see
    :meth:`CrossbarSolver.node_voltages`."""
    return CrossbarSolver(spec, backend=backend, device=device).node_voltages(V)


def differential_currents(spec_pos: CrossbarSpec, spec_neg: CrossbarSpec, V,
                          backend: str = "numpy", device=None):
    """Signed outputs of a differential pair: ``I+ - I-`` [A] with the G+ array and the G-
    array driven by the same inputs (two physical arrays of the same shape)."""
    from ..crossbar.spec import check_conductance_pair

    if not isinstance(spec_pos, CrossbarSpec) or not isinstance(spec_neg, CrossbarSpec):
        raise ConfigError("differential_currents needs two CrossbarSpec (G+ and G-)")
    check_conductance_pair(spec_pos, spec_neg)
    pos = column_currents(spec_pos, V, backend=backend, device=device)
    neg = column_currents(spec_neg, V, backend=backend, device=device)
    return pos - neg
