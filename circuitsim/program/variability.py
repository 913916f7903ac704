"""Device-to-device and cycle-to-cycle variation of the VTEAM parameters, and what it does to
σ(G) after one-shot and after write-verify programming, next to the statistical
:class:`~circuitsim.nonideal.ProgrammingNoise` (Wan et al. 2022).

One-shot: each cell gets the single pulse that the *nominal* device would need from x0 to its
target (the open-loop recipe), so its error comes only from the variation.  Write-verify: the
incremental-step loop of :func:`~circuitsim.program.program_array` on the same cells.  Both in
the twin (fast, every cell); the same draws reach ngspice through
:class:`~circuitsim.program.CellArray` and ``c2c_sigma`` (tested on a small array).
"""

from __future__ import annotations

import numpy as np

from ..devices import VteamTwin
from ..errors import ConfigError
from ..nonideal.programming import ProgrammingNoise, WriteVerify, wan2022_sigma
from .array import CellArray
from .config import ProgramConfig
from .schedule import CellPulse, build_iteration
from .twin import TwinProgrammer
from .writeverify import program_array


def _need_threshold(cfg: ProgramConfig) -> None:
    if not cfg.has_threshold:
        raise ConfigError(f"the variability study draws and sizes VTEAM parameters (k, "
                          f"v_th); {type(cfg.device).__name__} has no such model here yet: "
                          "run it with a Vteam card, or program linear ion drift without "
                          "variability")


def draw_cells(cfg: ProgramConfig, shape, *, d2d_sigma: float, v_sigma: float = 0.02,
               seed: int = 0) -> CellArray:
    """Cells with k_on, k_off × exp(d2d_sigma·N(0,1)) and v_on, v_off × (1 + v_sigma·N(0,1)),
    independent per cell and parameter, from ``seed``."""
    if d2d_sigma < 0 or v_sigma < 0:
        raise ConfigError("d2d_sigma and v_sigma must be >= 0")
    _need_threshold(cfg)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1502]))
    d = cfg.device
    n = lambda: rng.standard_normal(shape)  # noqa: E731
    return CellArray(d, tuple(shape), {"k_on": d.k_on * np.exp(d2d_sigma * n()),
                                       "k_off": d.k_off * np.exp(d2d_sigma * n()),
                                       "v_on": d.v_on * (1 + v_sigma * n()),
                                       "v_off": d.v_off * (1 + v_sigma * n())})


def one_shot_widths(cfg: ProgramConfig, targets) -> tuple[np.ndarray, np.ndarray]:
    """(polarity, width [s]) of the single pulse that takes a *nominal* cell from x0 to each
    target (bisection on the device twin's exact Δx of a pulse with the schedule's edges)."""
    _need_threshold(cfg)
    d = cfg.device
    tw = VteamTwin(d)
    xt = d.state_for_resistance(1.0 / np.asarray(targets, dtype=float))
    pol = np.where(xt > cfg.x0, 1, -1)
    v = np.where(pol > 0, cfg.v_pulse, -cfg.v_pulse)
    lo = np.zeros(xt.shape)
    hi = np.full(xt.shape, 1e-3)
    # the column edge runs from the bias to the selected level: the upper half of a 0 -> V
    # ramp of twice the edge time (see tests/test_program.py)
    for _ in range(45):  # 1 ms / 2^45 < 1e-16 s
        mid = 0.5 * (lo + hi)
        dx = tw.pulse_dx(v, mid, np.full(xt.shape, cfg.x0), edge=2 * cfg.edge)
        short = np.abs(dx) < np.abs(xt - cfg.x0)
        lo = np.where(short, mid, lo)
        hi = np.where(short, hi, mid)
    return pol, 0.5 * (lo + hi)


def variability_table(cfg: ProgramConfig, shape=(16, 16), *, d2d_sigma: float = 0.2,
                      c2c_sigma: float = 0.1, v_sigma: float = 0.02, seed: int = 0,
                      bins: int = 4) -> dict:
    """σ(G − target) [S] per target bin for one-shot and write-verify programming of varied
    cells (twin), next to ProgrammingNoise('wan2022', sigma=None) one-shot and with
    WriteVerify(tolerance = cfg's, max_attempts = cfg.max_pulses) on the same targets."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1503]))
    margin = cfg.tolerance * cfg.g_range
    t = rng.uniform(cfg.g_min + margin, cfg.g_max - margin, shape)
    cells = draw_cells(cfg, shape, d2d_sigma=d2d_sigma, v_sigma=v_sigma, seed=seed)
    # one-shot: nominal recipe, varied devices (one c2c draw, as the first write-verify pulse)
    pol, w = one_shot_widths(cfg, t)
    pulses = [CellPulse(i, j, int(pol[i, j]), float(w[i, j]))
              for i in range(shape[0]) for j in range(shape[1])]
    it = build_iteration(cfg, shape, pulses, [])
    c2c = np.exp(c2c_sigma * np.random.default_rng(
        np.random.SeedSequence([seed, 1504])).standard_normal(shape))
    x1 = TwinProgrammer(cfg, cells.with_rate_factor(c2c)).run(np.full(shape, cfg.x0), it)["x"]
    g_one = 1.0 / cfg.device.resistance(x1)
    nominal = TwinProgrammer(cfg, CellArray(cfg.device, shape)).run(
        np.full(shape, cfg.x0), it)["x"]
    g_nom = 1.0 / cfg.device.resistance(nominal)
    wv = program_array(cfg, t, world="twin", cells=cells, c2c_sigma=c2c_sigma, seed=seed)
    g_max = cfg.g_max
    pn_one = ProgrammingNoise(sigma=None, shape="wan2022")
    pn_wv = ProgrammingNoise(sigma=None, shape="wan2022",
                             write_verify=WriteVerify(tolerance=margin,
                                                      max_attempts=cfg.max_pulses))
    r = np.random.default_rng(np.random.SeedSequence([seed, 1505]))
    g_pn_one = pn_one.apply(t, g_max, r)
    g_pn_wv = pn_wv.apply(t, g_max, r)
    edges = np.linspace(t.min(), t.max() + 1e-15, bins + 1)
    rows = []
    for b in range(bins):
        m = (t >= edges[b]) & (t < edges[b + 1])
        rows.append({
            "g_bin_us": f"{edges[b] * 1e6:.1f}-{edges[b + 1] * 1e6:.1f}",
            "cells": int(m.sum()),
            "sigma_one_shot_us": float(np.std(g_one[m] - t[m]) * 1e6),
            "bias_one_shot_us": float(np.mean(g_one[m] - t[m]) * 1e6),
            "sigma_write_verify_us": float(np.std(wv.g[m] - t[m]) * 1e6),
            "sigma_wan2022_one_shot_us": float(np.std(g_pn_one[m] - t[m]) * 1e6),
            "sigma_wan2022_model_us": float(np.mean(wan2022_sigma(t[m], g_max)) * 1e6),
            "sigma_wan2022_write_verify_us": float(np.std(g_pn_wv[m] - t[m]) * 1e6),
        })
    return {"rows": rows, "d2d_sigma": d2d_sigma, "c2c_sigma": c2c_sigma, "v_sigma": v_sigma,
            "cells": int(t.size), "write_verify_converged": wv.converged_fraction,
            "write_verify_pulses_mean": float(wv.pulses.mean()),
            "nominal_one_shot_max_error_us": float(np.max(np.abs(g_nom - t)) * 1e6),
            "tolerance_us": margin * 1e6}


__all__ = ["draw_cells", "one_shot_widths", "variability_table"]
