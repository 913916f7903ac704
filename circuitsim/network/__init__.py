"""Whole networks: a trained ``torch.nn.Sequential`` as an ngspice deck and its behavioral twin.

``net = build_network(model, CircuitConfig(...), MappingConfig(...))``;
``net.deck(X)``, ``net.write(out_dir)``, ``net.spice_forward(X)``,
``net.behavioral_forward(X)`` -> :class:`NetOutputs`; ``net.manifest()``.
See :mod:`circuitsim.network.build` for the voltage scaling.
"""

from .build import LayerPlan, build_network, parse_model
from .config import CircuitConfig
from .network import DECK_OPTIONS, Network
from .outputs import NetOutputs

__all__ = ["CircuitConfig", "DECK_OPTIONS", "LayerPlan", "NetOutputs", "Network",
           "build_network", "parse_model"]
