"""ngspice runners and results."""

from .rawfile import Plot, normalise_name, parse_raw
from .result import SimResult
from .runner import (
    CONVERGENCE_OPTIONS,
    BatchRunner,
    Runner,
    SharedRunner,
    SolverFallbackWarning,
    find_libngspice,
    find_ngspice,
    get_runner,
    ngspice_features,
    ngspice_version,
    simulate,
    solver_used,
)

__all__ = [
    "CONVERGENCE_OPTIONS", "BatchRunner", "Plot", "Runner", "SharedRunner", "SimResult",
    "SolverFallbackWarning", "find_libngspice", "find_ngspice", "get_runner", "ngspice_features",
    "ngspice_version", "normalise_name", "parse_raw", "simulate", "solver_used",
]


def __getattr__(name):
    # spice.column_currents lives with the crossbar netlist generator; imported lazily so
    # that the runners do not depend on it.
    if name == "column_currents":
        from ..crossbar.spice import column_currents

        return column_currents
    raise AttributeError(name)
