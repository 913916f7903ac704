"""Hardware-aware training: weight noise drawn from the device-variability model.

:class:`WeightNoise` is the ``TrainConfig.weight_noise`` hook of :mod:`circuitsim.nn.train`.
At each step every layer [W | b] is mapped as :func:`~circuitsim.mapping.map_layer` does
(G = g_min + |w|·k on the device of the weight's sign, g_min on the other,
k = (g_max − g_min)/max|w| over the layer), both devices are perturbed by
:class:`~circuitsim.nonideal.ProgrammingNoise` (one-shot or write-verify, constant σ or σ(G)),
and the weight error (G+' − G−')/k − w is returned.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..errors import ConfigError
from ..mapping import MappingConfig, map_layer
from ..units import require_nonnegative, require_positive
from .programming import ProgrammingNoise
from .read import IRDrop

__all__ = ["IRDropAware", "WeightNoise"]


@dataclass(frozen=True)
class WeightNoise:
    """Programming noise injected into the weights during training."""

    programming: ProgrammingNoise
    """The variability model (as used at inference)."""
    g_max: float = 110e-6
    """G_max of the mapping [S]."""
    g_min: float = 0.0
    """G_min of the mapping [S]."""

    def __post_init__(self):
        if not isinstance(self.programming, ProgrammingNoise):
            raise ConfigError("WeightNoise.programming must be a ProgrammingNoise")
        require_positive("WeightNoise.g_max", self.g_max, "[S]")
        require_nonnegative("WeightNoise.g_min", self.g_min, "[S]")
        if self.g_min >= self.g_max:
            raise ConfigError("WeightNoise: g_min must be below g_max")

    def to_dict(self) -> dict:
        return asdict(self)

    def sample_numpy(self, w: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The additive weight error for weights ``w`` (numpy)."""
        w = np.asarray(w, dtype=float)
        w_max = float(np.max(np.abs(w))) if w.size else 0.0
        if w_max == 0 or self.programming.is_identity:
            return np.zeros_like(w)
        k = (self.g_max - self.g_min) / w_max
        gp = self.g_min + np.maximum(w, 0) * k
        gn = self.g_min + np.maximum(-w, 0) * k
        gp2 = self.programming.apply(gp, self.g_max, rng)
        gn2 = self.programming.apply(gn, self.g_max, rng)
        return ((gp2 - gn2) - (gp - gn)) / k

    def layer_noise(self, w: torch.Tensor, b: torch.Tensor | None, generator: torch.Generator):
        """(dW, db) for one layer, scaled jointly over weights and bias like the mapping."""
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        wn = w.detach().cpu().double().numpy()
        wb = wn if b is None else np.concatenate([wn, b.detach().cpu().double().numpy()[:, None]],
                                                 axis=1)
        e = torch.as_tensor(self.sample_numpy(wb, np.random.default_rng(seed)), dtype=w.dtype)
        return (e, None) if b is None else (e[:, :-1], e[:, -1])

    def sample(self, w: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        noise = self.sample_numpy(w.detach().cpu().double().numpy(), np.random.default_rng(seed))
        return torch.as_tensor(noise, dtype=w.dtype)


@dataclass(frozen=True)
class IRDropAware:
    """IR-drop-aware training: the error of each layer is the exact, deterministic difference
    between the weights its crossbars realise with wire resistance
    (:meth:`IRDrop.effective_layer`) and the weights themselves, recomputed at every step
    from the current weights; added for the forward/backward pass and removed before the update
    (a straight-through estimate of the gradient)."""

    ir_drop: IRDrop
    """The wire resistances."""
    mapping: MappingConfig
    """How weights become conductances (G range, tiles)."""

    def to_dict(self) -> dict:
        return {"ir_drop": asdict(self.ir_drop), "mapping": self.mapping.to_dict()}

    def layer_noise(self, w: torch.Tensor, b: torch.Tensor | None, generator=None):
        wn = w.detach().cpu().double().numpy()
        bn = None if b is None else b.detach().cpu().double().numpy()
        layer = map_layer(wn, bn, self.mapping)
        w2, b2 = self.ir_drop.effective_layer(layer).weights()
        dw = torch.as_tensor(w2 - wn, dtype=w.dtype)
        return dw, (None if b is None else torch.as_tensor(b2 - bn, dtype=b.dtype))
