"""Crossbar arrays: the spec (one source of truth), the ngspice netlist generator, and the
ngspice reference for column currents.  The fast behavioral solver is
:mod:`circuitsim.behavioral`."""

from .netlist import crossbar_deck, crossbar_subckt, crossbar_sweep_deck
from .spec import CrossbarSpec

__all__ = ["CrossbarSpec", "crossbar_deck", "crossbar_subckt", "crossbar_sweep_deck"]
