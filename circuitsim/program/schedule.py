"""Drive waveforms of one programming iteration: the one plan both worlds apply.

An iteration is a sequence of *row slots* (each with up to two phases: RESET cells, then SET
cells) followed by the *verify reads* of every pulsed row.  A phase starts with every line
moving, in one edge, straight from the previous phase's level to its own (selected row and
columns to the pulse levels, the others to the scheme's half-select levels); each selected
column returns to its half-select level after its cell's width; the next phase starts when the
longest has.  Every line moves linearly in the same edge time, so every cell's voltage moves
linearly between two of the scheme's safe levels (an unselected cell never exceeds the
half-select voltage), and a phase costs 2 + 2 x (distinct widths) waveform corners — the
transient's time steps cluster at corners, so this is what an ngspice run's length follows.
The lines return to 0 V after the last phase, before the reads.  :func:`build_iteration` turns the
pulses decided by write-verify into one piecewise-linear waveform per line (``r{i}`` rows,
``c{j}`` columns); ngspice gets them as PWL sources, the twin evaluates the same
:class:`~circuitsim.circuit.Pwl` objects at their breakpoints.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..circuit import Pwl
from ..errors import ConfigError
from .config import ProgramConfig, half_select_voltage, scheme_levels


@dataclass(frozen=True)
class CellPulse:
    """One write pulse of one cell."""

    row: int
    col: int
    polarity: int
    """+1: +v across the cell (RESET, G down for VTEAM); −1: SET (G up)."""
    width: float
    """Flat-top width [s]."""
    t_start: float = 0.0
    """Start of the rising edge, from the iteration's start [s] (set by the schedule)."""
    amplitude: float = 0.0
    """|voltage| across the selected cell with ideal wires [V]: the rung's amplitude decided
    by write-verify (0 = ``cfg.v_pulse``); the schedule writes the one it applied."""


@dataclass(frozen=True)
class Phase:
    row: int
    polarity: int
    t0: float
    t1: float


@dataclass
class Iteration:
    """The waveforms of one iteration: ``points`` maps line name -> (times, values) of its
    piecewise-linear waveform (times from 0); :meth:`pwl` gives the SPICE source's Pwl."""

    points: dict[str, tuple[np.ndarray, np.ndarray]]
    phases: list[Phase]
    reads: list[tuple[int, float]]
    """(row, sample time) of every verify read, in time order."""
    read_start: float
    """Start of the read block [s] (after the last phase, every line at 0 V)."""
    stop: float
    pulses: list[CellPulse] = field(default_factory=list)
    _corners: np.ndarray | None = field(default=None, repr=False)

    def breakpoints(self, t0: float, t1: float) -> np.ndarray:
        """Every waveform corner in [t0, t1] (with both ends)."""
        if self._corners is None:
            self._corners = np.unique(np.concatenate([t for t, _ in self.points.values()]))
        c = self._corners
        inner = c[np.searchsorted(c, t0, "right"):np.searchsorted(c, t1, "left")]
        return np.unique(np.concatenate([[t0], inner, [t1]]))

    def drive(self, t, rows: int, cols: int) -> np.ndarray:
        """Line voltages at times ``t``: (len(t), rows + cols) [V], rows first."""
        t = np.atleast_1d(np.asarray(t, dtype=float))
        out = np.empty((len(t), rows + cols))
        names = [f"r{i}" for i in range(rows)] + [f"c{j}" for j in range(cols)]
        for k, n in enumerate(names):
            ts, vs = self.points[n]
            out[:, k] = np.interp(t, ts, vs)  # Pwl.value's semantics
        return out

    def window(self, t0: float, t1: float) -> Iteration:
        """The plan restricted to [t0, t1] and shifted to start at 0: every line's waveform
        (values at both ends interpolated), the phases and pulses inside, no reads.  Cut at
        phase boundaries, where every line is at 0 V, it is the part of the iteration that
        one row block's ngspice deck simulates (:func:`circuitsim.program.spice.run_iteration`)."""
        pts = {}
        for n, (ts, vs) in self.points.items():
            m = (ts > t0) & (ts < t1)
            tt = np.concatenate([[t0], ts[m], [t1]])
            pts[n] = (_q(tt - t0), np.interp(tt, ts, vs))
        phases = [Phase(p.row, p.polarity, _q(p.t0 - t0), _q(p.t1 - t0)) for p in self.phases
                  if p.t0 >= t0 and p.t1 <= t1]
        pulses = [replace(p, t_start=_q(p.t_start - t0)) for p in self.pulses
                  if t0 <= p.t_start <= t1]
        return Iteration(pts, phases, [], _q(t1 - t0), _q(t1 - t0), pulses)

    def pwl(self, name: str) -> Pwl:
        """The SPICE waveform of line ``name``."""
        ts, vs = self.points[name]
        return Pwl(tuple(zip(ts.tolist(), vs.tolist(), strict=True)))


TIME_GRID = 1e-15
"""Every waveform time is a multiple of this [s]: times reached along different sums (a
column's return, t + e + w + e, and the next phase's start, t + 2e + w) are then equal, not
1e-19 s apart — a corner pair that close stops ngspice ("timestep too small")."""


def _q(t):
    """``t`` [s] on :data:`TIME_GRID` (scalars and arrays)."""
    return np.round(np.asarray(t, dtype=float) / TIME_GRID) * TIME_GRID if np.ndim(t) \
        else round(float(t) / TIME_GRID) * TIME_GRID


class _Lines:
    def __init__(self, names):
        self.pts = {n: [(0.0, 0.0)] for n in names}

    def move(self, name: str, t: float, v: float, edge: float) -> None:
        pts = self.pts[name]
        cur = pts[-1][1]
        if v == cur:
            return
        t = _q(t)
        if t > pts[-1][0]:
            pts.append((t, cur))
        pts.append((_q(t + edge), v))


def _amplitude(p: CellPulse, v_top: float) -> float:
    """A pulse's amplitude [V]: its own (an amplitude ladder's rung), else ``v_top``."""
    return float(p.amplitude) if p.amplitude > 0 else float(v_top)


def build_iteration(cfg: ProgramConfig, shape: tuple[int, int], pulses: list[CellPulse],
                    read_rows, *, scheme: str | None = None) -> Iteration:
    """Waveforms of one iteration.  ``pulses``: at most one per cell; rows are visited in
    increasing order, polarity +1 before −1, and within a polarity one phase per distinct
    amplitude, lowest first (a pulse's ``amplitude`` 0 = ``cfg.v_pulse``; the scheme's
    half-select levels follow each phase's amplitude, so no unselected cell sees more than
    the scheme's fraction of ``cfg.v_pulse``, which :class:`ProgramConfig` checks).  With
    ``cfg.column_amplitudes`` a row has one phase per polarity: the lines take the scheme's
    levels of ``cfg.v_pulse`` and each selected column its own level, the selected row's
    less (polarity +1) or plus (−1) its cell's amplitude — every amplitude between the
    half-select voltage and ``v_pulse`` then keeps the unselected cells of that column
    within the half-select voltage (:class:`ConfigError` outside it).
    ``read_rows``: rows read at the end (in increasing order).  ``scheme`` overrides
    ``cfg.scheme`` (the half-select probe uses ``'ground'``)."""
    R, C = shape
    scheme = cfg.scheme if scheme is None else scheme
    e, v_top = cfg.edge, cfg.v_pulse
    lines = _Lines([f"r{i}" for i in range(R)] + [f"c{j}" for j in range(C)])
    by_row: dict[int, list[CellPulse]] = {}
    for p in pulses:
        by_row.setdefault(p.row, []).append(p)
    t = 0.0
    phases: list[Phase] = []
    placed: list[CellPulse] = []
    per_column = cfg.column_amplitudes
    hs = half_select_voltage(scheme, v_top)
    for row in sorted(by_row):
        groups = sorted({(p.polarity, v_top if per_column else _amplitude(p, v_top))
                         for p in by_row[row]}, key=lambda pv: (-pv[0], pv[1]))
        for pol, v in groups:
            sel = sorted((p for p in by_row[row] if p.polarity == pol
                          and (per_column or _amplitude(p, v_top) == v)), key=lambda p: p.col)
            lv = scheme_levels(scheme, v, pol)
            amp = {p.col: _amplitude(p, v_top) if per_column else v for p in sel}
            if per_column and not all(hs * (1 - 1e-12) <= a <= v_top * (1 + 1e-12)
                                      for a in amp.values()):
                raise ConfigError(
                    f"row {row}: column amplitudes {sorted(amp.values())} V must lie within "
                    f"[{hs:.6g}, {v_top:.6g}] V (the half-select voltage of scheme "
                    f"{scheme!r} and v_pulse) for the unselected cells of their columns to "
                    "stay below it; clip the amplitudes (ProgramConfig.adaptive_pulses does)")
            for i in range(R):
                lines.move(f"r{i}", t, lv["sr"] if i == row else lv["ur"], e)
            for j in range(C):
                lines.move(f"c{j}", t, lv["sr"] - pol * amp[j] if j in amp else lv["uc"], e)
            for p in sel:
                lines.move(f"c{p.col}", t + e + p.width, lv["uc"], e)
                placed.append(CellPulse(row, p.col, pol, float(p.width), t, amp[p.col]))
            t1 = _q(t + 2 * e + max(p.width for p in sel))
            phases.append(Phase(row, pol, t, t1))
            t = t1
    if phases:
        for n in lines.pts:
            lines.move(n, t, 0.0, e)
        t = _q(t + e)
        last = phases[-1]
        phases[-1] = Phase(last.row, last.polarity, last.t0, t)
    return _finish(cfg, lines, t, read_rows, phases, placed)


def _finish(cfg: ProgramConfig, lines: _Lines, t: float, read_rows, phases, placed
            ) -> Iteration:
    """The verify reads from ``t`` on (every line at 0 V), then the Iteration."""
    e = cfg.edge
    read_start = t
    reads = []
    for row in sorted(set(int(r) for r in read_rows)):
        lines.move(f"r{row}", t, cfg.v_read, e)
        reads.append((row, _q(t + e + 0.5 * cfg.t_read)))
        lines.move(f"r{row}", t + e + cfg.t_read, 0.0, e)
        t = _q(t + 3 * e + cfg.t_read)
    stop = _q(t + e)
    waves = {}
    for n, pts in lines.pts.items():
        if pts[-1][0] < stop:
            pts = pts + [(stop, pts[-1][1])]
        a = np.asarray(pts, dtype=float)
        waves[n] = (a[:, 0], a[:, 1])
    return Iteration(waves, phases, reads, read_start, stop, placed)


def build_line_iteration(cfg: ProgramConfig, shape: tuple[int, int], row_q: dict,
                         col_q: dict, read_rows) -> Iteration:
    """Waveforms of one *line-pulse* iteration (:func:`circuitsim.program.lines.
    program_lines`): each row ``i`` of ``row_q`` in turn, then each column ``j`` of
    ``col_q``, is driven alone (every other line at 0 V) by a trapezoid of signed area
    ``q`` [V·s] — amplitude ``±cfg.v_pulse``, flat top |q|/v_pulse − edge, or for a smaller
    |q| no flat top and the amplitude |q|/edge — then the verify reads of ``read_rows``.
    A row pulse puts +v on all its cells, a column pulse −v on all of its."""
    R, C = shape
    e, v = cfg.edge, cfg.v_pulse
    lines = _Lines([f"r{i}" for i in range(R)] + [f"c{j}" for j in range(C)])
    t = 0.0
    for name, q in [(f"r{i}", row_q[i]) for i in sorted(row_q)] + \
            [(f"c{j}", col_q[j]) for j in sorted(col_q)]:
        q = float(q)
        if q == 0.0:
            continue
        w = abs(q) / v - e
        amp = v if w > 0 else abs(q) / e
        w = max(w, 0.0)
        lines.move(name, t, np.sign(q) * amp, e)
        lines.move(name, t + e + w, 0.0, e)
        t = _q(t + 2 * e + w)
    return _finish(cfg, lines, t, read_rows, [], [])


__all__ = ["CellPulse", "Iteration", "Phase", "build_iteration", "build_line_iteration"]
