"""Circuit IR: elements, subcircuits, decks.  Never prints itself; see :mod:`circuitsim.emit`."""

from .elements import (
    BSource,
    Capacitor,
    CurrentSource,
    Instance,
    Model,
    Mosfet,
    OsdiDevice,
    Pulse,
    Pwl,
    RawLine,
    Resistor,
    Sin,
    Vccs,
    Vcvs,
    VoltageSource,
)
from .subckt import Dc, Deck, Op, Subcircuit, Tran, validate_deck

__all__ = [
    "BSource", "Capacitor", "CurrentSource", "Dc", "Deck", "Instance", "Model", "Mosfet", "Op",
    "OsdiDevice", "Pulse", "Pwl", "RawLine", "Resistor", "Sin", "Subcircuit", "Tran", "Vccs",
    "Vcvs",
    "VoltageSource", "validate_deck",
]
