"""Crossbars whose cells are Verilog-A devices: the ngspice decks (OSDI cells in the crossbar
netlist: a read ``.op`` and a programming ``.tran``) and the twin (the characterised
:class:`~circuitsim.devices.characterise.TableTwin` in a Newton nodal solve of the same netlist,
stepped in time for programming runs).

Both worlds read one description: the :class:`~circuitsim.crossbar.CrossbarSpec` (wires,
driver and sense resistances; its ``conductance`` is not used for the cells) and a
:class:`VerilogACells` (the model and one state per cell).  The deck is
:func:`circuitsim.crossbar.crossbar_deck` with every cell resistor ``Rm{i}_{j}`` replaced by the
OSDI device ``Nm{i}_{j}``; the twin solves the circuit read from that same subcircuit (its
resistors are the linear branches), so the topology is written once.  1R arrays only (a cell
with an access transistor has an internal node the twin's cell law does not cover yet).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ..circuit import Deck, Instance, Resistor, Tran, VoltageSource
from ..circuit.elements import Model, Pulse, Pwl, Sin
from ..crossbar.netlist import column_current_names, crossbar_deck, crossbar_subckt
from ..crossbar.spec import CrossbarSpec
from ..errors import ConfigError, ConvergenceError
from ..spice.runner import DEFAULT_TIMEOUT_S, Runner, get_runner
from .characterise import TableTwin
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
    if spec.sinh_v0 is not None:
        raise ConfigError("sinh_v0 describes the built-in cell law; with Verilog-A cells the "
                          "read I-V is the model's own: leave sinh_v0 None")


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
    from ..crossbar.netlist import NONLINEAR_OPTIONS

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
    from .characterise import DEVICE_OPTIONS

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


class TableCrossbarSolver:
    """Newton nodal solve of a 1R crossbar whose cells follow a :class:`TableTwin` at fixed
    states (a read: the states do not move during the solve, as in the ``.op`` deck)."""

    def __init__(self, spec: CrossbarSpec, cells: VerilogACells, twin: TableTwin, *,
                 tol: float = 1e-13, max_iter: int = 100):
        _check(spec, cells)
        if spec.access is not None:
            raise ConfigError("TableCrossbarSolver: 1R arrays only (no access transistor)")
        self.spec, self.twin, self.tol, self.max_iter = spec, twin, tol, max_iter
        sub = crossbar_subckt(spec)
        R, C = spec.shape
        known = [f"in{i}" for i in range(R)] + [f"out{j}" for j in range(C)]
        index = {n: k for k, n in enumerate(known)}
        lin_a, lin_b, lin_g, cell_a, cell_b, cell_x = [], [], [], [], [], []
        for el in sub.elements:
            if not isinstance(el, Resistor):
                continue
            for node in (el.p, el.n):
                index.setdefault(node, len(index))
            m = _CELL.match(el.name)
            if m:
                cell_a.append(index[el.p])
                cell_b.append(index[el.n])
                cell_x.append(cells.states[int(m[1]), int(m[2])])
            else:
                lin_a.append(index[el.p])
                lin_b.append(index[el.n])
                lin_g.append(1.0 / el.value)
        self.n_known, self.n = len(known), len(index)
        self.cell_a, self.cell_b = np.array(cell_a), np.array(cell_b)
        self.cell_x = np.array(cell_x)
        self._cells = [_CELL.match(e.name) for e in sub.elements
                       if isinstance(e, Resistor) and _CELL.match(e.name)]
        self.col_of_cell = np.array([int(m[2]) for m in self._cells])
        a, b, g = np.array(lin_a, int), np.array(lin_b, int), np.array(lin_g)
        rows = np.concatenate([a, b, a, b])
        cols = np.concatenate([a, b, b, a])
        Y = sp.csr_matrix((np.concatenate([g, g, -g, -g]), (rows, cols)),
                          shape=(self.n, self.n))
        k = self.n_known
        self.Y_uu, self.Y_uk = Y[k:, k:].tocsr(), Y[k:, :k].tocsr()
        self._warm, self._keep_warm = None, False
        # the Jacobian's pattern is fixed: Y_uu plus the cell stamps; map every contribution
        # to its slot in one CSC matrix so each Newton step only sums numbers into it
        ca, cb = self.cell_a, self.cell_b
        rr = np.concatenate([ca, ca, cb, cb])
        cc = np.concatenate([ca, cb, ca, cb])
        self._keep = (rr >= k) & (cc >= k)
        yc = self.Y_uu.tocoo()
        rows = np.concatenate([yc.row, rr[self._keep] - k])
        cols = np.concatenate([yc.col, cc[self._keep] - k])
        m = self.n - k
        pattern = sp.csc_matrix((np.ones(rows.size), (rows, cols)), shape=(m, m))
        pattern.sum_duplicates()
        pattern.sort_indices()
        pos = {}
        for c in range(m):
            for p in range(pattern.indptr[c], pattern.indptr[c + 1]):
                pos[(int(pattern.indices[p]), c)] = p
        self._slot = np.array([pos[(int(r), int(c))] for r, c in zip(rows, cols, strict=True)])
        self._y_data = yc.data
        self._pattern = pattern

    def _solve_one(self, v, states=None):
        """Column currents and cell voltages for inputs ``v`` at cell ``states`` (default the
        cells' own), in the order of :attr:`cell_x`."""
        xs = self.cell_x if states is None else states
        k0, n = self.n_known, self.n
        x = np.concatenate([v, np.zeros(self.spec.cols), np.zeros(n - k0)])
        if self._warm is not None:  # the last solution: one or two Newton steps in a run
            x[k0:] = self._warm
        a, b = self.cell_a, self.cell_b
        step = 0.0
        for _ in range(self.max_iter):
            i, g = self.twin.current_and_slope(x[a] - x[b], xs)
            F = np.zeros(n)
            np.add.at(F, a, i)
            np.add.at(F, b, -i)
            F = self.Y_uu @ x[k0:] + self.Y_uk @ x[:k0] + F[k0:]
            vv = np.concatenate([g, -g, -g, g])[self._keep]
            J = self._pattern.copy()
            J.data = np.bincount(self._slot, weights=np.concatenate([self._y_data, vv]),
                                 minlength=J.data.size)
            dx = np.atleast_1d(spla.splu(J).solve(-F))
            step = float(np.max(np.abs(dx))) if dx.size else 0.0
            if step > 0.5:
                dx *= 0.5 / step
            x[k0:] += dx
            if step <= self.tol + 1e-12 * np.max(np.abs(x)):
                self._warm = x[k0:].copy() if self._keep_warm else None
                vcell = x[a] - x[b]
                i, _ = self.twin.current_and_slope(vcell, xs)
                return np.bincount(self.col_of_cell, weights=i, minlength=self.spec.cols), vcell
        raise ConvergenceError(f"table crossbar Newton did not converge in {self.max_iter} "
                               f"iterations (last step {step:.3g} V)")

    def column_currents(self, V) -> np.ndarray:
        """Column currents [A]: V (rows,) -> (cols,), (rows, K) -> (cols, K).  Every cell
        current reaches its column's 0 V node (no other path to ground in a 1R array)."""
        v2, vector = self.spec.check_inputs(V)
        out = np.stack([self._solve_one(v2[:, k])[0] for k in range(v2.shape[1])], axis=1)
        return out[:, 0] if vector else out

    def program(self, t, row_voltages) -> tuple[np.ndarray, np.ndarray]:
        """A programming run on the time grid ``t`` [s]: ``row_voltages(t) -> (rows,)`` [V]
        (columns at 0 V).  Each step solves the array at the midpoint (states frozen) and
        advances every cell's state with its midpoint rate (second order in the step; give a
        grid that resolves the pulse edges).  Returns ``(states, column currents)`` of shapes
        (len(t), rows, cols) and (len(t), cols)."""
        t = np.asarray(t, dtype=float)
        R, C = self.spec.shape
        x = self.cell_x.copy()
        self._warm, self._keep_warm = None, True
        lo, hi = self.twin.states[0], self.twin.states[-1]
        states = np.empty((t.size, x.size))
        currents = np.empty((t.size, C))
        states[0] = x
        currents[0] = self._solve_one(np.asarray(row_voltages(t[0]), float), x)[0]
        for k in range(1, t.size):
            dt = t[k] - t[k - 1]
            tm = t[k - 1] + 0.5 * dt
            _, vc = self._solve_one(np.asarray(row_voltages(t[k - 1]), float), x)
            x_half = x + 0.5 * dt * self.twin.dxdt(vc, x)
            _, vc = self._solve_one(np.asarray(row_voltages(tm), float), x_half)
            x = np.clip(x + dt * self.twin.dxdt(vc, x_half), lo, hi)
            states[k] = x
            currents[k] = self._solve_one(np.asarray(row_voltages(t[k]), float), x)[0]
        self._warm, self._keep_warm = None, False
        order = np.array([[int(m[1]), int(m[2])] for m in self._cells])
        grid = np.empty((t.size, R, C))
        grid[:, order[:, 0], order[:, 1]] = states
        return grid, currents


__all__ = ["TableCrossbarSolver", "VerilogACells", "cell_state_names", "spice_column_currents",
           "va_crossbar_deck", "va_crossbar_subckt", "va_programming_deck"]
