"""Transient ngspice of one programming iteration on the real crossbar wiring.

:func:`iteration_deck` is the deck of a whole iteration (or of one window of it, every row
slot and every verify read in it), chained to the next by the cells' end states (each
instance starts at its ``x0``).  It saves the line drivers' currents at every time point and
the dynamic cells' states; the energy the drivers deliver is summed from those currents and
the plan's own source voltages (:func:`driver_energy`).

Names: row driver ``Vr{i}`` -> ``in{i}`` -> ``Rs{i}`` -> row node ``r{i}_{j}``; column node
``c{i}_{j}``; column driver ``Vc{j}`` at ``ct{j}`` through ``Rd{j}``; cell ``Xm{i}_{j}``
(state ``v(xm{i}_{j}.x)``), or ``Rm{i}_{j}`` where the cell is a resistor at its state.

:func:`run_iteration` is how a programming run uses these decks at scale: the iteration's
plan is cut at phase boundaries into blocks of a few pulsed rows, each block one transient
deck in which only its rows' cells are VTEAM instances and every other cell is a resistor at
its state (below threshold VTEAM's rate is exactly zero; rows with a cell whose own threshold
is near the half-select voltage stay dynamic in every deck), :data:`WORKERS` of them side by
side, and the verify reads are one ``.dc`` sweep of a static deck (the states do not move at
``v_read``).

Where a 65x32 row slot's time goes (ngspice ``.options acct``, bench_program.py
--profile-slot): every waveform corner is a breakpoint, after which ngspice cuts its step to
a tenth of the last one and at most doubles it per point (dctran.c, no option changes that),
so a slot costs ~4 points per 10 ns edge plus log2(gap / 0.7 ns) points to climb back, two
Newton iterations each, and each iteration one KLU factor of the ~4 400-unknown wiring
(~3.4 ms on a quiet core) plus ~1 ms of device load (half of it the 8 320 wire
capacitors).  Until issue 15's scale work the decks also carried one integrator B-source per
line for the energy; their truncation error set the time step (a slot with 34 corners: 786
Newton iterations and 59 rejected points with them, 430 and 0 without), so the energy now
comes from the saved source currents.  Integration method and ``trtol`` do not move the
count (breakpoint-limited: gear or trap, trtol 7 or 30, reltol 1e-4 or 1e-3: 430).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..circuit import BSource, Capacitor, Dc, Deck, Instance, Resistor, Tran, VoltageSource
from ..emit import Emitted, emit_deck_reusing, emit_elements
from ..errors import ConfigError, SimulationError
from ..spice import BatchRunner
from ..units import spice_number
from .array import CellArray
from .config import ProgramConfig, half_select_voltage
from .schedule import Iteration
from .twin import TwinProgrammer

TRAN_OPTIONS = {"method": "gear", "reltol": 1e-4, "abstol": 1e-12,
                "vntol": 1e-6}
"""ngspice options of every programming deck (the Deck default solver writes `.options klu`)."""

TRAN_TMAX = 5e-6
"""Largest ngspice time step [s].  Every waveform corner is a PWL breakpoint and a state moves
linearly along a flat top, so long steps lose nothing: measured on a 4x4 iteration, the
states agree with tmax = 5 ns to 2e-8 (the twin differs from both by ~2e-6)."""

TRAN_TMAX_DRIFT = 0.2e-6
"""Largest time step [s] of an all-dynamic deck of a card without threshold (linear ion
drift).  Its states move nonlinearly (the rate follows i = v/M(x)) on every cell.  At
:data:`TRAN_TMAX` ngspice 46 stopped with "timestep too small" on a state node in the middle
of a flat top of a 3x3 write-verify iteration (also at 2 µs and 1 µs); and ngspice's own
step error shows in the result: on the 3x3 run of tests/test_program.py (8 pulses a cell)
the final G of SPICE and twin differ by 0.68 % of the G range at 0.5 µs, 0.18 % at 0.2 µs,
0.14 % at 50 ns."""


def line_names(shape) -> list[str]:
    R, C = shape
    return [f"r{i}" for i in range(R)] + [f"c{j}" for j in range(C)]


def _wiring(cfg: ProgramConfig, shape) -> list:
    """Driver resistors and wire segments: row line i from ``in{i}``, column line j into
    ``ct{j}`` (the one wiring of the pulse and the read decks)."""
    R, C = shape
    els: list = []
    for i in range(R):
        els.append(Resistor(f"Rs{i}", f"in{i}", f"r{i}_0", cfg.r_driver))
        for j in range(C - 1):
            els.append(Resistor(f"Rr{i}_{j}", f"r{i}_{j}", f"r{i}_{j + 1}", cfg.r_wire_row))
    for j in range(C):
        els.append(Resistor(f"Rd{j}", f"c{R - 1}_{j}", f"ct{j}", cfg.r_driver))
        for i in range(R - 1):
            els.append(Resistor(f"Rc{i}_{j}", f"c{i}_{j}", f"c{i + 1}_{j}", cfg.r_wire_col))
    return els


class DeckParts:
    """The elements of a programming deck that no pulse plan changes: the wiring (built once)
    and every row's cells as resistors of R(x) with their wire capacitors.  One object serves
    every block deck of an iteration (:func:`run_iteration`); :meth:`update` rebuilds the
    rows whose states moved.  :meth:`emitted` gives their text, written once (the wiring)
    or once per update (a row) for :func:`~circuitsim.emit.emit_deck_reusing`: a 65x32
    block deck is then written in a few ms instead of ~50 (bench_program_python.py)."""

    def __init__(self, cfg: ProgramConfig, cells: CellArray, x: np.ndarray):
        self.cfg, self.cells = cfg, cells
        self.wiring = tuple(_wiring(cfg, cells.shape))
        self.rows: dict[int, tuple] = {}
        self._text: dict = {}
        self.update(x, range(cells.shape[0]))

    def emitted_wiring(self) -> Emitted:
        """The wiring's ngspice lines (written when first asked for)."""
        if "wiring" not in self._text:
            self._text["wiring"] = emit_elements(self.wiring)
        return self._text["wiring"]

    def emitted(self) -> list[Emitted]:
        """The wiring's and every row's ngspice lines (each written when first asked for
        after a change)."""
        out = [self.emitted_wiring()]
        for i, els in self.rows.items():
            if i not in self._text:
                self._text[i] = emit_elements(els)
            out.append(self._text[i])
        return out

    def update(self, x: np.ndarray, rows) -> None:
        """Rows ``rows`` as resistors at the states ``x``."""
        C = self.cells.shape[1]
        rows = [int(i) for i in rows]
        r = np.asarray(self.cells.card.resistance(np.asarray(x, dtype=float)[rows]), float)
        for k, i in enumerate(rows):
            self._text.pop(i, None)
            self.rows[i] = tuple(e for j in range(C) for e in self._cell(
                i, j, Resistor(f"Rm{i}_{j}", f"r{i}_{j}", f"c{i}_{j}", float(r[k, j]))))

    def _cell(self, i, j, device):
        if self.cfg.c_wire <= 0:
            return (device,)
        return (device, Capacitor(f"Cr{i}_{j}", f"r{i}_{j}", "0", self.cfg.c_wire),
                Capacitor(f"Cc{i}_{j}", f"c{i}_{j}", "0", self.cfg.c_wire))

    def dynamic_row(self, i: int, x: np.ndarray) -> tuple:
        """Row ``i`` as VTEAM instances starting at ``x[i]`` (clipped to [0, 1])."""
        card = self.cells.card
        out = []
        for j in range(self.cells.shape[1]):
            p = self.cells.spice_params(i, j)
            p["x0"] = float(np.clip(x[i, j], 0.0, 1.0))
            out += self._cell(i, j, Instance(f"Xm{i}_{j}", card.subckt_name,
                                             (f"r{i}_{j}", f"c{i}_{j}"), p))
        return tuple(out)


class _WiringOnly(DeckParts):
    """:class:`DeckParts` of an all-dynamic deck (no static rows to build)."""

    def __init__(self, cfg: ProgramConfig, cells: CellArray):
        self.cfg, self.cells = cfg, cells
        self.wiring = tuple(_wiring(cfg, cells.shape))
        self.rows = {}
        self._text = {}


def iteration_deck(cfg: ProgramConfig, cells: CellArray, x: np.ndarray, it: Iteration,
                   *, title: str = "write-verify iteration", tmax: float | None = None,
                   dynamic_rows=None, parts: DeckParts | None = None) -> Deck:
    """The deck of one iteration from states ``x`` (rows, cols).  ``dynamic_rows``: rows whose
    cells are VTEAM instances (None = all); the other cells are resistors of 1/R(x) (for
    row-by-row decks: a half-select scheme keeps every cell off the selected row below
    threshold, where VTEAM does not move — :func:`~circuitsim.program.half_select_probe`
    measures that with every cell dynamic).  ``parts``: the wiring and static rows already
    built for these ``x`` (:class:`DeckParts`; built here when None)."""
    R, C = cells.shape
    card = cells.card
    dyn = set(range(R)) if dynamic_rows is None else {int(r) for r in dynamic_rows}
    if parts is None:
        parts = DeckParts(cfg, cells, x) if len(dyn) < R else _WiringOnly(cfg, cells)
    els = [VoltageSource(f"Vr{i}", f"in{i}", "0", 0.0, it.pwl(f"r{i}")) for i in range(R)]
    els += [VoltageSource(f"Vc{j}", f"ct{j}", "0", 0.0, it.pwl(f"c{j}")) for j in range(C)]
    els += parts.wiring
    for i in range(R):
        els += parts.dynamic_row(i, x) if i in dyn else parts.rows[i]
    saves = [f"i(vr{i})" for i in range(R)] + [f"i(vc{j})" for j in range(C)]
    saves += [f"v(xm{i}_{j}.x)" for i in sorted(dyn) for j in range(C)]
    if tmax is None:
        tmax = TRAN_TMAX if cfg.has_threshold else TRAN_TMAX_DRIFT
    kind = "VTEAM" if cfg.has_threshold else "linear ion drift"
    return Deck(title=f"{title}: {R}x{C} {kind} 1R crossbar, scheme {cfg.scheme}",
                elements=tuple(els), includes=(card.library,), options=TRAN_OPTIONS,
                analyses=(Tran(tmax, it.stop, 0.0, tmax),),
                saves=tuple(saves))


def driver_energy(t, v, i) -> float:
    """Energy [J] the line drivers deliver: ∫ −v·i dt over the transient's own time points
    (``t`` (K,), source voltages ``v`` and ngspice's source currents ``i`` (lines, K), current
    into the + terminal), exact for v and i linear between time points:
    Δt·(2v₀i₀ + 2v₁i₁ + v₀i₁ + v₁i₀)/6 per step."""
    t, v, i = np.asarray(t, float), np.atleast_2d(v), np.atleast_2d(i)
    dt = np.diff(t)
    v0, v1, i0, i1 = v[:, :-1], v[:, 1:], i[:, :-1], i[:, 1:]
    return float(-np.sum(dt * (2 * v0 * i0 + 2 * v1 * i1 + v0 * i1 + v1 * i0)) / 6)


def read_iteration(res, cfg: ProgramConfig, it: Iteration, shape, x_prev=None,
                   dynamic_rows=None) -> dict:
    """States at the end, verify reads G [S] per read row, energy [J] of the iteration.
    With ``dynamic_rows`` the other rows keep their states from ``x_prev``."""
    R, C = shape
    t = np.asarray(res.axis, dtype=float)
    dyn = range(R) if dynamic_rows is None else sorted(int(r) for r in dynamic_rows)
    try:
        x = np.array(x_prev, dtype=float, copy=True) if dynamic_rows is not None else \
            np.empty(shape)
        for i in dyn:
            x[i] = [float(res[f"v(xm{i}_{j}.x)"][-1]) for j in range(C)]
        cur = np.stack([np.asarray(res[f"i(vc{j})"], dtype=float) for j in range(C)])
        i_rows = np.stack([np.asarray(res[f"i(vr{i})"], dtype=float) for i in range(R)])
    except KeyError as exc:
        raise SimulationError(f"programming deck returned no vector {exc}", deck=res.deck,
                              run_dir=res.run_dir, log=res.log) from None
    energy = driver_energy(t, it.drive(t, R, C).T, np.vstack([i_rows, cur]))
    reads = {}
    for row, ts in it.reads:
        if not t[0] <= ts <= t[-1]:
            raise SimulationError(f"read time {ts:g} s outside the saved window",
                                  deck=res.deck, run_dir=res.run_dir, log=res.log)
        reads[row] = np.array([np.interp(ts, t, cur[j]) for j in range(C)]) / cfg.v_read
    return {"x": x, "reads": reads, "energy": energy}





ROWS_PER_DECK = 1
"""Pulsed rows per transient deck in :func:`run_iteration`.  A deck costs ~rows x (Newton
iterations of a row slot) x (KLU factor of the whole wiring + rows x C VTEAM loads) plus
parsing the wiring once; at 65x32 the loads of a second dynamic row cost more than a second
parse (bench_program.py --profile, 4 pulsed rows + 65 reads: 5.1 s as 1-row decks, 5.7 s
as 2-row, 7.2 s as 4-row; one all-dynamic deck 196 s; measured before the energy integrators
left the decks and the decks ran side by side, which favour one-row decks further)."""

WORKERS = 2
"""ngspice processes :func:`run_iteration` runs side by side (one per core of the 2-core
target machine)."""

HOLD_MARGIN = 1.1
"""A row's cells may be resistors in another row's deck only if every cell's own threshold
exceeds the scheme's half-select voltage by this factor (room for the wires' IR drop, mV)."""


def static_rows(cfg: ProgramConfig, cells: CellArray) -> np.ndarray:
    """(rows,) bool: rows whose cells cannot move while another row is pulsed (every cell's
    threshold above HOLD_MARGIN x the half-select voltage of ``cfg.scheme``).  None for a
    card without threshold (linear ion drift): every cell moves whenever a line is driven."""
    if not cfg.has_threshold:
        return np.zeros(cells.shape[0], bool)
    th = np.minimum(cells.get("v_off"), -cells.get("v_on"))
    return np.all(th > HOLD_MARGIN * half_select_voltage(cfg.scheme, cfg.v_pulse), axis=1)


def read_deck(cfg: ProgramConfig, cells: CellArray, x: np.ndarray, rows,
              *, title: str = "verify reads", wiring: tuple | None = None) -> Deck:
    """Verify reads of ``rows`` as one ``.dc`` sweep of ``Vsel`` over 0..len(rows)-1: at
    point k row ``rows[k]`` is at ``v_read`` (through its driver), every other line at 0 V,
    the cells resistors at states ``x`` (a read below threshold moves no state).  Vectors:
    ``i(vc{j})`` column currents, ``i(vr{i})`` the read rows' driver currents.  ``wiring``:
    the wiring's elements already built (:attr:`DeckParts.wiring`, whose text
    :meth:`DeckParts.emitted_wiring` has)."""
    R, C = cells.shape
    rows = [int(r) for r in rows]
    if not rows or len(set(rows)) != len(rows) or not all(0 <= r < R for r in rows):
        raise ConfigError(f"read rows must be distinct rows of the {R}x{C} array, got {rows}")
    k_of = {r: k for k, r in enumerate(rows)}
    els: list = [VoltageSource("Vsel", "sel", "0", 0.0)]
    for i in range(R):
        if i in k_of:
            els.append(BSource(f"Bd{i}", f"d{i}", "0", f"{spice_number(cfg.v_read)}*"
                               f"(abs(v(sel)-{k_of[i]})<0.5)"))
            els.append(VoltageSource(f"Vr{i}", f"d{i}", f"in{i}", 0.0))
        else:
            els.append(VoltageSource(f"Vr{i}", f"in{i}", "0", 0.0))
    els += [VoltageSource(f"Vc{j}", f"ct{j}", "0", 0.0) for j in range(C)]
    els += _wiring(cfg, (R, C)) if wiring is None else wiring
    r_cell = cells.card.resistance(np.clip(np.asarray(x, dtype=float), 0.0, 1.0))
    els += [Resistor(f"Rm{i}_{j}", f"r{i}_{j}", f"c{i}_{j}", float(r_cell[i, j]))
            for i in range(R) for j in range(C)]
    saves = [f"i(vc{j})" for j in range(C)] + [f"i(vr{i})" for i in rows]
    return Deck(title=f"{title}: {R}x{C} 1R crossbar, {len(rows)} rows", elements=tuple(els),
                options=TRAN_OPTIONS, analyses=(Dc("vsel", 0.0, float(len(rows) - 1), 1.0),),
                saves=tuple(saves))


def parse_reads(res, cfg: ProgramConfig, rows, shape) -> tuple[dict, float]:
    """Apparent G = I_col/v_read per read row [S] and the reads' energy [J] from a
    :func:`read_deck` result.  A read's energy is its DC power over the plan's read slot:
    flat top ``t_read`` plus two linear edges (∫(t/e)² dt = e/3 each)."""
    R, C = shape
    try:
        cur = np.stack([np.atleast_1d(np.asarray(res[f"i(vc{j})"], dtype=float))
                        for j in range(C)])
        ir = {r: np.atleast_1d(np.asarray(res[f"i(vr{r})"], dtype=float)) for r in rows}
    except KeyError as exc:
        raise SimulationError(f"read deck returned no vector {exc}", deck=res.deck,
                              run_dir=res.run_dir, log=res.log) from None
    if cur.shape[1] != len(rows):
        raise SimulationError(f"read sweep returned {cur.shape[1]} points for {len(rows)} rows",
                              deck=res.deck, run_dir=res.run_dir, log=res.log)
    reads = {int(r): cur[:, k] / cfg.v_read for k, r in enumerate(rows)}
    dur = cfg.t_read + 2 * cfg.edge / 3
    energy = float(sum(cfg.v_read * ir[r][k] * dur for k, r in enumerate(rows)))
    return reads, energy


def parallel(workers, runner, loose) -> bool:
    """Whether :func:`run_iteration` runs its block decks side by side (a lagged chain: block
    k's deck starts from the states after blocks 0 .. k − ``workers``): ``workers`` > 1, a
    :class:`~circuitsim.spice.BatchRunner` (one ngspice process per deck; the shared-library
    runner holds one ngspice) and no row that every deck keeps dynamic (``loose``: its
    states then chain through the decks)."""
    return int(workers) > 1 and isinstance(runner, BatchRunner) and not loose


def run_iteration(runner, cfg: ProgramConfig, cells: CellArray, x: np.ndarray, it: Iteration,
                  *, rows_per_deck: int = ROWS_PER_DECK, workers: int = WORKERS,
                  predict: bool = True, timeout_s: float = 600.0,
                  title: str = "write-verify iteration") -> dict:
    """One iteration's plan in ngspice, in pieces: the pulse phases cut into blocks of
    ``rows_per_deck`` pulsed rows (one transient deck each, chained by the states; only the
    block's rows — and any row :func:`static_rows` cannot hold — are VTEAM instances), then
    the verify reads as one ``.dc`` sweep (:func:`read_deck`).  Same keys as the twin's
    :meth:`~circuitsim.program.twin.TwinProgrammer.run`; ``decks`` counts the ngspice runs.
    A card without threshold (``cfg.has_threshold`` False: linear ion drift) runs the whole
    iteration as one all-dynamic deck, its verify reads sampled from the transient's read
    pulses (so the read disturb is simulated, as in the twin).

    Side by side (:func:`parallel`), block k's deck cannot have the end states of the
    ``workers`` − 1 blocks still running: with ``predict`` it holds their rows (resistors,
    half-selected, below threshold) at the twin's prediction of those end states
    (:class:`~circuitsim.program.twin.TwinProgrammer` over the whole iteration, once),
    otherwise at their states before them.  Only those rows' static loads come from the
    prediction; every state and read of the result is ngspice's.  Against the sequential
    chain (``workers=1``) on the 65x32 benchmark's first adaptive iteration (every cell SET
    from R_off, up to 102 µs): predicted, energy −4e-6 and states 9e-7; unpredicted, −1.2 %
    and 1.5e-3."""
    if isinstance(rows_per_deck, bool) or int(rows_per_deck) != rows_per_deck or \
            rows_per_deck < 1:
        raise ConfigError(f"rows_per_deck must be a whole number >= 1, got {rows_per_deck!r}")
    if isinstance(workers, bool) or int(workers) != workers or workers < 1:
        raise ConfigError(f"workers must be a whole number >= 1 (ngspice processes side by "
                          f"side), got {workers!r}")
    R, C = cells.shape
    x = np.array(x, dtype=float, copy=True)
    if not cfg.has_threshold:
        # no threshold (linear ion drift): half-selected cells drift in every phase and every
        # verify read writes, so the whole iteration — pulses and the reads as real read
        # pulses — is one transient deck with every cell dynamic (the slow, correct path)
        out = read_iteration(runner.run(iteration_deck(cfg, cells, x, it, title=title),
                                        timeout_s=timeout_s), cfg, it, (R, C))
        return {**out, "decks": 1}
    hold = static_rows(cfg, cells)
    loose = {int(i) for i in np.flatnonzero(~hold)}
    pulsed = sorted({ph.row for ph in it.phases})
    blocks = [set(pulsed[b:b + int(rows_per_deck)])
              for b in range(0, len(pulsed), int(rows_per_deck))]

    parts = DeckParts(cfg, cells, x) if blocks else None

    def block_deck(blk, x_from):
        phs = [ph for ph in it.phases if ph.row in blk]
        sub = it.window(min(ph.t0 for ph in phs), max(ph.t1 for ph in phs))
        dyn = sorted(blk | loose)
        deck = iteration_deck(cfg, cells, x_from, sub, parts=parts,
                              title=f"{title}, rows {min(blk)}-{max(blk)}", dynamic_rows=dyn)
        return emit_deck_reusing(deck, parts.emitted()), sub, dyn

    def finish(text, sub, dyn, x_from):
        return read_iteration(runner.run(text, timeout_s=timeout_s), cfg, sub, (R, C),
                              x_prev=x_from, dynamic_rows=dyn)

    energy = 0.0
    if parallel(workers, runner, loose) and len(blocks) > 1:
        # block k's deck holds the states after blocks 0 .. k - workers (a lagged chain):
        # only the rows of the workers - 1 blocks still running are at their iteration-start
        # states there, and a block moves only its own rows (the others' reach it through
        # the wires' IR drop and through the half-select power of their cells)
        w = int(workers)
        futs: list = []
        # the states only: the pulse phases without the verify reads
        pred = TwinProgrammer(cfg, cells).run(x, it.window(0.0, it.read_start))["x"] \
            if predict else None

        def fold(k) -> list:
            """Block k's rows and energy into x / energy; returns those rows."""
            nonlocal energy
            out, rows = futs[k].result(), sorted(blocks[k])
            x[rows] = out["x"][rows]
            energy += out["energy"]
            return rows

        with ThreadPoolExecutor(max_workers=w) as pool:
            for k, blk in enumerate(blocks):
                if k >= w:
                    parts.update(x, fold(k - w))
                running = sorted(set().union(*blocks[max(k - w + 1, 0):k]))
                x_deck = x.copy()
                if pred is not None and running:
                    x_deck[running] = pred[running]
                    parts.update(x_deck, running)
                text, sub, dyn = block_deck(blk, x_deck)
                futs.append(pool.submit(finish, text, sub, dyn, x_deck))
            for k in range(max(len(blocks) - w, 0), len(blocks)):
                fold(k)
    else:
        for blk in blocks:
            out = finish(*block_deck(blk, x), x)
            moved = sorted(blk | loose)
            x, energy = out["x"], energy + out["energy"]
            parts.update(x, moved)
    decks = len(blocks)
    reads = {}
    if it.reads:
        rows = [r for r, _ in it.reads]
        deck = read_deck(cfg, cells, x, rows, title=f"{title}: verify reads",
                         wiring=None if parts is None else parts.wiring)
        res = runner.run(deck if parts is None else
                         emit_deck_reusing(deck, [parts.emitted_wiring()]), timeout_s=timeout_s)
        reads, e_read = parse_reads(res, cfg, rows, (R, C))
        energy += e_read
        decks += 1
    return {"x": x, "reads": reads, "energy": energy, "decks": decks}


__all__ = ["DeckParts", "HOLD_MARGIN", "ROWS_PER_DECK", "TRAN_OPTIONS", "TRAN_TMAX_DRIFT",
           "WORKERS", "driver_energy", "iteration_deck", "line_names", "parallel",
           "parse_reads", "read_deck", "read_iteration", "run_iteration", "static_rows"]
