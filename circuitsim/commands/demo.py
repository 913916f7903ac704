"""``circuitsim demo``: the main job — train, map, netlist, cross-validate, report."""

from __future__ import annotations

NAME = "demo"
HELP = ("train (or load) the digits MLP, write its netlists, run it through ngspice and the "
        "behavioral model, and write DIR/report.{json,md} with plots")


def add_executor_arguments(p) -> None:
    p.add_argument("--executor", choices=("local", "dask"), default="local",
                   help="local: a process pool over this machine's cores [default]; dask: "
                        "dask.distributed (a LocalCluster unless --scheduler is given)")
    p.add_argument("--scheduler", metavar="ADDR", default=None,
                   help="dask scheduler address, e.g. tcp://10.0.0.5:8786 (with --executor dask)")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes [default: the number of cores]")
    p.add_argument("--resume", action="store_true",
                   help="keep the finished chunks in DIR and run only the rest")
    p.add_argument("--config", metavar="FILE", default=None,
                   help="JSON or TOML file of settings (see circuitsim.xval.XvalConfig)")
    p.add_argument("--set", metavar="FIELD=VALUE", action="append", default=[],
                   help="override one setting, e.g. --set circuit.r_wire_row=2 (repeatable)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_arguments(p) -> None:
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument("--quick", action="store_true",
                   help="only the first 40 test images (well under a minute of ngspice)")
    p.add_argument("--model", metavar="PATH", default=None,
                   help="use this checkpoint instead of training (or the cached one)")
    p.add_argument("--full-spice-images", type=int, default=None, metavar="N",
                   help="images of the full-circuit variant (access transistors + circuit "
                        "neurons, ~10-20 s of ngspice each) run in ngspice [default 20; "
                        "--quick 2; 0 skips the variant]")
    p.add_argument("--no-macro", action="store_true",
                   help="skip the macro variant (64-256-256-10 ReLU, 1T1R, 128x128 tiles, "
                        "8-bit ADC)")
    p.add_argument("--macro-images", type=int, default=None, metavar="N",
                   help="test images of the macro variant through the twin (~1.3 s each per "
                        "core on a loaded 2-core machine) [default 40]")
    p.add_argument("--macro-spice-images", type=int, default=None, metavar="N",
                   help="images of the macro variant run in ngspice, in one chunk (~1.5 "
                        "min of ngspice each on a loaded 2-core machine; the twin runs all) "
                        "[default 4; --quick 0, so a quick run stays quick]")
    add_executor_arguments(p)


def load_config(args, base=None):
    from ..xval.config import XvalConfig, parse_assignments

    cfg = XvalConfig.from_file(args.config) if args.config else (base or XvalConfig())
    for key, value in parse_assignments(args.set):
        cfg = cfg.with_value(key, value)
    return cfg


def install_sigterm() -> None:
    """SIGTERM stops the run like Ctrl-C: workers are stopped, finished chunks stay on disk
    for ``--resume``."""
    import signal

    def _stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)


def run(args) -> int:
    from ..xval.demo import DEMO_CONFIG, run_demo
    from ..xval.report import fmt_pct, fmt_s
    from ..xval.store import out_lock

    install_sigterm()
    cfg = load_config(args, DEMO_CONFIG)
    with out_lock(args.out):
        r = run_demo(args.out, config=cfg, quick=args.quick, model_path=args.model,
                     executor=args.executor, scheduler=args.scheduler, workers=args.workers,
                     resume=args.resume, progress=False if args.no_progress else None,
                     full_spice_images=args.full_spice_images, macro=not args.no_macro,
                     macro_spice_images=args.macro_spice_images,
                     macro_images=args.macro_images)
    acc, ag, t = r["accuracy"], r["agreement"], r["timing_s"]
    print(f"{r['dataset']}: {r['n_test']} test images, {r['n_spice']} through ngspice")
    print("accuracy: " + ", ".join(f"{k} {fmt_pct(v)}" for k, v in acc.items()))
    print(f"ngspice vs behavioral circuit: argmax agreement "
          f"{fmt_pct(ag['argmax_spice_vs_behavioral'])}, max |Δ output| "
          f"{ag['max_abs_output_diff_V']!s} V")
    sp = t.get("speedup_behavioral_vs_spice")
    print(f"time: ngspice {fmt_s(t['spice'])} (sum), behavioral {fmt_s(t['behavioral'])}"
          + (f", speed-up {sp:,.0f}x" if sp else ""))
    fc = r.get("full_circuit")
    if fc:
        print(f"full circuit (+ access transistors, circuit neurons): behavioral_circuit "
              f"{fmt_pct(fc['accuracy']['behavioral_circuit'])} on {fc['n_test']} images; "
              f"ngspice argmax agreement {fmt_pct(fc['agreement']['argmax_spice_vs_behavioral'])}"
              f" on {fc['n_spice']}, max |Δ output| {fc['agreement']['max_abs_output_diff_V']!s} V")
    mc = r.get("variants", {}).get("macro")
    if mc:
        e = mc.get("energy") or {}
        print(f"macro (64-256-256-10 ReLU, 1T1R, {mc['tiles']} tiles): behavioral_circuit "
              f"{fmt_pct(mc['accuracy']['behavioral_circuit'])} on {mc['n_test']} images; "
              f"ngspice argmax agreement {fmt_pct(mc['agreement']['argmax_spice_vs_behavioral'])}"
              f" on {mc['n_spice']}; read energy per inference on those images "
              f"{_j(e.get('spice_mean_J'))} (ngspice) vs "
              f"{_j(e.get('behavioral_circuit_on_spice_images_mean_J'))} (twin), "
              f"{_j(e.get('behavioral_circuit_mean_J'))} (twin, all {mc['n_test']})")
    print(f"report: {args.out}/report.md")
    failed = r["failed_chunks"] + (fc or {}).get("failed_chunks", [])
    failed += (mc or {}).get("failed_chunks", [])
    if failed:
        print(f"{len(failed)} chunk(s) failed; see the report "
              "(rerun with --resume to retry them)")
        return 1
    return 0


def _j(x) -> str:
    """An energy [J] for the summary line, or 'n/a'."""
    return "n/a" if x is None else f"{x:.4g} J"
