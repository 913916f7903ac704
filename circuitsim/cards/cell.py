"""The cell-law interface: a memristor read law that the crossbar netlist and every
behavioral solver take from one object (``CrossbarSpec(cell=...)``).

The built-in laws (ohmic ``G·v``; ``G·v0·sinh(v/v0)`` with ``CrossbarSpec.sinh_v0``) are
written into the netlist and :mod:`circuitsim.behavioral.cells` directly.  A :class:`CellLaw`
is any other two-terminal read law parametrised, like them, by one number per cell: its
small-signal conductance at zero bias ``g`` [S] (``CrossbarSpec.conductance``), so mapping,
device ranges and warm starts keep speaking conductance.  A law supplies

* ``current(g, v) -> (i, di/dv)`` on numpy or torch arrays (one text for both backends);
* the SPICE side: the ``.model`` cards and device element of each cell, and the compiled
  libraries a deck must load (``osdi()``).

The Verilog-A cells of :mod:`circuitsim.devices.va_cells` are the implementation in the
package (a table twin characterised from ngspice, reparametrised by g).
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError


class CellLaw:
    """Abstract base of a cell read law (see the module docstring)."""

    def current(self, g, v):
        """Cell current [A] and d i / d v [S] at voltage ``v`` [V] across a cell of
        zero-bias conductance ``g`` [S] (numpy or torch, broadcast)."""
        raise NotImplementedError

    def g_range(self) -> tuple[float, float]:
        """Conductances the law covers (g_lo, g_hi) [S]."""
        raise NotImplementedError

    def spice_models(self, G: np.ndarray) -> tuple[tuple, np.ndarray]:
        """``(models, names)``: the ``.model`` cards for the cells of ``G`` (rows, cols) and
        the (rows, cols) array of the model name each cell uses."""
        raise NotImplementedError

    def spice_device(self, name: str, p: str, n: str, model: str):
        """The circuit element of one cell from node ``p`` to node ``n``."""
        raise NotImplementedError

    def osdi(self) -> tuple[str, ...]:
        """Compiled libraries a deck with these cells loads (``Deck.osdi``)."""
        return ()

    def describe(self) -> dict:
        """JSON-able description (manifests)."""
        raise NotImplementedError

    def check(self, G: np.ndarray, where: str = "CrossbarSpec.conductance") -> None:
        """:class:`ConfigError` unless every conductance lies in :meth:`g_range`."""
        lo, hi = self.g_range()
        tol = 1e-9 * hi
        if G.min() < lo - tol or G.max() > hi + tol:
            raise ConfigError(f"{where}: [{G.min():.4g}, {G.max():.4g}] S lies outside the "
                              f"cell law's range [{lo:.4g}, {hi:.4g}] S ({self.describe()}); "
                              "map into that range (MappingConfig g_min / g_max or "
                              "CircuitConfig.device_range)")


__all__ = ["CellLaw"]
