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

from ..behavioral.autograd import crossbar_currents
from ..errors import ConfigError
from ..mapping import MappingConfig, map_layer, quantize_conductance
from ..mapping.converters import tile_ranges
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


GRADIENTS = ("exact", "straight-through")
"""The two ways :class:`IRDropAware` puts IR drop into training."""


@dataclass(frozen=True)
class IRDropAware:
    """IR-drop-aware training, the ``TrainConfig.weight_noise`` hook of
    :mod:`circuitsim.nn.train`, in one of two ways (``gradient``):

    * ``"exact"`` (default): at every training step each ``Linear`` / ``Conv2d`` layer's
      output is computed as the mapped crossbars compute it -- [W | b] mapped to G+ / G- as
      :func:`~circuitsim.mapping.map_layer` does, every T×T tile of both arrays solved
      exactly with wire resistance (the Schur-complement PCG of
      :mod:`circuitsim.behavioral.pcg`, accepted by its KCL criterion) in the circuit
      network's tile layout (G+ / G- columns of an output side by side, as
      :meth:`IRDrop.effective_layer`) -- and the backward pass is the
      adjoint of the nodal equations (:func:`circuitsim.behavioral.crossbar_currents`):
      the true gradient of the IR-drop forward with respect to the weights, the biases and
      the layer inputs.  :meth:`layer_forward` is that forward.
    * ``"straight-through"`` (the earlier method): the error of each layer is the exact,
      deterministic difference between the weights its crossbars realise with wire
      resistance (:meth:`IRDrop.effective_layer`) and the weights themselves, recomputed
      from the current weights (every ``TrainConfig.noise_every`` steps), added for the
      forward/backward pass and removed before the update; its gradient is that of the
      ideal crossbar at the shifted weights.  :meth:`layer_noise` is that error.

    Both leave the converters out (DAC / ADC quantisation is not differentiable); with
    ``mapping.levels`` the conductance quantisation is in the exact forward with a
    straight-through gradient."""

    ir_drop: IRDrop
    """The wire resistances."""
    mapping: MappingConfig
    """How weights become conductances (G range, tiles)."""
    gradient: str = "exact"
    """``"exact"`` (exact IR-drop forward, adjoint gradient) or ``"straight-through"``."""

    def __post_init__(self):
        if not isinstance(self.ir_drop, IRDrop):
            raise ConfigError("IRDropAware.ir_drop must be an IRDrop (the wire resistances)")
        if not isinstance(self.mapping, MappingConfig):
            raise ConfigError("IRDropAware.mapping must be a MappingConfig")
        if self.gradient not in GRADIENTS:
            raise ConfigError(f"IRDropAware.gradient must be one of {GRADIENTS}, got "
                              f"{self.gradient!r}")

    @property
    def replaces_forward(self) -> bool:
        """True: :func:`circuitsim.nn.train` calls :meth:`layer_forward` in place of each
        mapped layer's forward (``"exact"``); False: it adds :meth:`layer_noise`."""
        return self.gradient == "exact"

    def to_dict(self) -> dict:
        return {"ir_drop": asdict(self.ir_drop), "mapping": self.mapping.to_dict(),
                "gradient": self.gradient}

    def layer_noise(self, w: torch.Tensor, b: torch.Tensor | None, generator=None):
        """Straight-through: (dW, db) = weights realised with IR drop minus the weights."""
        wn = w.detach().cpu().double().numpy()
        bn = None if b is None else b.detach().cpu().double().numpy()
        layer = map_layer(wn, bn, self.mapping)
        w2, b2 = self.ir_drop.effective_layer(layer).weights()
        dw = torch.as_tensor(w2 - wn, dtype=w.dtype)
        return dw, (None if b is None else torch.as_tensor(b2 - bn, dtype=b.dtype))

    def layer_forward(self, module: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Output of ``module`` (``nn.Linear`` or ``nn.Conv2d``, pre-activation) for input
        ``x`` through its mapped crossbars with IR drop, exact and differentiable (float64
        inside, returned in ``x``'s dtype).  Equals the layer with the weights of
        :meth:`IRDrop.effective_layer` (the wires alone: ideal converters, no sense-stage
        input resistance)."""
        if isinstance(module, torch.nn.Linear):
            lead = x.shape[:-1]
            z = self._crossbar(module.weight, module.bias, x.reshape(-1, x.shape[-1]))
            return z.reshape(*lead, z.shape[-1]).to(x.dtype)
        if isinstance(module, torch.nn.Conv2d):
            return self._conv(module, x)
        raise ConfigError(f"IRDropAware maps nn.Linear and nn.Conv2d layers, not "
                          f"{type(module).__name__}")

    def _conv(self, m: torch.nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
        if m.groups != 1 or tuple(m.dilation) != (1, 1) or m.padding_mode != "zeros" or \
                isinstance(m.padding, str):
            raise ConfigError("IRDropAware (exact): Conv2d with groups, dilation, a string "
                              "padding or a non-zero padding mode is not mapped; use "
                              "groups=1, dilation=1 and integer zero padding")
        n, _, h, w_ = x.shape
        kh, kw = m.kernel_size
        cols = torch.nn.functional.unfold(x, (kh, kw), padding=m.padding, stride=m.stride)
        patches = cols.transpose(1, 2).reshape(-1, cols.shape[1])  # (N L, C kh kw)
        z = self._crossbar(m.weight.reshape(m.weight.shape[0], -1), m.bias, patches)
        ho = (h + 2 * m.padding[0] - kh) // m.stride[0] + 1
        wo = (w_ + 2 * m.padding[1] - kw) // m.stride[1] + 1
        return z.reshape(n, ho, wo, -1).permute(0, 3, 1, 2).to(x.dtype)

    def _crossbar(self, weight, bias, x):
        """z (M, out) = the mapped layer's output for inputs x (M, in), float64."""
        cfg = self.mapping
        W = weight.to(torch.float64)
        b = torch.zeros(W.shape[0], dtype=torch.float64, device=W.device) if bias is None \
            else bias.to(torch.float64)
        x = x.to(torch.float64)
        wb = torch.cat([W.T, b[None, :]], dim=0)  # (in + 1, out), as map_layer
        span = cfg.g_max - cfg.g_min
        if cfg.scaling == "column":
            w_max = wb.abs().amax(0)
            w_max = torch.where(w_max > 0, w_max, torch.ones_like(w_max))
        else:
            w_max = wb.abs().amax()
            w_max = w_max if float(w_max.detach()) > 0 else torch.ones_like(w_max)
        w_per_s = w_max / span
        g_pos = cfg.g_min + torch.relu(wb) / w_per_s
        g_neg = cfg.g_min + torch.relu(-wb) / w_per_s
        if cfg.levels is not None:  # the programmed levels forward, straight-through back
            g_pos = g_pos + (_quantized(g_pos, cfg) - g_pos).detach()
            g_neg = g_neg + (_quantized(g_neg, cfg) - g_neg).detach()
        # the bias row is an input of value 1; inputs above 1 are scaled (crossbar_forward)
        peak = x.detach().abs().amax() if x.numel() else torch.zeros(())
        x_scale = float(peak) if float(peak) > 1.0 else 1.0
        xs = torch.cat([x, torch.ones_like(x[:, :1])], dim=1) / x_scale
        v = xs * cfg.v_read  # (M, rows)
        total = _tiled_currents(self.ir_drop, g_pos, g_neg, v, cfg.tile_size)
        return total * (w_per_s * (x_scale / cfg.v_read))


def _quantized(g: torch.Tensor, cfg: MappingConfig) -> torch.Tensor:
    q = quantize_conductance(g.detach().cpu().numpy(), cfg)
    return torch.as_tensor(q, dtype=g.dtype, device=g.device)


def _tiled_currents(ir: IRDrop, g_pos, g_neg, v, tile):
    """Differential column currents I+ - I- (M, cols) [A] of a layer's G+ / G- conductances
    (rows, cols), inputs v (M, rows) [V], in the circuit network's layout
    (:meth:`IRDrop.effective_layer`): tiles of T rows x T outputs, each one crossbar whose
    columns 2j / 2j+1 are the G+ / G- devices of output j; every tile of one shape is one
    batched exact solve (K draws), row-tile partial sums added."""
    rows, cols = g_pos.shape
    g = torch.stack([g_pos, g_neg], dim=-1).reshape(rows, 2 * cols).clamp_min(ir.g_open)
    groups: dict = {}
    for r0, r1 in tile_ranges(rows, tile):
        for c0, c1 in tile_ranges(cols, tile):
            groups.setdefault((r1 - r0, c1 - c0), []).append((r0, r1, c0, c1))
    total = v.new_zeros((v.shape[0], cols))
    for tiles in groups.values():
        G = torch.stack([g[r0:r1, 2 * c0:2 * c1] for r0, r1, c0, c1 in tiles])  # (K, r, 2c)
        V = torch.stack([v[:, r0:r1].T for r0, r1, _, _ in tiles])  # (K, r, M)
        if ir.is_identity:
            I = torch.einsum("krc,krm->kcm", G, V)
        else:
            I = crossbar_currents(ir.spec(G[0].detach().cpu().numpy()), V, G)  # (K, 2c, M)
        for t, (_, _, c0, c1) in enumerate(tiles):
            d = (I[t, 0::2] - I[t, 1::2]).T  # (M, c)
            total = total + torch.nn.functional.pad(d, (c0, cols - c1))
    return total
