"""Twins characterised from SPICE, for device models the project did not write.

A one-state two-terminal device (a :class:`~circuitsim.devices.verilog_a.VerilogAModel` with
``state_param`` and ``state_node``) is measured in ngspice on a grid of states x_k and voltages
v_l:

* **static I-V**: one ``.dc`` sweep of a source feeding one device per state (each held at its
  x_k through the DC analysis, a contract checked on the state node);
* **rate of change**: one short transient in which device (k, l) sits at constant v_l from
  x_k; the rate is Δx/Δt at the first output time where |Δx| reaches ``dx_probe`` (or at the
  end of the probe).

:class:`TableTwin` interpolates the tables (current: bicubic spline in (x, v), with dI/dv for
Newton solvers; rate: bilinear, or for steep laws monotone cubic in v and log-linear in x;
both keep the sign and the zeros of threshold devices) and
integrates dx/dt = rate(v(t), x) like the hand-written twins
(:func:`circuitsim.devices._integrate.integrate_state`).  Its error against ngspice is whatever
:func:`compare` measures on a held-out stimulus; nothing here assumes it is small.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from scipy.interpolate import PchipInterpolator, RectBivariateSpline

from ..circuit import Dc, Deck, Tran, VoltageSource
from ..circuit.elements import Pulse, Pwl, Sin
from ..errors import ConfigError
from ..spice.runner import Runner, get_runner
from ._integrate import integrate_state
from .verilog_a import VerilogAModel, state_vector

TABLE_OPTIONS = {"method": "gear", "reltol": 1e-6, "abstol": 1e-15, "vntol": 1e-9}
"""ngspice options of the characterisation decks: tight, so the tables carry the model and not
the simulator's tolerance (vntol 1e-9 V on a state of range 1)."""

DEVICE_OPTIONS = {"method": "gear", "reltol": 1e-4, "abstol": 1e-12, "vntol": 1e-6}
"""Options of the single-device comparison decks (the same as
:data:`circuitsim.devices.decks.DEVICE_OPTIONS`)."""


def _need_state(model: VerilogAModel, what: str) -> None:
    if model.state_param is None or model.state_node is None:
        raise ConfigError(f"{what} needs state_param (the parameter that sets the initial "
                          "state) and state_node (the internal node that holds it) of the "
                          f"model {model.source.name}")


def single_device_deck(model: VerilogAModel, waveform: Pulse | Pwl | Sin, *, x0: float,
                       stop: float, step: float, tmax: float | None = None,
                       options: dict | None = None, title: str = "") -> Deck:
    """One OSDI device ``N1`` between ``in`` and ground, driven by ``V1``.  Vectors ``v(in)``,
    ``i(v1)`` (= −device current) and the state ``v(n1#<state_node>)``."""
    saves = ["v(in)", "i(v1)"]
    if model.state_node is not None:
        saves.append(state_vector("N1", model.state_node))
    return Deck(title=title or f"{model.module} single device (OSDI)",
                elements=(VoltageSource("V1", "in", "0", 0.0, waveform),
                          model.device("N1", "in", "0", "dut")),
                models=(model.model("dut", x0 if model.state_param else None),),
                osdi=(str(model.osdi()),), options=DEVICE_OPTIONS if options is None else options,
                analyses=(Tran(step, stop, 0.0, step if tmax is None else tmax),),
                saves=tuple(saves))


def static_iv_deck(model: VerilogAModel, states, voltages) -> Deck:
    """One ``.dc`` sweep of ``V1`` over ``voltages`` (uniform) feeding one device per state
    through its own 0 V ammeter ``Va{k}``."""
    _need_state(model, "static_iv_deck")
    v = np.asarray(voltages, dtype=float)
    step = float(v[1] - v[0])
    els, models, saves = [VoltageSource("V1", "in", "0", 0.0)], [], []
    for k, x in enumerate(states):
        models.append(model.model(f"m{k}", float(x)))
        els.append(VoltageSource(f"Va{k}", "in", f"a{k}", 0.0))
        els.append(model.device(f"N{k}", f"a{k}", "0", f"m{k}"))
        saves += [f"i(va{k})", state_vector(f"N{k}", model.state_node)]
    return Deck(title=f"{model.module} static I-V at {len(states)} states", elements=tuple(els),
                models=tuple(models), osdi=(str(model.osdi()),), options=TABLE_OPTIONS,
                analyses=(Dc("V1", float(v[0]), float(v[-1]), step),), saves=tuple(saves))


def rate_deck(model: VerilogAModel, states, voltages, probe_time: float,
              points: int = 400) -> Deck:
    """Device (k, l) ``N{k}_{l}`` held at constant ``voltages[l]`` from ``states[k]`` for
    ``probe_time``; output every probe_time/points."""
    _need_state(model, "rate_deck")
    els, models, saves = [], [], []
    for k, x in enumerate(states):
        models.append(model.model(f"m{k}", float(x)))
        for m, v in enumerate(voltages):
            els.append(VoltageSource(f"V{k}_{m}", f"a{k}_{m}", "0", float(v)))
            els.append(model.device(f"N{k}_{m}", f"a{k}_{m}", "0", f"m{k}"))
            saves.append(state_vector(f"N{k}_{m}", model.state_node))
    dt = probe_time / points
    return Deck(title=f"{model.module} rate probes ({len(states)}x{len(voltages)})",
                elements=tuple(els), models=tuple(models), osdi=(str(model.osdi()),),
                options=TABLE_OPTIONS, analyses=(Tran(dt, probe_time, 0.0, dt),),
                saves=tuple(saves))


@dataclass(frozen=True)
class TableTwin:
    """A device twin from tables measured in ngspice (see the module docstring)."""

    states: np.ndarray
    """State grid x_k, increasing [state unit]."""
    voltages: np.ndarray
    """Voltage grid v_l, increasing and uniform [V]."""
    current_table: np.ndarray
    """I[k, l] = device current at (x_k, v_l) [A]."""
    rate_table: np.ndarray
    """dx/dt[k, l] at (rate_states[k], v_l) [state unit/s]."""
    rate_states: np.ndarray | None = None
    """State grid of the rate table (None = ``states``): the DC sweep is cheap, so the I-V
    table may be finer than the rate table, which needs one transient device per point."""
    rate_interp: str = "linear"
    """'linear': bilinear (exact for rates piecewise linear in v and x, e.g. a threshold law
    with a linear window); 'smooth': monotone cubic (PCHIP) in v and log-linear in x where the
    neighbours share a sign, for steep laws (VTEAM's cubic rate, exponential windows)."""
    info: dict = field(default_factory=dict)
    """How the tables were measured (timings, probe settings, resolution diagnostics)."""

    def __post_init__(self):
        xs, vs = np.asarray(self.states, float), np.asarray(self.voltages, float)
        if xs.ndim != 1 or xs.size < 4 or np.any(np.diff(xs) <= 0):
            raise ConfigError("TableTwin.states must be >= 4 increasing values")
        if vs.ndim != 1 or vs.size < 4 or np.any(np.diff(vs) <= 0):
            raise ConfigError("TableTwin.voltages must be >= 4 increasing values [V]")
        rs = xs if self.rate_states is None else np.asarray(self.rate_states, float)
        if rs.ndim != 1 or rs.size < 2 or np.any(np.diff(rs) <= 0):
            raise ConfigError("TableTwin.rate_states must be >= 2 increasing values")
        object.__setattr__(self, "rate_states", rs)
        for name, grid in (("current_table", xs), ("rate_table", rs)):
            t = np.asarray(getattr(self, name), float)
            if t.shape != (grid.size, vs.size) or not np.all(np.isfinite(t)):
                raise ConfigError(f"TableTwin.{name} must be finite with shape "
                                  f"({grid.size}, {vs.size})")
            object.__setattr__(self, name, t)
        object.__setattr__(self, "states", xs)
        object.__setattr__(self, "voltages", vs)
        object.__setattr__(self, "_i", RectBivariateSpline(xs, vs, self.current_table,
                                                           kx=3, ky=3))
        if self.rate_interp not in ("linear", "smooth"):
            raise ConfigError(f"TableTwin.rate_interp must be 'linear' or 'smooth', got "
                              f"{self.rate_interp!r}")
        object.__setattr__(self, "_r", PchipInterpolator(vs, self.rate_table, axis=1)
                           if self.rate_interp == "smooth" else None)

    def _clip(self, v, x):
        v = np.clip(np.asarray(v, dtype=float), self.voltages[0], self.voltages[-1])
        x = np.clip(np.asarray(x, dtype=float), self.states[0], self.states[-1])
        return np.broadcast_arrays(v, x)

    def current(self, v, x):
        """Device current [A] at voltage v [V] and state x (inputs clipped to the grid)."""
        v, x = self._clip(v, x)
        return self._i.ev(x, v)

    def current_and_slope(self, v, x):
        """``(I, dI/dv)`` [A, S] for Newton solvers."""
        v, x = self._clip(v, x)
        return self._i.ev(x, v), self._i.ev(x, v, dy=1)

    def dxdt(self, v, x):
        """Rate of change of the state [state unit/s], interpolated as :attr:`rate_interp`
        says ('smooth': PCHIP in v along each state row, no overshoot at thresholds; then
        log-linear between the two neighbouring rows where both have the same sign)."""
        v, x = self._clip(v, x)
        rs = self.rate_states
        shape = v.shape
        v, x = v.ravel(), np.clip(x.ravel(), rs[0], rs[-1])
        k = np.clip(np.searchsorted(rs, x, side="right") - 1, 0, rs.size - 2)
        w = (x - rs[k]) / (rs[k + 1] - rs[k])
        n = np.arange(v.size)
        if self._r is None:  # bilinear
            vs = self.voltages
            m = np.clip(np.searchsorted(vs, v, side="right") - 1, 0, vs.size - 2)
            u = (v - vs[m]) / (vs[m + 1] - vs[m])
            t = self.rate_table
            r0 = (1.0 - u) * t[k, m] + u * t[k, m + 1]
            r1 = (1.0 - u) * t[k + 1, m] + u * t[k + 1, m + 1]
            return ((1.0 - w) * r0 + w * r1).reshape(shape)
        rows = self._r(v)  # (n_rate_states, n)
        r0, r1 = rows[k, n], rows[k + 1, n]
        out = (1.0 - w) * r0 + w * r1
        # where both neighbours move the same way, interpolate log|rate|: exact for the
        # exponential windows of memristor models (VTEAM's e^(-e^(x/x_c)) falls by decades
        # within one grid step near a bound, where a linear blend overshoots 3x, measured)
        same = (r0 * r1) > 0
        if same.any():
            a0, a1 = np.abs(r0[same]), np.abs(r1[same])
            ws = w[same]
            out[same] = np.sign(r0[same]) * np.exp((1.0 - ws) * np.log(a0) + ws * np.log(a1))
        return out.reshape(shape)

    def simulate(self, t, v, x0: float, **kw):
        """``(x, i)`` at times ``t`` [s] for a voltage v(t) (callable or samples), from x0;
        keyword arguments go to :func:`integrate_state` (max_step, rtol, atol)."""
        lo, hi = float(self.states[0]), float(self.states[-1])
        span = hi - lo
        u0 = (float(x0) - lo) / span
        if not 0.0 <= u0 <= 1.0:
            raise ConfigError(f"TableTwin.simulate: x0 = {x0!r} is outside the characterised "
                              f"states [{lo}, {hi}]")
        u, v_t = integrate_state(lambda vv, uu: self.dxdt(vv, lo + span * uu) / span, t, v,
                                 u0, **kw)
        x = lo + span * u
        return x, self.current(v_t, x)

    def to_npz(self, path) -> None:
        np.savez(path, states=self.states, voltages=self.voltages, rate_states=self.rate_states,
                 current_table=self.current_table, rate_table=self.rate_table)


def _with_runner(runner):
    if isinstance(runner, Runner):
        return runner, False
    return get_runner(runner), True


def static_iv(model: VerilogAModel, states, voltages, *, runner: str | Runner = "batch",
              timeout_s: float = 600.0, hold_tol: float = 1e-6) -> tuple[np.ndarray, float]:
    """The static I-V table I[k, l] [A] of ``model`` at ``states`` x ``voltages`` (one ngspice
    ``.dc``, :func:`static_iv_deck`) and the run's wall time [s]; a :class:`ConfigError` when
    a state drifts by more than ``hold_tol`` during the sweep (the model must hold its state
    in DC)."""
    _need_state(model, "static_iv")
    xs = np.asarray(states, dtype=float)
    vs = np.asarray(voltages, dtype=float)
    if vs.size < 4 or np.any(np.diff(vs) <= 0) or np.ptp(np.diff(vs)) > 1e-9 * np.ptp(vs):
        raise ConfigError("characterise: voltages must be >= 4 uniformly spaced increasing "
                          "values [V] (one .dc sweep)")
    run, owned = _with_runner(runner)
    try:
        t0 = time.perf_counter()
        res = run.run(static_iv_deck(model, xs, vs), timeout_s=timeout_s)
        t_dc = time.perf_counter() - t0
    finally:
        if owned:
            run.close()
    if res.axis.size != vs.size:
        raise ConfigError(f"characterise: the .dc sweep gave {res.axis.size} points, "
                          f"expected {vs.size}")
    cur = np.empty((xs.size, vs.size))
    for k, x in enumerate(xs):
        cur[k] = res[f"i(va{k})"]  # through Va from in to a{k}: the device current
        drift = float(np.max(np.abs(res[state_vector(f"N{k}", model.state_node)] - x)))
        if drift > hold_tol:
            raise ConfigError(
                f"characterise: {model.module} does not hold its state in a DC analysis "
                f"(state {x!r} drifted by {drift:.3g} during the sweep); the model must set "
                f"its state from {model.state_param} and switch the rate off for "
                "$abstime == 0 (see circuitsim/models/vteam.va)")
    return cur, t_dc


def characterise(model: VerilogAModel, states, voltages, *, probe_time: float,
                 rate_states=None, rate_interp: str = "linear",
                 dx_probe: float = 1e-4, runner: str | Runner = "batch",
                 timeout_s: float = 600.0, hold_tol: float = 1e-6) -> TableTwin:
    """Measure the tables of ``model`` in ngspice (two runs) and return its :class:`TableTwin`.

    ``states``: increasing state grid of the I-V table; ``rate_states``: that of the rate
    table (default ``states``); ``voltages``: uniform increasing grid [V] (make it span
    every voltage the device will see: outside it the twin clamps); ``probe_time`` [s]: length
    of the rate probes (long enough for the slowest rate of interest to move the state by
    ``dx_probe``, short enough that the fastest does not cross a window); ``hold_tol``: largest
    drift of the state allowed during the DC sweep (the model must hold its state in DC)."""
    _need_state(model, "characterise")
    xs = np.asarray(states, dtype=float)
    rs = xs if rate_states is None else np.asarray(rate_states, dtype=float)
    vs = np.asarray(voltages, dtype=float)
    if probe_time <= 0 or not np.isfinite(probe_time):
        raise ConfigError(f"characterise: probe_time must be > 0 [s], got {probe_time!r}")
    run, owned = _with_runner(runner)
    try:
        cur, t_dc = static_iv(model, xs, vs, runner=run, timeout_s=timeout_s,
                              hold_tol=hold_tol)
        t0 = time.perf_counter()
        res = run.run(rate_deck(model, rs, vs, probe_time), timeout_s=timeout_s)
        t_tran = time.perf_counter() - t0
    finally:
        if owned:
            run.close()
    t = res.axis
    rate = np.zeros((rs.size, vs.size))
    first_step = 0
    for k, x in enumerate(rs):
        for m in range(vs.size):
            dx = res[state_vector(f"N{k}_{m}", model.state_node)] - x
            hit = np.nonzero(np.abs(dx) >= dx_probe)[0]
            idx = int(hit[0]) if hit.size else t.size - 1
            idx = max(idx, 1)
            first_step += int(idx == 1 and hit.size > 0)
            rate[k, m] = dx[idx] / t[idx]
    info = {"dc_wall_s": t_dc, "tran_wall_s": t_tran, "probe_time_s": probe_time,
            "dx_probe": dx_probe, "n_states": int(xs.size), "n_rate_states": int(rs.size),
            "n_voltages": int(vs.size),
            "rate_resolution": float(dx_probe / probe_time),
            "points_moving_past_dx_probe_in_first_output_step": first_step}
    return TableTwin(xs, vs, cur, rate, rs, rate_interp, info)


@dataclass(frozen=True)
class Comparison:
    """Twin vs ngspice on one stimulus."""

    t: np.ndarray
    i_spice: np.ndarray
    i_twin: np.ndarray
    x_spice: np.ndarray | None
    x_twin: np.ndarray
    spice_wall_s: float
    twin_wall_s: float

    @property
    def max_current_error_rel(self) -> float:
        """max |ΔI| / max |I_spice|."""
        return float(np.max(np.abs(self.i_twin - self.i_spice)) / np.max(np.abs(self.i_spice)))

    @property
    def max_state_error(self) -> float | None:
        """max |Δx| (None where the state is not observable)."""
        if self.x_spice is None:
            return None
        return float(np.max(np.abs(self.x_twin - self.x_spice)))


def compare(model: VerilogAModel, twin, waveform: Pulse | Sin, *, x0: float, stop: float,
            step: float, tmax: float, twin_max_step: float,
            runner: str | Runner = "batch", timeout_s: float = 600.0) -> Comparison:
    """Run ``model`` in ngspice and ``twin`` (anything with ``simulate(t, v, x0)``) on the same
    stimulus; the twin is evaluated at ngspice's time points."""
    deck = single_device_deck(model, waveform, x0=x0, stop=stop, step=step, tmax=tmax)
    run, owned = _with_runner(runner)
    try:
        res = run.run(deck, timeout_s=timeout_s)
    finally:
        if owned:
            run.close()
    t0 = time.perf_counter()
    xt, it = twin.simulate(res.axis, waveform.value, x0, max_step=twin_max_step)
    tw = time.perf_counter() - t0
    xs = res[state_vector("N1", model.state_node)] if model.state_node else None
    return Comparison(res.axis, -res["i(v1)"], np.asarray(it), xs, np.asarray(xt), res.wall_s,
                      tw)


__all__ = ["DEVICE_OPTIONS", "TABLE_OPTIONS", "Comparison", "TableTwin", "characterise",
           "compare", "rate_deck", "single_device_deck", "static_iv", "static_iv_deck"]
