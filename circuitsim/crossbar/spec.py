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
from pathlib import Path

import numpy as np

from ..cards.cell import CellLaw
from ..cards.transistor import AccessTransistor
from ..errors import ConfigError
from ..units import require_positive
from .wires import Wires


def available_memory_bytes() -> int | None:
    """Memory this process may still allocate [bytes]: the least of MemAvailable
    (/proc/meminfo), the cgroup limit left (memory.max - memory.current) and RLIMIT_AS less
    this process's address space; None where none of them can be read."""
    import resource

    limits = []
    vm_size = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                limits.append(int(line.split()[1]) * 1024)
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                vm_size = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        cg = Path("/sys/fs/cgroup")
        top = (cg / "memory.max").read_text().strip()
        if top != "max":
            limits.append(int(top) - int((cg / "memory.current").read_text()))
    except (OSError, ValueError):
        pass
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        limits.append(soft - vm_size)
    return min(limits) if limits else None


def solve_memory_estimate(rows: int, cols: int, method: str, k: int = 1) -> int:
    """Upper estimate of the peak memory [bytes] of one crossbar solve of ``k`` input vectors,
    measured (peak RSS, numpy + scipy, 2 cores) and rounded up:

    * ``spec``: the CrossbarSpec's own float64 copy plus the checks' temporaries, 10 B/cell;
    * ``map`` (block elimination to the transfer map): 8·(12·R·C + 4·C²) (measured 66-186
      B/cell for 128-512 lines);
    * ``pcg`` (alias ``cg``; Schur-complement CG, :mod:`circuitsim.behavioral.pcg`):
      8·R·C·(16·k + 16) (measured 227-235 B/cell at k = 1 for 64×256 to 800×800, 563 at
      k = 4, 400×400; the first call in a process also loads the numba line kernels, a fixed
      ~30 MB not counted here);
    * ``sparse`` (nodal LU of the 2·R·C nodes, fill-in grows as log N): 200·log2(R·C) B/cell
      + 16·R·C·k (measured 2.8 kB/cell at 400×400, 3.3 kB at 800×800).
    """
    cells = float(rows) * float(cols)
    if method == "spec":
        return int(10 * cells)
    if method == "map":
        return int(8 * (12 * cells + 4 * float(cols) ** 2))
    if method in ("pcg", "cg"):
        return int(8 * cells * (16 * k + 16))
    if method == "sparse":
        return int(cells * (200 * np.log2(max(cells, 2.0)) + 16 * k))
    raise ConfigError(f"no memory estimate for method {method!r}")


def check_memory(rows: int, cols: int, method: str, k: int = 1) -> None:
    """:class:`ConfigError` before allocating when :func:`solve_memory_estimate` exceeds
    :func:`available_memory_bytes`; the message gives both figures."""
    need = solve_memory_estimate(rows, cols, method, k)
    have = available_memory_bytes()
    if have is not None and need > have:
        what = "holding the array" if method == "spec" else f"a {method} solve of {k} vector(s)"
        raise ConfigError(
            f"a {rows}x{cols} crossbar: {what} needs about {need / 2**30:.3g} GiB, more than "
            f"the {max(have, 0) / 2**30:.3g} GiB this process can still allocate; split the "
            "layer into tiles (mapping.tile_size, e.g. 256: real macros are 64-512 lines) "
            "or solve fewer vectors at once")


def _plain_array(a, name: str, unit: str):
    """``a`` with a torch tensor detached to numpy (``requires_grad`` is fine: the values are
    read, never differentiated here); a :class:`ConfigError` for complex values, which a
    float64 conversion would silently truncate."""
    if hasattr(a, "detach") and hasattr(a, "numpy"):
        if getattr(a, "is_complex", lambda: False)():
            raise ConfigError(f"{name} must be real {unit}; got a complex tensor")
        a = a.detach().cpu().numpy()
    if np.iscomplexobj(a):
        raise ConfigError(f"{name} must be real {unit}; got complex values (nothing in a "
                          "DC crossbar has an imaginary part: pass .real if that is meant)")
    return a


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
    cell: CellLaw | None = field(default=None)
    """Another cell read law (:class:`~circuitsim.cards.cell.CellLaw`, e.g. Verilog-A cells
    through their characterised table, :mod:`circuitsim.devices.va_cells`), parametrised by
    ``conductance`` (each cell's zero-bias conductance); None = the built-in laws."""

    def __post_init__(self):
        super().__post_init__()
        g = _plain_array(self.conductance, "CrossbarSpec.conductance", "[S]")
        if isinstance(g, np.ndarray) and g.ndim == 2:
            check_memory(g.shape[0], g.shape[1], "spec")  # before the float64 copy
        try:
            g = np.array(g, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ConfigError("CrossbarSpec.conductance must be a (rows, cols) array of numbers "
                              f"[S]; could not convert it: {exc}") from None
        if g.ndim != 2 or g.shape[0] < 1 or g.shape[1] < 1:
            raise ConfigError("CrossbarSpec.conductance must be a 2-D (rows, cols) array with "
                              f"at least one row and one column, got shape {g.shape}")
        if not np.isfinite(g).all():
            bad = ~np.isfinite(g)
            i, j = np.argwhere(bad)[0]
            raise ConfigError(f"CrossbarSpec.conductance must be finite; {int(bad.sum())} "
                              f"value(s) are NaN/inf, e.g. [{i}, {j}] = {g[i, j]!r}")
        if g.min() <= 0:
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
        if self.cell is not None:
            if not isinstance(self.cell, CellLaw):
                raise ConfigError("CrossbarSpec.cell must be None or a "
                                  f"circuitsim.cards.cell.CellLaw, got {type(self.cell).__name__}")
            if self.sinh_v0 is not None:
                raise ConfigError("CrossbarSpec: give either sinh_v0 (the built-in sinh law) or "
                                  "cell (another cell law), not both")
            self.cell.check(g)

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
        return self.access is None and self.ohmic_cells

    @property
    def ohmic_cells(self) -> bool:
        """True when every memristor is the ohmic G·v (no sinh_v0, no cell law)."""
        return self.sinh_v0 is None and self.cell is None

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
        V = _plain_array(V, name, "[V]")
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


__all__ = ["CrossbarSpec", "available_memory_bytes", "check_conductance_pair", "check_memory",
           "solve_memory_estimate"]
