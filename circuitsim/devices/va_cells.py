"""Crossbars whose cells are Verilog-A devices: the ngspice decks (OSDI cells in the crossbar
netlist: a read ``.op`` and a programming ``.tran``) and the twin (the characterised
:class:`~circuitsim.devices.characterise.TableTwin` as a cell law of the behavioral crossbar
solvers, stepped in time for programming runs).

:class:`VerilogACellLaw` is the cell law (:class:`~circuitsim.cards.cell.CellLaw`) that puts a
Verilog-A device into every crossbar and network: ``CrossbarSpec(G, cell=law)`` writes OSDI
devices ``Nm{i}_{j}`` into the netlist, each with the state whose zero-bias conductance is
``G[i, j]``, and every behavioral solver (``behavioral.column_currents``, ``CrossbarSolver``,
the Newton/PCG path, ``NodalSolver``; 1R or 1T1R with a level-1 or BSIM4-table access) reads
the cell current from the twin's I-V table reparametrised by that conductance.

Both worlds read one description: the :class:`~circuitsim.crossbar.CrossbarSpec` (wires,
driver and sense resistances; its ``conductance`` is not used for the cells) and a
:class:`VerilogACells` (the model and one state per cell).  The deck is
:func:`circuitsim.crossbar.crossbar_deck` with every cell resistor ``Rm{i}_{j}`` replaced by the
OSDI device ``Nm{i}_{j}``; the twin (:class:`TableCrossbarSolver`, a thin call of
:class:`~circuitsim.behavioral.nodal.NodalSolver` on ``CrossbarSpec(G(x), cell=law)``) solves
the topology every behavioral solver shares with :func:`crossbar_subckt`.  Reads work for 1R
and 1T1R arrays; programming runs are 1R.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..behavioral.nodal import NodalSolver
from ..cards.cell import CellLaw
from ..circuit import Deck, Instance, Resistor, Tran, VoltageSource
from ..circuit.elements import Model, Pulse, Pwl, Sin
from ..crossbar.netlist import (
    NONLINEAR_OPTIONS,
    column_current_names,
    crossbar_deck,
    crossbar_subckt,
)
from ..crossbar.spec import CrossbarSpec
from ..errors import ConfigError
from ..spice.runner import DEFAULT_TIMEOUT_S, Runner, get_runner
from ..tables import Bicubic
from .characterise import DEVICE_OPTIONS, TableTwin
from .verilog_a import VerilogAModel, state_vector

_CELL = re.compile(r"^Rm(\d+)_(\d+)$")


@dataclass(frozen=True, eq=False)
class VerilogACells:
    """The cells of a crossbar: one Verilog-A model, one state per cell."""

    model: VerilogAModel
    """The device (with ``state_param``)."""
    states: np.ndarray
    """(rows, cols) initial states [state unit]."""

    def __post_init__(self):
        s = np.array(self.states, dtype=float)
        if s.ndim != 2 or not np.all(np.isfinite(s)):
            raise ConfigError("VerilogACells.states must be a finite (rows, cols) array")
        if self.model.state_param is None:
            raise ConfigError("VerilogACells needs a model with state_param (the parameter "
                              "that sets each cell's state)")
        s.setflags(write=False)
        object.__setattr__(self, "states", s)
        uniq, inv = np.unique(s, return_inverse=True)
        object.__setattr__(self, "_uniq", uniq)
        object.__setattr__(self, "_index", inv.reshape(s.shape))

    def models(self) -> tuple[Model, ...]:
        """One ``.model`` per distinct state (``mc0``, ``mc1``, ...)."""
        return tuple(self.model.model(f"mc{u}", float(x)) for u, x in enumerate(self._uniq))

    def device(self, i: int, j: int, p: str, n: str):
        return self.model.device(f"Nm{i}_{j}", p, n, f"mc{int(self._index[i, j])}")


def _check(spec: CrossbarSpec, cells: VerilogACells) -> None:
    if not isinstance(spec, CrossbarSpec) or not isinstance(cells, VerilogACells):
        raise ConfigError("need a CrossbarSpec and VerilogACells")
    if cells.states.shape != spec.shape:
        raise ConfigError(f"VerilogACells.states has shape {cells.states.shape} but the crossbar "
                          f"is {spec.shape}")
    if spec.sinh_v0 is not None or spec.cell is not None:
        raise ConfigError("sinh_v0 / cell describe the built-in cell law; with Verilog-A cells the "
                          "read I-V is the model's own: leave sinh_v0 and cell None")


def va_crossbar_subckt(spec: CrossbarSpec, cells: VerilogACells, name: str = "xbar"):
    """:func:`crossbar_subckt` with each cell resistor replaced by the OSDI device."""
    _check(spec, cells)
    sub = crossbar_subckt(spec, name)
    els = []
    for el in sub.elements:
        m = _CELL.match(el.name) if isinstance(el, Resistor) else None
        els.append(cells.device(int(m[1]), int(m[2]), el.p, el.n) if m else el)
    return sub.__class__(sub.name, sub.ports, tuple(els), params=sub.params,
                         models=sub.models + cells.models(),
                         comment=sub.comment + f"\ncells: Verilog-A {cells.model.module} "
                         f"({cells.model.source.name})")


def va_crossbar_deck(spec: CrossbarSpec, cells: VerilogACells, V, *, options=None):
    """The ``.op`` deck of :func:`crossbar_deck` with Verilog-A cells (``pre_osdi`` loaded)."""
    base = crossbar_deck(spec, V, options={**NONLINEAR_OPTIONS, **(options or {})})
    return base.replace(subcircuits=(va_crossbar_subckt(spec, cells),),
                        osdi=(str(cells.model.osdi()),))


def spice_column_currents(spec: CrossbarSpec, cells: VerilogACells, V,
                          runner: str | Runner = "batch",
                          timeout_s: float = DEFAULT_TIMEOUT_S) -> np.ndarray:
    """ngspice column currents [A] for V (rows,) or (rows, K)."""
    v2, vector = spec.check_inputs(V)
    run = runner if isinstance(runner, Runner) else get_runner(runner)
    names = column_current_names(spec)
    out = np.empty((spec.cols, v2.shape[1]))
    try:
        for k in range(v2.shape[1]):
            res = run.run(va_crossbar_deck(spec, cells, v2[:, k]), timeout_s=timeout_s)
            out[:, k] = [float(res[n][0]) for n in names]
    finally:
        if not isinstance(runner, Runner):
            run.close()
    return out[:, 0] if vector else out


def va_programming_deck(spec: CrossbarSpec, cells: VerilogACells, row_waveforms, *,
                        stop: float, step: float, tmax: float, options=None) -> Deck:
    """A programming run: row ``i`` driven by ``row_waveforms[i]`` (Pulse/Pwl/Sin, or a number
    for a constant), every column held at 0 V, ``.tran``; saves the column currents and every
    cell's state ``v(n.xxbar.nm{i}_{j}#<state_node>)`` (:func:`cell_state_names`)."""
    _check(spec, cells)
    if len(row_waveforms) != spec.rows:
        raise ConfigError(f"va_programming_deck: {len(row_waveforms)} row waveforms for "
                          f"{spec.rows} rows")
    if spec.access is not None:
        raise ConfigError("va_programming_deck: 1R arrays only")
    sub = va_crossbar_subckt(spec, cells)
    els: list = [Instance("Xxbar", sub.name, sub.ports)]
    for i, w in enumerate(row_waveforms):
        if isinstance(w, Pulse | Pwl | Sin):
            els.append(VoltageSource(f"Vin{i}", f"in{i}", "0", 0.0, w))
        else:
            els.append(VoltageSource(f"Vin{i}", f"in{i}", "0", float(w)))
    els += [VoltageSource(f"Vout{j}", f"out{j}", "0", 0.0) for j in range(spec.cols)]
    saves = tuple(column_current_names(spec)) + tuple(cell_state_names(spec, cells).ravel())
    return Deck(title=f"crossbar {spec.rows}x{spec.cols} programming run (Verilog-A cells)",
                elements=tuple(els), subcircuits=(sub,), osdi=(str(cells.model.osdi()),),
                options=DEVICE_OPTIONS if options is None else options,
                analyses=(Tran(step, stop, 0.0, tmax),), saves=saves)


def cell_state_names(spec: CrossbarSpec, cells: VerilogACells) -> np.ndarray:
    """(rows, cols) vector names of the cell states in :func:`va_programming_deck`."""
    if cells.model.state_node is None:
        raise ConfigError("the model has no state_node: cell states are not observable")
    return np.array([[state_vector(f"Nm{i}_{j}", cells.model.state_node, ("xxbar",))
                      for j in range(spec.cols)] for i in range(spec.rows)])


class VerilogACellLaw(CellLaw):
    """A Verilog-A device as the cell of crossbars and networks, parametrised by conductance.

    The twin's I-V table I(x_k, v_l) is re-indexed by each state's zero-bias conductance
    g_k = dI/dv(v = 0; x_k) (which must be strictly monotone in x over ``states``) and
    interpolated bicubically in (g, v) (:class:`circuitsim.tables.Bicubic`, numpy and torch):
    exact at the measured states, and exact between them for laws whose current is linear in
    g at fixed v (resistance linear in the state: VTEAM, the linear-drift cell, the test's
    toy; I = a x sinh(b v): Yakopcic).  SPICE gets, for a cell of conductance G, the state
    x(G) that inverts g(x) of the twin (bisection to 1e-13 of the state range).

    ``states``: (x_lo, x_hi), the part of the twin's state grid to use (default all of it;
    cut off states where the model clamps its resistance and g(x) stops changing)."""

    def __init__(self, model: VerilogAModel, twin: TableTwin, states=None):
        if not isinstance(model, VerilogAModel) or not isinstance(twin, TableTwin):
            raise ConfigError("VerilogACellLaw needs a VerilogAModel and its TableTwin")
        if model.state_param is None:
            raise ConfigError("VerilogACellLaw needs a model with state_param (the parameter "
                              "that sets each cell's state)")
        xs = twin.states
        lo, hi = (float(xs[0]), float(xs[-1])) if states is None else map(float, states)
        keep = (xs >= lo - 1e-12) & (xs <= hi + 1e-12)
        if keep.sum() < 4:
            raise ConfigError(f"VerilogACellLaw: fewer than 4 table states in [{lo}, {hi}]")
        xk = xs[keep]
        g = self._g_of(twin, xk)
        fine = self._g_of(twin, np.linspace(xk[0], xk[-1], 20 * xk.size))
        d = np.diff(fine)
        if not (np.all(d > 0) or np.all(d < 0)) or g.min() <= 0:
            raise ConfigError(f"VerilogACellLaw: the zero-bias conductance of "
                              f"{model.module} is not positive and strictly monotone in the "
                              f"state over [{xk[0]}, {xk[-1]}] (range {g.min():.3g} to "
                              f"{g.max():.3g} S); give states=(lo, hi) inside the range where "
                              "the model's resistance moves with its state")
        order = np.argsort(g)
        self.model, self.twin = model, twin
        self.x_lo, self.x_hi = float(xk[0]), float(xk[-1])
        self.g_grid = g[order]
        self._rising = bool(d[0] > 0)
        self._table = Bicubic(self.g_grid, twin.voltages, twin.current_table[keep][order])

    @staticmethod
    def _g_of(twin: TableTwin, x):
        return twin.current_and_slope(np.zeros_like(x), x)[1]

    def conductance_of(self, states) -> np.ndarray:
        """Zero-bias conductance [S] of cells at ``states`` (the twin's own spline)."""
        x = np.asarray(states, dtype=float)
        if x.min() < self.x_lo - 1e-12 or x.max() > self.x_hi + 1e-12:
            raise ConfigError(f"VerilogACellLaw: states [{x.min()}, {x.max()}] lie outside "
                              f"[{self.x_lo}, {self.x_hi}]")
        return self._g_of(self.twin, x)

    def state_of(self, G) -> np.ndarray:
        """The state whose zero-bias conductance is ``G`` [S] (bisection on the twin)."""
        G = np.asarray(G, dtype=float)
        self.check(G, "VerilogACellLaw.state_of")
        a = np.full(G.shape, self.x_lo)
        b = np.full(G.shape, self.x_hi)
        for _ in range(60):
            m = 0.5 * (a + b)
            up = (self._g_of(self.twin, m) < G) == self._rising
            a, b = np.where(up, m, a), np.where(up, b, m)
        return 0.5 * (a + b)

    def g_range(self) -> tuple[float, float]:
        return float(self.g_grid[0]), float(self.g_grid[-1])

    def current(self, g, v):
        vs = self.twin.voltages
        if float(v.min()) < vs[0] - 1e-9 or float(v.max()) > vs[-1] + 1e-9:
            raise ConfigError(f"Verilog-A cell: voltage [{float(v.min()):.3g}, "
                              f"{float(v.max()):.3g}] V across a cell lies outside the "
                              f"characterised [{vs[0]}, {vs[-1]}] V; characterise the twin "
                              "over a wider voltage range")
        i, _, di_dv = self._table(g, v)
        return i, di_dv

    def spice_models(self, G):
        uniq, inv = np.unique(np.asarray(G, dtype=float), return_inverse=True)
        x = self.state_of(uniq)
        models = tuple(self.model.model(f"mc{u}", float(xu)) for u, xu in enumerate(x))
        return models, np.array([f"mc{u}" for u in inv.ravel()]).reshape(np.shape(G))

    def spice_device(self, name, p, n, model):
        return self.model.device(name, p, n, model)

    def osdi(self) -> tuple[str, ...]:
        return (str(self.model.osdi()),)

    def describe(self) -> dict:
        lo, hi = self.g_range()
        return {"kind": "verilog_a", "source": str(self.model.source),
                "module": self.model.module, "params": dict(self.model.params),
                "state_param": self.model.state_param, "states": [self.x_lo, self.x_hi],
                "g_range_S": [lo, hi]}


class TableCrossbarSolver:
    """The twin of a crossbar with :class:`VerilogACells`: the behavioral nodal solver on
    ``CrossbarSpec(G(x), cell=VerilogACellLaw(model, twin))`` (a read: the states do not move
    during the solve, as in the ``.op`` deck); 1R or 1T1R (level-1 card or BSIM4 table)."""

    def __init__(self, spec: CrossbarSpec, cells: VerilogACells, twin: TableTwin, *,
                 tol: float = 1e-13, max_iter: int = 100):
        _check(spec, cells)
        self.law = VerilogACellLaw(cells.model, twin)
        self.spec = spec.replace(conductance=self.law.conductance_of(cells.states),
                                 cell=self.law)
        self.twin, self.tol, self.max_iter = twin, tol, max_iter
        self.cells = cells

    def _solve(self, V, states=None):
        spec = self.spec if states is None else self.spec.replace(
            conductance=self.law.conductance_of(states))
        return NodalSolver(spec, tol=self.tol, max_iter=self.max_iter).solve(V)

    def column_currents(self, V) -> np.ndarray:
        """Column currents [A]: V (rows,) -> (cols,), (rows, K) -> (cols, K)."""
        v2, vector = self.spec.check_inputs(V)
        out = self._solve(v2)[2]
        return out[:, 0] if vector else out

    def program(self, t, row_voltages) -> tuple[np.ndarray, np.ndarray]:
        """A programming run on the time grid ``t`` [s]: ``row_voltages(t) -> (rows,)`` [V]
        (columns at 0 V).  Each step solves the array at the midpoint (states frozen) and
        advances every cell's state with its midpoint rate (second order in the step; give a
        grid that resolves the pulse edges).  Returns ``(states, column currents)`` of shapes
        (len(t), rows, cols) and (len(t), cols).  1R arrays (the cell voltage is
        v_row - v_col)."""
        if self.spec.access is not None:
            raise ConfigError("TableCrossbarSolver.program: 1R arrays only")
        t = np.asarray(t, dtype=float)
        lo, hi = self.law.x_lo, self.law.x_hi

        def solve(tt, x):
            vr, vc, I = self._solve(np.asarray(row_voltages(tt), float)[:, None], x)
            return vr[..., 0] - vc[..., 0], I[:, 0]

        x = np.array(self.cells.states, dtype=float)
        states = np.empty((t.size,) + x.shape)
        currents = np.empty((t.size, self.spec.cols))
        states[0] = x
        currents[0] = solve(t[0], x)[1]
        for k in range(1, t.size):
            dt = t[k] - t[k - 1]
            vc, _ = solve(t[k - 1], x)
            x_half = np.clip(x + 0.5 * dt * self.twin.dxdt(vc, x), lo, hi)
            vc, _ = solve(t[k - 1] + 0.5 * dt, x_half)
            x = np.clip(x + dt * self.twin.dxdt(vc, x_half), lo, hi)
            states[k] = x
            currents[k] = solve(t[k], x)[1]
        return states, currents


__all__ = ["TableCrossbarSolver", "VerilogACellLaw", "VerilogACells", "cell_state_names",
           "spice_column_currents", "va_crossbar_deck", "va_crossbar_subckt",
           "va_programming_deck"]
