"""``circuitsim sweep``: accuracy and SPICE/behavioral agreement vs one config field."""

from __future__ import annotations

from .demo import add_executor_arguments, install_sigterm, load_config

NAME = "sweep"
HELP = ("sweep one config field (wire resistance, σ, ADC bits, seed...) and tabulate and plot "
        "accuracy of every level with error bars")


def add_arguments(p) -> None:
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument("--param", required=True, metavar="FIELD",
                   help="field to sweep: seed, hidden, circuit.FIELD, mapping.FIELD, "
                        "nonideal.FIELD, train.FIELD")
    p.add_argument("--values", required=True, nargs="+", metavar="V",
                   help="values (JSON: numbers, null, true/false, [lists]; else strings)")
    p.add_argument("--seeds", type=int, nargs="+", default=None,
                   help="seeds of the random non-idealities per value [default: config seed]")
    p.add_argument("--spice", choices=("auto", "all", "none"), default="auto",
                   help="auto: ngspice on the first --spice-images images where the crossbars "
                        "are small enough [default]; all; none (behavioral only)")
    p.add_argument("--spice-images", type=int, default=None,
                   help="images per value run in ngspice with --spice auto [default 40]")
    p.add_argument("--n-images", type=int, default=None,
                   help="test images per value [default: all]")
    p.add_argument("--model", metavar="PATH", default=None, help="use this checkpoint")
    add_executor_arguments(p)


def run(args) -> int:
    from ..xval.config import parse_value
    from ..xval.report import fmt_pct
    from ..xval.store import out_lock
    from ..xval.sweep import run_sweep

    install_sigterm()
    cfg = load_config(args)
    if args.n_images is not None:
        cfg = cfg.with_value("n_images", args.n_images)
    with out_lock(args.out):
        r = run_sweep(args.out, args.param, [parse_value(v) for v in args.values], config=cfg,
                      seeds=args.seeds, spice=args.spice, spice_images=args.spice_images,
                      model_path=args.model, executor=args.executor, scheduler=args.scheduler,
                      workers=args.workers, resume=args.resume,
                      progress=False if args.no_progress else None)
    for row in r["rows"]:
        print(f"{args.param}={row['value']}: " + ", ".join(
            f"{k} {fmt_pct(row[k])}" for k in ("software", "behavioral_circuit", "spice")))
    print(f"table: {args.out}/sweep.md")
    return 1 if any(p["failed_chunks"] for p in r["variants"]) else 0
