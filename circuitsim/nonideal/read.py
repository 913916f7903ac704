"""Read-path non-idealities: read noise, nonlinear cell I–V, IR drop in the wires.

Each plugs into :func:`circuitsim.mapping.crossbar_forward`: read noise as its ``read_noise``
hook, the cell I–V and the IR-drop solve as its ``mvm`` hook (one tile's column currents).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ..units import require_nonnegative, require_positive

__all__ = ["IRDrop", "IVNonlinearity", "ReadNoise"]


@dataclass(frozen=True)
class ReadNoise:
    """Noise of one read: each device's conductance fluctuates by ``relative``·G (independent
    per device and per read), and each column's sensed current by ``absolute`` [A].  Summed over
    a column this is a Gaussian current error of variance Σ_i (V_i·G_ij·relative)² + absolute²,
    drawn directly."""

    relative: float = 0.0
    """σ of a device's conductance at each read, relative to G [1] (aihwkit suggests ~0.01)."""
    absolute: float = 0.0
    """σ of the sensed column current (amplifier/thermal noise) [A]."""

    def __post_init__(self):
        require_nonnegative("ReadNoise.relative", self.relative)
        require_nonnegative("ReadNoise.absolute", self.absolute, "[A]")

    @property
    def is_identity(self) -> bool:
        return self.relative == 0 and self.absolute == 0

    def __call__(self, i, v, g, rng: np.random.Generator) -> np.ndarray:
        if self.is_identity:
            return i
        var = self.absolute**2 + (self.relative**2) * ((v * v) @ (g * g))
        return i + np.sqrt(var) * rng.standard_normal(np.shape(i))


@dataclass(frozen=True)
class IVNonlinearity:
    """Nonlinear cell conduction I = G·v0·sinh(V/v0) (the sinh form of Yakopcic-type models):
    linear with conductance G for |V| ≪ v0, super-linear above; v0 is illustrative [U]."""

    v0: float = 0.25
    """Characteristic voltage [V]; larger = more linear."""

    def __post_init__(self):
        require_positive("IVNonlinearity.v0", self.v0, "[V]")

    def __call__(self, v, g, key=None) -> np.ndarray:
        return (self.v0 * np.sinh(np.asarray(v) / self.v0)) @ g


@dataclass(frozen=True)
class IRDrop:
    """Wire resistance: each tile is solved exactly (nodal analysis) with the behavioral
    crossbar engine (:mod:`circuitsim.behavioral`, cross-checked against ngspice there)."""

    r_wire_row: float = 1.0
    """Row wire resistance per cell segment [Ω]."""
    r_wire_col: float = 1.0
    """Column wire resistance per cell segment [Ω]."""
    r_source: float = 0.0
    """Row driver resistance [Ω]."""
    r_sense: float = 0.0
    """Column sense resistance to the virtual ground [Ω]."""

    def __post_init__(self):
        for name in ("r_wire_row", "r_wire_col", "r_source", "r_sense"):
            require_nonnegative(f"IRDrop.{name}", getattr(self, name), "[Ω]")

    @property
    def is_identity(self) -> bool:
        return self.r_wire_row == 0 and self.r_wire_col == 0 and self.r_source == 0 \
            and self.r_sense == 0

    def mvm(self):
        """A fresh ``mvm`` hook that factors each tile once (cache keyed by tile)."""
        return _IRDropMVM(self)


class _IRDropMVM:
    def __init__(self, ir: IRDrop):
        self.ir = ir
        self.cache: dict = {}

    def __call__(self, v, g, key):
        try:
            from ..behavioral import CrossbarSolver
            from ..crossbar.spec import CrossbarSpec
        except ImportError as exc:  # the engine lives on the crossbar branch until merged
            raise ConfigError("IR drop needs circuitsim.behavioral.CrossbarSolver (the "
                              f"behavioral crossbar engine), not importable here: {exc}") from exc
        hit = self.cache.get(key)
        if hit is None or not np.array_equal(hit[0], g):
            spec = CrossbarSpec(conductance=np.ascontiguousarray(g),
                                r_wire_row=self.ir.r_wire_row, r_wire_col=self.ir.r_wire_col,
                                r_source=self.ir.r_source, r_sense=self.ir.r_sense)
            hit = (np.array(g), CrossbarSolver(spec))
            self.cache[key] = hit
        out = hit[1].column_currents(np.asarray(v).T)  # (C, M)
        return np.asarray(out).T
