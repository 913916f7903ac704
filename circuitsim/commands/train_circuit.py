"""``circuitsim train-circuit``: train a memristor network in transient ngspice (four phases per
sample, Ctrl1/Ctrl2) and with the behavioral twin, from the same start, in the same order."""

from __future__ import annotations

NAME = "train-circuit"
HELP = "in-situ backpropagation training in transient SPICE vs the behavioral twin"


def add_arguments(p) -> None:
    p.add_argument("--task", default="xor", choices=("xor", "digits3"),
                   help="xor (2-H-1) or digits3 (digits 0/1/7 of sklearn's load_digits, 4x4 "
                        "pooled: 16-H-3) [default xor]")
    p.add_argument("--epochs", type=int, default=14, help="epochs [default 14]")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--hidden", type=int, default=None,
                   help="hidden neurons [default 3 for xor, 4 for digits3]")
    p.add_argument("--seed", type=int, default=0, help="initial weights and sample order")
    p.add_argument("--init-scale", type=float, default=None,
                   help="initial weights uniform in ±this [default 3 for xor, 1 for digits3]")
    p.add_argument("--dx-max", type=float, default=0.03,
                   help="state change of one full pulse (learning rate) [default 0.03]")
    p.add_argument("--train-per-class", type=int, default=5,
                   help="digits3: training images per class [default 5]")
    p.add_argument("--test-per-class", type=int, default=10,
                   help="digits3: test images per class [default 10]")
    p.add_argument("--t-edge", type=float, default=20e-9,
                   help="update-pulse edge time [s]; ngspice's tmax is a quarter of it "
                        "[default 2e-8; 5e-8 runs ~3x faster, see benchmarks/bench_bptrain]")
    p.add_argument("--timeout", type=float, default=600.0,
                   help="seconds per ngspice run [default 600]")


def run(args) -> int:
    from ..bptrain.report import run_training
    from ..errors import ConfigError
    from ..xval.store import out_lock

    if args.seed < 0:
        raise ConfigError(f"--seed {args.seed}: seeds are integers >= 0")
    with out_lock(args.out):
        result = run_training(task=args.task, epochs=args.epochs, out=args.out,
                              hidden=args.hidden, seed=args.seed, init_scale=args.init_scale,
                              dx_max=args.dx_max, train_per_class=args.train_per_class,
                              test_per_class=args.test_per_class, timeout_s=args.timeout,
                              t_edge=args.t_edge)
    print(f"task {result['task']}: accuracy SPICE {result['accuracy_spice']:.3f}, twin "
          f"{result['accuracy_behavioral']:.3f}; max conductance deviation "
          f"{result['max_conductance_deviation_rel']:.2e} of the range; wall SPICE "
          f"{result['wall_s_spice']:.1f} s, twin {result['wall_s_behavioral']:.2f} s")
    print(f"wrote {args.out}/result.json and plots")
    return 0
