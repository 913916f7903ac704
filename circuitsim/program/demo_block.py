"""A self-contained "Programming" section for a report: one block of a layer's array
programmed by write-verify in the twin and (a corner of it) in transient ngspice, with a plot
of the write-verify trajectories.  Meant to be called by the demo with the first layer's
targets (``LayerPlan.conductance``); it reads nothing else."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from .config import ProgramConfig
from .probe import half_select_probe
from .writeverify import divergence, program_array


def programming_section(targets, out_dir, *, cfg: ProgramConfig | None = None,
                        block: int = 16, spice_block: int = 4, runner=None
                        ) -> tuple[str, dict]:
    """Program ``targets[:block, :block]`` (clipped into the device window) in the twin and
    its ``spice_block`` corner in SPICE and the twin; write ``programming.png`` to
    ``out_dir``; return (markdown, summary)."""
    cfg = ProgramConfig() if cfg is None else cfg
    t = np.asarray(targets, dtype=float)
    if t.ndim != 2 or min(t.shape) < 1:
        raise ConfigError(f"targets must be a 2-D conductance array, got shape {t.shape}")
    if not 1 <= spice_block <= block:
        raise ConfigError(f"need 1 <= spice_block ({spice_block}) <= block ({block})")
    margin = cfg.tolerance * cfg.g_range
    t = np.clip(t[:block, :block], cfg.g_min + margin, cfg.g_max - margin)
    t0 = time.perf_counter()
    tw = program_array(cfg, t, world="twin")
    wall_tw = time.perf_counter() - t0
    ts = t[:spice_block, :spice_block]
    sp = program_array(cfg, ts, world="spice", runner=runner)
    tws = program_array(cfg, ts, world="twin")
    probe = half_select_probe(cfg, (3, 3), runner=runner)
    dg = float(np.max(np.abs(sp.g - tws.g)) / cfg.g_range)
    div = divergence(sp, tws)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    png = out / "programming.png"
    _plot(png, sp, tws, cfg)
    s = {"block": list(t.shape), "spice_block": list(ts.shape),
         "converged_twin": tw.converged_fraction, "converged_spice": sp.converged_fraction,
         "pulses_mean_twin": float(tw.pulses.mean()), "pulses_max_twin": int(tw.pulses.max()),
         "pulses_mean_spice": float(sp.pulses.mean()),
         "max_g_error_spice_vs_twin": dg, "first_divergent_iteration":
         div["first_divergent_iteration"], "energy_spice_j": sp.energy_j,
         "energy_twin_same_cells_j": tws.energy_j, "energy_twin_block_j": tw.energy_j,
         "time_s_spice": sp.time_s, "wall_s_spice": sp.wall_s, "wall_s_twin_block": wall_tw,
         "half_select_max_dg": probe}
    md = "\n".join([
        "## Programming", "",
        f"Write-verify ({cfg.scheme} half-select, {cfg.v_pulse:.3g} V pulses, widths "
        f"{cfg.w0 * 1e9:.0f} ns x {cfg.growth:g}^k, tolerance {cfg.tolerance:.2%} of the G "
        f"range, budget {cfg.max_pulses}) of the first layer's {t.shape[0]}x{t.shape[1]} block "
        f"in the twin and of its {ts.shape[0]}x{ts.shape[1]} corner in transient ngspice "
        "(VTEAM cells on wires and drivers).", "",
        "| | twin (block) | SPICE (corner) | twin (corner) |", "|---|---|---|---|",
        f"| converged | {tw.converged_fraction:.3f} | {sp.converged_fraction:.3f} | "
        f"{tws.converged_fraction:.3f} |",
        f"| pulses / cell (mean, max) | {tw.pulses.mean():.1f}, {tw.pulses.max()} | "
        f"{sp.pulses.mean():.1f}, {sp.pulses.max()} | {tws.pulses.mean():.1f}, "
        f"{tws.pulses.max()} |",
        f"| energy [J] | {tw.energy_j:.3g} | {sp.energy_j:.3g} | {tws.energy_j:.3g} |",
        f"| programming time [s] | {tw.time_s:.3g} | {sp.time_s:.3g} | {tws.time_s:.3g} |",
        f"| wall [s] | {wall_tw:.2f} | {sp.wall_s:.2f} | {tws.wall_s:.2f} |", "",
        f"SPICE vs twin final conductance: max {dg:.2%} of the range (first differing verify "
        f"decision at iteration {div['first_divergent_iteration']}).  Half-select disturb "
        "(largest |dG| of an unselected cell, fraction of the range, one long RESET + SET "
        "pulse on the centre cell of a 3x3 array): " + ", ".join(
            f"{k} SPICE {v['spice']:.2g} / twin {v['twin']:.2g}" for k, v in probe.items())
        + ".", "", f"![write-verify trajectories]({png.name})", ""])
    return md, s


def _plot(path, sp, tw, cfg) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    R, C = sp.targets.shape
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, (i, j) in enumerate([(i, j) for i in range(R) for j in range(C)][:8]):
        col = colors[k % len(colors)]
        for r, ls in ((sp, "-"), (tw, "--")):
            m = (r.log[:, 0] == i) & (r.log[:, 1] == j)
            g = np.concatenate([[1.0 / cfg.device.resistance(cfg.x0)], r.log[m, 6]])
            ax.plot(np.arange(len(g)), g * 1e6, ls, color=col, marker=".", ms=3)
        ax.axhline(sp.targets[i, j] * 1e6, color=col, ls=":", lw=0.8)
    ax.set_xlabel("pulse number")
    ax.set_ylabel("verify read G [µS]")
    ax.set_title("write-verify: SPICE (solid) vs twin (dashed), targets dotted")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


__all__ = ["programming_section"]
