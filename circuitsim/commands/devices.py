"""``circuitsim devices``: memristor device twins against ngspice, and their golden decks;
with ``--verilog-a FILE``: a Verilog-A device compiled, characterised and compared
(:func:`circuitsim.devices.report.run_device_study`)."""

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
    va = p.add_argument_group("Verilog-A device (compile, characterise a twin, compare)")
    va.add_argument("--verilog-a", metavar="FILE", default=None,
                    help="a two-terminal, one-state Verilog-A device")
    va.add_argument("--param", metavar="NAME=VALUE", action="append", default=[],
                    help="model parameter value (repeat)")
    va.add_argument("--state-param", default="x0",
                    help="parameter that sets the initial state (default x0)")
    va.add_argument("--state-node", default="x",
                    help="internal node holding the state (default x; 'none' = unobservable)")
    va.add_argument("--out", metavar="DIR", default="out/devices",
                    help="where devices.json, tables.npz and the plots go")
    va.add_argument("--v-range", nargs=2, type=float, metavar=("VMIN", "VMAX"),
                    default=(-1.5, 1.5), help="voltage range of the tables [V]")
    va.add_argument("--x-range", nargs=2, type=float, metavar=("XMIN", "XMAX"),
                    default=(0.0, 1.0), help="state range of the tables")
    va.add_argument("--probe-time", type=float, default=1e-7,
                    help="length of the rate probes [s]")
    va.add_argument("--x0", type=float, default=0.5, help="initial state of both stimuli")
    va.add_argument("--pulse", nargs=4, type=float, metavar=("VLOW", "VHIGH", "WIDTH", "PERIOD"),
                    default=(-1.0, 1.0, 1e-6, 2e-6), help="pulse train [V V s s]")
    va.add_argument("--sine", nargs=2, type=float, metavar=("AMP", "FREQ"),
                    default=(1.0, 1e5), help="sine [V Hz]")
    va.add_argument("--periods", type=int, default=4, help="stimulus periods")
    va.add_argument("--rate-interp", choices=("linear", "smooth"), default="linear",
                    help="rate-table interpolation: bilinear, or PCHIP in v / log-linear in x "
                         "for steep laws")
    va.add_argument("--no-plots", action="store_true", help="skip the plots")


def _run_verilog_a(args) -> int:
    from ..devices.report import DeviceStudy, run_device_study
    from ..devices.verilog_a import VerilogAModel
    from ..errors import ConfigError

    params = {}
    for item in args.param:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ConfigError(f"--param {item!r}: write NAME=VALUE, e.g. --param ron=1e4")
        params[name.strip()] = value.strip()
    node = None if args.state_node.lower() == "none" else args.state_node
    model = VerilogAModel(args.verilog_a, params, args.state_param, node)
    study = DeviceStudy(v_min=args.v_range[0], v_max=args.v_range[1], x_min=args.x_range[0],
                        x_max=args.x_range[1], probe_time=args.probe_time, x0=args.x0,
                        pulse=tuple(args.pulse), sine=tuple(args.sine), periods=args.periods,
                        rate_interp=args.rate_interp)
    rep = run_device_study(model, study, args.out, plots=not args.no_plots)
    print(f"{model.module}: compiled in {rep['compile_s']:.2f} s, characterised in "
          f"{rep['characterise_s']:.2f} s")
    print(f"{'stimulus':9s} {'max|dI|/max|I|':>14s} {'max|dx|':>9s} {'swing':>8s} "
          f"{'ngspice s':>9s} {'twin s':>7s}")
    for name, s in rep["stimuli"].items():
        dx = "n/a" if s["max_state_error"] is None else f"{s['max_state_error']:.2e}"
        sw = "n/a" if s["state_swing"] is None else f"{s['state_swing']:.3g}"
        print(f"{name:9s} {s['max_current_error_rel']:14.2e} {dx:>9s} {sw:>8s} "
              f"{s['ngspice_s']:9.2f} {s['twin_s']:7.2f}")
    print(f"wrote {args.out}/devices.json")
    return 0


def run(args) -> int:
    import time

    import numpy as np

    from ..devices.decks import standard_runs, write_golden_decks
    from ..errors import ConfigError
    from ..spice import simulate

    if args.verilog_a is not None:
        return _run_verilog_a(args)
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
