"""Read-path non-idealities: read noise, nonlinear cell I–V, IR drop in the wires.

The circuit network realises each (:func:`circuitsim.network.build_network`): the cell I–V as
sinh cells (``CrossbarSpec.sinh_v0``), the IR drop as the circuit's wires, read noise as a
seeded sample at the ADC input (``Network.read_noise``) — in ngspice and the twin alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..behavioral import CrossbarSolver
from ..crossbar.spec import CrossbarSpec
from ..crossbar.wires import Wires, wire_fields
from ..mapping.converters import tile_ranges
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


@dataclass(frozen=True)
class IVNonlinearity:
    """Nonlinear cell conduction I = G·v0·sinh(V/v0) (the sinh form of Yakopcic-type models):
    linear with conductance G for |V| ≪ v0, super-linear above; v0 is illustrative [U]."""

    v0: float = 0.25
    """Characteristic voltage [V]; larger = more linear."""

    def __post_init__(self):
        require_positive("IVNonlinearity.v0", self.v0, "[V]")


@dataclass(frozen=True)
class IRDrop(Wires):
    """Wire resistance in the read path.  In a network it is the circuit's wires
    (:func:`circuitsim.network.build_network` gives its fields to the CircuitConfig): each tile
    — T rows × T outputs, the G+ and G− columns of an output side by side as on the chip — is
    one crossbar with its own wires, solved exactly by the behavioral engine and by ngspice.
    Cells at 0 S (unprogrammed devices of the g_min = 0 scheme) are open: ``g_open``.  The
    fields are those of :class:`~circuitsim.crossbar.wires.Wires` (keyword-only:
    ``IRDrop(r_wire_row=1.0, r_wire_col=1.0)``)."""

    @property
    def is_identity(self) -> bool:
        return not self.has_wire_resistance

    def spec(self, g, sinh_v0: float | None = None):
        """The engine's :class:`~circuitsim.crossbar.spec.CrossbarSpec` for one tile."""
        return CrossbarSpec(self.open_cells(g), **wire_fields(self), sinh_v0=sinh_v0)

    def transfer(self, g) -> np.ndarray:
        """A (rows, cols) of one linear tile: column currents I = V·A."""
        return np.asarray(CrossbarSolver(self.spec(g)).transfer_matrix)

    def effective_layer(self, layer):
        """The layer whose ideal crossbar equals this layer with IR drop (linear 1R arrays):
        each tile of the circuit network's layout (T rows × T outputs, columns 2j = G+,
        2j+1 = G− of output j) replaced by its transfer matrix, split back into g_pos and
        g_neg.  Exact for the wires alone, since a resistive network is linear (the sense
        stage's virtual-ground resistance ``r_in`` of the network twin is not included)."""
        rows, cols = layer.g_pos.shape
        t = layer.config.tile_size
        g = np.empty((rows, 2 * cols))
        g[:, 0::2], g[:, 1::2] = layer.g_pos, layer.g_neg
        a = np.empty_like(g)
        for r0, r1 in tile_ranges(rows, t):
            for c0, c1 in tile_ranges(cols, t):
                a[r0:r1, 2 * c0:2 * c1] = self.transfer(g[r0:r1, 2 * c0:2 * c1])
        return layer.replace(g_pos=a[:, 0::2].copy(), g_neg=a[:, 1::2].copy())
