"""MNIST-scale co-simulation: a 784-input network on 128×128 tiles, ngspice on a subset, the
twin on every test image, per-image ngspice cost and the projected time on N dask workers.

    .venv/bin/python benchmarks/bench_macro.py [--mnist DIR] [--cells 1r|1t1r]
        [--spice-images K] [--images N] [--hidden 256] [--epochs 10]

Data: with ``--mnist DIR`` the four MNIST IDX files in DIR (``circuitsim.nn.data``'s IDX
loaders); without it the repository's embedded 8×8 sklearn digits upsampled (bilinear) to
28×28 — labelled "digits upsampled to 28×28" in every row, never called MNIST.  Network:
784-H-10 ReLU trained with ``circuitsim.nn.train`` (seed 0), mapped 1–100 µS at 0.2 V with
128×128 tiles (128 inputs × 128 outputs, G+/G− columns: 128×256 arrays), an 8-bit ADC per
tile output calibrated on the first 200 training images, 2.5 Ω wires.  The projected
ngspice time for all test images on N workers is ``n_test × (ngspice s per image) / N``: tile
jobs are independent, so it is the ideal; scheduling and deck writing are not included.
Writes benchmarks/results/macro.md and .json.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _table import write_table  # noqa: E402

from circuitsim.cards import ACCESS_018UM  # noqa: E402
from circuitsim.mapping import MappingConfig  # noqa: E402
from circuitsim.network import CircuitConfig, build_network  # noqa: E402
from circuitsim.nn.data import Dataset, load_digits, load_idx_dataset  # noqa: E402
from circuitsim.nn.models import make_mlp  # noqa: E402
from circuitsim.nn.train import TrainConfig, accuracy, train  # noqa: E402

WORKERS = (1, 2, 8, 32)


def upsampled_digits() -> Dataset:
    """The embedded 8×8 digits, bilinearly upsampled to 28×28 (features in [0, 1])."""
    import torch

    ds = load_digits()

    def up(x):
        t = torch.as_tensor(np.asarray(x, dtype=np.float32)).reshape(-1, 1, 8, 8)
        t = torch.nn.functional.interpolate(t, size=(28, 28), mode="bilinear",
                                            align_corners=False)
        return t.clamp(0, 1).reshape(len(x), -1).numpy()

    return Dataset(up(ds.x_train), ds.y_train, up(ds.x_test), ds.y_test,
                   "digits upsampled to 28×28", ds.classes, (1, 28, 28))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mnist", metavar="DIR", default=None, help="folder of the MNIST IDX files")
    ap.add_argument("--cells", choices=("1r", "1t1r"), default="1r")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--spice-images", type=int, default=2)
    ap.add_argument("--images", type=int, default=None, help="twin images [default: all]")
    args = ap.parse_args()
    ds = load_idx_dataset(args.mnist) if args.mnist else upsampled_digits()
    label = "MNIST (IDX files)" if args.mnist else ds.name
    if ds.x_train.shape[1] != 784:
        raise SystemExit(f"expected 784 features, got {ds.x_train.shape[1]}")
    t0 = time.perf_counter()
    model = make_mlp((784, args.hidden, 10), "relu", seed=0)
    train(model, ds, TrainConfig(epochs=args.epochs, seed=0, device="cpu", progress=False))
    model = model.eval()
    t_train = time.perf_counter() - t0
    circuit = CircuitConfig(r_wire_row=2.5, r_wire_col=2.5,
                            access=ACCESS_018UM if args.cells == "1t1r" else None)
    mapping = MappingConfig(g_min=1e-6, g_max=100e-6, v_read=0.2, tile_size=128, adc_bits=8)
    t0 = time.perf_counter()
    net = build_network(model, circuit, mapping, calibration=ds.x_train[:200])
    t_build = time.perf_counter() - t0
    n_tiles = sum(len(list(p.tiles())) for p in net.plans)
    x = ds.x_test[:args.images]
    t0 = time.perf_counter()
    tw = net.behavioral_forward(x)
    t_twin = time.perf_counter() - t0
    k = min(args.spice_images, len(x))
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    sp = net.spice_forward(x[:k], runner="batch", timeout_s=3600)
    t_spice = time.perf_counter() - t0
    per_img = t_spice / k
    e_sp = sum(p.sum(axis=(1, 2)) for p in sp.power) * circuit.t_read
    e_tw = sum(p.sum(axis=(1, 2)) for p in tw.power) * circuit.t_read
    row = {"data": label, "network": f"784-{args.hidden}-10 ReLU", "cells": args.cells.upper(),
           "tiles (128×128)": n_tiles, "torch acc": float(accuracy(model, ds.x_test, ds.y_test)),
           "twin images": len(x), "twin acc": float(np.mean(tw.predict() == ds.y_test[:len(x)])),
           "twin s/image": t_twin / len(x), "ngspice images": k,
           "ngspice acc": float(np.mean(sp.predict() == ds.y_test[:k])),
           "argmax agree": float(np.mean(sp.predict() == tw.predict()[:k])),
           "max |Δ logit|": float(np.abs(sp.logits - tw.logits[:k]).max()),
           "ngspice s/image": per_img, "ngspice s/tile/image": per_img / n_tiles,
           "read energy nJ (ngspice)": float(e_sp.mean() * 1e9),
           "energy rel Δ": float(np.max(np.abs(e_sp - e_tw[:k]) / e_sp)),
           "load avg": load, "solver": ",".join(sp.meta["solver"])}
    for w in WORKERS:
        row[f"all {len(ds.x_test)} in ngspice, {w} workers [h]"] = (
            len(ds.x_test) * per_img / w / 3600)
    notes = (f"Train {t_train:.3g} s ({args.epochs} epochs), build + ADC calibration "
             f"{t_build:.3g} s. The worker columns are projections (ideal scaling of "
             "independent tile jobs), not measurements. Load average = the machine's 1-minute "
             "load when ngspice started (shared 2-core machine).")
    write_table(f"macro_{args.cells}", [row], title="MNIST-scale co-simulation: 784 inputs, "
                "128×128 tiles, ngspice subset vs twin", notes=notes)


if __name__ == "__main__":
    main()
