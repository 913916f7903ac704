"""Weights ↔ differential conductances: :func:`map_layer`, :func:`map_model`, :class:`MappedLayer`.

Layout of one layer: ``g_pos``, ``g_neg`` of shape (in + 1, out) [S]; rows are the inputs then
one bias row (driven at v_read, like an input of value 1), columns the outputs.  A conv layer is
the same crossbar after unfolding: in = in_channels·kh·kw (torch's ``unfold`` order), out =
out_channels, applied to every patch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from .config import MappingConfig
from .walk import walk_sequential

__all__ = ["MappedLayer", "conductance_levels", "map_layer", "map_model", "quantize_conductance"]


@dataclass(frozen=True, eq=False)
class MappedLayer:
    """One layer as a differential crossbar; ``[W | b]^T == (g_pos − g_neg)·w_per_siemens``."""

    g_pos: np.ndarray
    """Conductances of the positive columns (in + 1, out) [S]; last row = bias."""
    g_neg: np.ndarray
    """Conductances of the negative columns (in + 1, out) [S]."""
    w_per_siemens: float | np.ndarray
    """Weight per siemens of conductance difference: a float (``scaling='layer'``) or an array
    (out,) (``scaling='column'``) [1/S]."""
    config: MappingConfig
    """The mapping that produced this layer."""
    activation: str | None = None
    """The neuron after this layer (``sigmoid``/``relu``/``tanh``) or None (output logits)."""
    kind: str = "linear"
    """``linear`` or ``conv2d``."""
    conv: dict | None = None
    """For conv2d: ``in_shape`` (C, H, W), ``out_shape`` (C', H', W'), ``kernel`` (kh, kw),
    ``stride``, ``padding``."""

    def __post_init__(self):
        if self.g_pos.shape != self.g_neg.shape or self.g_pos.ndim != 2:
            raise ConfigError(f"MappedLayer: g_pos {self.g_pos.shape} and g_neg "
                              f"{self.g_neg.shape} must be equal 2-D shapes")

    @property
    def n_in(self) -> int:
        """Inputs (rows without the bias row)."""
        return self.g_pos.shape[0] - 1

    @property
    def n_out(self) -> int:
        return self.g_pos.shape[1]

    def weights(self) -> tuple[np.ndarray, np.ndarray]:
        """(W (out, in), b (out,)) held by the conductances (conv: W flattened per filter)."""
        wb = (self.g_pos - self.g_neg) * self.w_per_siemens
        return np.ascontiguousarray(wb[:-1].T), wb[-1].copy()

    def replace(self, **changes) -> MappedLayer:
        """A copy with fields changed (e.g. ``g_pos=...`` after a non-ideality)."""
        return dataclasses.replace(self, **changes)

    def current_to_output(self, i_diff, v_read: float | None = None) -> np.ndarray:
        """Layer output (pre-activation) from differential column currents I+ − I− [A] for
        inputs x driven at x·v_read."""
        v = self.config.v_read if v_read is None else v_read
        return np.asarray(i_diff) * self.w_per_siemens / v


def conductance_levels(cfg: MappingConfig) -> np.ndarray:
    """The ``cfg.levels`` programmable conductances [S], ascending."""
    if cfg.levels is None:
        raise ConfigError("MappingConfig.levels is None: conductances are analog")
    if cfg.level_spacing == "log":
        return np.geomspace(cfg.g_min, cfg.g_max, cfg.levels)
    return np.linspace(cfg.g_min, cfg.g_max, cfg.levels)


def quantize_conductance(g: np.ndarray, cfg: MappingConfig) -> np.ndarray:
    """Each conductance → the nearest programmable level (identity when levels is None)."""
    if cfg.levels is None:
        return np.asarray(g, dtype=float)
    lv = conductance_levels(cfg)
    g = np.clip(np.asarray(g, dtype=float), cfg.g_min, cfg.g_max)
    idx = np.clip(np.searchsorted(lv, g), 1, len(lv) - 1)
    lo, hi = lv[idx - 1], lv[idx]
    return np.where(g - lo <= hi - g, lo, hi)


def map_layer(weight, bias=None, cfg: MappingConfig | None = None, *,
              activation: str | None = None, kind: str = "linear", conv: dict | None = None
              ) -> MappedLayer:
    """Map ``weight`` (out, in) and ``bias`` (out,) (None = zeros) onto a differential crossbar.

    Exact round trip without quantisation (to float rounding): ``weights() == (weight, bias)``.
    An all-zero layer (or column) maps to g_min everywhere with w_per_siemens = 1/(g_max−g_min).
    """
    cfg = MappingConfig() if cfg is None else cfg
    w = np.asarray(weight, dtype=float)
    if w.ndim != 2:
        raise ConfigError(f"map_layer: weight must be 2-D (out, in), got shape {w.shape}")
    b = np.zeros(w.shape[0]) if bias is None else np.asarray(bias, dtype=float).reshape(-1)
    if b.shape != (w.shape[0],):
        raise ConfigError(f"map_layer: bias must have {w.shape[0]} entries, got {b.shape}")
    wb = np.concatenate([w.T, b[None, :]], axis=0)  # (in + 1, out)
    if not np.all(np.isfinite(wb)):
        raise ConfigError("map_layer: weights and biases must be finite")
    span = cfg.g_max - cfg.g_min
    if cfg.scaling == "column":
        w_max = np.max(np.abs(wb), axis=0)
        w_max = np.where(w_max > 0, w_max, 1.0)
        w_per_s: float | np.ndarray = w_max / span
    else:
        w_max = float(np.max(np.abs(wb))) if wb.size else 0.0
        w_max = w_max if w_max > 0 else 1.0
        w_per_s = w_max / span
    k = 1.0 / w_per_s
    g_pos = cfg.g_min + np.maximum(wb, 0.0) * k
    g_neg = cfg.g_min + np.maximum(-wb, 0.0) * k
    if cfg.levels is not None:
        g_pos = quantize_conductance(g_pos, cfg)
        g_neg = quantize_conductance(g_neg, cfg)
    else:  # rounding can push the largest weight a hair past g_max
        g_pos = np.minimum(g_pos, cfg.g_max)
        g_neg = np.minimum(g_neg, cfg.g_max)
    return MappedLayer(g_pos, g_neg, w_per_s, cfg, activation, kind, conv)


def map_model(model, cfg: MappingConfig | None = None, input_shape=None
              ) -> list[MappedLayer]:
    """Map every ``Linear`` / ``Conv2d`` of a ``torch.nn.Sequential`` (walked by
    :func:`circuitsim.mapping.walk.walk_sequential`); activations attach to the layer before
    them.  ``input_shape`` (C, H, W) is needed only for a conv first layer without
    ``Unflatten``.  Pooling is not part of a mapped layer: use the circuit network."""
    cfg = MappingConfig() if cfg is None else cfg
    out = []
    for s in walk_sequential(model, input_shape):
        if s.pool is not None:
            raise ConfigError(f"layer {s.last_index} (pooling): the mapping read path has no "
                              "pooling; run the model through circuitsim.network (digital "
                              "pooling) instead")
        out.append(map_layer(s.weight, s.bias, cfg, activation=s.activation, kind=s.kind,
                             conv=s.conv))
    return out
