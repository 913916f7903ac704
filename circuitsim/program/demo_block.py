"""A self-contained "Programming" section for a report: one block of a layer's array
programmed by write-verify in the twin and in transient ngspice (``--quick``: a corner of it),
with a plot of the write-verify trajectories.  Meant to be called by the demo with the first
layer's plan (its weights are mapped into the device window); it reads nothing else."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..errors import ConfigError, SimulationError
from .config import ProgramConfig
from .probe import half_select_probe
from .run import layer_targets
from .writeverify import divergence, program_array

QUICK_SPICE_BLOCK = 4
"""SPICE block of a ``--quick`` demo (the twin still programs the whole block)."""


DEMO_CONFIG = ProgramConfig(sizing="adaptive", ladder=11)
"""How ``make demo`` programs its block: adaptive sizing (2-3 pulses a cell) on a ladder up
to 102 µs (VTEAM_CROSSBAR's end-to-end time at the V/2 scheme's 0.54 V is ~125 µs)."""


def programming_section(targets, out_dir, *, cfg: ProgramConfig | None = None,
                        block: int = 16, spice_block: int | None = None, quick: bool = False,
                        runner=None, timeout_s: float = 600.0) -> tuple[str, dict]:
    """Program the ``block`` x ``block`` corner of a layer's array by write-verify in the
    twin and its ``spice_block`` corner in transient ngspice and the twin; write
    ``programming.png`` to ``out_dir``; return (markdown, summary).

    ``targets``: a :class:`~circuitsim.network.LayerPlan` (its weights are re-mapped into
    the device's programming window, :func:`~circuitsim.program.run.layer_targets`: no
    target is clipped) or a (rows, cols) conductance array already inside the device window
    (:class:`ConfigError` otherwise).  ``cfg``: default :data:`DEMO_CONFIG`.
    ``spice_block``: default ``block`` (the demo's 16x16 in SPICE: with :data:`DEMO_CONFIG`
    a few s of ngspice, 1.7 s in the demo's run in the README, 3.4 s for uniform random
    targets; ~13 s with model sizing), :data:`QUICK_SPICE_BLOCK` with ``quick``.
    ``timeout_s`` per ngspice run; a failed ngspice run does not end the section: its error
    is recorded (``spice_error``) and the twin's figures stand alone."""
    cfg = DEMO_CONFIG if cfg is None else cfg
    remapped = hasattr(targets, "mapped")
    t = layer_targets(targets, cfg) if remapped else np.asarray(targets, dtype=float)
    if t.ndim != 2 or min(t.shape) < 1:
        raise ConfigError(f"targets must be a 2-D conductance array, got shape {t.shape}")
    if spice_block is None:
        spice_block = min(QUICK_SPICE_BLOCK, block) if quick else block
    if not 1 <= spice_block <= block:
        raise ConfigError(f"need 1 <= spice_block ({spice_block}) <= block ({block})")
    t = cfg.check_targets(t[:block, :block])
    t0 = time.perf_counter()
    tw = program_array(cfg, t, world="twin")
    wall_tw = time.perf_counter() - t0
    ts = t[:spice_block, :spice_block]
    tws = tw if ts.shape == t.shape else program_array(cfg, ts, world="twin")
    try:
        sp = program_array(cfg, ts, world="spice", runner=runner, timeout_s=timeout_s)
        probe = half_select_probe(cfg, (3, 3), runner=runner, timeout_s=timeout_s)
        error = None
    except SimulationError as exc:
        sp, error = None, str(exc).splitlines()[0]
        probe = half_select_probe(cfg, (3, 3), worlds=("twin",))
    dg = float(np.max(np.abs(sp.g - tws.g)) / cfg.g_range) if sp else None
    div = divergence(sp, tws) if sp else {"first_divergent_iteration": None}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    png = out / "programming.png"
    _plot(png, sp or tws, tws, cfg)
    s = {"block": list(t.shape), "spice_block": list(ts.shape), "targets_remapped": remapped,
         "targets_clipped": 0, "target_window": list(cfg.target_window),
         "sizing": cfg.sizing, "scheme": cfg.scheme, "v_pulse": cfg.v_pulse, "w0": cfg.w0,
         "growth": cfg.growth,
         "tolerance": cfg.tolerance, "max_pulses": cfg.max_pulses,
         "g_window": [cfg.g_min, cfg.g_max],
         "spice_error": error,
         "converged": {"twin_block": tw.converged_fraction,
                       "spice": sp.converged_fraction if sp else None,
                       "twin": tws.converged_fraction},
         "pulses_mean": {"twin_block": float(tw.pulses.mean()),
                         "spice": float(sp.pulses.mean()) if sp else None,
                         "twin": float(tws.pulses.mean())},
         "pulses_max": {"twin_block": int(tw.pulses.max()),
                        "spice": int(sp.pulses.max()) if sp else None,
                        "twin": int(tws.pulses.max())},
         "energy_j": {"twin_block": tw.energy_j, "spice": sp.energy_j if sp else None,
                      "twin": tws.energy_j},
         "time_s": {"twin_block": tw.time_s, "spice": sp.time_s if sp else None,
                    "twin": tws.time_s},
         "max_g_error_spice_vs_twin": dg,
         "first_divergent_iteration": div["first_divergent_iteration"],
         "half_select_max_dg": probe, "plot": png.name,
         "timing_s": {"twin_block": wall_tw, "spice": sp.wall_s if sp else None,
                      "twin": tws.wall_s}}
    return programming_markdown(s), s


def programming_markdown(s: dict) -> str:
    """The report section of :func:`programming_section`'s summary."""
    (br, bc), (sr, sc) = s["block"], s["spice_block"]
    cols = ("twin_block", "spice", "twin")
    row = lambda name, d, f: (f"| {name} | " + " | ".join(  # noqa: E731
        "—" if d[c] is None else f(d[c]) for c in cols) + " |")
    lines = [
        "## Programming", "",
        f"Write-verify ({s['scheme']} half-select, {s['v_pulse']:.3g} V pulses, widths "
        f"{s['w0'] * 1e9:.0f} ns x {s['growth']:g}^k, "
        + ("rungs capped by the card's prediction, " if s.get("sizing") == "model" else "")
        + ("each pulse sized to land on its target: the rung that reaches it and a per-column "
           "amplitude, less the wire loss learned from the cell's last pulse, "
           if s.get("sizing") == "adaptive" else "")
        + f"tolerance {s['tolerance']:.2%} of the G range, budget {s['max_pulses']} pulses) "
        f"of the first layer's {br}x{bc} block in the twin and of its {sr}x{sc} corner in "
        "transient ngspice and the twin (VTEAM cells on wires and drivers)"
        + (f"; the layer's weights mapped for programming into the device window "
           f"[{s['target_window'][0] * 1e6:.3g}, {s['target_window'][1] * 1e6:.3g}] µS "
           "(the card's window less the tolerance), no target clipped"
           if s.get("targets_remapped") else "") + ".", "",
        f"| | twin ({br}x{bc}) | SPICE ({sr}x{sc}) | twin ({sr}x{sc}) |", "|---|---|---|---|",
        row("converged", s["converged"], lambda v: f"{v:.3f}"),
        row("pulses / cell, mean", s["pulses_mean"], lambda v: f"{v:.1f}"),
        row("pulses / cell, max", s["pulses_max"], str),
        row("energy [J]", s["energy_j"], lambda v: f"{v:.3g}"),
        row("programming time [s]", s["time_s"], lambda v: f"{v:.3g}"), "",
        (f"SPICE failed: {s['spice_error']}." if s["spice_error"] else
         f"SPICE vs twin final conductance: max {s['max_g_error_spice_vs_twin']:.2%} of the "
         f"range (first differing verify decision at iteration "
         f"{s['first_divergent_iteration']}).") + "  Half-select disturb (largest |dG| of an "
        "unselected cell, fraction of the range, one long RESET + SET pulse on the centre "
        "cell of a 3x3 array): " + ", ".join(
            f"{k} " + " / ".join(f"{w} {x:.2g}" for w, x in v.items())
            for k, v in s["half_select_max_dg"].items()) + ".", "",
        f"![write-verify trajectories]({s['plot']})", ""]
    return "\n".join(lines)


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


__all__ = ["QUICK_SPICE_BLOCK", "programming_markdown", "programming_section"]
