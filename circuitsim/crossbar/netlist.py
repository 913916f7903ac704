"""Crossbar netlist generator: :class:`CrossbarSpec` -> :class:`Subcircuit` / :class:`Deck`.

Pure functions, deterministic names.  Element names carry the cell / segment indices:

=============  ==================================================================
``Rs{i}``      row driver resistance ``r_source``: port ``in{i}`` -> row node (i, 0)
``Rr{i}_{j}``  row wire segment between row nodes (i, j) and (i, j+1)
``Rc{i}_{j}``  column wire segment between column nodes (i, j) and (i+1, j)
``Rk{j}``      sense resistance ``r_sense``: column node (R-1, j) -> port ``out{j}``
``Rm{i}_{j}``  the cell memristor 1/G[i, j] (``Bm{i}_{j}`` when ``sinh_v0`` is set,
               ``Nm{i}_{j}`` (an OSDI device) with a cell law, ``spec.cell``)
``Mt{i}_{j}``  the 1T1R access NMOS: drain ``m{i}_{j}`` (memristor side), gate ``wl``,
               source = bulk = column node (i, j)
``Cr{i}_{j}``  ``c_wire_row`` from row node (i, j) to ground (``Cc{i}_{j}`` for columns)
=============  ==================================================================

Nodes: row node (i, j) is ``r{i}_{j}``, column node (i, j) is ``c{i}_{j}``.  A zero resistance
merges nodes instead of writing a 0-ohm resistor: with ``r_wire_row == 0`` row i is the single
node ``r{i}``; with ``r_source == 0`` row node (i, 0) *is* the port ``in{i}``; with
``r_wire_col == 0`` column j is the single node ``c{j}``; with ``r_sense == 0`` column node
(R-1, j) *is* the port ``out{j}``.

Transistor orientation (1T1R): drain at the memristor, source toward the column, bulk tied to
the source.  The level-1 card has no body effect (gamma 0) and zero junction current (is=0), so
the bulk connection only fixes the reference; the model is symmetric in drain/source, as is its
Python twin :meth:`Nmos1Card.drain_current`.
"""

from __future__ import annotations

import numpy as np

from ..circuit import (
    BSource,
    Capacitor,
    Dc,
    Deck,
    Instance,
    Mosfet,
    Op,
    Pwl,
    Resistor,
    Subcircuit,
    VoltageSource,
)
from ..errors import ConfigError
from ..units import spice_number
from .spec import CrossbarSpec

ACCESS_MODEL = "nacc"
"""Name of the access transistor's ``.model`` card inside the crossbar subcircuit."""

NONLINEAR_OPTIONS = {"reltol": 1e-9, "abstol": 1e-18, "vntol": 1e-12}
"""ngspice options used by :func:`crossbar_deck` when cells are nonlinear (1T1R or sinh), so
that the operating point is converged far below the 1e-4 comparison tolerance (ngspice's
default reltol is 1e-3)."""


def row_node(spec: CrossbarSpec, i: int, j: int) -> str:
    """Name of row node (i, j) inside the subcircuit (merged names for zero resistances)."""
    if spec.r_wire_row == 0:
        return f"in{i}" if spec.r_source == 0 else f"r{i}"
    if j == 0 and spec.r_source == 0:
        return f"in{i}"
    return f"r{i}_{j}"


def col_node(spec: CrossbarSpec, i: int, j: int) -> str:
    """Name of column node (i, j) inside the subcircuit."""
    if spec.r_wire_col == 0:
        return f"out{j}" if spec.r_sense == 0 else f"c{j}"
    if i == spec.rows - 1 and spec.r_sense == 0:
        return f"out{j}"
    return f"c{i}_{j}"


def ports(spec: CrossbarSpec) -> tuple[str, ...]:
    """The subcircuit's ports: ``in0..in{R-1}``, ``out0..out{C-1}`` and ``wl`` for 1T1R."""
    p = tuple(f"in{i}" for i in range(spec.rows)) + tuple(f"out{j}" for j in range(spec.cols))
    return p + (("wl",) if spec.access is not None else ())


def crossbar_subckt(spec: CrossbarSpec, name: str = "xbar") -> Subcircuit:
    """The crossbar as a subcircuit (see the module docstring for names and topology)."""
    if not isinstance(spec, CrossbarSpec):
        raise ConfigError(f"crossbar_subckt needs a CrossbarSpec, got {type(spec).__name__}")
    R, C = spec.shape
    G = spec.conductance
    els: list = []
    if spec.r_source > 0:
        els += [Resistor(f"Rs{i}", f"in{i}", row_node(spec, i, 0), spec.r_source)
                for i in range(R)]
    if spec.r_wire_row > 0:
        els += [Resistor(f"Rr{i}_{j}", row_node(spec, i, j), row_node(spec, i, j + 1),
                         spec.r_wire_row) for i in range(R) for j in range(C - 1)]
    if spec.r_wire_col > 0:
        els += [Resistor(f"Rc{i}_{j}", col_node(spec, i, j), col_node(spec, i + 1, j),
                         spec.r_wire_col) for i in range(R - 1) for j in range(C)]
    if spec.r_sense > 0:
        els += [Resistor(f"Rk{j}", col_node(spec, R - 1, j), f"out{j}", spec.r_sense)
                for j in range(C)]
    models = ()
    if spec.access is not None:
        nmos = spec.access.nmos
        models = (nmos.model(ACCESS_MODEL),)
    if spec.cell is not None:
        cell_models, cell_model_of = spec.cell.spice_models(G)
        models += tuple(cell_models)
    for i in range(R):
        for j in range(C):
            a, c = row_node(spec, i, j), col_node(spec, i, j)
            m = f"m{i}_{j}" if spec.access is not None else c
            if spec.cell is not None:
                els.append(spec.cell.spice_device(f"Nm{i}_{j}", a, m, str(cell_model_of[i, j])))
            elif spec.sinh_v0 is None:
                els.append(Resistor(f"Rm{i}_{j}", a, m, 1.0 / float(G[i, j])))
            else:
                g, v0 = spice_number(float(G[i, j]) * spec.sinh_v0), spice_number(spec.sinh_v0)
                els.append(BSource(f"Bm{i}_{j}", a, m, f"{g}*sinh(v({a},{m})/{v0})", kind="I"))
            if spec.access is not None:
                els.append(Mosfet(f"Mt{i}_{j}", m, "wl", c, c, ACCESS_MODEL, nmos.w, nmos.l))
    if spec.c_wire_row > 0:
        els += [Capacitor(f"Cr{i}_{j}", row_node(spec, i, j), "0", spec.c_wire_row)
                for i in range(R) for j in range(C)]
    if spec.c_wire_col > 0:
        els += [Capacitor(f"Cc{i}_{j}", col_node(spec, i, j), "0", spec.c_wire_col)
                for i in range(R) for j in range(C)]
    kind = "1T1R" if spec.access is not None else "1R"
    comment = (f"{R}x{C} {kind} crossbar: r_wire_row={spice_number(spec.r_wire_row)} "
               f"r_wire_col={spice_number(spec.r_wire_col)} r_source="
               f"{spice_number(spec.r_source)} r_sense={spice_number(spec.r_sense)} [ohm]")
    return Subcircuit(name, ports(spec), tuple(els), models=models, comment=comment)


def crossbar_deck(spec: CrossbarSpec, V, *, name: str = "xbar", options=None,
                  save_nodes: bool = False) -> Deck:
    """A standalone ``.op`` deck: ``Vin{i}`` drives ``in{i}`` at ``V[i]``, ``Vout{j}`` holds
    ``out{j}`` at 0 V (so ``i(vout{j})`` is the column current I_j, positive into the 0 V
    node), ``Vwl`` drives the word line for 1T1R.  ``V``: (rows,) [V].  ``options`` override
    the defaults (:data:`NONLINEAR_OPTIONS` for nonlinear cells).  ``save_nodes`` keeps every
    node voltage (else only the column currents are saved)."""
    v2, vector = spec.check_inputs(V)
    if not vector and v2.shape[1] != 1:
        raise ConfigError(f"crossbar_deck takes one input vector V of shape ({spec.rows},); "
                          f"got {v2.shape} (use crossbar.spice.column_currents for batches)")
    v = v2[:, 0]
    sub = crossbar_subckt(spec, name)
    els: list = [Instance(f"X{name}", name, sub.ports)]
    els += [VoltageSource(f"Vin{i}", f"in{i}", "0", float(v[i])) for i in range(spec.rows)]
    els += [VoltageSource(f"Vout{j}", f"out{j}", "0", 0.0) for j in range(spec.cols)]
    if spec.access is not None:
        els.append(VoltageSource("Vwl", "wl", "0", spec.access.v_wordline))
    opts = dict(NONLINEAR_OPTIONS) if not spec.is_linear else {}
    opts.update(options or {})
    saves = () if save_nodes else tuple(f"i(vout{j})" for j in range(spec.cols))
    return Deck(title=f"crossbar {spec.rows}x{spec.cols} operating point", elements=tuple(els),
                subcircuits=(sub,), options=opts, analyses=(Op(),), saves=saves,
                osdi=spec.cell.osdi() if spec.cell is not None else ())


def crossbar_sweep_deck(spec: CrossbarSpec, V, *, name: str = "xbar", options=None) -> Deck:
    """One ``.dc`` deck for K input vectors ``V`` (rows, K) [V]: a slot source ``Vslot`` is
    swept 0..K-1 and row i follows ``V[i, slot]`` (:func:`slot_row_sources`), so ngspice visits
    every vector in one run, each point starting Newton from the previous one's solution.  The
    column currents are ``i(vout{j})`` as in :func:`crossbar_deck`, one value per vector."""
    v2, _ = spec.check_inputs(V)
    k = v2.shape[1]
    sub = crossbar_subckt(spec, name)
    els: list = [VoltageSource("Vslot", "slot", "0", 0.0,
                               comment=f"input slot: .dc sweeps it 0..{k - 1}"),
                 Instance(f"X{name}", name, sub.ports)]
    els += slot_row_sources([f"in{i}" for i in range(spec.rows)], v2.T, "Vin",
                            "row drivers: one value per input vector (slot)")
    els += [VoltageSource(f"Vout{j}", f"out{j}", "0", 0.0) for j in range(spec.cols)]
    if spec.access is not None:
        els.append(VoltageSource("Vwl", "wl", "0", spec.access.v_wordline))
    # The options of the per-vector .op (crossbar_deck).  Measured: the swept 1R currents are
    # 1e-11..3e-10 of the largest from the .op ones with ngspice's default tolerances and
    # with reltol 1e-12 alike (the pwl values themselves come back to 3e-15; cause not
    # found), and the tight NONLINEAR_OPTIONS made a 256x256 1R sweep take > 8 min.
    opts = dict(NONLINEAR_OPTIONS) if not spec.is_linear else {}
    opts.update(options or {})
    return Deck(title=f"crossbar {spec.rows}x{spec.cols}, {k} input vector(s) in one .dc sweep",
                elements=tuple(els), subcircuits=(sub,), options=opts,
                analyses=(Dc("Vslot", 0.0, float(k - 1), 1.0),),
                saves=tuple(f"i(vout{j})" for j in range(spec.cols)),
                osdi=spec.cell.osdi() if spec.cell is not None else ())


def column_current_names(spec: CrossbarSpec) -> list[str]:
    """Vector names of the column currents in a :func:`crossbar_deck` result."""
    return [f"i(vout{j})" for j in range(spec.cols)]


__all__ = ["ACCESS_MODEL", "NONLINEAR_OPTIONS", "col_node", "column_current_names",
           "crossbar_deck", "crossbar_subckt", "ports", "row_node"]


def slot_row_sources(nodes: list[str], values: np.ndarray, prefix: str, comment: str,
                 slot_s: float | None = None) -> list:
    """Row drivers: node k holds ``values[n, k]`` at slot n (a plain DC source when it never
    changes, else a B-source ``pwl(v(slot), ...)`` of the DC sweep, or with ``slot_s`` a PWL
    voltage source holding each value for one slot of a ``.tran``)."""
    slots = np.arange(len(values), dtype=float)
    els = []
    for k, node in enumerate(nodes):
        col = values[:, k]
        cmt = comment if k == 0 else ""
        if np.all(col == col[0]):
            els.append(VoltageSource(f"{prefix}{k}", node, "0", float(col[0]), comment=cmt))
        elif slot_s is not None:
            els.append(VoltageSource(f"{prefix}{k}", node, "0", float(col[0]), comment=cmt,
                                     waveform=Pwl(slot_pwl_points(col, slot_s))))
        else:
            pts = ", ".join(f"{spice_number(t)}, {spice_number(v)}"
                            for t, v in zip(slots, col, strict=True))
            els.append(BSource(f"B{prefix[1:]}{k}", node, "0", f"pwl(v(slot), {pts})",
                               comment=cmt))
    return els


def slot_pwl_points(values, slot_s: float) -> tuple:
    """PWL points holding ``values[k]`` from ``k·T + T/100`` to ``(k+1)·T``, ramping over the
    first hundredth of each slot."""
    pts = [(0.0, float(values[0]))]
    for k in range(1, len(values)):
        pts += [(k * slot_s, float(values[k - 1])), (k * slot_s + slot_s / 100, float(values[k]))]
    return tuple(pts)
