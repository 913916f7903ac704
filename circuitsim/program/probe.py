"""Half-select disturb probe: one cell written, every other cell watched, per scheme."""

from __future__ import annotations

import numpy as np

from ..spice import BatchRunner
from .array import CellArray
from .config import SCHEMES, ProgramConfig
from .schedule import CellPulse, build_iteration
from .spice import iteration_deck, read_iteration
from .twin import TwinProgrammer


def half_select_probe(cfg: ProgramConfig, shape=(4, 4), *, schemes=SCHEMES, x_start=0.5,
                      worlds=("spice", "twin"), runner=None, timeout_s: float = 120.0,
                      each_pulse: bool | None = None) -> dict:
    """Largest |ΔG| of an unselected cell [fraction of the G range] when cell (R//2, C//2)
    gets one RESET and one SET pulse of the longest ladder width at ``cfg.v_pulse``, every cell
    starting at ``x_start``; per scheme (``ground`` included) and world.  Returns
    ``{scheme: {world: value}}``.  ``each_pulse``: the largest |ΔG| after either pulse
    rather than after the pair; None (default) = True for a card without threshold (a
    linear ion drift cell's drift is charge-controlled, so the pair's opposite half-select
    pulses nearly cancel at its end), False for VTEAM (the figure after the pair)."""

    R, C = shape
    each_pulse = (not cfg.has_threshold) if each_pulse is None else bool(each_pulse)
    ci, cj = R // 2, C // 2
    w = float(cfg.widths[-1])
    cells = CellArray(cfg.device, shape)
    x = np.full(shape, float(x_start))
    g0 = 1.0 / cfg.device.resistance(x)
    mask = np.ones(shape, bool)
    mask[ci, cj] = False
    out: dict = {}
    own = False
    if "spice" in worlds and runner is None:
        runner, own = BatchRunner(), True
    try:
        for scheme in schemes:
            it = build_iteration(cfg, shape, [CellPulse(ci, cj, 1, w)], [], scheme=scheme)
            it2 = build_iteration(cfg, shape, [CellPulse(ci, cj, -1, w)], [], scheme=scheme)
            res = {}
            for world in worlds:
                if world == "spice":
                    x1 = read_iteration(runner.run(iteration_deck(cfg, cells, x, it),
                                                   timeout_s=timeout_s), cfg, it, shape)["x"]
                    x2 = read_iteration(runner.run(iteration_deck(cfg, cells, x1, it2),
                                                   timeout_s=timeout_s), cfg, it2, shape)["x"]
                else:
                    tp = TwinProgrammer(cfg, cells)
                    x1 = tp.run(x, it)["x"]
                    x2 = tp.run(x1, it2)["x"]
                res[world] = max(
                    float(np.max(np.abs(1.0 / cfg.device.resistance(xe) - g0)[mask])
                          / cfg.g_range) for xe in ((x1, x2) if each_pulse else (x2,)))
            out[scheme] = res
    finally:
        if own:
            runner.close()
    return out


__all__ = ["half_select_probe"]
