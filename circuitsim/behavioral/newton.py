"""Nonlinear (1T1R, sinh) crossbar solves without a factorization: Newton steps whose linear
systems are solved by the PCG of :mod:`.pcg` (new cell conductances every step cost a few
sparse passes, not an O(R C^3) factorization).

Each step linearises every cell at the present node voltages with the conductance
``a = d i / d v_row`` (the symmetric part of the cell Jacobian; the 1T1R cell's extra
dependence on the column voltage through V_GS is left to the iteration, which then converges
linearly at a rate of roughly g_m / g_ds of the access transistor -- a few percent in triode),
and solves ``A_a dx = F`` with ``F`` the true KCL imbalance at every node (cell currents from
:func:`.cells.cell_current`, the level-1 equations of the card).  The inner linear solves
are inexact (max-node residual <= ``inner_rtol`` times the present one); acceptance is
decided by the true KCL residual of the nonlinear circuit at every node, with the same
criterion as :mod:`.pcg`
(``max |imbalance| <= rtol i_ref + floor``), never by an iteration count.  K conductance
draws and B vectors per call, numpy or torch.

numpy with numba installed (and a level-1 access card or no access device, an ohmic or sinh
memristor): the same Newton runs compiled, every (vector, draw) pair on its own arrays with
the cell law evaluated per cell in the kernel (:func:`.cellkernels.newton_pairs`, the scalar
text of the cell equations); the pairs run in parallel threads when there are several.
torch (and the other cell laws) keep the array path below.
"""

from __future__ import annotations

import numpy as np

from ..cards.transistor import Nmos1Card
from ..crossbar.spec import CrossbarSpec
from ..errors import ConfigError, ConvergenceError
from . import cells, pcg


def _linear_spec(spec: CrossbarSpec) -> CrossbarSpec:
    return spec.replace(access=None, sinh_v0=None, cell=None)


COMPILED_MIN_CELLS = 64 * 64
"""Smallest solve (cells x vectors x draws) that ``compiled=None`` sends to the compiled
kernel: numba's import and cache load cost 1-4 s on the first use in a process (the first
compilation after an install ~30-70 s), while the array path takes a few ms below this size
(the 1R PCG keeps small single solves off numba for the same reason)."""


def compiled_supported(spec: CrossbarSpec) -> bool:
    """True when :func:`solve` can run the compiled kernel for this spec's cells (numba
    installed; a level-1 access card or none; an ohmic or sinh memristor).  Imports numba."""
    from . import cellkernels

    return (cellkernels.AVAILABLE and spec.cell is None
            and (spec.access is None or isinstance(spec.access.nmos, Nmos1Card)))


def solve(spec: CrossbarSpec, V, G=None, *, rtol: float = pcg.RTOL, inner_rtol: float = 1e-4,
          max_iter: int = 60, backend: str | None = None, device=None,
          compiled: bool | None = None) -> pcg.LinearSolution:
    """Exact column currents and node voltages of a nonlinear (1T1R and/or sinh) crossbar;
    shapes and report as :func:`.pcg.solve` (``iterations`` counts Newton steps, the most
    any (vector, draw) pair took).  ``compiled``: None = the compiled kernel when numpy, at
    least :data:`COMPILED_MIN_CELLS` cells x vectors x draws and :func:`compiled_supported`;
    True = require it; False = the array path."""
    if not isinstance(spec, CrossbarSpec):
        raise ConfigError(f"needs a CrossbarSpec, got {type(spec).__name__}")
    lin = _linear_spec(spec)
    xp, g, v, batched, vector = pcg.prepare(lin, V, G, backend=backend, device=device)
    if compiled is None:  # (the size test first: small solves never import numba)
        compiled = xp is np and v.shape[0] * v.shape[1] * spec.rows * spec.cols >= \
            COMPILED_MIN_CELLS and compiled_supported(spec)
    elif compiled and not (xp is np and compiled_supported(spec)):
        raise ConfigError("compiled=True needs the numpy backend, numba installed and a "
                          "level-1 access card (or none) with an ohmic or sinh memristor; "
                          "use compiled=None to fall back to the array path")
    if compiled:
        _check_on(spec)
        return _solve_compiled(spec, g, v, batched, vector, rtol, inner_rtol, max_iter)
    B, K, R = v.shape
    C = spec.cols
    # the operating point differs per vector: every (vector, draw) pair is its own grid
    Gf = _reshape(_expand(g[None], (B, K, R, C), xp), (B * K, R, C), xp)
    vf = _reshape(v, (1, B * K, R), xp)
    G4 = Gf[None]
    z = xp.zeros_like(G4)
    _, a, _, _ = cells.cell_current(spec, G4, z, z)  # zero-bias small-signal conductance
    if not bool(xp.isfinite(a).all()) or not bool((a > 0).all()):
        raise ConfigError("the access transistors do not conduct at zero bias "
                          "(v_wordline <= vto?): the 1T1R array is off")
    grid = pcg.Grid(lin, a[0])
    xr, xc, _ = grid.solve(vf, rtol=inner_rtol)  # linear warm start
    absV = xp.abs(vf)
    vmax = float(absV.max())
    i_ref = pcg._amax((G4 * absV[..., :, None]).sum(-2), -1, xp)
    vm = None
    kmax = None
    it = 0
    for it in range(0, max_iter + 1):  # noqa: B007 (reported)
        i_cell, a, _, vm = cells.cell_current(spec, G4, xr, xc, vm)
        grid = pcg.Grid(lin, _positive(a, xp)[0])
        # true KCL imbalance: the linearised grid's residual, corrected to the true currents
        corr = a * (xr - xc) - i_cell
        fr, fc = grid.residual(vf, xr, xc, grid.reduce_r(corr), -grid.reduce_c(corr))
        kmax = pcg._maxabs2(fr, fc, xp)
        tol = rtol * i_ref + 16 * np.finfo(np.float64).eps * grid.g_node_max * max(vmax, 1e-300)
        if bool((kmax <= tol).all()):
            ksum = pcg._sumabs2(fr, fc, xp)
            rel = kmax / xp.where(i_ref > 0, i_ref, xp.ones_like(i_ref))
            I = _reshape(i_cell.sum(-2), (B, K, C), xp)
            I = pcg.currents_layout(I, batched, vector)
            vr, vc = _nodes(xr, xc, (B, K, R, C), batched, vector, xp)
            return pcg.LinearSolution(I, vr, vc, float(kmax.max()), float(ksum.max()),
                                      float(rel.max()), float((kmax / tol).max()), it)
        inner = xp.maximum(inner_rtol * kmax, 0.5 * tol)  # inexact Newton: relative to |F|
        dr, dc, _ = grid.solve(xp.zeros_like(vf), fr, fc, atol=inner)
        xr, xc = xr + dr, xc + dc
    raise ConvergenceError(f"crossbar Newton (PCG inner solves): KCL residual "
                           f"{float(kmax.max()):.3g} A at the worst node after {max_iter} "
                           "steps is above the criterion; use CrossbarSolver (chord "
                           "Newton on the block factors) or method='sparse'")


def _check_on(spec: CrossbarSpec) -> None:
    """ConfigError when the level-1 access transistors are off at zero bias (V_WL <= VTO):
    the zero-bias cell conductance beta (V_WL - VTO) g / (g + beta (V_WL - VTO)) is 0."""
    acc = spec.access
    if acc is not None and not acc.v_wordline - acc.nmos.vto > 0:
        raise ConfigError("the access transistors do not conduct at zero bias "
                          "(v_wordline <= vto?): the 1T1R array is off")


PARALLEL = False
"""Run the (vector, draw) pairs of the compiled Newton on numba's threads (``prange``) when
there are at least :data:`PARALLEL_MIN_PAIRS`.  Off by default: on the shared 2-core machine
here it did not pay (100 vectors of 64x64: 2.1 / 1.7 ms per vector parallel vs 2.7 / 1.5 ms
serial, load ~3) and its first compilation costs ~45 s more."""

PARALLEL_MIN_PAIRS = 8
"""Fewest (vector, draw) pairs run in parallel when :data:`PARALLEL` is set."""


def _solve_compiled(spec, g, v, batched, vector, rtol, inner_rtol, max_iter):
    """:func:`solve` by :func:`.cellkernels.newton_pairs`: g (K, R, C), v (B, K, R)."""
    from . import cellkernels

    B, K, R = v.shape
    C = spec.cols
    T = B * K
    Cr = C if spec.r_wire_row > 0 else 1
    Rc = R if spec.r_wire_col > 0 else 1
    gr, gc, gs, gk = pcg.line_conductances(spec)
    # fresh writable C arrays: numba compiles (and caches) one kernel per array type, and a
    # read-only view (a spec's conductance, a broadcast vector) is another type
    vt = np.array(v.reshape(T, R), dtype=np.float64, order="C")
    g = np.array(g, dtype=np.float64, order="C")
    xr = np.zeros((T, R, Cr))
    if gs == 0.0:
        xr[:, :, 0] = vt
    xc = np.zeros((T, Rc, C))
    out_i = np.empty((T, C))
    stats = np.empty((T, 7))
    acc = spec.access
    nmos = acc.nmos if acc is not None else Nmos1Card()
    vwl = acc.v_wordline if acc is not None else 0.0
    v0 = float(spec.sinh_v0) if spec.sinh_v0 is not None else 0.0
    vmax = float(np.abs(vt).max())
    kernel = cellkernels.newton_pairs_parallel if PARALLEL and T >= PARALLEL_MIN_PAIRS \
        else cellkernels.newton_pairs
    kernel(g, vt, xr, xc, acc is not None, float(nmos.vto),
           float(nmos.beta), float(nmos.lambda_), float(vwl), v0, gr, gc, gs, gk, vmax,
           float(rtol), float(inner_rtol), int(max_iter), out_i, stats)
    kmax, ksum, i_ref, tol = stats[:, 0], stats[:, 1], stats[:, 2], stats[:, 3]
    if not bool((stats[:, 5] > 0).all()):
        bad = int(np.argmax(kmax / np.where(tol > 0, tol, 1.0)))
        raise ConvergenceError(
            f"crossbar Newton (compiled, PCG inner solves): KCL residual {kmax[bad]:.3g} A "
            f"at the worst node of vector {bad // K}, draw {bad % K} after {max_iter} steps "
            f"is above the criterion {tol[bad]:.3g} A; use CrossbarSolver (chord Newton on "
            "the block factors) or method='sparse'")
    rel = kmax / np.where(i_ref > 0, i_ref, 1.0)
    I = pcg.currents_layout(out_i.reshape(B, K, C), batched, vector)
    vr, vc = _nodes(xr[None], xc[None], (B, K, R, C), batched, vector, np)
    return pcg.LinearSolution(I, vr, vc, float(kmax.max()), float(ksum.max()),
                              float(rel.max()), float((kmax / tol).max()),
                              int(stats[:, 4].max()))


def _expand(x, shape, xp):
    return np.broadcast_to(x, shape) if xp is np else x.expand(shape)


def _reshape(x, shape, xp):
    return np.reshape(x, shape) if xp is np else x.reshape(shape)


def _nodes(xr, xc, shape, batched, vector, xp):
    """(1, B K, R, Cr) -> (K, R, C, B) full node voltages (squeezed like the currents)."""
    B, K, R, C = shape
    out = []
    for x in (xr, xc):
        x = _reshape(x, (B, K) + tuple(x.shape[2:]), xp)
        x = _expand(x, shape, xp)
        x = np.ascontiguousarray(x.transpose(1, 2, 3, 0)) if xp is np else \
            x.permute(1, 2, 3, 0).contiguous()
        if vector:
            x = x[..., 0]
        out.append(x if batched else x[0])
    return out


def _positive(a, xp):
    return xp.maximum(a, xp.zeros_like(a) + 1e-30)
