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

Networks take the same law: ``CircuitConfig(cell=law)`` (or the cross-validation config's
``circuit.cell`` description, :func:`cell_law_from_dict`).

Cells given by state rather than conductance (programming runs): both worlds read the
:class:`~circuitsim.crossbar.CrossbarSpec` (wires, driver and sense resistances; its
``conductance`` is not used for the cells) and a :class:`VerilogACells` (the model and one
state per cell).  The deck is
:func:`circuitsim.crossbar.crossbar_deck` with every cell resistor ``Rm{i}_{j}`` replaced by the
OSDI device ``Nm{i}_{j}``; the twin (:class:`TableCrossbarSolver`, a thin call of
:class:`~circuitsim.behavioral.nodal.NodalSolver` on ``CrossbarSpec(G(x), cell=law)``) solves
the topology every behavioral solver shares with :func:`crossbar_subckt`.  Reads work for 1R
and 1T1R arrays; programming runs are 1R.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.interpolate import CubicSpline

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
from .characterise import DEVICE_OPTIONS, TableTwin, static_iv
from .verilog_a import VerilogAModel, packaged_model, state_vector

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

    Built from the device's static I-V table I(x_k, v_l) measured in ngspice
    (:meth:`measure`: one ``.dc``; or :meth:`from_twin`: the table of a characterised
    :class:`TableTwin`).  The table is re-indexed by each state's zero-bias conductance
    g_k = dI/dv(v = 0; x_k) (strictly monotone in x over the states used) and interpolated
    bicubically in (g, v) (:class:`circuitsim.tables.Bicubic`, numpy and torch): exact at the
    measured states, and exact between them for laws whose current is linear in g at fixed v
    (resistance linear in the state: VTEAM, the test's toy; I = a x sinh(b v): Yakopcic).
    SPICE gets, for a cell of conductance G, the state x(G) that inverts g(x) between the
    measured states (a cubic spline of g or 1/g in x, see :meth:`_pick_g_of_x`; bisection to
    1e-18 of the state range): that interpolation is the SPICE-vs-twin error of a mapped
    conductance, estimated from held-out states in :attr:`g_of_x_error`.

    ``x_range``: (x_lo, x_hi), the part of the state grid to use (default all of it; cut off
    states where the model clamps its resistance and g(x) stops changing)."""

    def __init__(self, model: VerilogAModel, states, voltages, current_table, *,
                 x_range=None):
        if not isinstance(model, VerilogAModel):
            raise ConfigError("VerilogACellLaw needs a VerilogAModel")
        if model.state_param is None:
            raise ConfigError("VerilogACellLaw needs a model with state_param (the parameter "
                              "that sets each cell's state)")
        xs, vs = np.asarray(states, dtype=float), np.asarray(voltages, dtype=float)
        table = np.asarray(current_table, dtype=float)
        lo, hi = (xs[0], xs[-1]) if x_range is None else (float(x_range[0]),
                                                          float(x_range[1]))
        keep = (xs >= lo - 1e-12) & (xs <= hi + 1e-12)
        if keep.sum() < 4:
            raise ConfigError(f"VerilogACellLaw: fewer than 4 table states in [{lo}, {hi}]")
        self.model, self.states, self.voltages, self.current_table = model, xs, vs, table
        self._ix = Bicubic(xs, vs, table)  # I(x, v): the measured table's spline
        xk = xs[keep]
        self.x_lo, self.x_hi = float(xk[0]), float(xk[-1])
        g = self._ix(xk, np.zeros_like(xk))[2]  # dI/dv at v = 0 of each measured state
        if g.min() <= 0:
            raise ConfigError(f"VerilogACellLaw: {model.module} has a zero-bias conductance "
                              f"<= 0 ({g.min():.3g} S) in [{xk[0]}, {xk[-1]}]; give x_range="
                              "(lo, hi) where every state conducts")
        self._pick_g_of_x(xk, g)
        fine = self._g_of(np.linspace(xk[0], xk[-1], 20 * xk.size))
        d = np.diff(fine)
        if not (np.all(d > 0) or np.all(d < 0)):
            raise ConfigError(f"VerilogACellLaw: the zero-bias conductance of "
                              f"{model.module} is not strictly monotone in the state over "
                              f"[{xk[0]}, {xk[-1]}] (range {g.min():.3g} to {g.max():.3g} S); "
                              "give x_range=(lo, hi) inside the range where the model's "
                              "resistance moves with its state")
        order = np.argsort(g)
        self.g_grid = g[order]
        self._rising = bool(d[0] > 0)
        self._table = Bicubic(self.g_grid, vs, table[keep][order])

    def _pick_g_of_x(self, xk, g) -> None:
        """g(x) between the measured states (what sets each SPICE cell's state from its
        conductance): a cubic spline of g or of 1/g in x, whichever predicts the odd states
        from the even ones better (1/g is exact for a resistance linear in the state).  That
        held-out error, at half the density, is kept as :attr:`g_of_x_error` (relative)."""
        self.g_of_x, self.g_of_x_error = "conductance", float("nan")
        if xk.size >= 8:
            errs = {}
            for name, y in (("conductance", g), ("resistance", 1.0 / g)):
                half = CubicSpline(xk[::2], y[::2])(xk[1::2])
                back = half if name == "conductance" else 1.0 / half
                errs[name] = float(np.max(np.abs(back - g[1::2]) / g[1::2]))
            self.g_of_x = min(errs, key=errs.get)
            self.g_of_x_error = errs[self.g_of_x]
        y = g if self.g_of_x == "conductance" else 1.0 / g
        self._gx = CubicSpline(xk, y)

    @classmethod
    def from_twin(cls, model: VerilogAModel, twin: TableTwin, *, x_range=None):
        """The law of a characterised twin (its I-V table)."""
        if not isinstance(twin, TableTwin):
            raise ConfigError("VerilogACellLaw.from_twin needs a TableTwin")
        return cls(model, twin.states, twin.voltages, twin.current_table, x_range=x_range)

    @classmethod
    def measure(cls, model: VerilogAModel, states, voltages, *, x_range=None,
                runner: str | Runner = "batch"):
        """Measure the static I-V table in ngspice (one ``.dc``, :func:`static_iv`): all a
        read needs (no rate probes)."""
        cur, _ = static_iv(model, states, voltages, runner=runner)
        return cls(model, states, voltages, cur, x_range=x_range)

    def _g_of(self, x):
        y = self._gx(np.asarray(x, dtype=float))
        return y if self.g_of_x == "conductance" else 1.0 / y

    def conductance_of(self, states) -> np.ndarray:
        """Zero-bias conductance [S] of cells at ``states``."""
        x = np.asarray(states, dtype=float)
        if x.min() < self.x_lo - 1e-12 or x.max() > self.x_hi + 1e-12:
            raise ConfigError(f"VerilogACellLaw: states [{x.min()}, {x.max()}] lie outside "
                              f"[{self.x_lo}, {self.x_hi}]")
        return self._g_of(x)

    def state_of(self, G) -> np.ndarray:
        """The state whose zero-bias conductance is ``G`` [S] (bisection)."""
        G = np.asarray(G, dtype=float)
        self.check(G, "VerilogACellLaw.state_of")
        a = np.full(G.shape, self.x_lo)
        b = np.full(G.shape, self.x_hi)
        for _ in range(60):
            m = 0.5 * (a + b)
            up = (self._g_of(m) < G) == self._rising
            a, b = np.where(up, m, a), np.where(up, b, m)
        return 0.5 * (a + b)

    def g_range(self) -> tuple[float, float]:
        return float(self.g_grid[0]), float(self.g_grid[-1])

    def current(self, g, v):
        vs = self.voltages
        if float(v.min()) < vs[0] - 1e-9 or float(v.max()) > vs[-1] + 1e-9:
            raise ConfigError(f"Verilog-A cell: voltage [{float(v.min()):.3g}, "
                              f"{float(v.max()):.3g}] V across a cell lies outside the "
                              f"characterised [{vs[0]}, {vs[-1]}] V; measure the law over a "
                              "wider voltage range")
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
        """What :func:`cell_law_from_dict` re-measures the same law from (the grids in full;
        the table itself is ngspice's, deterministic)."""
        lo, hi = self.g_range()
        return {"kind": "verilog_a", "source": str(self.model.source),
                "params": dict(self.model.params), "state_param": self.model.state_param,
                "state_node": self.model.state_node, "states": self.states.tolist(),
                "voltages": self.voltages.tolist(), "x_range": [self.x_lo, self.x_hi],
                "g_range_S": [lo, hi], "g_of_x": self.g_of_x,
                "g_of_x_error": self.g_of_x_error}


def cell_source(d: dict) -> Path:
    """The Verilog-A file of a cell description: ``d["source"]`` as a path, or the name of
    a packaged model (``"vteam.va"``)."""
    src = Path(d["source"])
    if not src.is_file() and src.parent == Path("."):
        src = packaged_model(str(src))
    return src


def cell_source_digest(d: dict) -> str:
    """sha256 of the Verilog-A text of a cell description (fingerprints of runs that store
    results: an edited model file must not reuse them)."""
    try:
        src = cell_source(d)
        return hashlib.sha256(src.read_bytes()).hexdigest()
    except (KeyError, TypeError, OSError) as exc:
        raise ConfigError(f"cell: cannot read the Verilog-A source ({exc})") from None


def cell_law_from_dict(d: dict) -> VerilogACellLaw:
    """A cell law from its description (:meth:`VerilogACellLaw.describe`, or a config's
    ``circuit.cell``): ``{"kind": "verilog_a", "source": FILE (or a packaged model name such
    as "vteam.va"), "params": {...}, "state_param": "x0", "state_node": "x" or null,
    "states": [x...] or {"start", "stop", "num"}, "voltages": [v...] or {"start", "stop",
    "num"}, "x_range": [lo, hi] or null}``; measures the I-V table in ngspice."""
    if not isinstance(d, dict) or d.get("kind", "verilog_a") != "verilog_a":
        raise ConfigError(f"cell: expected {{'kind': 'verilog_a', 'source': FILE, ...}}, got "
                          f"{d!r}")
    known = {"kind", "source", "params", "state_param", "state_node", "states", "voltages",
             "x_range", "g_range_S", "g_of_x", "g_of_x_error"}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ConfigError(f"cell: unknown key(s) {', '.join(unknown)}; valid keys: "
                          f"{', '.join(sorted(known))}")
    try:
        src = cell_source(d)
        model = VerilogAModel(src, d.get("params", {}), d.get("state_param", "x0"),
                              d.get("state_node"))
        grids = []
        for key in ("states", "voltages"):
            g = d[key]
            grids.append(np.linspace(float(g["start"]), float(g["stop"]), int(g["num"]))
                         if isinstance(g, dict) else np.asarray(g, dtype=float))
    except KeyError as exc:
        raise ConfigError(f"cell: missing {exc} (need source, states, voltages)") from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"cell: {exc}") from None
    return VerilogACellLaw.measure(model, grids[0], grids[1], x_range=d.get("x_range"))


class TableCrossbarSolver:
    """The twin of a crossbar with :class:`VerilogACells`: the behavioral nodal solver on
    ``CrossbarSpec(G(x), cell=VerilogACellLaw(model, twin))`` (a read: the states do not move
    during the solve, as in the ``.op`` deck); 1R or 1T1R (level-1 card or BSIM4 table)."""

    def __init__(self, spec: CrossbarSpec, cells: VerilogACells, twin: TableTwin, *,
                 tol: float = 1e-13, max_iter: int = 100):
        _check(spec, cells)
        self.law = VerilogACellLaw.from_twin(cells.model, twin)
        self.spec = spec.replace(conductance=self.law.conductance_of(cells.states),
                                 cell=self.law)
        self.twin, self.cells = twin, cells
        self._nodal = NodalSolver(self.spec, tol=tol, max_iter=max_iter)

    def _solve(self, V, states=None):
        if states is None:
            return self._nodal.solve(V)
        return self._nodal.with_conductance(self.law.conductance_of(states)).solve(V)

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


__all__ = ["TableCrossbarSolver", "VerilogACellLaw", "VerilogACells", "cell_law_from_dict",
           "cell_source", "cell_source_digest", "cell_state_names", "spice_column_currents",
           "va_crossbar_deck", "va_crossbar_subckt", "va_programming_deck"]
