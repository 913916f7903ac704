"""``circuitsim train``: train a model on a data set and save a checkpoint with its config."""

from __future__ import annotations

NAME = "train"
HELP = "train an MLP / CNN on digits (default), MNIST IDX files or cat-vs-non-cat HDF5"


def add_arguments(p) -> None:
    from ..names import DATASETS, MODEL_KINDS

    p.add_argument("--data", default="digits", choices=DATASETS, help="data set [digits]")
    p.add_argument("--data-path", default=None,
                   help="directory of the data files (mnist, fashion-mnist, catvnoncat)")
    p.add_argument("--model", default="mlp", choices=MODEL_KINDS, help="model kind [mlp]")
    p.add_argument("--hidden", default="32",
                   help="hidden widths, comma-separated (mlp; cat-relu uses the first) [32]")
    p.add_argument("--activation", default="sigmoid", choices=("sigmoid", "relu", "tanh"),
                   help="hidden activation of the mlp [sigmoid]")
    p.add_argument("--epochs", type=int, default=40, help="epochs [40]")
    p.add_argument("--batch-size", type=int, default=32, help="batch size [32]")
    p.add_argument("--lr", type=float, default=1e-2, help="Adam learning rate [0.01]")
    p.add_argument("--seed", type=int, default=0, help="seed of weights and shuffling [0]")
    p.add_argument("--device", default=None, help="cpu or cuda [cuda when available]")
    p.add_argument("--noise-sigma", type=float, default=0.0,
                   help="hardware-aware training: programming σ [S] injected at each step "
                        "(peak σ for the wan2022 shape) [0 = off]")
    p.add_argument("--noise-shape", default="constant", choices=("constant", "wan2022"),
                   help="σ(G) of the injected noise [constant]")
    p.add_argument("--g-max", type=float, default=110e-6, help="G_max of the mapping [110e-6 S]")
    p.add_argument("--prune", type=float, default=0.0,
                   help="magnitude pruning: zero this fraction of each layer's weights, then "
                        "retrain with the mask (pruned devices stay unprogrammed) [0 = off]")
    p.add_argument("--qat-levels", type=int, default=None,
                   help="quantisation-aware retraining to this many linear conductance levels "
                        "of the mapping [off]")
    p.add_argument("--retrain-epochs", type=int, default=10,
                   help="epochs of the pruning / QAT retraining [10]")
    p.add_argument("--out", required=True, help="checkpoint file to write (.pt)")


NETLISTABLE = ("sigmoid", "relu")
"""Hidden activations the circuit network realises (circuitsim.network)."""


def parse_hidden(text: str) -> tuple[int, ...]:
    """``--hidden "64,32"`` -> (64, 32); a :class:`ConfigError` for anything else."""
    from ..errors import ConfigError

    try:
        hidden = tuple(int(h) for h in str(text).split(",") if h.strip())
    except ValueError:
        hidden = (0,)
    if not hidden or any(h < 1 for h in hidden):
        raise ConfigError(f"--hidden {text!r}: expected positive integers separated by commas, "
                          "e.g. --hidden 32 or --hidden 64,32")
    return hidden


def check_checkpoint_path(out: str):
    """Prove the checkpoint can be written (a file path in a writable folder) before any
    training runs."""
    from pathlib import Path

    from ..errors import ConfigError
    from ..xval.store import check_writable

    if Path(out).is_dir() or str(out).endswith(("/", "\\")):
        raise ConfigError(f"--out {out}: is a directory; give the checkpoint file to write, "
                          f"e.g. --out {Path(out) / 'model.pt'}")
    check_writable(Path(out).parent, what=f"--out {out}: folder")


def run(args) -> int:
    from ..errors import ConfigError
    from ..mapping import MappingConfig
    from ..network import mapped_accuracy
    from ..nn import TrainConfig, accuracy, get_dataset, make_model, save_checkpoint, train

    hidden = parse_hidden(args.hidden)
    if args.model == "mlp" and args.activation not in NETLISTABLE:
        raise ConfigError(f"--activation {args.activation}: the circuit network has no "
                          f"{args.activation} neuron (it realises {', '.join(NETLISTABLE)}), "
                          "so this model could never be netlisted or cross-validated; choose "
                          "--activation sigmoid or relu")
    check_checkpoint_path(args.out)
    if args.epochs < 1:
        raise ConfigError(f"--epochs {args.epochs}: training needs at least 1 epoch")
    mcfg = MappingConfig(g_max=args.g_max)  # a bad --g-max fails before training
    ds = get_dataset(args.data, args.data_path)
    model = make_model(args.model, ds.n_features, ds.n_classes, ds.image_shape, hidden,
                       args.activation, args.seed)
    noise = None
    if args.noise_sigma != 0:  # a negative σ reaches ProgrammingNoise's ConfigError
        from ..nonideal import ProgrammingNoise, WeightNoise

        noise = WeightNoise(ProgrammingNoise(args.noise_sigma, args.noise_shape),
                            g_max=args.g_max)
    cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                      seed=args.seed, device=args.device, weight_noise=noise)
    if not 0.0 <= args.prune < 1.0:
        raise ConfigError(f"--prune {args.prune!r}: give a fraction in [0, 1)")
    if args.qat_levels is not None and args.qat_levels < 2:
        raise ConfigError(f"--qat-levels {args.qat_levels!r}: give 2 or more levels")
    hist = train(model, ds, cfg)
    model.cpu()
    pruning = None
    if args.prune > 0 or args.qat_levels is not None:
        from ..nn.prune import prune_retrain

        pr = prune_retrain(model, ds, prune=args.prune, levels=args.qat_levels,
                           epochs=args.retrain_epochs, seed=args.seed)
        pruning = {"prune": args.prune, "pruned_fraction": pr["pruned_fraction"],
                   "qat_levels": args.qat_levels, "retrain_epochs": args.retrain_epochs}
    sw = accuracy(model, ds.x_test, ds.y_test)
    mapped = mapped_accuracy(model, ds.x_test, ds.y_test, mcfg)
    config = {"data": args.data, "data_path": args.data_path,
              "model": {"kind": args.model, "hidden": list(hidden),
                        "activation": args.activation, "seed": args.seed},
              "train": cfg.to_dict(), "mapping": mcfg.to_dict(), "pruning": pruning,
              "results": {"test_acc": sw, "mapped_test_acc": mapped,
                          "train_acc": hist["train_acc"][-1] if hist["train_acc"] else None}}
    path = save_checkpoint(args.out, model, config)
    print(f"{args.model} on {ds.name}: test accuracy {sw:.4f} (software), {mapped:.4f} "
          f"(mapped to G+/G-, ideal crossbar); checkpoint {path}")
    return 0
