"""Read power of a crossbar in the behavioral twin: the same quantity ngspice reports as
Σ V·I of the deck's sources (:func:`circuitsim.crossbar.spice.read_power`).

The row line of row i joins only its driver and its cells, so the driver's current is the sum
of the row's cell currents (KCL, exact at DC); the 0 V column sources deliver no power and the
word line draws no DC gate current.  Hence P = Σ_i V_i · Σ_j I_cell(i, j), with the cell
currents evaluated at the solved node voltages by the same cell law as the solver.
"""

from __future__ import annotations

import numpy as np

from ..crossbar.spec import CrossbarSpec
from .cells import cell_current
from .solver import CrossbarSolver


def currents_and_power(spec: CrossbarSpec, V, solver: CrossbarSolver | None = None):
    """Column currents [A] and row-driver power [W] from one node-voltage solve: V (rows, K)
    -> ``(I (cols, K), P (K,))``.  Each column current is the sum of its cell currents (KCL on
    the column line), the power Σ_i V_i Σ_j I_cell(i, j).  ``solver``: a
    :class:`CrossbarSolver` of ``spec`` to reuse."""
    v2, _ = spec.check_inputs(V)
    solver = solver if solver is not None else CrossbarSolver(spec)
    vr, vc = solver.node_voltages(v2)
    i_cell = cell_current(spec, spec.conductance[:, :, None], vr, vc)[0]
    return i_cell.sum(axis=0), np.einsum("ik,ijk->k", v2, i_cell)


def read_power(spec: CrossbarSpec, V, solver: CrossbarSolver | None = None) -> np.ndarray:
    """Power delivered by the row drivers [W]: V (rows,) -> float array of shape (), or
    (rows, K) -> (K,).  ``solver``: a :class:`CrossbarSolver` of ``spec`` to reuse."""
    _, vector = spec.check_inputs(V)
    p = currents_and_power(spec, V, solver)[1]
    return p[0] if vector else p


__all__ = ["currents_and_power", "read_power"]
