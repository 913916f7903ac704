"""Small seeded networks shared by the device-model network tests (SPICE vs twin on an 8-6-3
MLP with strong weights, so the cells see a wide range of voltages)."""

from __future__ import annotations

import numpy as np
import torch


def mlp_8_6_3():
    """The seeded 8-6-3 sigmoid MLP (weights ×4, biases ×2) and 20 inputs in [0, 1)."""
    torch.manual_seed(5)
    model = torch.nn.Sequential(torch.nn.Linear(8, 6), torch.nn.Sigmoid(), torch.nn.Linear(6, 3))
    with torch.no_grad():
        for m in model:
            if isinstance(m, torch.nn.Linear):
                m.weight.mul_(4.0)
                m.bias.mul_(2.0)
    return model, np.random.default_rng(1).random((20, 8))
