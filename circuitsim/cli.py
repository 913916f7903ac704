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
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except CircuitsimError as exc:
        print(f"circuitsim {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"circuitsim {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
