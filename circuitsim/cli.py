"""``circuitsim`` command line: thin over the library.

Each subcommand lives in its own module in :mod:`circuitsim.commands` and exposes
``NAME`` (the subcommand), ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args)``
returning an exit code.  New subcommands are found automatically.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from . import __version__
from .errors import CircuitsimError


def _commands():
    from . import commands

    mods = []
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        mods.append(importlib.import_module(f"{commands.__name__}.{info.name}"))
    return mods


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="circuitsim",
        description="Memristor crossbar neural networks: ngspice netlists and a fast "
                    "behavioral twin, cross-validated.")
    parser.add_argument("--version", action="version", version=f"circuitsim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _commands():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run, _parser=p)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # reported by the subcommand's parser: its usage line and name
        (getattr(args, "_parser", None) or parser).error(
            f"unrecognized arguments: {' '.join(extra)}")
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except CircuitsimError as exc:
        _error(args.command, str(exc))
        return 1
    except OSError as exc:
        if exc.filename is None:  # not about a path the user named: a bug, show it all
            raise
        where = exc.filename if exc.filename2 is None else f"{exc.filename} -> {exc.filename2}"
        _error(args.command, f"{where}: {exc.strerror or exc}; check the path and its "
                             "permissions")
        return 1
    except KeyboardInterrupt:
        print(f"circuitsim {args.command}: interrupted", file=sys.stderr)
        return 130


def _error(command: str, message: str) -> None:
    """One line ``circuitsim CMD: error: ...``; details a message carries on further lines
    (a simulation error's run directory and log tail) follow, indented."""
    first, *rest = message.strip().splitlines() or [""]
    print(f"circuitsim {command}: error: {first}", file=sys.stderr)
    for line in rest:
        print(f"  {line}" if line.strip() else "", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
