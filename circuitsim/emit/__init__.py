"""SPICE text output (the only place that writes it)."""

from .ngspice import MODELS_DIR, NgspiceEmitter, emit_deck, emit_subckt

__all__ = ["MODELS_DIR", "NgspiceEmitter", "emit_deck", "emit_subckt"]
