"""``circuitsim netlist``: a trained model -> ngspice deck of the whole network + manifest."""

from __future__ import annotations

NAME = "netlist"
HELP = "write the ngspice deck (and JSON manifest) of a trained MLP as a memristor circuit"


def add_arguments(p) -> None:
    p.add_argument("--model", required=True,
                   help="a checkpoint from `circuitsim train`, or a torch.save'd nn.Sequential")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--name", default="network", help="deck name [network]")
    p.add_argument("--data", default=None,
                   help="put this data set's first --inputs test images in the deck "
                        "[the checkpoint's data set; without one: one mid-scale input]")
    p.add_argument("--data-path", default=None, help="directory of file-based data sets")
    p.add_argument("--inputs", type=int, default=1, help="test inputs in the deck [1]")
    p.add_argument("--g-min", type=float, default=1e-6, help="lowest conductance [1e-6 S]")
    p.add_argument("--g-max", type=float, default=None,
                   help="highest conductance [the checkpoint's mapping g_max, else 100e-6 S]")
    p.add_argument("--v-read", type=float, default=0.2, help="read voltage [0.2 V]")
    p.add_argument("--levels", type=int, default=None, help="conductance levels [analog]")
    p.add_argument("--wire-r", type=float, default=0.0,
                   help="row and column wire resistance per segment [0 ohm]")
    p.add_argument("--r-source", type=float, default=0.0, help="row driver resistance [0 ohm]")
    p.add_argument("--r-sense", type=float, default=0.0, help="column sense resistance [0 ohm]")
    p.add_argument("--access", action="store_true",
                   help="1T1R cells (level-1 0.18 um access NMOS)")
    p.add_argument("--v-wordline", type=float, default=1.8, help="word-line voltage [1.8 V]")
    p.add_argument("--neuron", default="ideal", choices=("ideal", "circuit"),
                   help="neuron flavour [ideal]")
    p.add_argument("--v-per-unit", type=float, default=0.25,
                   help="neuron input volts per unit pre-activation [0.25 V]")
    p.add_argument("--check", action="store_true",
                   help="run the written deck in plain `ngspice -b` and report")
    p.add_argument("--check-timeout", type=float, default=600.0,
                   help="seconds the --check run may take [600]")


_STEM = r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,99}$"


def check_deck_name(name: str) -> str:
    """``--name``: one plain file name stem (the deck goes to ``--out/<name>.cir``): no path
    separators, no leading dot, nothing that leaves ``--out``."""
    import re

    from ..errors import ConfigError

    if not re.fullmatch(_STEM, name or "") or ".." in name:
        raise ConfigError(f"--name {name!r}: give a plain deck name (letters, digits, '_', '.', "
                          "'+', '-'; starting with a letter or digit; no '/' or '..'), e.g. "
                          "--name network; choose the folder with --out")
    return name


def load_model(path):
    """(nn.Sequential, checkpoint config or {}) from a circuitsim checkpoint or a torch.save'd
    Sequential; no code from the file is run (see :func:`circuitsim.nn.load_model_file`)."""
    from ..nn.train import load_model_file

    return load_model_file(path, "--model")


def run(args) -> int:
    import subprocess

    import numpy as np

    from ..cards import AccessTransistor, Nmos1Card
    from ..errors import ConfigError
    from ..mapping import MappingConfig
    from ..network import CircuitConfig, build_network
    from ..xval.store import check_writable

    check_deck_name(args.name)
    if not 0 < args.check_timeout < float("inf"):
        raise ConfigError(f"--check-timeout {args.check_timeout:g}: give a finite number of "
                          "seconds > 0")
    if args.inputs < 1:
        raise ConfigError(f"--inputs {args.inputs}: the deck needs at least 1 test input")
    AccessTransistor(Nmos1Card(), args.v_wordline)  # its bounds, with --access or not
    if args.v_wordline <= Nmos1Card().vto:
        raise ConfigError(f"--v-wordline {args.v_wordline:g} V: at or below the access NMOS "
                          f"threshold ({Nmos1Card().vto:g} V) the transistors are off and no "
                          "current is read; use e.g. 1.8 V")
    model, ck = load_model(args.model)
    check_writable(args.out)
    g_max = args.g_max
    if g_max is None:
        g_max = float((ck.get("mapping") or {}).get("g_max") or 100e-6)
    mapping = MappingConfig(g_min=args.g_min, g_max=g_max, v_read=args.v_read,
                            levels=args.levels)
    circuit = CircuitConfig(
        r_wire_row=args.wire_r, r_wire_col=args.wire_r, r_source=args.r_source,
        r_sense=args.r_sense,
        access=AccessTransistor(Nmos1Card(), args.v_wordline) if args.access else None,
        neuron_flavour=args.neuron, v_per_unit=args.v_per_unit)
    data = args.data or ck.get("data")
    X, calib = None, None
    if data:
        from ..nn import get_dataset

        ds = get_dataset(data, args.data_path or ck.get("data_path"))
        X = np.asarray(ds.x_test[:args.inputs], dtype=float)
        calib = np.asarray(ds.x_train, dtype=float)
    net = build_network(model, circuit, mapping, calibration=calib, name=args.name)
    paths = net.write(args.out, X)
    for p in paths:
        print(p)
    if args.check:
        import tempfile

        from ..errors import SimulationTimeoutError
        from ..spice import find_ngspice
        from ..spice.runner import run_in_group

        deck = paths[0]
        with tempfile.TemporaryFile("w+") as log:
            try:
                proc = run_in_group([find_ngspice(), "-b", deck.name], args.check_timeout,
                                    cwd=deck.parent, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL)
            except subprocess.TimeoutExpired:
                raise SimulationTimeoutError(f"ngspice -b {deck} ran past --check-timeout "
                                             f"{args.check_timeout:g} s and was killed",
                                             run_dir=deck.parent) from None
            log.seek(0)
            text = log.read()
        print(f"ngspice -b {deck.name}: exit status {proc.returncode}")
        if proc.returncode != 0:
            print(text[-3000:])
            return 1
    return 0
