"""Column currents of a crossbar computed by ngspice (the reference for the behavioral engine).

Each input vector is one ``.op`` run of :func:`~circuitsim.crossbar.netlist.crossbar_deck`
(a batch reuses one runner), or with ``sweep=True`` all vectors are one ``.dc`` run of
:func:`~circuitsim.crossbar.netlist.crossbar_sweep_deck`.  Also reachable as
``circuitsim.spice.column_currents``.
"""

from __future__ import annotations

import numpy as np

from ..spice.runner import DEFAULT_TIMEOUT_S, Runner, get_runner
from .netlist import (
    col_node,
    column_current_names,
    crossbar_deck,
    crossbar_sweep_deck,
    row_node,
)
from .spec import CrossbarSpec


def _with_runner(runner):
    if isinstance(runner, Runner):
        return runner, False
    return get_runner(runner), True


def column_currents(spec: CrossbarSpec, V, runner: str | Runner = "batch",
                    timeout_s: float = DEFAULT_TIMEOUT_S, options=None,
                    sweep: bool = False) -> np.ndarray:
    """ngspice column currents [A]: V (rows,) -> (cols,), or (rows, K) -> (cols, K).

    ``runner``: "batch", "shared" or a :class:`~circuitsim.spice.Runner` instance (reused, not
    closed).  ``timeout_s`` applies to each ngspice run.  ``options``: extra ``.options``.
    ``sweep``: all K vectors in one ``.dc`` run (:func:`crossbar_sweep_deck`) instead of one
    ``.op`` run each."""
    v2, vector = spec.check_inputs(V)
    run, owned = _with_runner(runner)
    names = column_current_names(spec)
    out = np.empty((spec.cols, v2.shape[1]))
    try:
        if sweep:
            res = run.run(crossbar_sweep_deck(spec, v2, options=options), timeout_s=timeout_s)
            for j, n in enumerate(names):
                out[j] = res.per_point(n, v2.shape[1], fix="rerun with sweep=False to get "
                                       "one .op per vector")
            return out[:, 0] if vector else out
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


def read_power(spec: CrossbarSpec, V, runner: str | Runner = "batch",
               timeout_s: float = DEFAULT_TIMEOUT_S, options=None) -> np.ndarray:
    """Power delivered by every source of the crossbar deck [W]: Σ V·I over the row drivers
    ``Vin{i}``, the 0 V column sources ``Vout{j}`` and the word-line source ``Vwl``, from
    ngspice's own branch currents (``i(V)`` is positive into the + terminal, so a source that
    delivers power has negative current).  V (rows,) -> float array of shape (), or (rows, K)
    -> (K,).  Multiply by the read time for the read energy [J]."""
    v2, vector = spec.check_inputs(V)
    run, owned = _with_runner(runner)
    names = ([f"vin{i}" for i in range(spec.rows)] + [f"vout{j}" for j in range(spec.cols)]
             + (["vwl"] if spec.access is not None else []))
    out = np.empty(v2.shape[1])
    try:
        for k in range(v2.shape[1]):
            deck = crossbar_deck(spec, v2[:, k], options=options)
            deck = deck.replace(saves=tuple(f"i({n})" for n in names))
            res = run.run(deck, timeout_s=timeout_s)
            volts = list(v2[:, k]) + [0.0] * spec.cols + (
                [spec.access.v_wordline] if spec.access is not None else [])
            out[k] = -sum(float(v) * float(res[f"i({n})"][0]) for v, n in zip(volts, names,
                                                                             strict=True))
    finally:
        if owned:
            run.close()
    return out[0] if vector else out


__all__ = ["column_currents", "node_voltages", "read_power"]
