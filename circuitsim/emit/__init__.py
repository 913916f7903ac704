"""SPICE text output (the only place that writes it)."""

from .ngspice import (
    Emitted,
    NgspiceEmitter,
    emit_deck,
    emit_deck_reusing,
    emit_elements,
    emit_subckt,
)

__all__ = ["Emitted", "NgspiceEmitter", "emit_deck", "emit_deck_reusing", "emit_elements",
           "emit_subckt"]
