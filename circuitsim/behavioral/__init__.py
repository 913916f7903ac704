"""Behavioral crossbar engine: exact IR-drop solves (numpy or torch) checked against ngspice.

>>> from circuitsim import behavioral
>>> I = behavioral.column_currents(spec, V)          # doctest: +SKIP
>>> solver = behavioral.CrossbarSolver(spec)          # factor once ...
>>> I = solver.column_currents(V_batch)               # ... evaluate many  # doctest: +SKIP
"""

from .ideal import ideal_mvm
from .solver import (
    CrossbarSolver,
    column_currents,
    differential_currents,
    node_voltages,
)

__all__ = ["CrossbarSolver", "column_currents", "differential_currents", "ideal_mvm",
           "node_voltages"]
