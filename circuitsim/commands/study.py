"""``circuitsim study NAME``: run one of the memristor-network studies on digits (default)."""

from __future__ import annotations

NAME = "study"
HELP = "run a non-ideality study (variability, tiles-adc, vmax, stuck-at, retention, ...)"


def add_arguments(p) -> None:
    from ..names import DATASETS, MODEL_KINDS, STUDY_NAMES
    p.add_argument("name", choices=[*STUDY_NAMES, "all"],
                   help="which study ('all' = every one but 'scenario')")
    p.add_argument("--scenario", default=None,
                   help="NonIdealityConfig JSON file for the 'scenario' study")
    p.add_argument("--out", required=True, help="directory for the CSV / JSON / PNG files")
    p.add_argument("--quick", action="store_true", help="tiny settings (seconds; for checks)")
    p.add_argument("--draws", type=int, default=None,
                   help="Monte-Carlo draws per point [study default]")
    p.add_argument("--data", default="digits", choices=DATASETS, help="data set [digits]")
    p.add_argument("--data-path", default=None, help="directory of the data files")
    p.add_argument("--model", default="mlp", choices=MODEL_KINDS, help="model kind [mlp]")
    p.add_argument("--hidden", default="32", help="hidden widths, comma-separated [32]")
    p.add_argument("--activation", default="sigmoid", choices=("sigmoid", "relu"),
                   help="hidden neurons [sigmoid] (the studies read through the circuit "
                        "network, which has sigmoid and ReLU neurons)")
    p.add_argument("--epochs", type=int, default=40, help="training epochs [40]")
    p.add_argument("--seed", type=int, default=0, help="seed of training and draws [0]")
    p.add_argument("--g-max", type=float, default=110e-6, help="G_max [S] [110e-6]")
    p.add_argument("--g-min", type=float, default=0.0, help="G_min [S] [0]")
    p.add_argument("--v-read", type=float, default=0.2, help="maximum input voltage [V] [0.2]")


def run(args) -> int:

    from ..errors import ConfigError
    from ..mapping import MappingConfig
    from ..studies import STUDIES, StudyContext
    from ..xval.store import check_writable, out_lock
    from .train import parse_hidden

    if args.seed < 0:
        raise ConfigError(f"--seed {args.seed}: seeds are integers >= 0")
    if args.draws is not None and args.draws < 1:
        raise ConfigError(f"--draws {args.draws}: needs at least 1 Monte-Carlo draw")
    hidden = parse_hidden(args.hidden)
    check_writable(args.out)
    ctx = StudyContext(data=args.data, data_path=args.data_path, model=args.model,
                       hidden=hidden,
                       activation=args.activation, epochs=args.epochs, seed=args.seed,
                       quick=args.quick,
                       mapping=MappingConfig(g_min=args.g_min, g_max=args.g_max,
                                             v_read=args.v_read))
    names = [n for n in STUDIES if n != "scenario"] if args.name == "all" else [args.name]
    with out_lock(args.out):
        _run_studies(args, ctx, names)
    return 0


def _run_studies(args, ctx, names) -> None:
    import inspect
    import time

    from ..studies import STUDIES, run_study

    for name in names:
        kw = {}
        if args.draws is not None and "draws" in inspect.signature(STUDIES[name]).parameters:
            kw["draws"] = args.draws
        if "seed" in inspect.signature(STUDIES[name]).parameters:
            kw["seed"] = args.seed  # --seed seeds the Monte-Carlo draws too, as its help says
        if name == "scenario":
            kw["scenario"] = args.scenario
        t0 = time.perf_counter()
        res = run_study(name, ctx, args.out, **kw)
        print(f"{name} ({time.perf_counter() - t0:.1f} s): {res.headline}")
        for f in res.meta.get("files", []):
            print(f"  wrote {f}")
