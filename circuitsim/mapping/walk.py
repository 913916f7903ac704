"""The one walk over a ``torch.nn.Sequential``: which modules make crossbar layers.

:func:`walk_sequential` groups the modules into :class:`LayerSpec` s — a ``Linear`` or
``Conv2d`` (the crossbar), the activation after it, and an optional ``MaxPool2d`` /
``AvgPool2d`` after that (digital) — with shapes followed through ``Flatten`` /
``Unflatten``.  The mapping (:func:`~circuitsim.mapping.map_model`), the circuit network
(:func:`~circuitsim.network.parse_model`) and the harness's software level
(:func:`software_layers`) all walk models with it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError

__all__ = ["ACTIVATION_NAMES", "LayerSpec", "pool_forward", "software_layers",
           "unfold_patches", "walk_sequential"]

ACTIVATION_NAMES = {"Sigmoid": "sigmoid", "ReLU": "relu", "Tanh": "tanh"}
"""torch module class name → activation name."""


def _pair(v) -> tuple[int, int]:
    return (int(v), int(v)) if np.isscalar(v) else (int(v[0]), int(v[1]))


@dataclass
class LayerSpec:
    """One crossbar layer of a Sequential (weights as float64 numpy copies)."""

    kind: str
    """``linear`` or ``conv2d``."""
    weight: np.ndarray
    """(out, in) weights (conv: one row per filter, torch's ``unfold`` order)."""
    bias: np.ndarray
    """(out,) bias (zeros when the module has none)."""
    module_index: int
    """Index of the Linear / Conv2d in the Sequential."""
    last_index: int
    """Index of the last module of this layer (activation or pooling)."""
    activation: str | None = None
    conv: dict | None = None
    """conv2d geometry: ``in_shape`` (C, H, W), ``out_shape``, ``kernel``, ``stride``,
    ``padding``."""
    pool: dict | None = None
    """Pooling after the activation: ``kind`` (max/avg), ``kernel``, ``stride``,
    ``in_shape``, ``out_shape`` (digital)."""

    @property
    def out_features(self) -> int:
        """Features this layer hands on (after pooling; conv: C·H·W)."""
        if self.pool is not None:
            return int(np.prod(self.pool["out_shape"]))
        if self.conv is not None:
            return int(np.prod(self.conv["out_shape"]))
        return int(self.weight.shape[0])


def walk_sequential(model, input_shape=None) -> list[LayerSpec]:
    """The crossbar layers of ``model`` (see the module docstring).  ``input_shape`` (C, H, W)
    is needed only for a conv first layer without ``Unflatten``.  Raises
    :class:`ConfigError` naming the module (``layer i (Type)``) that does not fit."""
    from torch import nn

    if not isinstance(model, nn.Sequential):
        raise ConfigError(f"the model must be a torch.nn.Sequential, got "
                          f"{type(model).__name__}")
    out: list[LayerSpec] = []
    shape = tuple(input_shape) if input_shape is not None else None
    for idx, m in enumerate(model):
        where = f"layer {idx} ({type(m).__name__})"
        if isinstance(m, nn.Linear | nn.Conv2d):
            w = m.weight.detach().cpu().double().numpy().copy()
            b = (np.zeros(w.shape[0]) if m.bias is None
                 else m.bias.detach().cpu().double().numpy().copy())
            if not np.isfinite(w).all() or not np.isfinite(b).all():
                what = "weight" if not np.isfinite(w).all() else "bias"
                raise ConfigError(f"{where}: the {what} holds NaN or inf values; retrain or "
                                  "load a valid checkpoint")
            if isinstance(m, nn.Linear):
                if shape is not None and len(shape) != 1:
                    raise ConfigError(f"{where} after a {len(shape)}-D shape {shape}: add "
                                      "Flatten")
                if out and shape is not None and shape[0] != w.shape[1]:
                    raise ConfigError(f"{where}: takes {w.shape[1]} inputs but layer "
                                      f"{out[-1].module_index} gives {shape[0]}; the shapes "
                                      "must chain")
                out.append(LayerSpec("linear", w, b, idx, idx))
                shape = (m.out_features,)
                continue
            if shape is None or len(shape) != 3:
                raise ConfigError(f"{where} needs a (C, H, W) input: put nn.Unflatten before "
                                  "it or give input_shape")
            if m.groups != 1 or _pair(m.dilation) != (1, 1) or m.padding_mode != "zeros":
                raise ConfigError(f"{where}: only Conv2d with groups=1, dilation=1, zero "
                                  "padding maps to a crossbar")
            (kh, kw), (sh, sw), (ph, pw) = (_pair(m.kernel_size), _pair(m.stride),
                                            _pair(m.padding))
            c, h, wd = shape
            if c != m.in_channels:
                raise ConfigError(f"{where}: takes {m.in_channels} channels but gets {c}")
            ho, wo = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
            geo = {"in_shape": (c, h, wd), "out_shape": (m.out_channels, ho, wo),
                   "kernel": (kh, kw), "stride": (sh, sw), "padding": (ph, pw)}
            out.append(LayerSpec("conv2d", w.reshape(m.out_channels, -1), b, idx, idx,
                                 conv=geo))
            shape = geo["out_shape"]
        elif isinstance(m, nn.Unflatten):
            shape = tuple(int(s) for s in m.unflattened_size)
        elif isinstance(m, nn.Flatten):
            shape = (int(np.prod(shape)),) if shape is not None else None
        elif isinstance(m, nn.Identity):
            continue
        elif isinstance(m, nn.MaxPool2d | nn.AvgPool2d):
            if not out or out[-1].kind != "conv2d" or out[-1].pool is not None \
                    or out[-1].last_index != idx - 1 and out[-1].activation is None:
                raise ConfigError(f"{where}: pooling must follow a Conv2d (and its "
                                  "activation)")
            k = _pair(m.kernel_size)
            s = _pair(m.stride if m.stride is not None else m.kernel_size)
            if _pair(m.padding) != (0, 0) or getattr(m, "ceil_mode", False) or \
                    _pair(getattr(m, "dilation", 1)) != (1, 1):
                raise ConfigError(f"{where}: only pooling without padding, dilation or "
                                  "ceil_mode")
            c, h, wd = shape
            pshape = (c, (h - k[0]) // s[0] + 1, (wd - k[1]) // s[1] + 1)
            out[-1].pool = {"kind": "max" if isinstance(m, nn.MaxPool2d) else "avg",
                            "kernel": k, "stride": s, "in_shape": shape, "out_shape": pshape}
            out[-1].last_index = idx
            shape = pshape
        elif type(m).__name__ in ACTIVATION_NAMES and type(m) in (nn.Sigmoid, nn.ReLU,
                                                                  nn.Tanh):
            if not out or out[-1].activation is not None or out[-1].pool is not None:
                raise ConfigError(f"{where}: an activation must follow a Linear/Conv2d layer")
            out[-1].activation = ACTIVATION_NAMES[type(m).__name__]
            out[-1].last_index = idx
        else:
            raise ConfigError(f"{where} cannot be mapped to a crossbar network; use Linear, "
                              "Conv2d, Sigmoid/ReLU/Tanh, MaxPool2d/AvgPool2d, Flatten, "
                              "Unflatten")
    if not out:
        raise ConfigError("the model has no Linear or Conv2d layer")
    return out


def unfold_patches(x: np.ndarray, conv: dict) -> np.ndarray:
    """Flat (N, C·H·W) images → (N·H'·W', C·kh·kw) patches in torch's ``unfold`` order: the
    row vectors a conv layer's kernel crossbar sees, one per output position."""
    c, h, w = conv["in_shape"]
    kh, kw = conv["kernel"]
    sh, sw = conv["stride"]
    ph, pw = conv["padding"]
    _, ho, wo = conv["out_shape"]
    x4 = x.reshape(len(x), c, h, w)
    if ph or pw:
        x4 = np.pad(x4, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    win = np.lib.stride_tricks.sliding_window_view(x4, (kh, kw), axis=(2, 3))
    win = win[:, :, ::sh, ::sw][:, :, :ho, :wo]  # (N, C, H', W', kh, kw)
    return win.transpose(0, 2, 3, 1, 4, 5).reshape(len(x) * ho * wo, c * kh * kw)


def pool_forward(x: np.ndarray, pool: dict) -> np.ndarray:
    """Digital pooling of flat (N, C·H·W) features → (N, C·H'·W')."""
    c, h, w = pool["in_shape"]
    (kh, kw), (sh, sw) = pool["kernel"], pool["stride"]
    _, ho, wo = pool["out_shape"]
    x4 = np.asarray(x, dtype=float).reshape(len(x), c, h, w)
    win = np.lib.stride_tricks.sliding_window_view(x4, (kh, kw), axis=(2, 3))
    win = win[:, :, ::sh, ::sw][:, :, :ho, :wo]
    red = win.max(axis=(-2, -1)) if pool["kind"] == "max" else win.mean(axis=(-2, -1))
    return red.reshape(len(x), -1)


def software_layers(model, X: np.ndarray) -> list[np.ndarray]:
    """Each crossbar layer's output (after its activation and pooling) of the float64 model,
    flattened to (N, features)."""

    import torch

    specs = walk_sequential(model)
    ends = {s.last_index for s in specs}
    m = copy.deepcopy(model).to(torch.float64).cpu().eval()
    out, h = [], torch.as_tensor(np.asarray(X, dtype=np.float64))
    with torch.no_grad():
        for i, mod in enumerate(m):
            h = mod(h)
            if i in ends:
                out.append(h.reshape(len(h), -1).numpy().copy())
    return out
