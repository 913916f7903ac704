"""IR-drop-aware training: the exact solve with its adjoint gradient vs the straight-through
estimate (issue 13), time per epoch and accuracy under IR drop.

    python benchmarks/bench_irdrop_training.py            # 64x64 and 128x128 crossbars
    python benchmarks/bench_irdrop_training.py --quick    # 16x16 and 32x32

Writes benchmarks/results/irdrop_training.md / .json (irdrop_training_quick.* with --quick).

Task (synthetic, seeded): N-1 features uniform in [0, 1], 10 classes given by a random linear
teacher; model N-1 -> N (sigmoid) -> 10, so layer 1 is one N x N crossbar pair (G+ / G-, the
bias row included) and layer 2 an (N+1) x 10 pair.  Mapping: G 1-100 uS (``MappingConfig()``),
one crossbar per layer; wires ``--r`` ohm per segment on rows and columns, 1 ohm driver and 1
ohm sense (the crossbar benchmark's setting at --r 1).  A model trained without IR drop
(``--pretrain`` epochs) is fine-tuned ``--epochs`` epochs (Adam, lr 3e-3, batch 32) by each
method from the same start:

* ``exact``: ``IRDropAware(ir, mapping)`` -- every step's forward is the exact IR-drop solve of
  both layers (``behavioral.crossbar_currents``: PCG, KCL criterion), backward its adjoint;
* ``straight-through, every step`` / ``every epoch``: ``IRDropAware(..., "straight-through")``,
  the weight error of the IR-drop solve (transfer maps of the tiles) refreshed every step /
  once per epoch (``noise_every``; the IR-drop study uses once per epoch);
* ``plain fine-tuning``: the same fine-tuning without IR drop (control).

Test accuracy is measured through the circuit network's twin (the studies' read path,
``circuitsim.network.evaluate.crossbar_forward``) with the IR drop and, for reference, with
ideal wires.  Each tile is one crossbar with the G+ / G- columns of an output side by side.
torch and BLAS run on one thread.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _table import RESULTS, write_table  # noqa: E402


def make_task(n: int, n_train: int, n_test: int, seed: int = 0):
    import numpy as np

    from circuitsim.nn import Dataset

    r = np.random.default_rng(seed)
    f = n - 1
    teacher = r.normal(size=(f, 10))
    x = r.random((n_train + n_test, f)).astype(np.float32)
    y = np.argmax((x - 0.5) @ teacher, axis=1).astype(np.int64)
    return Dataset(x[:n_train], y[:n_train], x[n_train:], y[n_train:], f"teacher{f}",
                   tuple(str(i) for i in range(10)))


def accuracies(model, ds, ir, cfg) -> tuple[float, float]:
    """Test accuracy through the circuit network's twin (the studies' read path) with the
    IR drop, and with ideal wires."""
    import numpy as np

    from circuitsim.network.evaluate import crossbar_forward
    from circuitsim.nonideal import NonIdealityConfig
    from circuitsim.readout import predict_labels

    with_ir = crossbar_forward(model, ds.x_test, cfg, nonideal=NonIdealityConfig(ir_drop=ir))
    ideal = crossbar_forward(model, ds.x_test, cfg)
    return (float(np.mean(predict_labels(with_ir) == ds.y_test)),
            float(np.mean(predict_labels(ideal) == ds.y_test)))


def rows_for(n: int, args) -> list[dict]:
    from circuitsim.mapping import MappingConfig
    from circuitsim.nn import TrainConfig, train
    from circuitsim.nn.models import make_mlp
    from circuitsim.nonideal import IRDrop, IRDropAware

    ds = make_task(n, args.samples, args.test)
    cfg = MappingConfig()
    ir = IRDrop(r_wire_row=args.r, r_wire_col=args.r, r_source=1.0, r_sense=1.0)
    base = make_mlp((n - 1, n, 10), seed=0)
    train(base, ds, TrainConfig(epochs=args.pretrain, lr=1e-2, seed=0, device="cpu",
                                progress=False))
    acc_ir, acc_ideal = accuracies(base, ds, ir, cfg)
    out = [{"array": f"{n}x{n}", "method": "pretrained (no IR-drop training)",
            "epoch_s": "—", "step_s": "—", "test_acc_ir": acc_ir,
            "test_acc_ideal": acc_ideal}]
    steps = -(-len(ds.x_train) // 32)
    methods = [("exact (PCG + adjoint)", IRDropAware(ir, cfg), 1),
               ("straight-through, every step", IRDropAware(ir, cfg, "straight-through"), 1),
               ("straight-through, every epoch", IRDropAware(ir, cfg, "straight-through"),
                steps),
               ("plain fine-tuning", None, 1)]
    for label, hook, every in methods:
        m = copy.deepcopy(base)
        print(f"[{n}x{n}] {label} ...", flush=True)
        t0 = time.perf_counter()
        train(m, ds, TrainConfig(epochs=args.epochs, lr=3e-3, seed=1, device="cpu",
                                 weight_noise=hook, noise_every=every, progress=False))
        t = time.perf_counter() - t0
        acc_ir, acc_ideal = accuracies(m, ds, ir, cfg)
        out.append({"array": f"{n}x{n}", "method": label, "epoch_s": t / args.epochs,
                    "step_s": t / (args.epochs * steps), "test_acc_ir": acc_ir,
                    "test_acc_ideal": acc_ideal})
        print("   ", out[-1], flush=True)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="16x16 and 32x32, fewer samples")
    ap.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=None)
    ap.add_argument("--r", type=float, default=2.0, help="wire resistance per segment [ohm]")
    ap.add_argument("--samples", type=int, default=1024)
    ap.add_argument("--test", type=int, default=512)
    ap.add_argument("--pretrain", type=int, default=30)
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args(argv)
    if args.quick:
        args.samples, args.test, args.pretrain, args.epochs = 256, 256, 20, 2
    sizes = args.sizes or ([16, 32] if args.quick else [64, 128])
    import torch

    torch.set_num_threads(1)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    rows = []
    for n in sizes:
        rows += rows_for(n, args)
    stem = "irdrop_training_quick" if args.quick else "irdrop_training"
    cmd = "python benchmarks/bench_irdrop_training.py " + " ".join(argv or sys.argv[1:])
    write_table(stem, rows, title="IR-drop-aware training: exact solve + adjoint vs "
                "straight-through", notes=(
                    f"Command: `{cmd.strip()}`; load average at start {load} (2 shared "
                    f"cores); wires {args.r:g} ohm per segment, driver and sense 1 ohm; "
                    f"{args.samples} training / {args.test} test samples, {args.pretrain} "
                    f"pre-training epochs, {args.epochs} fine-tuning epochs per method.  "
                    "test_acc_ir: mapped network with the exact IR-drop solve; "
                    "test_acc_ideal: ideal crossbar.  See the script's docstring."))
    print(f"written {RESULTS / (stem + '.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
