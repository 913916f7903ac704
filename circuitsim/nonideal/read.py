"""Read-path non-idealities: read noise, nonlinear cell I–V, IR drop in the wires.

Each plugs into :func:`circuitsim.mapping.crossbar_forward`: read noise as its ``read_noise``
hook, the cell I–V and the IR-drop solve as its ``mvm`` hook (one tile's column currents).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..behavioral import CrossbarSolver
from ..crossbar.spec import CrossbarSpec
from ..crossbar.wires import Wires, wire_fields
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
class IRDrop(Wires):
    """Wire resistance: each T×T tile (G+ and G− arrays separately) is solved exactly with the
    behavioral crossbar engine (:class:`circuitsim.behavioral.CrossbarSolver`, checked against
    ngspice on its own branch).  A 1R array with ohmic cells is linear, so each tile is one
    transfer matrix A (I = V·A), factored once per tile; with a sinh cell I–V (``iv``) the
    engine's Newton solve runs per batch.  Cells at 0 S (unprogrammed devices of the
    g_min = 0 scheme) are given ``g_open`` since the engine needs G > 0.  The fields are those of
    :class:`~circuitsim.crossbar.wires.Wires` (keyword-only: ``IRDrop(r_wire_row=1.0,
    r_wire_col=1.0)``)."""

    @property
    def is_identity(self) -> bool:
        return not self.has_wire_resistance

    def spec(self, g, sinh_v0: float | None = None):
        """The engine's :class:`~circuitsim.crossbar.spec.CrossbarSpec` for one tile."""
        return CrossbarSpec(self.open_cells(g), **wire_fields(self), sinh_v0=sinh_v0)

    def transfer(self, g) -> np.ndarray:
        """A (rows, cols) of one linear tile: column currents I = V·A."""
        return np.asarray(CrossbarSolver(self.spec(g)).transfer_matrix)

    def mvm(self, iv: IVNonlinearity | None = None):
        """A fresh ``mvm`` hook for :func:`~circuitsim.mapping.crossbar_forward` (caches one
        solve per tile)."""
        return _IRDropMVM(self, iv)

    def effective_layer(self, layer):
        """The layer whose ideal crossbar equals this layer with IR drop (linear arrays):
        g_pos, g_neg replaced by the tiles' transfer matrices.  Exact, since a resistive
        network is linear: ``crossbar_forward`` of the result equals the IR-drop forward."""
        t = layer.config.tile_size or max(layer.g_pos.shape)
        out = []
        for g in (layer.g_pos, layer.g_neg):
            a = np.empty_like(g)
            for r0 in range(0, g.shape[0], t):
                for c0 in range(0, g.shape[1], t):
                    a[r0:r0 + t, c0:c0 + t] = self.transfer(g[r0:r0 + t, c0:c0 + t])
            out.append(a)
        return layer.replace(g_pos=out[0], g_neg=out[1])


class _IRDropMVM:
    def __init__(self, ir: IRDrop, iv: IVNonlinearity | None):
        self.ir, self.iv = ir, iv
        self.cache: dict = {}

    def __call__(self, v, g, key):
        hit = self.cache.get(key)
        if hit is None or not np.array_equal(hit[0], g):
            solver = CrossbarSolver(self.ir.spec(g, None if self.iv is None else self.iv.v0))
            hit = (np.array(g), solver)
            self.cache[key] = hit
        solver = hit[1]
        if solver.spec.is_linear:
            return np.asarray(v) @ np.asarray(solver.transfer_matrix)
        return np.asarray(solver.column_currents(np.asarray(v).T)).T
