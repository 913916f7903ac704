"""Whole networks: a trained ``torch.nn.Sequential`` as an ngspice deck and its behavioral twin.

``net = build_network(model, CircuitConfig(...), MappingConfig(...))``;
``net.deck(X)``, ``net.write(out_dir)``, ``net.spice_forward(X)``,
``net.behavioral_forward(X)`` -> :class:`NetOutputs`; ``net.manifest()``.
See :mod:`circuitsim.network.build` for the voltage scaling.  The studies evaluate mapped
models through the same twin: :func:`crossbar_forward` (:mod:`circuitsim.network.evaluate`).
"""

from .build import LayerPlan, build_network, parse_model
from .config import CircuitConfig
from .evaluate import STUDY_CIRCUIT, crossbar_forward, mapped_accuracy, study_network
from .network import DECK_OPTIONS, Network
from .outputs import NetOutputs

__all__ = ["STUDY_CIRCUIT", "CircuitConfig", "DECK_OPTIONS", "LayerPlan", "NetOutputs",
           "Network", "build_network", "crossbar_forward", "mapped_accuracy", "parse_model",
           "study_network"]
