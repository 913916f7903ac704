"""Which targets a crossbar of linear ion drift cells can reach at all, whatever the pulses.

A linear ion drift cell moves as dx/dt = k·i·f(x) = k·v·f(x)/M(x): separable in x and v.  In
its *drift coordinate* y = ∫ M(x)/f(x) dx [ohm] (:func:`drift_coordinate`) it integrates its
voltage, dy/dt = k·v, and a cell's voltage in a crossbar is the difference of its row's and its
column's line voltage (ideal wires).  So whatever the scheme (V/2, V/3, ground, any
waveform, reads included), programming changes y by

    y_ij(T) − y_ij(0) = k·∫(v_row,i − v_col,j) dt = a_i + b_j,

a sum of one number per row and one per column: R + C − 1 degrees of freedom for R·C cells.
Targets outside that set cannot be programmed by any controller; with the wires' IR drop the
set widens only by the µV-level drops (:func:`reachability` measures how far a set of
targets is from it).  A threshold (VTEAM) or a nonlinear I–V breaks the separation: a
half-selected VTEAM cell does not move at all, which is what makes V/2 write-verify work.
Biolek's window depends on the current's sign, so y is not one function of x there: refused.
"""

from __future__ import annotations

import numpy as np

from ..cards.memristor import LinearIonDrift
from ..errors import ConfigError
from .config import ProgramConfig


def _card(card) -> LinearIonDrift:
    if not isinstance(card, LinearIonDrift):
        raise ConfigError(f"the drift coordinate is defined for a LinearIonDrift card, got "
                          f"{type(card).__name__} (a threshold device has no such limit)")
    if card.window == "biolek":
        raise ConfigError("Biolek's window depends on the sign of the current, so the drift "
                          "coordinate is not one function of x; use window 'joglekar' or "
                          "'none' for this analysis")
    return card


def drift_coordinate(card: LinearIonDrift, x) -> np.ndarray:
    """y(x) = ∫_{1/2}^{x} M(s)/f(s) ds [ohm]: dy/dt = k·v for any voltage v(t) across the
    cell (k = μ_v·R_on/D²).  Closed forms for Joglekar p = 1 (¼[R_off ln 2x − R_on
    ln 2(1 − x)], infinite at the bounds, which the window never lets a cell reach) and no
    window; a 100-point Gauss–Legendre rule on [1/2, x] otherwise."""
    c = _card(card)
    x = np.clip(np.asarray(x, dtype=float), 1e-15, 1 - 1e-15)
    if c.window == "none":
        return c.r_off * (x - 0.5) + 0.5 * (c.r_on - c.r_off) * (x * x - 0.25)
    if c.p == 1.0:
        return 0.25 * (c.r_off * np.log(2 * x) - c.r_on * np.log(2 * (1 - x)))
    s, w = np.polynomial.legendre.leggauss(100)
    flat = x.ravel()
    out = np.empty_like(flat)
    for n, xe in enumerate(flat):
        u = 0.5 + (xe - 0.5) * 0.5 * (s + 1)  # nodes on [1/2, x]
        integrand = c.resistance(u) / (1.0 - np.abs(2 * u - 1) ** (2 * c.p))
        out[n] = 0.5 * (xe - 0.5) * np.dot(w, integrand)
    return out.reshape(x.shape)


def state_from_drift(card: LinearIonDrift, y) -> np.ndarray:
    """Inverse of :func:`drift_coordinate` [1]: bisection to 1e-6 (y is increasing in x),
    then Newton steps with the exact slope dy/dx = M(x)/f(x), kept inside the bracket."""
    c = _card(card)
    y = np.asarray(y, dtype=float)
    lo, hi = np.zeros(y.shape), np.ones(y.shape)
    for _ in range(20):
        mid = 0.5 * (lo + hi)
        up = drift_coordinate(c, mid) < y
        lo, hi = np.where(up, mid, lo), np.where(up, hi, mid)
    x = 0.5 * (lo + hi)
    for _ in range(4):
        f = 1.0 if c.window == "none" else 1.0 - np.abs(2 * x - 1) ** (2 * c.p)
        x = np.clip(x - (drift_coordinate(c, x) - y) * f / c.resistance(x), lo, hi)
    return x


def row_col_split(d: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares a (rows,), b (cols,) with a_i + b_j ≈ ``d`` on the cells of ``mask``
    (minimum norm: a row or column without programmed cells gets 0)."""
    R, C = d.shape
    ii, jj = np.nonzero(mask)
    a = np.zeros((len(ii), R + C))
    a[np.arange(len(ii)), ii] = 1.0
    a[np.arange(len(ii)), R + jj] = 1.0
    sol = np.linalg.lstsq(a, d[ii, jj], rcond=None)[0]
    return sol[:R], sol[R:]


def row_col_fit(d: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Least-squares a_i + b_j over the cells of ``mask`` to ``d`` (rows, cols); the fitted
    (rows, cols) array."""
    a, b = row_col_split(d, mask)
    return a[:, None] + b[None, :]


def _feasible(lo: np.ndarray, hi: np.ndarray, mask: np.ndarray) -> bool:
    """Is there a_i, b_j with lo_ij <= a_i + b_j <= hi_ij on ``mask``?  Difference
    constraints (c_j = −b_j: a_i − c_j <= hi, c_j − a_i <= −lo), Bellman–Ford from a virtual
    source: feasible iff no negative cycle."""
    R, C = lo.shape
    up = np.where(mask, hi, np.inf)
    dn = np.where(mask, -lo, np.inf)
    da, dc = np.zeros(R), np.zeros(C)
    scale = max(float(np.max(np.abs(np.where(mask, hi, 0.0)))), 1.0)
    for _ in range(R + C + 1):
        na = np.minimum(da, np.min(dc[None, :] + up, axis=1))
        nc = np.minimum(dc, np.min(na[:, None] + dn, axis=0))
        if np.all(na >= da - 1e-12 * scale) and np.all(nc >= dc - 1e-12 * scale):
            return True
        da, dc = na, nc
    return False


def reachability(cfg: ProgramConfig, targets, x0=None) -> dict:
    """How far ``targets`` (rows, cols) [S] (NaN = unprogrammed) lie from what an ideal-wire
    crossbar of ``cfg.device`` (linear ion drift) can reach from ``x0`` (default
    ``cfg.x0``):

    - ``feasible``: whether any pulse sequence can put every programmed cell within
      ``cfg.tolerance`` at once (exact: the tolerance bands in the drift coordinate as
      difference constraints);
    - ``dof``, ``cells``: R + C − 1 reachable degrees of freedom vs the programmed cells;
    - ``ls_within``, ``ls_max_err``: at the least-squares reachable point (y0 + a_i + b_j
      closest to the targets' y), the fraction of cells within tolerance and the largest
      |G − target| [fraction of the G range]."""
    card = _card(cfg.device)
    t = cfg.check_targets(targets)
    mask = np.isfinite(t)
    x0 = np.broadcast_to(np.asarray(cfg.x0 if x0 is None else x0, dtype=float), t.shape)
    y0 = drift_coordinate(card, x0)

    def y_of_g(g):
        r = 1.0 / np.clip(g, cfg.g_min, cfg.g_max)
        return drift_coordinate(card, card.state_for_resistance(r))

    tt = np.where(mask, t, cfg.g_min + 0.5 * cfg.g_range)
    tol = cfg.tolerance * cfg.g_range
    lo, hi = y_of_g(tt - tol) - y0, y_of_g(tt + tol) - y0
    d = y_of_g(tt) - y0
    fit = row_col_fit(d, mask)
    g_fit = 1.0 / card.resistance(state_from_drift(card, y0 + fit))
    err = np.abs(g_fit - tt)[mask] / cfg.g_range
    R, C = t.shape
    return {"feasible": _feasible(lo, hi, mask), "dof": R + C - 1, "cells": int(mask.sum()),
            "ls_within": float(np.mean(err <= cfg.tolerance * (1 + 1e-9))) if err.size
            else 1.0, "ls_max_err": float(err.max()) if err.size else 0.0}


def reachable_targets(cfg: ProgramConfig, rows_cols, seed: int = 0, spread: float = 0.35):
    """Random targets [S] that an ideal-wire array of ``cfg.device`` CAN reach from
    ``cfg.x0``: y0 + a_i + b_j with a, b uniform in ±``spread``·|y(x0 ± 0.4)| / 2, mapped back
    to G and kept inside :attr:`ProgramConfig.target_window` (for testing the controller
    apart from the reachability limit)."""
    card = _card(cfg.device)
    R, C = rows_cols
    rng = np.random.default_rng(seed)
    lo, hi = cfg.target_window
    y0 = float(drift_coordinate(card, cfg.x0))
    span = spread * 0.5 * float(drift_coordinate(card, min(cfg.x0 + 0.4, 0.99))
                                - drift_coordinate(card, max(cfg.x0 - 0.4, 0.01)))
    for _ in range(1000):
        a, b = rng.uniform(-span, span, R), rng.uniform(-span, span, C)
        g = 1.0 / card.resistance(state_from_drift(card, y0 + a[:, None] + b[None, :]))
        if np.all((g >= lo) & (g <= hi)):
            return g
    raise ConfigError("no reachable targets inside the target window at this spread; lower "
                      "spread")


__all__ = ["drift_coordinate", "reachability", "reachable_targets", "row_col_fit",
           "row_col_split", "state_from_drift"]
