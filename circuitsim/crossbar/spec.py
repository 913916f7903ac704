"""CrossbarSpec: one crossbar array, the single description both ngspice and the behavioral
engine read.

Reference topology (both sides model exactly this; see ``netlist.py`` for the SPICE names)::

    V_0 ─r_source─ (0,0) ─r_wire_row─ (0,1) ─ ... ─ (0,C-1)        row nodes (i, j)
                     │                  │              │
                   cell               cell           cell           cell (i, j): row node (i, j)
                     │                  │              │             to column node (i, j)
                   [0,0]              [0,1]          [0,C-1]        column nodes [i, j]
                     │ r_wire_col       │              │
    V_1 ─r_source─ (1,0) ─ ...                                      ... rows 1 .. R-1
                     ...
                   [R-1,0]            [R-1,1]        [R-1,C-1]
                     │ r_sense          │              │
                    0 V                0 V            0 V   ->  I_j = current into this 0 V node

* Row i is driven at its column-0 end by V_i through ``r_source``; along the row a resistor
  ``r_wire_row`` joins the cell nodes of columns j and j+1.
* Cell (i, j) joins row node (i, j) to column node (i, j): a memristor of conductance
  ``conductance[i, j]`` (1R) or, when ``access`` is set (1T1R), the memristor in series with an
  access NMOS whose gate is the word line held at ``access.v_wordline``.  The transistor's drain
  is the memristor side and its source the column side (for positive inputs the column is the
  lower node, the usual read orientation; the level-1 model is symmetric anyway).
* Along column j a resistor ``r_wire_col`` joins the column nodes of rows i and i+1; the column
  node of the last row goes through ``r_sense`` to 0 V (the sense amplifier's virtual ground);
  the output I_j is the current into that 0 V node.
* A zero resistance is an ideal connection: the nodes merge (nothing divides by zero).
* Optional ``c_wire_row`` / ``c_wire_col``: one capacitor per segment, lumped from each cell
  node to ground (transients only; a DC solve ignores them).
* Optional ``sinh_v0``: a nonlinear read I-V for every memristor, i = G·v0·sinh(v/v0) (equal to
  G·v for |v| << v0).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..cards.transistor import AccessTransistor
from ..errors import ConfigError
from ..units import require_positive
from .wires import Wires


@dataclass(frozen=True, eq=False)
class CrossbarSpec(Wires):
    """A rows x cols crossbar (1R or 1T1R) with wire, driver and sense resistances (the
    keyword-only fields of :class:`~circuitsim.crossbar.wires.Wires`: ``r_wire_row``,
    ``r_wire_col``, ``r_source``, ``r_sense``, ``c_wire_row``, ``c_wire_col``; default the
    ideal wire).

    Frozen; ``conductance`` is stored as a read-only float64 copy.  Equality is identity
    (arrays make value equality ambiguous)."""

    conductance: np.ndarray
    """(rows, cols) cell (memristor) conductances [S]; every value finite and > 0."""
    access: AccessTransistor | None = None
    """None = 1R; an :class:`~circuitsim.cards.AccessTransistor` = 1T1R (gate at its
    ``v_wordline``)."""
    sinh_v0: float | None = field(default=None)
    """Read nonlinearity [V]: cell memristor current G·v0·sinh(v/v0); None = linear (ohmic)."""

    def __post_init__(self):
        super().__post_init__()
        g = self.conductance
        try:
            g = np.array(g, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ConfigError("CrossbarSpec.conductance must be a (rows, cols) array of numbers "
                              f"[S]; could not convert it: {exc}") from None
        if g.ndim != 2 or g.shape[0] < 1 or g.shape[1] < 1:
            raise ConfigError("CrossbarSpec.conductance must be a 2-D (rows, cols) array with "
                              f"at least one row and one column, got shape {g.shape}")
        bad = ~np.isfinite(g)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise ConfigError(f"CrossbarSpec.conductance must be finite; {int(bad.sum())} "
                              f"value(s) are NaN/inf, e.g. [{i}, {j}] = {g[i, j]!r}")
        if (g <= 0).any():
            i, j = np.argwhere(g <= 0)[0]
            raise ConfigError(f"CrossbarSpec.conductance must be > 0 [S] (a cell is a "
                              f"memristor; use a tiny g_min for an 'off' cell); "
                              f"{int((g <= 0).sum())} value(s) are <= 0, e.g. [{i}, {j}] = "
                              f"{g[i, j]!r}")
        g.setflags(write=False)
        object.__setattr__(self, "conductance", g)
        if self.access is not None and not isinstance(self.access, AccessTransistor):
            raise ConfigError("CrossbarSpec.access must be None (1R) or a "
                              "circuitsim.cards.AccessTransistor (1T1R), got "
                              f"{type(self.access).__name__}")
        if self.sinh_v0 is not None:
            object.__setattr__(self, "sinh_v0", require_positive(
                "CrossbarSpec.sinh_v0", self.sinh_v0, "[V] (or None for a linear cell)"))

    # ------------------------------------------------------------------ properties

    @property
    def rows(self) -> int:
        return int(self.conductance.shape[0])

    @property
    def cols(self) -> int:
        return int(self.conductance.shape[1])

    @property
    def shape(self) -> tuple[int, int]:
        return (self.rows, self.cols)

    @property
    def is_linear(self) -> bool:
        """True for a 1R array with ohmic cells: the input -> output map is a fixed matrix."""
        return self.access is None and self.sinh_v0 is None

    @property
    def is_ideal(self) -> bool:
        """True when every series resistance is zero: the outputs are exactly the ideal MVM."""
        return not self.has_wire_resistance

    def replace(self, **changes) -> CrossbarSpec:
        from dataclasses import replace

        return replace(self, **changes)

    def check_inputs(self, V, name: str = "V") -> tuple[np.ndarray, bool]:
        """Validate input voltages: (rows,) or (rows, K) [V], finite.  Returns the (rows, K)
        float64 array and whether the caller passed a vector (to squeeze the result)."""
        try:
            v = np.asarray(V, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{name} must be an array of input voltages [V]: {exc}") from None
        vector = v.ndim == 1
        if v.ndim not in (1, 2) or v.shape[0] != self.rows:
            raise ConfigError(f"{name} must have shape (rows,) or (rows, K) with rows = "
                              f"{self.rows} (one input voltage per crossbar row), got shape "
                              f"{v.shape}")
        if v.ndim == 2 and v.shape[1] < 1:
            raise ConfigError(f"{name} has no input vectors (shape {v.shape})")
        if not np.isfinite(v).all():
            raise ConfigError(f"{name} must be finite; it holds NaN or inf values")
        return (v[:, None] if vector else v), vector


def check_conductance_pair(pos: CrossbarSpec, neg: CrossbarSpec) -> None:
    """Raise :class:`ConfigError` unless two specs form a differential pair (same shape)."""
    if pos.shape != neg.shape:
        raise ConfigError(f"differential pair: spec_pos has shape {pos.shape} but spec_neg has "
                          f"{neg.shape}; both must be (rows, cols) of the same size")


__all__ = ["CrossbarSpec", "check_conductance_pair"]
