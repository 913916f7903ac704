"""Software vs mapped accuracy of each digits model, and every study at its default settings,
next to the published figure it mirrors.  Every mapped figure is read through the circuit
network's twin (:func:`circuitsim.network.crossbar_forward`, the one read path).

    .venv/bin/python benchmarks/bench_studies.py [--quick]

Writes benchmarks/results/studies.md and .json, and each study's CSV / JSON / PNG under
benchmarks/results/studies/.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from _table import RESULTS, write_table  # noqa: E402

from circuitsim.mapping import CAT_STUDY  # noqa: E402
from circuitsim.network import mapped_accuracy  # noqa: E402
from circuitsim.nn import TrainConfig, accuracy, load_digits, make_model, train  # noqa: E402
from circuitsim.studies import STUDIES, StudyContext, run_study  # noqa: E402
from circuitsim.studies.readpath import CALIBRATION_IMAGES  # noqa: E402

PUBLISHED = {
    "variability": "cat study: 74% -> 74% after mapping; ~1-2% spread under sigma(G)",
    "tiles-adc": "MemTorch: < 1% loss at 8-bit ADC / 64x64 tiles",
    "vmax": "MemTorch: accuracy vs max input voltage (device-dependent optimum)",
    "stuck-at": "MemTorch: 5% stuck-at-LRS -> chance (CIFAR-10); SA-HRS far milder",
    "retention": "(no single published figure; drift degrades slowly, log-time)",
    "endurance": "(no single published figure)",
    "noise-training": "noise-injection training recovers accuracy at equal sigma",
    "ir-drop": "DESIGN.md: 3.7/8.9/16.7% full-scale error at 1/2.5/5 ohm (32x16)",
    "nonlinearity": "CNN seed: pulse-trained accuracy falls as the P/D nonlinearity NL grows",
}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    ds = load_digits()
    models = []
    for kind, act in (("mlp", "sigmoid"), ("mlp", "relu"), ("logistic", "sigmoid"),
                      ("cnn", "relu")):
        t0 = time.perf_counter()
        m = make_model(kind, ds.n_features, ds.n_classes, ds.image_shape, activation=act)
        train(m, ds, TrainConfig(epochs=5 if args.quick else 40, progress=False, device="cpu"))
        for name, cfg in (("analog", CAT_STUDY),
                          ("8-bit ADC/DAC, 64x64 tiles, 256 levels",
                           dataclasses.replace(CAT_STUDY, levels=256, tile_size=64, adc_bits=8,
                                               dac_bits=8))):
            models.append({"model": f"{kind}-{act}" if kind == "mlp" else kind,
                           "mapping": name,
                           "software_acc": accuracy(m, ds.x_test, ds.y_test),
                           "mapped_acc": mapped_accuracy(
                               m, ds.x_test, ds.y_test, cfg,
                               calibration=ds.x_train[:CALIBRATION_IMAGES]),
                           "train_s": round(time.perf_counter() - t0, 1)})
    ctx = StudyContext(quick=args.quick, progress=False)
    rows = []
    for name in (n for n in STUDIES if n != "scenario"):
        t0 = time.perf_counter()
        try:
            res = run_study(name, ctx, RESULTS / "studies")
            head = res.headline
        except Exception as exc:  # report and go on (e.g. the IR-drop engine missing)
            head = f"FAILED: {exc}"
        rows.append({"study": name, "wall_s": round(time.perf_counter() - t0, 1),
                     "headline (digits, 64-32-10 sigmoid MLP)": head,
                     "published": PUBLISHED.get(name, "(none recorded)")})
    write_table("studies_models", models, title="Digits models: software vs mapped accuracy "
                "(360 test images)")
    write_table("studies", rows, title="Non-ideality studies at default settings",
                notes="Files: benchmarks/results/studies/<study>.csv/.json/.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
