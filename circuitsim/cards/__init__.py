"""Device and circuit parameter cards: frozen dataclasses, one source of truth for both the
SPICE netlists and the behavioral models."""

from .memristor import VTEAM_CROSSBAR, VTEAM_MEMTORCH, Vteam
from .transistor import ACCESS_018UM, AccessTransistor, Nmos1Card

__all__ = ["ACCESS_018UM", "AccessTransistor", "Nmos1Card", "VTEAM_CROSSBAR", "VTEAM_MEMTORCH",
           "Vteam"]
