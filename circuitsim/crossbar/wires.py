"""Wires: the one definition of a crossbar's parasitics (row / column wire R and C, driver and
sense resistance, the conductance of an open cell).

:class:`~circuitsim.crossbar.spec.CrossbarSpec` (one array, both worlds),
:class:`~circuitsim.network.CircuitConfig` (the circuit network) and
:class:`~circuitsim.nonideal.IRDrop` (the IR-drop non-ideality of the read path) all inherit
these fields from here, so a field, its unit, its default and its check are written once.
The fields are keyword-only (``CrossbarSpec(G, r_wire_row=2.0)``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ..units import require_nonnegative, require_positive

__all__ = ["G_OPEN", "Wires"]

G_OPEN = 1e-12
"""Default conductance of an open cell [S] (1 TΩ, ngspice's gmin): a cell that the mapping or a
non-ideality leaves at 0 S still needs a finite resistance in both worlds."""

RESISTANCES = ("r_wire_row", "r_wire_col", "r_source", "r_sense")
CAPACITANCES = ("c_wire_row", "c_wire_col")


@dataclass(frozen=True, kw_only=True)
class Wires:
    """Parasitics of a crossbar tile (see :mod:`circuitsim.crossbar.spec` for the topology).
    Every default is the ideal wire."""

    r_wire_row: float = 0.0
    """Row wire resistance per segment between adjacent cells [ohm]; 0 = ideal wire."""
    r_wire_col: float = 0.0
    """Column wire resistance per segment between adjacent cells [ohm]; 0 = ideal wire."""
    r_source: float = 0.0
    """Driver (DAC / neuron output) resistance at each row input [ohm]; 0 = ideal driver."""
    r_sense: float = 0.0
    """Resistance from each column end to the sense amplifier's virtual ground [ohm]."""
    c_wire_row: float = 0.0
    """Row wire capacitance per segment [F], lumped at each row cell node to ground
    (transients only; a DC solve ignores it)."""
    c_wire_col: float = 0.0
    """Column wire capacitance per segment [F], lumped at each column cell node."""
    g_open: float = G_OPEN
    """Conductance given to a cell at 0 S (an open / unprogrammed cell) [S]."""

    def __post_init__(self):
        cls = type(self).__name__
        for name in RESISTANCES:
            v = getattr(self, name)
            if isinstance(v, bool) or np.ndim(v) != 0:
                raise ConfigError(f"{cls}.{name} must be one number [ohm] (the same for every "
                                  f"segment), got {v!r}")
            object.__setattr__(self, name, require_nonnegative(
                f"{cls}.{name}", v, "[ohm] (0 = ideal wire)"))
        for name in CAPACITANCES:
            object.__setattr__(self, name, require_nonnegative(
                f"{cls}.{name}", getattr(self, name), "[F]"))
        object.__setattr__(self, "g_open", require_positive(f"{cls}.g_open", self.g_open,
                                                            "[S]"))

    @property
    def wires(self) -> Wires:
        """The wire fields alone (a plain :class:`Wires`)."""
        return Wires(**{f.name: getattr(self, f.name) for f in dataclasses.fields(Wires)})

    @property
    def has_wire_resistance(self) -> bool:
        """True when any series resistance is non-zero (the array is not an ideal MVM)."""
        return any(getattr(self, k) != 0 for k in RESISTANCES)

    def open_cells(self, g) -> np.ndarray:
        """``g`` with every conductance below :attr:`g_open` raised to it [S]."""
        return np.maximum(np.asarray(g, dtype=float), self.g_open)


def wire_fields(obj) -> dict:
    """``{field: value}`` of the :class:`Wires` fields of ``obj`` (any subclass)."""
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(Wires)}
