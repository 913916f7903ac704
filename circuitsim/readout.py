"""The few formulas every world shares: the neurons' activation functions and the rule that
turns a network's outputs into a class label.

Written once, used by the torch side (:mod:`circuitsim.nn`), the mapping read path, the
circuit network's twin, the neuron cards and the BP-training twin; ``xp`` is the array
module (``numpy`` or ``torch``) so the same text serves both.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ACTIVATION_FUNCS", "activate", "predict_labels", "relu", "sigmoid"]


def sigmoid(z, xp=np):
    """The logistic function 1/(1+e^-z), written as 0.5·(1 + tanh(z/2)): equal, and it never
    overflows (1/(1+exp(-z)) does for z < -709 in float64)."""
    return 0.5 * (1.0 + xp.tanh(0.5 * z))


def relu(z, xp=np):
    """max(z, 0)."""
    return xp.clip(z, 0.0, None) if xp is np else xp.clamp(z, min=0.0)


ACTIVATION_FUNCS = {
    None: lambda z: z,
    "sigmoid": sigmoid,
    "relu": relu,
    "tanh": np.tanh,
}
"""Activation name (None = the output layer, no neuron) → numpy function."""


def activate(name: str | None, z):
    """The activation ``name`` applied to ``z`` (numpy)."""
    return ACTIVATION_FUNCS[name](np.asarray(z, dtype=float))


def predict_labels(outputs, boundary: float = 0.0) -> np.ndarray:
    """Class per row of ``outputs`` (N, classes): argmax; for a single output, 1 where it is
    above ``boundary`` (0 for logits, 0.5 for sigmoid outputs: the same decision)."""
    o = np.asarray(outputs)
    if o.ndim != 2:
        o = o.reshape(len(o), -1)
    if o.shape[1] == 1:
        return (o[:, 0] > boundary).astype(np.int64)
    return np.argmax(o, axis=1).astype(np.int64)
