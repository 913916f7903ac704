"""Package data: the demo checkpoints (``digits_mlp.pt``, ``digits_mlp_macro.pt``), found with
importlib.resources."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["DEMO_CHECKPOINT", "MACRO_CHECKPOINT", "data_path"]

DEMO_CHECKPOINT = "digits_mlp.pt"
"""The demo model shipped with the package (written by netlists/write_netlists.py: digits,
64-16-10 sigmoid, seed 0, 40 epochs of Adam)."""

MACRO_CHECKPOINT = "digits_mlp_macro.pt"
"""The demo's ``macro`` variant model (digits, 64-256-256-10 ReLU, seed 0, 40 epochs of Adam
with the project's ``circuitsim.nn.train``; 97.5 % test accuracy; 0.34 MB): shipped because
training it takes ~2 min on a loaded 2-core machine."""


def data_path(name: str) -> Path:
    """Path of a packaged data file (``circuitsim/data/<name>``)."""
    return Path(str(resources.files("circuitsim") / "data" / name))
