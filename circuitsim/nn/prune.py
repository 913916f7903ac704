"""Magnitude pruning with retraining and quantisation-aware training (QAT) to the mapping's
conductance levels, before programming.

Pruning: in every ``nn.Linear`` the fraction ``prune`` of weights with the smallest |w| is set to
zero (per layer; biases are kept) and the model is retrained with the mask re-applied after
every step, so pruned weights stay exactly 0 (their devices stay unprogrammed).  QAT: during
the retraining the forward pass uses weights rounded to the grid of a linear ``levels``-level
mapping, step max|w|/(levels − 1) per layer (G = g_min + |w|·(g_max − g_min)/max|w| on a grid
of ``levels`` conductances), with a straight-through gradient; at the end the weights are left
on that grid.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError
from .data import Dataset
from .train import _loss_fn


def _linears(model: nn.Module) -> list[nn.Linear]:
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


def magnitude_masks(model: nn.Module, fraction: float) -> list[torch.Tensor]:
    """Per Linear layer: 1 where a weight is kept, 0 for the ``fraction`` smallest |w|."""
    if not 0.0 <= fraction < 1.0:
        raise ConfigError(f"prune fraction must be in [0, 1), got {fraction!r}")
    masks = []
    for lin in _linears(model):
        w = lin.weight.detach().abs().flatten()
        k = int(round(fraction * w.numel()))
        m = torch.ones_like(w)
        if k > 0:
            m[torch.argsort(w)[:k]] = 0.0
        masks.append(m.view_as(lin.weight))
    return masks


def quantize_weights(w: torch.Tensor, levels: int) -> torch.Tensor:
    """|w| rounded to multiples of max|w|/(levels − 1), sign kept."""
    step = w.detach().abs().max().clamp_min(1e-30) / (levels - 1)
    return torch.round(w / step) * step


def prune_retrain(model: nn.Module, dataset: Dataset, *, prune: float = 0.0,
                  levels: int | None = None, epochs: int = 10, lr: float = 3e-3,
                  batch_size: int = 32, seed: int = 0) -> dict:
    """Prune (``prune`` > 0) and/or quantisation-aware retrain (``levels``) ``model`` in place
    for ``epochs``; returns {"masks", "pruned_fraction", "levels"}."""
    if levels is not None and (isinstance(levels, bool) or int(levels) != levels
                               or levels < 2):
        raise ConfigError(f"QAT levels must be a whole number >= 2, got {levels!r}")
    if int(epochs) != epochs or epochs < 0:
        raise ConfigError(f"retraining epochs must be a whole number >= 0, got {epochs!r}")
    model.cpu()
    masks = magnitude_masks(model, prune)
    lins = _linears(model)
    with torch.no_grad():
        for lin, m in zip(lins, masks, strict=True):
            lin.weight.mul_(m)
    dtype = next(model.parameters()).dtype
    x = torch.as_tensor(dataset.x_train, dtype=dtype)
    y = torch.as_tensor(dataset.y_train)
    loss_fn = _loss_fn(model(x[:1]).shape[1])
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(int(epochs)):
        model.train()
        perm = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), batch_size):
            idx = perm[i:i + batch_size]
            saved = []
            if levels is not None:  # forward on the grid, gradient straight through
                with torch.no_grad():
                    for lin in lins:
                        saved.append(lin.weight.detach().clone())
                        lin.weight.copy_(quantize_weights(lin.weight, int(levels)))
            loss = loss_fn(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            with torch.no_grad():
                for k, lin in enumerate(lins):
                    if saved:
                        lin.weight.copy_(saved[k])
            opt.step()
            with torch.no_grad():
                for lin, m in zip(lins, masks, strict=True):
                    lin.weight.mul_(m)
    with torch.no_grad():
        for lin, m in zip(lins, masks, strict=True):
            if levels is not None:
                lin.weight.copy_(quantize_weights(lin.weight, int(levels)))
            lin.weight.mul_(m)
    model.eval()
    n = sum(int(m.numel()) for m in masks)
    zero = sum(int((m == 0).sum()) for m in masks)
    return {"masks": masks, "pruned_fraction": zero / n if n else 0.0, "levels": levels}


__all__ = ["magnitude_masks", "prune_retrain", "quantize_weights"]
