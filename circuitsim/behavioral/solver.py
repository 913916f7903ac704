"""CrossbarSolver: factor once, evaluate many input vectors (numpy or torch).

* Linear 1R arrays: the exact input -> output map is a fixed (rows x cols) matrix ``A``
  (``I = A^T V``), computed once by the block elimination of :mod:`.blocks`; every input
  vector then costs one dense matrix-vector product, like the ideal MVM.
* Nonlinear arrays (1T1R access transistor, sinh read I-V): the circuit linearised at zero
  bias is factored once (same block elimination, factors kept); each batch is then solved by
  a chord-Newton iteration on the node voltages -- the linear solution is the warm start, and
  each step re-evaluates the exact cell currents (level-1 equations of the card, internal
  memristor/transistor node solved per cell) and corrects with the fixed factorization.  A
  batch whose chord iteration stalls or diverges falls back to full Newton on the sparse
  nodal Jacobian (:class:`.nodal.NodalSolver`), vector by vector.
"""

from __future__ import annotations

import numpy as np

from ..crossbar.spec import CrossbarSpec, check_memory
from ..errors import ConfigError, ConvergenceError
from . import cells as cells_np
from . import newton, pcg
from .blocks import BlockSolver, solve_with_factors
from .nodal import NodalSolver

STORE_LIMIT_BYTES = 1 << 30
"""Above this size the per-row factors (2 R C^2 doubles) are not kept: node voltages of very
large linear arrays come from the Schur-complement PCG of :mod:`.pcg`, nonlinear arrays use
full Newton on the sparse Jacobian."""


def blas_limit(threads: int | None):
    """Context manager limiting the BLAS thread pool (threadpoolctl, a scikit-learn
    dependency); ``None`` or a missing threadpoolctl leave it alone.

    Why: on a machine whose cores are shared, multi-threaded OpenBLAS spin-waits and the
    block factorization slowed down up to ~100x here (a 128x128 setup took 18 s instead of
    0.1 s with 6 engineers on 2 cores); one thread per solver is robust."""
    import contextlib

    if threads is None:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        return contextlib.nullcontext()
    return threadpool_limits(limits=threads, user_api="blas")


def _check_backend(backend: str, device):
    if backend not in ("numpy", "torch"):
        raise ConfigError(f"backend must be 'numpy' or 'torch', got {backend!r}")
    if backend == "numpy" and device is not None:
        raise ConfigError("device is only meaningful with backend='torch'")


def _torch_device(device):
    import torch

    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(f"device {device!r} is not a torch device (use None, 'cpu' or "
                          f"'cuda[:N]'): {exc}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r}: this torch build sees no CUDA device; use "
                          "device='cpu' or None (CUDA when available)")
    return dev


class CrossbarSolver:
    """Reusable exact crossbar solver (see the module docstring).

    ``backend``: "numpy" or "torch" (float64 by default; ``device`` None = CUDA when
    available, else CPU).  ``tol`` [V]: chord-Newton step tolerance for nonlinear cells.
    ``progress``: tqdm bar over rows during setup of large arrays.  ``blas_threads``: BLAS
    threads for numpy work (default 1, see :func:`blas_limit`; None = leave as is)."""

    def __init__(self, spec: CrossbarSpec, backend: str = "numpy", device=None, *,
                 dtype=None, tol: float = 1e-13, max_iter: int = 100,
                 progress: bool = False, blas_threads: int | None = 1):
        if not isinstance(spec, CrossbarSpec):
            raise ConfigError(f"CrossbarSolver needs a CrossbarSpec, got {type(spec).__name__}")
        _check_backend(backend, device)
        check_memory(spec.rows, spec.cols, "map")  # issue 12: refuse before allocating
        self.spec = spec
        self.backend = backend
        self.tol, self.max_iter = tol, max_iter
        self.progress = progress
        self.blas_threads = blas_threads
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
        R, C = spec.shape
        self._nodal_only = (not spec.is_linear) and 2 * R * C * C * 8 > STORE_LIMIT_BYTES
        with blas_limit(blas_threads):
            if spec.is_linear:
                self._A = BlockSolver(spec, progress=progress).transfer_matrix()
                self._A_t = self._to(self._A) if backend == "torch" else None
            else:
                self.g0 = self._zero_bias_conductance()
                if not self._nodal_only:  # else: full Newton per vector (sparse Jacobian)
                    self._block = BlockSolver(spec, self.g0, store=True, progress=progress)

    # ------------------------------------------------------------------ conversions

    def _to(self, a):
        import torch

        return torch.tensor(np.array(a), dtype=self.dtype, device=self.device)

    def _inputs(self, V):
        """(rows, K) array in the backend's type, and whether V was a vector."""
        if self.backend == "torch":
            import torch

            if isinstance(V, torch.Tensor):  # validated on its device (no host copy)
                R = self.spec.rows
                if V.dim() not in (1, 2) or V.shape[0] != R or (V.dim() == 2 and
                                                                 V.shape[1] < 1):
                    raise ConfigError(f"V must have shape (rows,) or (rows, K) with rows = "
                                      f"{R} (one input voltage per crossbar row), got shape "
                                      f"{tuple(V.shape)}")
                if V.is_complex():
                    raise ConfigError("V must be real [V]; got a complex tensor")
                if not bool(torch.isfinite(V).all()):
                    raise ConfigError("V must be finite; it holds NaN or inf values")
                Vt = V.to(device=self.device, dtype=self.dtype)
                return (Vt[:, None] if V.dim() == 1 else Vt), V.dim() == 1
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
        if self.spec.is_linear:  # one matrix product: the caller's BLAS settings apply
            return self._column_currents(V)
        with blas_limit(self.blas_threads):
            return self._column_currents(V)

    def _column_currents(self, V):
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
        with blas_limit(self.blas_threads):
            return self._node_voltages(V)

    def _node_voltages(self, V):
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
        out = pcg.solve(self.spec, v)  # numpy or torch (on v's device), every topology
        return out.v_row, out.v_col

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
        return cells_np  # one text for numpy and torch (array module from the arguments)

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
        if self._nodal_only:
            vr, vc = self._fallback(v, None, None, float("nan"))
            return vr, vc, mod.cell_current(self.spec, G, vr, vc)[3]
        vr, vc = self._solve(v, None, None)  # linear warm start
        vm = None
        it = 0
        step = prev = float("inf")
        converged = False
        for it in range(1, self.max_iter + 1):  # noqa: B007 (it is reported in stats)
            i_cell, _, _, vm = mod.cell_current(self.spec, G, vr, vc, vm)
            corr = g0 * (vr - vc) - i_cell  # current into the row node, out of the column
            vr_new, vc_new = self._solve(v, corr, -corr)
            step = float(max(_absmax(vr_new - vr), _absmax(vc_new - vc)))
            vr, vc = vr_new, vc_new
            if step <= self.tol:
                converged = True
                break
            if not np.isfinite(step) or (it > 5 and step > prev):
                break  # diverging or stalled: strongly nonlinear, use full Newton
            prev = step
        if not converged:
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


PCG_AUTO_VECTORS = 4
"""``method="auto"`` uses the PCG of :mod:`.pcg` (new conductances at the cost of a few sparse
passes per vector) for a linear array when the number of vectors is at most
``max(PCG_AUTO_VECTORS, min(rows, cols) // 4)``, and the block transfer map (O(R C^3) once,
then one dense product per vector) for larger batches: the crossover measured here
(benchmarks/bench_crossbar.py) lies near min(rows, cols) / 3 vectors."""

METHODS = ("auto", "map", "pcg", "cg", "sparse")


def _shape(V) -> tuple:
    return tuple(V.shape) if hasattr(V, "shape") else np.shape(V)  # arrays, tensors, lists


def _n_vectors(V) -> int:
    shape = _shape(V)
    return int(shape[1]) if len(shape) == 2 else 1


def _require_real(V) -> None:
    """A :class:`ConfigError` for complex input voltages (numpy or torch), on every path."""
    is_complex = getattr(V, "is_complex", None)
    if (is_complex() if callable(is_complex) else np.iscomplexobj(V)):
        raise ConfigError("V must be real [V]; got complex values (take the real part "
                          "explicitly if that is what you mean)")


def _pick_method(spec: CrossbarSpec, V, backend: str = "numpy") -> str:
    k = _n_vectors(V)
    if not spec.is_linear and backend == "numpy" and k * spec.rows * spec.cols >= \
            newton.COMPILED_MIN_CELLS and newton.compiled_supported(spec):
        return "pcg"  # compiled Newton per vector (.cellkernels): beat the map at every batch
    if spec.is_linear:
        if spec.is_ideal:
            return "map"  # exactly G^T V
        if k <= max(PCG_AUTO_VECTORS, min(spec.shape) // 4):
            return "pcg"
        return "map"
    if k <= max(PCG_AUTO_VECTORS, min(spec.shape) // 8):
        return "pcg"  # Newton with PCG inner solves (.newton): no O(R C^3) factorization
    return "map"


def column_currents(spec: CrossbarSpec, V, backend: str = "numpy", device=None,
                    method: str = "auto"):
    """Exact column currents [A] of the crossbar (IR drop, access transistors, nonlinear
    cells): V (rows,) -> (cols,), (rows, K) -> (cols, K).  For repeated use with the same
    conductances build a :class:`CrossbarSolver` once; for new conductances every call (or K
    draws at once) see :func:`circuitsim.behavioral.pcg.solve`.

    ``method``: "map" (block elimination, :class:`CrossbarSolver`), "pcg" (alias "cg":
    Schur-complement conjugate gradients to a KCL residual criterion, :mod:`.pcg`; for 1T1R
    and sinh cells Newton steps with PCG inner solves, :mod:`.newton`), "sparse" (full nodal
    analysis with a sparse LU, Newton when nonlinear) or "auto" (pcg for at most
    ``max(PCG_AUTO_VECTORS, min(rows, cols) // 4)`` vectors of a linear array, ``// 8`` of a
    nonlinear one; the map for more -- except nonlinear cells on numpy that the compiled
    Newton of :mod:`.cellkernels` takes (numba, a level-1 access card or none, at least
    ``newton.COMPILED_MIN_CELLS`` cells x vectors): pcg for any number of vectors)."""
    if method not in METHODS:
        raise ConfigError(f"method must be one of {METHODS}, got {method!r}")
    _check_backend(backend, device)
    if not isinstance(spec, CrossbarSpec):
        raise ConfigError(f"column_currents needs a CrossbarSpec, got {type(spec).__name__}")
    if method == "auto":
        method = _pick_method(spec, V, backend)
    check_memory(spec.rows, spec.cols, method,  # issue 12: refuse before allocating
                 int(np.shape(V)[1]) if np.ndim(V) == 2 else 1)
    _require_real(V)
    if method == "map":
        return CrossbarSolver(spec, backend=backend, device=device).column_currents(V)
    is_t = backend == "torch"
    if method in ("pcg", "cg") and not spec.is_linear:
        with blas_limit(1):
            return newton.solve(spec, V, backend=backend, device=device).currents
    if method in ("pcg", "cg"):
        if is_t:
            import torch

            from .autograd import crossbar_currents

            dev = _torch_device(device)
            Vt = V if isinstance(V, torch.Tensor) else torch.as_tensor(
                spec.check_inputs(V)[0][:, 0] if np.ndim(V) == 1 else spec.check_inputs(V)[0])
            return crossbar_currents(spec, Vt.to(device=dev, dtype=torch.float64))
        with blas_limit(1):
            return pcg.solve(spec, V, backend="numpy").currents
    if is_t:
        import torch

        dev = _torch_device(device)
        Vn = V.detach().cpu().numpy() if isinstance(V, torch.Tensor) else V
    else:
        Vn = V
    v2, vector = spec.check_inputs(Vn)
    with blas_limit(1):
        _, _, I = NodalSolver(spec).solve(v2)
    out = I[:, 0] if vector else I
    if is_t:
        return torch.tensor(out, dtype=torch.float64, device=dev)
    return out


def column_currents_draws(spec: CrossbarSpec, G, V, backend: str = "numpy", device=None,
                          method: str = "auto"):
    """Exact column currents [A] for K conductance draws of a linear 1R array in one call.

    ``G`` (K, rows, cols) [S] (wires, driver and sense from ``spec``); ``V`` (rows,) or
    (rows, B) shared by every draw, or (K, rows, B) [V].  Returns (K, cols[, B]), equal to
    solving the draws one by one.  ``method``: "pcg" (every draw and vector through the
    batched PCG of :mod:`.pcg`), "map" (a block transfer map per draw, then one product per
    vector: wins for many vectors per draw) or "auto" (pcg when B <=
    max(PCG_AUTO_VECTORS, min(rows, cols) // 4))."""
    if method not in ("auto", "pcg", "map"):
        raise ConfigError(f"method must be 'auto', 'pcg' or 'map', got {method!r}")
    _check_backend(backend, device)
    if not isinstance(spec, CrossbarSpec):
        raise ConfigError(f"column_currents_draws needs a CrossbarSpec, got "
                          f"{type(spec).__name__}")
    B = int(_shape(V)[-1]) if len(_shape(V)) >= 2 else 1
    if method == "auto":
        method = "pcg" if B <= max(PCG_AUTO_VECTORS, min(spec.shape) // 4) else "map"
    if method == "pcg":
        if backend == "torch":
            from .autograd import crossbar_currents

            return crossbar_currents(spec, V, G)
        with blas_limit(1):
            return pcg.solve(spec, V, G, backend="numpy").currents
    _, g, v, _, vector = pcg.prepare(spec, V, G, backend=backend, device=device)
    out = []
    for k in range(g.shape[0]):
        gk = g[k].cpu().numpy() if backend == "torch" else g[k]
        sol = CrossbarSolver(spec.replace(conductance=gk), backend=backend, device=device)
        vk = v[:, k, :].T  # (rows, B)
        out.append(sol.column_currents(vk))
    if backend == "torch":
        import torch

        res = torch.stack(out)
    else:
        res = np.stack(out)
    return res[..., 0] if vector else res


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
