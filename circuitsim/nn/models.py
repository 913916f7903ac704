"""Models of the memristor-network studies, as plain ``torch.nn.Sequential`` stacks.

Only layers that a crossbar network can realise are used: ``Linear`` and ``Conv2d`` (a crossbar
after unfolding the input patches), element-wise ``Sigmoid`` / ``ReLU`` / ``Tanh`` neurons, and
the shape-only ``Flatten`` / ``Unflatten``.  :func:`describe_model` turns such a stack into a
JSON-able list that :func:`build_model` turns back into the same architecture (checkpoints use
it).
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError

__all__ = ["ACTIVATIONS", "build_model", "describe_model", "make_cat_relu", "make_cnn",
           "make_logistic", "make_mlp", "make_model", "MODEL_KINDS"]

ACTIVATIONS = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "tanh": nn.Tanh}


def _activation(name: str) -> nn.Module:
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ConfigError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}") \
            from None


def make_mlp(sizes=(64, 32, 10), activation: str = "sigmoid", seed: int | None = 0
             ) -> nn.Sequential:
    """Linear layers of the given widths with ``activation`` between them (none after the
    last; the loss applies softmax / sigmoid).  ``seed`` fixes the initial weights."""
    sizes = tuple(int(s) for s in sizes)
    if len(sizes) < 2 or min(sizes) < 1:
        raise ConfigError(f"sizes must list >= 2 positive widths (inputs ... outputs), got "
                          f"{sizes}")
    _activation(activation)
    if seed is not None:
        torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(_activation(activation))
    return nn.Sequential(*layers)


def make_logistic(n_in: int, seed: int | None = 0) -> nn.Sequential:
    """The 1-layer logistic detector of the cat study: one output logit (sigmoid in the loss);
    for more than two classes use :func:`make_mlp` with two sizes (softmax regression)."""
    return make_mlp((n_in, 1), seed=seed)


def make_cat_relu(n_in: int, hidden: int = 7, n_out: int = 1, seed: int | None = 0
                  ) -> nn.Sequential:
    """The 2-layer ReLU network of the cat study (n_in → hidden ReLU → n_out logits)."""
    return make_mlp((n_in, hidden, n_out), activation="relu", seed=seed)


def make_cnn(image_shape=(1, 8, 8), n_classes: int = 10, channels=(8, 16),
             seed: int | None = 0) -> nn.Sequential:
    """A small CNN for flat image features: unflatten, 3×3 conv (stride 1) + ReLU, 3×3 conv
    (stride 2) + ReLU, flatten, linear.  Each conv maps to a crossbar of
    ``in_channels·9 + 1`` rows by unfolding the input patches (see :mod:`circuitsim.mapping`)."""
    c, h, w = (int(v) for v in image_shape)
    if seed is not None:
        torch.manual_seed(seed)
    c1, c2 = (int(v) for v in channels)
    h1, w1 = h - 2, w - 2
    h2, w2 = (h1 - 3) // 2 + 1, (w1 - 3) // 2 + 1
    if h2 < 1 or w2 < 1:
        raise ConfigError(f"image_shape {image_shape} is too small for two 3x3 convolutions")
    return nn.Sequential(
        nn.Unflatten(1, (c, h, w)),
        nn.Conv2d(c, c1, 3), nn.ReLU(),
        nn.Conv2d(c1, c2, 3, stride=2), nn.ReLU(),
        nn.Flatten(),
        nn.Linear(c2 * h2 * w2, int(n_classes)))


from ..names import MODEL_KINDS  # noqa: E402  (one list, torch-free)


def make_model(kind: str, n_features: int, n_classes: int, image_shape=None,
               hidden=(32,), activation: str = "sigmoid", seed: int | None = 0
               ) -> nn.Sequential:
    """A model by name for a data set of ``n_features`` inputs and ``n_classes`` classes
    (two classes → one output logit for ``logistic`` and ``cat-relu``)."""
    n_out = 1 if n_classes == 2 else n_classes
    if kind == "mlp":
        return make_mlp((n_features, *hidden, n_classes if n_classes > 2 else n_out),
                        activation, seed)
    if kind == "logistic":
        return make_mlp((n_features, n_out), seed=seed)
    if kind == "cat-relu":
        return make_cat_relu(n_features, hidden[0] if hidden else 7, n_out, seed)
    if kind == "cnn":
        if image_shape is None:
            raise ConfigError("model 'cnn' needs a data set of images (image_shape is None)")
        return make_cnn(image_shape, n_classes if n_classes > 2 else n_out, seed=seed)
    raise ConfigError(f"unknown model kind {kind!r}; choose one of {MODEL_KINDS}")


# ------------------------------------------------------------------ describe / rebuild

def describe_model(model: nn.Sequential) -> list[dict]:
    """A JSON-able description of each layer (rebuild with :func:`build_model`)."""
    out = []
    for m in model:
        if isinstance(m, nn.Linear):
            out.append({"type": "linear", "in": m.in_features, "out": m.out_features,
                        "bias": m.bias is not None})
        elif isinstance(m, nn.Conv2d):
            out.append({"type": "conv2d", "in": m.in_channels, "out": m.out_channels,
                        "kernel": list(m.kernel_size), "stride": list(m.stride),
                        "padding": list(m.padding), "bias": m.bias is not None})
        elif isinstance(m, nn.Flatten):
            out.append({"type": "flatten", "start": m.start_dim, "end": m.end_dim})
        elif isinstance(m, nn.Unflatten):
            out.append({"type": "unflatten", "dim": m.dim, "shape": list(m.unflattened_size)})
        elif isinstance(m, nn.MaxPool2d | nn.AvgPool2d):
            out.append({"type": "maxpool2d" if isinstance(m, nn.MaxPool2d) else "avgpool2d",
                        "kernel": m.kernel_size, "stride": m.stride})
        else:
            name = next((k for k, cls in ACTIVATIONS.items() if type(m) is cls), None)
            if name is None:
                raise ConfigError(f"layer {type(m).__name__} cannot be mapped to a crossbar "
                                  f"network; use Linear, Conv2d, {sorted(ACTIVATIONS)}, "
                                  "MaxPool2d/AvgPool2d, Flatten, Unflatten")
            out.append({"type": name})
    return out


def build_model(description: list[dict]) -> nn.Sequential:
    """The inverse of :func:`describe_model` (fresh weights)."""
    layers: list[nn.Module] = []
    for d in description:
        t = d.get("type")
        if t == "linear":
            layers.append(nn.Linear(d["in"], d["out"], bias=d.get("bias", True)))
        elif t == "conv2d":
            layers.append(nn.Conv2d(d["in"], d["out"], tuple(d["kernel"]),
                                    stride=tuple(d["stride"]), padding=tuple(d["padding"]),
                                    bias=d.get("bias", True)))
        elif t == "flatten":
            layers.append(nn.Flatten(d["start"], d["end"]))
        elif t == "unflatten":
            layers.append(nn.Unflatten(d["dim"], tuple(d["shape"])))
        elif t in ("maxpool2d", "avgpool2d"):
            pool = nn.MaxPool2d if t == "maxpool2d" else nn.AvgPool2d
            layers.append(pool(d["kernel"], d["stride"]))
        elif t in ACTIVATIONS:
            layers.append(ACTIVATIONS[t]())
        else:
            raise ConfigError(f"unknown layer type {t!r} in model description")
    return nn.Sequential(*layers)
