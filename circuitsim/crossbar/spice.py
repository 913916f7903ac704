"""Column currents of a crossbar computed by ngspice (the reference for the behavioral engine).

Each input vector is one ``.op`` run of :func:`~circuitsim.crossbar.netlist.crossbar_deck`;
a batch reuses one runner.  Also reachable as ``circuitsim.spice.column_currents``.
"""

from __future__ import annotations

import numpy as np

from ..spice.runner import DEFAULT_TIMEOUT_S, Runner, get_runner
from .netlist import col_node, column_current_names, crossbar_deck, row_node
from .spec import CrossbarSpec


def _with_runner(runner):
    if isinstance(runner, Runner):
        return runner, False
    return get_runner(runner), True


def column_currents(spec: CrossbarSpec, V, runner: str | Runner = "batch",
                    timeout_s: float = DEFAULT_TIMEOUT_S, options=None) -> np.ndarray:
    """ngspice column currents [A]: V (rows,) -> (cols,), or (rows, K) -> (cols, K).

    ``runner``: "batch", "shared" or a :class:`~circuitsim.spice.Runner` instance (reused, not
    closed).  ``timeout_s`` applies to each ``.op`` run.  ``options``: extra ``.options``."""
    v2, vector = spec.check_inputs(V)
    run, owned = _with_runner(runner)
    names = column_current_names(spec)
    out = np.empty((spec.cols, v2.shape[1]))
    try:
        for k in range(v2.shape[1]):
            res = run.run(crossbar_deck(spec, v2[:, k], options=options), timeout_s=timeout_s)
            out[:, k] = [float(res[n][0]) for n in names]
    finally:
        if owned:
            run.close()
    return out[:, 0] if vector else out


def node_voltages(spec: CrossbarSpec, V, runner: str | Runner = "batch",
                  timeout_s: float = DEFAULT_TIMEOUT_S, options=None):
    """ngspice row and column node voltages for ONE input vector V (rows,):
    ``(v_row, v_col)`` each (rows, cols) [V] (merged nodes repeat their value)."""
    run, owned = _with_runner(runner)
    try:
        res = run.run(crossbar_deck(spec, V, options=options, save_nodes=True),
                      timeout_s=timeout_s)
    finally:
        if owned:
            run.close()
    R, C = spec.shape
    v_in = np.asarray(V, dtype=float)

    def value(node: str) -> float:
        if node.startswith("in") and node[2:].isdigit():
            return float(v_in[int(node[2:])])
        if node.startswith("out") and node[3:].isdigit():
            return 0.0
        return float(res[f"v(xxbar.{node})"][0])

    vr = np.array([[value(row_node(spec, i, j)) for j in range(C)] for i in range(R)])
    vc = np.array([[value(col_node(spec, i, j)) for j in range(C)] for i in range(R)])
    return vr, vc


__all__ = ["column_currents", "node_voltages"]
