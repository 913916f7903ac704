"""Package data: the demo checkpoint (``digits_mlp.pt``), found with importlib.resources."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["DEMO_CHECKPOINT", "data_path"]

DEMO_CHECKPOINT = "digits_mlp.pt"
"""The demo model shipped with the package (written by netlists/write_netlists.py: digits,
64-16-10 sigmoid, seed 0, 40 epochs of Adam)."""


def data_path(name: str) -> Path:
    """Path of a packaged data file (``circuitsim/data/<name>``)."""
    return Path(str(resources.files("circuitsim") / "data" / name))
