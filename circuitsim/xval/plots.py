"""PNG plots of a cross-validation report (matplotlib, Agg back-end: no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

LEVEL_LABELS = {"software": "software", "behavioral_ideal": "behavioral\nideal",
                "behavioral_circuit": "behavioral\ncircuit", "spice": "ngspice"}


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    _plt().close(fig)
    return path


def plot_accuracy(acc: dict, path: Path, *, title: str = "Test accuracy per model level",
                  acc_spice_images: dict | None = None) -> Path:
    """Bars: accuracy of each level (all images; and on the SPICE images if given)."""
    plt = _plt()
    levels = [k for k in LEVEL_LABELS if acc.get(k) is not None]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    x = np.arange(len(levels))
    w = 0.38 if acc_spice_images else 0.6
    vals = [100 * acc[k] for k in levels]
    bars = ax.bar(x - (w / 2 if acc_spice_images else 0), vals, w, label="all images")
    ax.bar_label(bars, fmt="%.1f", fontsize=8)
    if acc_spice_images:
        v2 = [100 * (acc_spice_images.get(k) or 0) for k in levels]
        b2 = ax.bar(x + w / 2, v2, w, label="images run in ngspice")
        ax.bar_label(b2, fmt="%.1f", fontsize=8)
        ax.legend(fontsize=8, loc="lower right")
    ax.set_xticks(x, [LEVEL_LABELS[k] for k in levels])
    lo = max(0.0, min(vals + [100]) - 15)
    ax.set_ylim(lo, 100.5)
    ax.set_ylabel("accuracy [%]")
    ax.set_title(title)
    return _save(fig, path)


def plot_scatter(spice: list[np.ndarray], behavioral: list[np.ndarray], path: Path) -> Path:
    """SPICE vs behavioral-circuit output voltage, one panel per layer."""
    plt = _plt()
    n = len(spice)
    fig, axes = plt.subplots(1, n, figsize=(3.6 * n, 3.4), squeeze=False)
    for k, (s, b) in enumerate(zip(spice, behavioral, strict=True)):
        ax = axes[0, k]
        ax.plot(b.ravel(), s.ravel(), ".", ms=2, alpha=0.5)
        lo, hi = float(min(s.min(), b.min())), float(max(s.max(), b.max()))
        ax.plot([lo, hi], [lo, hi], "k-", lw=0.6)
        ax.set_xlabel("behavioral circuit [V]")
        ax.set_ylabel("ngspice [V]")
        err = np.abs(s - b).max()
        ax.set_title(f"layer {k + 1} output (max |Δ| {err * 1e3:.3g} mV)", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def plot_error_hist(spice: list[np.ndarray], behavioral: list[np.ndarray], path: Path) -> Path:
    """Histogram of ngspice − behavioral output voltage per layer [mV]."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for k, (s, b) in enumerate(zip(spice, behavioral, strict=True)):
        d = (s - b).ravel() * 1e3
        ax.hist(d, bins=60, alpha=0.6, label=f"layer {k + 1} (σ {d.std():.3g} mV)")
    ax.set_xlabel("ngspice − behavioral circuit output [mV]")
    ax.set_ylabel("outputs")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax.set_title("Output-voltage error, all images and neurons")
    return _save(fig, path)


def plot_ir_drop(loss: np.ndarray, path: Path, *, title: str) -> Path:
    """Heat map of the cell voltage loss (ideal − actual voltage across each cell) [mV]."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4.2))
    im = ax.imshow(loss * 1e3, aspect="auto", cmap="magma", interpolation="nearest")
    fig.colorbar(im, ax=ax, label="cell voltage loss [mV]")
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    ax.set_title(title, fontsize=9)
    return _save(fig, path)


def plot_sweep(param: str, rows: list[dict], path: Path, *, levels=None,
               labels: dict | None = None) -> Path:
    """Accuracy vs the swept value with error bars, one line per level.

    ``rows``: ``{"value", "<level>": mean accuracy, "<level>_err": error bar}`` per value.
    """
    plt = _plt()
    levels = levels or [k for k in LEVEL_LABELS if any(r.get(k) is not None for r in rows)]
    fig, ax = plt.subplots(figsize=(6, 3.8))
    numeric = all(isinstance(r["value"], int | float) and not isinstance(r["value"], bool)
                  for r in rows)
    xs = [r["value"] for r in rows] if numeric else list(range(len(rows)))
    for k in levels:
        pts = [(x, r[k], r.get(f"{k}_err") or 0.0) for x, r in zip(xs, rows, strict=True)
               if r.get(k) is not None]
        if not pts:
            continue
        x, m, e = (np.array(v, dtype=float) for v in zip(*pts, strict=True))
        ax.errorbar(x, 100 * m, yerr=100 * e, marker="o", capsize=3,
                    label=(labels or {}).get(k, LEVEL_LABELS[k].replace("\n", " ")))
    if not numeric:
        ax.set_xticks(xs, [str(r["value"]) for r in rows])
    ax.set_xlabel(param)
    ax.set_ylabel("accuracy [%]")
    ax.legend(fontsize=8)
    ax.set_title(f"Accuracy vs {param}")
    return _save(fig, path)
