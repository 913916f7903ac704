"""Line-pulse programming of a linear ion drift array: the controller that matches the card.

A linear ion drift array can only move as y_ij += a_i + b_j in the drift coordinate
(:mod:`circuitsim.program.reachable`), so per-cell write-verify under V/2 or V/3 fights its
own half-select disturb.  :func:`program_lines` instead reads every row, inverts the wiring
(:meth:`~circuitsim.program.writeverify.Verifier.correct`), takes each cell's y from its
read, fits the needed change as one charge per line (least squares through the array's
linear network at the read conductances: each cell's voltage per volt on each line, IR drop
and sneak paths included; :func:`line_charges`) and applies it as one pulse per row (+v on
its cells) and per column (−v on its cells) with every other line at 0 V — bipolar drivers,
no half-select levels — then verifies again.  With the card's exact y the fit is a Newton
step; the states' change during the pulses and the read pulses' own drift are what the next
verify corrects.  Targets
outside the reachable set end at the least-squares reachable point (not within tolerance:
:func:`~circuitsim.program.reachable.reachability` says so before any pulse).
"""

from __future__ import annotations

import time

import numpy as np

from ..errors import ConfigError
from ..spice import BatchRunner
from .array import CellArray
from .config import ProgramConfig
from .reachable import drift_coordinate
from .schedule import build_line_iteration
from .spice import run_iteration
from .twin import ArrayNetwork, TwinProgrammer
from .writeverify import WORLDS, ProgramResult, Verifier

Y_MIN = 1.0
"""Smallest |a_i| or |b_j| [ohm of drift coordinate] worth a line pulse (a cell's tolerance
band is hundreds of ohm wide in y)."""


def _x_of_g(card, g):
    r = np.clip(1.0 / np.maximum(g, 1e-15), card.r_on, card.r_off)
    return np.clip(card.state_for_resistance(r), 1e-9, 1 - 1e-9)


def line_charges(net: ArrayNetwork, g_cells, d, mask, k: float) -> np.ndarray:
    """Signed volt-seconds per line (rows, then columns) [V·s] whose pulses change the drift
    coordinate of the cells of ``mask`` by ``d`` [ohm] (least squares, minimum norm): the
    array's linear network at ``g_cells`` gives every cell's voltage per volt on each line
    (the wires' IR drop and sneak paths included), and dy = k·v·dt."""
    lu = net.factor(g_cells)
    tr = net.transfer(lu)
    kc = (tr[net.cell_r] - tr[net.cell_c])  # (cells, lines): cell voltage per line volt
    a = k * kc[np.asarray(mask).ravel()]
    return np.linalg.lstsq(a, np.asarray(d)[mask], rcond=None)[0]


def program_lines(cfg: ProgramConfig, targets, *, world: str, cells: CellArray | None = None,
                  runner=None, max_iterations: int = 8, timeout_s: float = 600.0
                  ) -> ProgramResult:
    """Program ``targets`` (rows, cols) [S] (NaN = unprogrammed) into an array of
    ``cfg.device`` (linear ion drift) with line pulses in ``world`` ('spice' or 'twin'), at
    most ``max_iterations`` pulse iterations after the first read.  ``pulses`` counts the
    line pulses each cell saw (its row's and its column's); ``converged``: the last read
    within tolerance; the log has one row per line pulse (row or column −1 for "all")."""
    if cfg.has_threshold:
        raise ConfigError("line programming is for a card without threshold (linear ion "
                          "drift); write-verify a VTEAM array cell by cell (program_array)")
    if world not in WORLDS:
        raise ConfigError(f"world must be one of {WORLDS}, got {world!r}")
    if isinstance(max_iterations, bool) or int(max_iterations) != max_iterations or \
            max_iterations < 1:
        raise ConfigError(f"max_iterations must be a whole number >= 1, got "
                          f"{max_iterations!r}")
    targets = cfg.check_targets(targets)
    shape = targets.shape
    cells = CellArray(cfg.device, shape) if cells is None else cells
    if cells.shape != shape:
        raise ConfigError(f"cells have shape {cells.shape} but targets {shape}")
    card = cfg.device
    mask = np.isfinite(targets)
    tol = cfg.tolerance * cfg.g_range
    y_t = np.where(mask, drift_coordinate(card, _x_of_g(card, np.where(mask, targets,
                                                                      cfg.g_min))), 0.0)
    rows = sorted(set(int(i) for i in np.nonzero(mask)[0]))
    ver = Verifier(cfg, targets)
    twin = TwinProgrammer(cfg, cells) if world == "twin" else None
    own = False
    if world == "spice" and runner is None:
        runner, own = BatchRunner(), True
    x = np.full(shape, float(cfg.x0))
    seen = np.zeros(shape, int)
    log, decisions = [], []
    energy = t_total = wall = 0.0
    it = build_line_iteration(cfg, shape, {}, {}, rows)
    n = 0
    try:
        while True:
            t0 = time.perf_counter()
            out = run_iteration(runner, cfg, cells, x, it) if world == "spice" \
                else twin.run(x, it)
            wall += time.perf_counter() - t0
            x, energy, t_total = out["x"], energy + out["energy"], t_total + it.stop
            ver.correct(out["reads"])
            g_est = ver.g_est
            ok = mask & (np.abs(g_est - np.where(mask, targets, 0.0)) <= tol)
            if ok.sum() == mask.sum() or n >= max_iterations:
                break
            d = np.where(mask, y_t - drift_coordinate(card, _x_of_g(card, g_est)), 0.0)
            q = line_charges(ver.net, g_est, d, mask, card.k)
            R = shape[0]
            t_iter = t_total
            row_q = {i: float(q[i]) for i in range(R) if abs(q[i]) * card.k > Y_MIN}
            col_q = {j: float(q[R + j]) for j in range(shape[1])
                     if abs(q[R + j]) * card.k > Y_MIN}
            it = build_line_iteration(cfg, shape, row_q, col_q, rows)
            for i, q in row_q.items():
                seen[i, :] += 1
                log.append((i, -1, t_iter, np.sign(q) * cfg.v_pulse, abs(q) / cfg.v_pulse,
                            np.sign(q), np.nan))
            for j, q in col_q.items():
                seen[:, j] += 1
                log.append((-1, j, t_iter, np.sign(q) * cfg.v_pulse, abs(q) / cfg.v_pulse,
                            np.sign(q), np.nan))
            decisions.append({"rows": row_q, "cols": col_q})
            n += 1
    finally:
        if own:
            runner.close()
    g = 1.0 / card.resistance(x)
    return ProgramResult(world, targets, x, g, g_est.copy(), np.where(mask, seen, 0), ok,
                         np.where(ok, g, np.nan), np.array(log, dtype=float).reshape(-1, 7),
                         energy, t_total, wall, n, decisions)


__all__ = ["Y_MIN", "line_charges", "program_lines"]
