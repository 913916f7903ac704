"""The studies' read path is the circuit network's twin: one read path over plans.

:func:`crossbar_forward` evaluates a trained ``nn.Sequential`` under a mapping and a
non-ideality scenario by planning its circuit network (:func:`~circuitsim.network.
build_network` with a digital periphery, :data:`STUDY_CIRCUIT`) and running the behavioral
twin: the same :class:`~circuitsim.network.plan.LayerPlan` s, tiles, DAC / ADC (full scales
calibrated on ``calibration`` inputs), partial sums, wires (``nonideal.ir_drop`` is the
circuit's wires), cell I–V, read noise and digital activation that the ngspice co-simulation
(``Network.spice_forward``) uses.  A study figure is therefore a figure of a circuit that
ngspice can check, not of a separate model.

Physics of the twin: with ideal wires and ohmic 1R cells the crossbar is exactly ``G·V``
and the sense stage its design transimpedance (``behavioral_forward(ideal=True)``); with wire
resistance, access transistors, a sinh cell I–V or another cell law (``CircuitConfig.cell``)
each tile is solved exactly, with the
circuit's sense stage (``ideal=False``: its op-amps' finite gain included).
"""

from __future__ import annotations

import numpy as np

from ..readout import predict_labels
from .build import build_network
from .config import CircuitConfig
from .network import Network

__all__ = ["STUDY_CIRCUIT", "accuracy_draws", "crossbar_forward", "mapped_accuracy",
           "study_network", "twin_is_ideal"]

STUDY_CIRCUIT = CircuitConfig(digital_periphery=True)
"""The studies' circuit: ideal wires (``nonideal.ir_drop`` adds them), 1R cells, the default
sense stage, activations computed digitally after it."""


def study_network(model, mapping=None, *, nonideal=None, draw: int = 0, calibration=None,
                  circuit: CircuitConfig | None = None) -> Network:
    """The circuit network of ``model`` for a study: :func:`build_network` with
    :data:`STUDY_CIRCUIT` (or ``circuit``), Monte-Carlo draw ``draw`` of ``nonideal``."""
    return build_network(model, STUDY_CIRCUIT if circuit is None else circuit, mapping,
                         calibration=calibration, nonideal=nonideal, draw=draw, name="study")


def twin_is_ideal(net: Network) -> bool:
    """True when the network's crossbars are an exact ``G·V`` (no wire resistance, ohmic 1R
    cells, no other cell law): the twin's ideal mode then needs no solve."""
    c = net.circuit
    return (not c.has_wire_resistance and c.access is None and c.cell is None
            and net.sinh_v0 is None)


def crossbar_forward(model, x, mapping=None, *, nonideal=None, draw: int = 0,
                     calibration=None, circuit: CircuitConfig | None = None) -> np.ndarray:
    """Logits (N, outputs) of ``model`` mapped with ``mapping`` (default
    :data:`~circuitsim.mapping.DEFAULT_MAPPING`) for inputs ``x`` (N, features) in [0, 1],
    through the network twin (see the module docstring).  ``calibration``: inputs (a training
    subset, never the evaluated images) that set the ADC full scales and ReLU input scales; an
    image's result does not depend on the other images of ``x``."""
    net = study_network(model, mapping, nonideal=nonideal, draw=draw,
                        calibration=calibration, circuit=circuit)
    return net.behavioral_forward(x, ideal=twin_is_ideal(net)).logits


def mapped_accuracy(model, x, y, mapping=None, **kw) -> float:
    """Test accuracy of :func:`crossbar_forward` (keyword arguments go to it)."""
    return float(np.mean(predict_labels(crossbar_forward(model, x, mapping, **kw))
                         == np.asarray(y)))


def accuracy_draws(model, x, y, mapping=None, *, nonideal=None, draws: int = 1,
                   **kw) -> np.ndarray:
    """Accuracy for each of ``draws`` Monte-Carlo draws of ``nonideal`` (array of length
    draws; draw d is ``nonideal``'s seeded draw number d in both worlds)."""
    return np.array([mapped_accuracy(model, x, y, mapping, nonideal=nonideal, draw=d, **kw)
                     for d in range(int(draws))])
