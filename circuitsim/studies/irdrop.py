"""Accuracy vs wire resistance per segment with the exact IR-drop solve, with and without
hardware-aware (IR-drop-aware) training."""

from __future__ import annotations

from ..errors import ConfigError
from .common import StudyContext, StudyResult

__all__ = ["ir_drop"]


def ir_drop(ctx: StudyContext, r_wires=(0.0, 0.5, 1.0, 2.0, 5.0, 10.0)) -> StudyResult:
    raise ConfigError("the IR-drop study needs the behavioral crossbar engine "
                      "(circuitsim.behavioral), not merged yet")
