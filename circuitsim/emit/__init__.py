"""SPICE text output (the only place that writes it)."""

from .ngspice import NgspiceEmitter, emit_deck, emit_subckt

__all__ = ["NgspiceEmitter", "emit_deck", "emit_subckt"]
