"""Python twins of the memristor models in ``models/``: the same equations as the SPICE
subcircuits, in numpy, fed by the same cards (:mod:`circuitsim.cards.memristor`)."""

from ..cards.memristor import LinearIonDrift, Vteam
from ..errors import ConfigError
from .linear_ion_drift import LinearIonDriftTwin
from .vteam import VteamTwin

__all__ = ["LinearIonDriftTwin", "VteamTwin", "twin"]


def twin(card):
    """The twin of a dynamic memristor card (``Vteam`` or ``LinearIonDrift``)."""

    if isinstance(card, Vteam):
        return VteamTwin(card)
    if isinstance(card, LinearIonDrift):
        return LinearIonDriftTwin(card)
    raise ConfigError(f"no device twin for {type(card).__name__}; dynamic cards are Vteam and "
                      "LinearIonDrift")
