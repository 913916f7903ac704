"""Device and circuit parameter cards: frozen dataclasses, one source of truth for both the
SPICE netlists and the behavioral models."""

from .memristor import (
    HP_BIOLEK,
    HP_JOGLEKAR,
    STATIC_10_100US,
    STATIC_CAT_110US,
    VTEAM_CROSSBAR,
    VTEAM_MEMTORCH,
    LinearIonDrift,
    StaticMemristor,
    Vteam,
)
from .transistor import ACCESS_018UM, AccessTransistor, Nmos1Card

__all__ = ["ACCESS_018UM", "HP_BIOLEK", "HP_JOGLEKAR", "STATIC_10_100US", "STATIC_CAT_110US",
           "VTEAM_CROSSBAR", "VTEAM_MEMTORCH", "AccessTransistor", "LinearIonDrift",
           "Nmos1Card", "StaticMemristor", "Vteam"]
