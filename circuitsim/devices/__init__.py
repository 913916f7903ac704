"""Python twins of the memristor models in ``models/``: the same equations as the SPICE
subcircuits, in numpy, fed by the same cards (:mod:`circuitsim.cards.memristor`)."""

from .vteam import VteamTwin

__all__ = ["VteamTwin"]
