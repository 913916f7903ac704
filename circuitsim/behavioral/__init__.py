"""Behavioral crossbar engine: exact IR-drop solves (numpy or torch) checked against ngspice.

>>> from circuitsim import behavioral
>>> I = behavioral.column_currents(spec, V)          # doctest: +SKIP
>>> solver = behavioral.CrossbarSolver(spec)          # factor once ...
>>> I = solver.column_currents(V_batch)               # ... evaluate many  # doctest: +SKIP
>>> out = behavioral.solve_linear(spec, V, G_draws)   # new conductances, K draws  # doctest: +SKIP
>>> out.currents, out.kcl_max      # currents and the KCL report  # doctest: +SKIP
"""

from .ideal import ideal_mvm
from .pcg import solve as solve_linear
from .solver import (
    CrossbarSolver,
    column_currents,
    column_currents_draws,
    differential_currents,
    node_voltages,
)

__all__ = ["CrossbarSolver", "column_currents", "column_currents_draws", "crossbar_currents",
           "differential_currents", "ideal_mvm", "node_voltages", "solve_linear"]


def crossbar_currents(spec, V, G=None, **kw):
    """Differentiable exact column currents (torch); see
    :func:`circuitsim.behavioral.autograd.crossbar_currents`."""
    from .autograd import crossbar_currents as f  # torch is imported only when used

    return f(spec, V, G, **kw)
