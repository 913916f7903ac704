"""Crossbars whose cells are Verilog-A devices: the ngspice deck (OSDI cells in the crossbar
netlist) and the twin (the characterised :class:`~circuitsim.devices.characterise.TableTwin`
in a Newton nodal solve of the same netlist).

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

from ..circuit import Resistor
from ..circuit.elements import Model
from ..crossbar.netlist import column_current_names, crossbar_deck, crossbar_subckt
from ..crossbar.spec import CrossbarSpec
from ..errors import ConfigError, ConvergenceError
from ..spice.runner import DEFAULT_TIMEOUT_S, Runner, get_runner
from .characterise import TableTwin
from .verilog_a import VerilogAModel

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
        self.col_of_cell = np.array([int(_CELL.match(e.name)[2]) for e in sub.elements
                                     if isinstance(e, Resistor) and _CELL.match(e.name)])
        a, b, g = np.array(lin_a, int), np.array(lin_b, int), np.array(lin_g)
        rows = np.concatenate([a, b, a, b])
        cols = np.concatenate([a, b, b, a])
        Y = sp.csr_matrix((np.concatenate([g, g, -g, -g]), (rows, cols)),
                          shape=(self.n, self.n))
        k = self.n_known
        self.Y_uu, self.Y_uk = Y[k:, k:].tocsr(), Y[k:, :k].tocsr()

    def _solve_one(self, v):
        k0, n = self.n_known, self.n
        x = np.concatenate([v, np.zeros(self.spec.cols), np.zeros(n - k0)])
        a, b = self.cell_a, self.cell_b
        step = 0.0
        for _ in range(self.max_iter):
            i, g = self.twin.current_and_slope(x[a] - x[b], self.cell_x)
            F = np.zeros(n)
            np.add.at(F, a, i)
            np.add.at(F, b, -i)
            F = self.Y_uu @ x[k0:] + self.Y_uk @ x[:k0] + F[k0:]
            rr = np.concatenate([a, a, b, b])
            cc = np.concatenate([a, b, a, b])
            vv = np.concatenate([g, -g, -g, g])
            keep = (rr >= k0) & (cc >= k0)
            J = self.Y_uu + sp.csr_matrix((vv[keep], (rr[keep] - k0, cc[keep] - k0)),
                                          shape=self.Y_uu.shape)
            dx = np.atleast_1d(spla.spsolve(J.tocsc(), -F))
            step = float(np.max(np.abs(dx))) if dx.size else 0.0
            if step > 0.5:
                dx *= 0.5 / step
            x[k0:] += dx
            if step <= self.tol + 1e-12 * np.max(np.abs(x)):
                i, _ = self.twin.current_and_slope(x[a] - x[b], self.cell_x)
                return np.bincount(self.col_of_cell, weights=i, minlength=self.spec.cols)
        raise ConvergenceError(f"table crossbar Newton did not converge in {self.max_iter} "
                               f"iterations (last step {step:.3g} V)")

    def column_currents(self, V) -> np.ndarray:
        """Column currents [A]: V (rows,) -> (cols,), (rows, K) -> (cols, K).  Every cell
        current reaches its column's 0 V node (no other path to ground in a 1R array)."""
        v2, vector = self.spec.check_inputs(V)
        out = np.stack([self._solve_one(v2[:, k]) for k in range(v2.shape[1])], axis=1)
        return out[:, 0] if vector else out


__all__ = ["TableCrossbarSolver", "VerilogACells", "spice_column_currents",
           "va_crossbar_deck", "va_crossbar_subckt"]
