"""Where the SPICE device libraries live: package data ``circuitsim/models/*.lib``.

The circuit IR owns this path (the emitter and the deck checks ask here), found with
:mod:`importlib.resources` so that a wheel install finds its libraries like a checkout does.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["library_dir", "library_path"]


def library_dir() -> Path:
    """The folder of the packaged device libraries (``circuitsim/models``)."""
    return Path(str(resources.files("circuitsim") / "models"))


def library_path(include: str) -> Path:
    """The file an ``.include`` names: an absolute path as it is, a bare name (``vteam.lib``)
    in :func:`library_dir`."""
    p = Path(include)
    return p if p.is_absolute() else library_dir() / include
