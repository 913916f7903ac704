"""Read-path studies (the MemTorch study's sweeps): tile size × ADC resolution, maximum input
voltage, and wire resistance with the exact IR-drop solve."""

from __future__ import annotations

import dataclasses

from ..network.evaluate import mapped_accuracy
from ..nonideal import IVNonlinearity, NonIdealityConfig, ReadNoise
from .common import StudyContext, StudyResult, mc_accuracy, progress_bar
from .device import _plot_xy

__all__ = ["CALIBRATION_IMAGES", "tiles_adc", "vmax"]

CALIBRATION_IMAGES = 200
"""Training images that set the ADC full scales (and ReLU input scales) of a study."""


def tiles_adc(ctx: StudyContext, tiles=(16, 32, 64, 128, 256), bits=tuple(range(2, 11)),
              dac_bits: int | None = None) -> StudyResult:
    """Accuracy over tile size T (T×T crossbars, partial sums added digitally) × ADC bits (one
    ADC per differential output and row tile, full scale calibrated on the first
    :data:`CALIBRATION_IMAGES` training images, never on the test images)."""
    ds = ctx.dataset
    model = ctx.trained()
    rows = []
    grid = [(t, b) for t in tiles for b in bits]
    cal = ds.x_train[:CALIBRATION_IMAGES]
    base = ctx.baseline()
    for t, b in progress_bar(grid, "tiles x adc", ctx.progress):
        cfg = dataclasses.replace(ctx.mapping, tile_size=t, adc_bits=b, dac_bits=dac_bits)
        acc = mapped_accuracy(model, ds.x_test, ds.y_test, cfg, calibration=cal)
        rows.append({"tile": t, "adc_bits": b, "dac_bits": dac_bits, "mean_acc": acc,
                     "loss": round(base["software_acc"] - acc, 6), "_mapping": cfg.to_dict()})

    def at(t, b):
        return next((r for r in rows if r["tile"] == t and r["adc_bits"] == b), None)

    r864 = at(64, 8)
    worst8 = max((r["loss"] for r in rows if r["adc_bits"] == 8), default=float("nan"))
    head = (f"software {base['software_acc']:.4f}; 8-bit ADC, 64x64 tiles: "
            f"{r864['mean_acc']:.4f} (loss {r864['loss']:+.4f})" if r864 else
            f"software {base['software_acc']:.4f}") + \
        f"; worst 8-bit loss over tiles {worst8:+.4f}; 2-bit: " + ", ".join(
            f"T{r['tile']} {r['mean_acc']:.3f}" for r in rows if r["adc_bits"] == min(bits))
    return StudyResult("tiles_adc", rows, {**ctx.meta(), **base, "dac_bits": dac_bits,
                                           "adc_calibration": f"first {len(cal)} training "
                                                              "images"}, head,
                       _plot_tiles)


def _plot_tiles(res: StudyResult, path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for t in sorted({r["tile"] for r in res.rows}):
        r = [x for x in res.rows if x["tile"] == t]
        ax.plot([x["adc_bits"] for x in r], [x["mean_acc"] for x in r], "o-", label=f"{t}x{t}")
    ax.axhline(res.meta["software_acc"], color="k", ls=":", label="software")
    ax.set_xlabel("ADC resolution [bits]")
    ax.set_ylabel("test accuracy")
    ax.legend(title="tile")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def vmax(ctx: StudyContext, v_reads=(0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0), v0: float = 0.25,
         i_noise: float = 0.2e-6, draws: int = 20, seed: int = 0) -> StudyResult:
    """Accuracy vs maximum input voltage: low voltages drown in the sense amplifier's current
    noise ``i_noise`` [A]; high voltages drive the cells into their nonlinear (sinh, ``v0``)
    conduction."""
    ds = ctx.dataset
    model = ctx.trained()
    rows = []
    for v in progress_bar(v_reads, "vmax", ctx.progress):
        cfg = dataclasses.replace(ctx.mapping, v_read=v)
        for label, ni in (("noise only", NonIdealityConfig(read_noise=ReadNoise(0, i_noise),
                                                           seed=seed)),
                          ("noise + sinh I-V", NonIdealityConfig(iv=IVNonlinearity(v0),
                                                                 read_noise=ReadNoise(0, i_noise),
                                                                 seed=seed))):
            mean, std, _ = mc_accuracy(ni, model, ds, draws, cfg)
            rows.append({"v_read": v, "scenario": label, "mean_acc": mean, "std_acc": std,
                         "draws": draws, "_scenario": ni.to_dict(),
                         "_mapping": cfg.to_dict()})
    base = ctx.baseline()
    full = [r for r in rows if r["scenario"] == "noise + sinh I-V"]
    best = max(full, key=lambda r: r["mean_acc"])
    head = (f"software {base['software_acc']:.4f}; best {best['mean_acc']:.4f} at "
            f"{best['v_read']} V; " + ", ".join(f"{r['v_read']} V {r['mean_acc']:.3f}"
                                                for r in full))

    return StudyResult("vmax", rows, {**ctx.meta(), **base, "v0": v0, "i_noise": i_noise,
                                      "seed": seed}, head,
                       _plot_xy("v_read", "maximum input voltage [V]", log=True,
                                group="scenario"))


