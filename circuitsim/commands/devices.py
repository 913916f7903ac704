"""``circuitsim devices``: memristor device twins against ngspice, and their golden decks."""

from __future__ import annotations

NAME = "devices"
HELP = "compare the memristor twins with ngspice on single-device runs; write golden decks"


def add_arguments(p) -> None:
    p.add_argument("--runs", nargs="*", default=None, metavar="NAME",
                   help="runs to compare (default all; see --list)")
    p.add_argument("--list", action="store_true", help="list the run names and exit")
    p.add_argument("--write-golden", metavar="DIR", nargs="?", const="", default=None,
                   help="write the golden single-device decks (default netlists/devices/)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per ngspice run")


def run(args) -> int:
    import time

    import numpy as np

    from ..devices.decks import standard_runs, write_golden_decks
    from ..errors import ConfigError
    from ..spice import simulate

    runs = standard_runs()
    if args.list:
        for name, r in runs.items():
            print(f"{name:26s} {type(r.card).__name__:15s} {r.waveform}")
        return 0
    if args.write_golden is not None:
        from ..xval.store import check_writable

        if args.write_golden:
            check_writable(args.write_golden, "--write-golden")
        paths = write_golden_decks(args.write_golden) if args.write_golden else \
            write_golden_decks()
        for p in paths:
            print(f"wrote {p}")
        return 0
    if not args.timeout > 0 or args.timeout == float("inf"):
        raise ConfigError(f"--timeout {args.timeout:g}: give a finite number of seconds > 0")
    names = args.runs or list(runs)
    unknown = [n for n in names if n not in runs]
    if unknown:
        raise ConfigError(f"unknown runs {unknown}; known: {sorted(runs)}")
    print(f"{'run':26s} {'points':>7s} {'max|dx|':>9s} {'max|di|/max|i|':>14s} "
          f"{'ngspice s':>9s} {'twin s':>7s}")
    for name in names:
        r = runs[name]
        res = simulate(r.deck(), timeout_s=args.timeout)
        t0 = time.perf_counter()
        xt, it = r.twin_response(res.axis)
        tw = time.perf_counter() - t0
        x, i = res["v(xm.x)"], -res["i(v1)"]
        print(f"{name:26s} {x.size:7d} {np.max(np.abs(xt - x)):9.2e} "
              f"{np.max(np.abs(it - i)) / np.max(np.abs(i)):14.2e} {res.wall_s:9.3f} {tw:7.3f}")
    return 0
