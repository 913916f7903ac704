"""NetOutputs: what a forward pass of a circuit network returns (SPICE or behavioral)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..readout import predict_labels


@dataclass
class NetOutputs:
    """Per-layer results for N inputs.

    ``layers[l]``: (N, n_out) output voltage of layer l [V]: the neuron outputs (= the next
    layer's row voltages) for hidden layers, the sense-stage outputs (logits × v_per_unit) for
    the last.  ``pre[l]``: (N, n_out) neuron input voltages [V] (= sense-stage outputs).
    ``currents[l]``: (N, 2·n_out) column currents into the sense stage [A], columns
    interleaved (2j = G+, 2j+1 = G-) or None (with tiles: (N, row tiles · 2·n_out)).
    ``logits``: (N, classes) in trained units."""

    layers: list[np.ndarray]
    logits: np.ndarray
    pre: list[np.ndarray] = field(default_factory=list)
    currents: list[np.ndarray | None] = field(default_factory=list)
    source: str = ""
    """``'spice'``, ``'behavioral'`` or ``'ideal'``."""
    wall_s: float = 0.0
    """Wall-clock time of the forward pass [s]."""
    tiles: list[np.ndarray] = field(default_factory=list)
    """Layers with tiles / converters: ``tiles[l]`` (N, row tiles, n_out) analog sense-stage
    outputs of every tile before the ADC [V] (empty for all-analog networks)."""
    power: list[np.ndarray] = field(default_factory=list)
    """Layers with tiles / converters: ``power[l]`` (N, row tiles, col tiles) read power of
    every tile [W]: Σ V·I of its row drivers (SPICE: ngspice's branch currents; twin: the
    solved node voltages), summed over the output positions of a conv layer (one read each).
    Times the read time ``CircuitConfig.t_read`` = read energy."""
    meta: dict = field(default_factory=dict)

    def predict(self) -> np.ndarray:
        """Class per input: argmax of the logits (one output: logit > 0)."""
        return predict_labels(self.logits)

    def __len__(self) -> int:
        return int(self.logits.shape[0])
