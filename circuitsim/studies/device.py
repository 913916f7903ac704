"""Device studies: programming variability (one-shot vs write-verify), stuck-at faults,
retention drift, endurance, and noise-injection training."""

from __future__ import annotations

import json

import numpy as np

from ..errors import ConfigError
from ..nonideal import (
    Drift,
    Endurance,
    NonIdealityConfig,
    ProgrammingNoise,
    StuckAt,
    WeightNoise,
    WriteVerify,
)
from .common import StudyContext, StudyResult, mc_accuracy, progress_bar

__all__ = ["endurance", "noise_training", "retention", "scenario", "stuck_at", "variability"]

US = 1e-6


def _acc_row(ni, ctx: StudyContext, trained, draws, **cols) -> dict:
    mean, std, acc = mc_accuracy(ni, trained, ctx.dataset, draws, ctx.mapping)
    return {**cols, "mean_acc": mean, "std_acc": std,
            "min_acc": float(acc.min()), "max_acc": float(acc.max()), "draws": int(draws),
            "_scenario": ni.to_dict()}


def variability(ctx: StudyContext, sigmas_us=(1, 2, 5, 10, 20, 40), draws: int = 100,
                shape: str = "wan2022", write_verify: WriteVerify | None = None,
                seed: int = 0) -> StudyResult:
    """Accuracy vs programming σ (peak of σ(G) for ``shape='wan2022'``), one-shot vs
    write-verify, ``draws`` Monte-Carlo draws per point; plus the unscaled Wan et al. 2022 fit
    (σ(G) ≈ 0.35–2.2 µS at G_max 40 µS, scaled to the mapping's G_max)."""
    wv = write_verify or WriteVerify(tolerance=2 * US, max_attempts=10)
    model = ctx.trained()
    rows = []
    points = [(s * US, s) for s in sigmas_us] + [(None, "wan2022-fit")]
    for sig, label in progress_bar(points, "variability", ctx.progress):
        for scheme, w in (("one-shot", None), ("write-verify", wv)):
            pn = ProgrammingNoise(sig, shape if sig is not None else "wan2022", w)
            rows.append(_acc_row(NonIdealityConfig(programming=pn, seed=seed), ctx, model, draws,
                                 sigma_us=label, scheme=scheme))
    base = ctx.baseline()
    fit = {r["scheme"]: r for r in rows if r["sigma_us"] == "wan2022-fit"}
    big = {r["scheme"]: r for r in rows if r["sigma_us"] == max(sigmas_us)}
    head = (f"software {base['software_acc']:.4f} -> mapped {base['mapped_ideal_acc']:.4f}; "
            f"Wan-2022 sigma(G): one-shot {fit['one-shot']['mean_acc']:.4f} +- "
            f"{fit['one-shot']['std_acc']:.4f}, write-verify "
            f"{fit['write-verify']['mean_acc']:.4f} +- {fit['write-verify']['std_acc']:.4f}; "
            f"at {max(sigmas_us)} uS: one-shot {big['one-shot']['mean_acc']:.4f}, "
            f"write-verify {big['write-verify']['mean_acc']:.4f}")
    meta = {**ctx.meta(), **base, "shape": shape, "write_verify": vars(wv), "seed": seed}
    return StudyResult("variability", rows, meta, head, _plot_variability)


def _plot_variability(res: StudyResult, path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for scheme in ("one-shot", "write-verify"):
        r = [x for x in res.rows if x["scheme"] == scheme and x["sigma_us"] != "wan2022-fit"]
        ax.errorbar([x["sigma_us"] for x in r], [x["mean_acc"] for x in r],
                    yerr=[x["std_acc"] for x in r], marker="o", capsize=3, label=scheme)
    ax.axhline(res.meta["software_acc"], color="k", ls=":", label="software")
    ax.set_xscale("log")
    ax.set_xlabel("programming σ (peak of σ(G)) [µS]")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"{res.meta['data']} {res.meta['model']}: variability, "
                 f"{res.rows[0]['draws']} draws")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def stuck_at(ctx: StudyContext, probs=(0.0, 0.01, 0.02, 0.05, 0.10), draws: int = 20,
             seed: int = 0) -> StudyResult:
    """Accuracy over a grid of stuck-at-LRS × stuck-at-HRS probabilities."""
    ds = ctx.dataset
    model = ctx.trained()
    rows = []
    grid = [(pl, ph) for pl in probs for ph in probs]
    for pl, ph in progress_bar(grid, "stuck-at", ctx.progress):
        rows.append(_acc_row(NonIdealityConfig(stuck_at=StuckAt(pl, ph), seed=seed), ctx, model,
                             draws, p_lrs=pl, p_hrs=ph))
    base = ctx.baseline()

    def at(pl, ph):
        return next(r for r in rows if r["p_lrs"] == pl and r["p_hrs"] == ph)

    p5 = 0.05 if 0.05 in probs else probs[-1]
    head = (f"software {base['software_acc']:.4f}; {p5:.0%} stuck-at-LRS "
            f"{at(p5, 0.0)['mean_acc']:.4f}, {p5:.0%} stuck-at-HRS {at(0.0, p5)['mean_acc']:.4f} "
            f"(chance {1 / ds.n_classes:.2f})")
    return StudyResult("stuck_at", rows, {**ctx.meta(), **base, "seed": seed}, head,
                       _plot_stuck_at)


def _plot_stuck_at(res: StudyResult, path):
    import matplotlib.pyplot as plt

    pl = sorted({r["p_lrs"] for r in res.rows})
    ph = sorted({r["p_hrs"] for r in res.rows})
    grid = np.array([[next(r["mean_acc"] for r in res.rows if r["p_lrs"] == a
                           and r["p_hrs"] == b) for b in ph] for a in pl])
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    im = ax.imshow(grid, origin="lower", vmin=0, vmax=1, cmap="viridis")
    ax.set_xticks(range(len(ph)), [f"{p:.0%}" for p in ph])
    ax.set_yticks(range(len(pl)), [f"{p:.0%}" for p in pl])
    for i in range(len(pl)):
        for j in range(len(ph)):
            ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=8,
                    color="w" if grid[i, j] < 0.6 else "k")
    ax.set_xlabel("P(stuck at HRS)")
    ax.set_ylabel("P(stuck at LRS)")
    ax.set_title("mean test accuracy")
    fig.colorbar(im)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def retention(ctx: StudyContext, times_s=(1, 1e2, 1e4, 1e6, 1e8), nu: float = 0.05,
              nu_sigma: float = 0.02, draws: int = 20, seed: int = 0) -> StudyResult:
    """Accuracy vs time after programming: power-law drift (ν ± σ_ν), and the Wan et al. 2022
    ReRAM relaxation σ(G) measured 1 s, 1 day and 2 days after programming."""
    model = ctx.trained()
    rows = []
    for t in progress_bar(times_s, "retention", ctx.progress):
        rows.append(_acc_row(NonIdealityConfig(drift=Drift(t, nu, nu_sigma), seed=seed), ctx,
                             model, draws, model="power-law drift", time_s=t))
    for shape, t in (("wan2022", 1.0), ("wan2022-1d", 86400.0), ("wan2022-2d", 172800.0)):
        ni = NonIdealityConfig(programming=ProgrammingNoise(None, shape), seed=seed)
        rows.append(_acc_row(ni, ctx, model, draws, model="wan2022 relaxation", time_s=t))
    base = ctx.baseline()
    last = [r for r in rows if r["model"] == "power-law drift"][-1]
    wan = [r for r in rows if r["model"] == "wan2022 relaxation"]
    head = (f"software {base['software_acc']:.4f}; drift nu={nu}+-{nu_sigma} after "
            f"{last['time_s']:.0e} s: {last['mean_acc']:.4f} +- {last['std_acc']:.4f}; "
            f"Wan-2022 relaxation 1 s / 1 d / 2 d: "
            + " / ".join(f"{r['mean_acc']:.4f}" for r in wan))
    return StudyResult("retention", rows, {**ctx.meta(), **base, "nu": nu, "nu_sigma": nu_sigma,
                                           "seed": seed}, head, _plot_retention)


def _plot_retention(res: StudyResult, path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for model, mk in (("power-law drift", "o-"), ("wan2022 relaxation", "s--")):
        r = [x for x in res.rows if x["model"] == model]
        ax.errorbar([x["time_s"] for x in r], [x["mean_acc"] for x in r],
                    yerr=[x["std_acc"] for x in r], fmt=mk, capsize=3, label=model)
    ax.axhline(res.meta["software_acc"], color="k", ls=":", label="software")
    ax.set_xscale("log")
    ax.set_xlabel("time after programming [s]")
    ax.set_ylabel("test accuracy")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def endurance(ctx: StudyContext, cycles=(1e5, 1e6, 1e7, 3e7, 1e8, 3e8, 1e9, 1e10),
              onset: float = 1e6, rate: float = 0.25, onset_sigma: float = 0.3,
              draws: int = 20, seed: int = 0) -> StudyResult:
    """Accuracy vs write cycles as the on/off window closes (see :class:`Endurance`)."""
    model = ctx.trained()
    rows = []
    for n in progress_bar(cycles, "endurance", ctx.progress):
        e = Endurance(n, onset, rate, onset_sigma)
        rows.append(_acc_row(NonIdealityConfig(endurance=e, seed=seed), ctx, model, draws,
                             cycles=n, mean_window_loss=float(np.clip(
                                 rate * np.log10(n / onset), 0, 1))))
    base = ctx.baseline()
    ok = [r for r in rows if r["mean_acc"] >= base["software_acc"] - 0.01]
    head = (f"software {base['software_acc']:.4f}; within 1% up to "
            f"{max(r['cycles'] for r in ok) if ok else 0:.0e} cycles; at "
            f"{rows[-1]['cycles']:.0e} cycles {rows[-1]['mean_acc']:.4f}")
    return StudyResult("endurance", rows, {**ctx.meta(), **base, "onset": onset, "rate": rate,
                                           "onset_sigma": onset_sigma, "seed": seed}, head,
                       _plot_xy("cycles", "write cycles", log=True))


def _plot_xy(xkey: str, xlabel: str, log: bool = False, group: str | None = None):
    def plot(res: StudyResult, path):
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        groups = sorted({r[group] for r in res.rows}, key=str) if group else [None]
        for gv in groups:
            r = [x for x in res.rows if group is None or x[group] == gv]
            ax.errorbar([x[xkey] for x in r], [x["mean_acc"] for x in r],
                        yerr=[x.get("std_acc", 0) for x in r], marker="o", capsize=3,
                        label=f"{group}={gv}" if group else None)
        ax.axhline(res.meta["software_acc"], color="k", ls=":", label="software")
        if log:
            ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("test accuracy")
        ax.legend()
        fig.tight_layout()
        fig.savefig(path, dpi=120)

    return plot


def noise_training(ctx: StudyContext, sigmas_us=(5, 10, 20, 40), shape: str = "constant",
                   draws: int = 50, seed: int = 0) -> StudyResult:
    """Accuracy under programming σ of a model trained plainly vs one trained with weight noise
    of the same σ injected at every step (one noise-trained model per σ)."""
    rows = []
    g_max, g_min = ctx.mapping.g_max, ctx.mapping.g_min
    for s in progress_bar(sigmas_us, "noise-training", ctx.progress):
        pn = ProgrammingNoise(s * US, shape)
        ni = NonIdealityConfig(programming=pn, seed=seed)
        wn = WeightNoise(pn, g_max=g_max, g_min=g_min)
        for label, model in (("plain", ctx.trained()),
                             ("noise-injected", ctx.trained(wn, key=f"wn{s}"))):
            rows.append(_acc_row(ni, ctx, model, draws, sigma_us=s, training=label))
    base = ctx.baseline()
    top = [r for r in rows if r["sigma_us"] == max(sigmas_us)]
    head = (f"software {base['software_acc']:.4f}; at {max(sigmas_us)} uS: " + ", ".join(
        f"{r['training']} {r['mean_acc']:.4f} +- {r['std_acc']:.4f}" for r in top))
    return StudyResult("noise_training", rows, {**ctx.meta(), **base, "shape": shape,
                                                "seed": seed}, head,
                       _plot_xy("sigma_us", "programming σ [µS]", log=True, group="training"))


def scenario(ctx: StudyContext, scenario=None, draws: int = 20) -> StudyResult:
    """Accuracy under one whole non-ideality scenario: a :class:`NonIdealityConfig`, its dict,
    or the path of its JSON (as written by :meth:`NonIdealityConfig.save`)."""
    from pathlib import Path


    if scenario is None:
        raise ConfigError("study 'scenario' needs a scenario (--scenario FILE.json, written by "
                          "NonIdealityConfig.save)")
    if isinstance(scenario, (str, Path)):
        path = Path(scenario)
        if not path.is_file():
            raise ConfigError(f"scenario file not found: {path}")
        try:
            scenario = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not a JSON scenario file ({exc}); write one with "
                              "NonIdealityConfig.save") from None
    ni = scenario if isinstance(scenario, NonIdealityConfig) else \
        NonIdealityConfig.from_dict(scenario)
    row = _acc_row(ni, ctx, ctx.trained(), draws, scenario=ni.describe())
    base = ctx.baseline()
    head = (f"software {base['software_acc']:.4f}, mapped {base['mapped_ideal_acc']:.4f}, "
            f"scenario {row['mean_acc']:.4f} +- {row['std_acc']:.4f} ({draws} draws)")
    return StudyResult("scenario", [row], {**ctx.meta(), **base}, head,
                       _plot_xy("draws", "Monte-Carlo draws"))
