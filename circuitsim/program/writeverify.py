"""Incremental-step write-verify, run the same way against ngspice or the twin.

:class:`Verifier` decides each cell's next pulse from that world's own verify reads;
:func:`program_array` loops iterations (decide -> waveforms -> simulate -> read) for one world,
writing its state after every iteration so that a killed run resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..spice import BatchRunner
from .array import CellArray
from .config import ProgramConfig
from .schedule import CellPulse, build_iteration
from .spice import run_iteration
from .twin import ArrayNetwork, TwinProgrammer

WORLDS = ("spice", "twin")


class Verifier:
    """Per-cell write-verify state.  ``targets`` (rows, cols) [S], NaN = unprogrammed."""

    def __init__(self, cfg: ProgramConfig, targets: np.ndarray):
        self.cfg = cfg
        self.targets = targets
        shape = targets.shape
        self.active = np.isfinite(targets)
        self.done = ~self.active
        self.converged = np.zeros(shape, bool)
        self.pulses = np.zeros(shape, int)
        self.k = np.zeros(shape, int)
        self.cap = np.full(shape, cfg.ladder, int)
        self.last = np.zeros(shape, int)
        self.g_read = np.full(shape, np.nan)
        self.iter_done = np.full(shape, -1, int)
        """Iteration at which the cell was accepted (−1 = not yet / never)."""
        self.g_est = np.full(shape, 1.0 / cfg.device.resistance(cfg.x0))
        """The controller's estimate of every cell's G [S] (start: the state x0)."""
        self.loss = np.zeros((2,) + shape)
        """Sizing 'adaptive': the voltage [V] each cell is learned to lose of a RESET [0] and a
        SET [1] pulse (:meth:`ProgramConfig.pulse_loss`)."""
        self.loss_seen = np.zeros((2,) + shape, bool)
        self.sent_w = np.zeros(shape)
        """Flat top [s] of the pulse each cell got in the iteration now running (0 = none)."""
        self.sent_amp = np.zeros(shape)
        self.sent_up = np.zeros(shape, bool)
        self.g_sent = np.full(shape, np.nan)
        """The read G [S] each pulse was sized from."""
        self.net = None

    @property
    def tol(self) -> float:
        return self.cfg.tolerance * self.cfg.g_range

    def correct(self, reads: dict[int, np.ndarray], sweeps: int = 6) -> dict:
        """Cell conductances from the apparent reads I_col/v_read (row -> (cols,) [S]).

        A row read sees its cells through the driver and wire resistances, and part of each
        cell's current leaves through the other rows' cells (sneak paths) rather than the
        column's sense driver; in a 65-row array at 100 µS that is tens of %.  The verify
        controller knows the wiring, so it inverts it: with its estimates of every other cell
        it solves the array (:class:`~circuitsim.program.twin.ArrayNetwork`), compares the
        modelled column currents with the measured ones and rescales the read row's
        estimates, a few sweeps (a fixed point; both worlds run this same digital step on
        their own reads)."""

        if not reads:
            return {}
        R, C = self.targets.shape
        if self.net is None:
            self.net = ArrayNetwork(self.cfg, (R, C))
        rows = sorted(reads)
        meas = np.stack([np.asarray(reads[r], dtype=float) for r in rows])
        for r in rows:
            self.g_est[r] = np.maximum(reads[r], 1e-12)
        for _ in range(sweeps):
            tr = self.net.responses(self.g_est, rows)  # (n, len(rows)): a read row at 1 V
            model = self.net.gd * tr[self.net.col_port].T
            ratio = meas / np.maximum(model, 1e-15)
            self.g_est[rows] = self.g_est[rows] * ratio
            if np.max(np.abs(ratio - 1.0)) < 1e-9:
                break
        return {r: self.g_est[r].copy() for r in rows}

    def update(self, reads: dict[int, np.ndarray], iteration: int) -> None:
        """Take verify reads (row -> (cols,) apparent G = I/v_read [S]), correct them for the
        wiring (:meth:`correct`) and accept or give up cells."""
        for row, g in self.correct(reads).items():
            self.g_read[row] = g
        self._learn_loss()
        err = self.g_read - np.where(self.active, self.targets, 0.0)
        if self.cfg.reverify:
            # an accepted cell that the neighbours' pulses moved out of its tolerance is
            # written again (while its budget lasts)
            lost = self.converged & (np.abs(err) > self.tol) & (self.pulses < self.cfg.max_pulses)
            self.converged &= ~lost
            self.done &= ~lost
            self.iter_done[lost] = -1
        ok = self.active & ~self.done & (np.abs(err) <= self.tol)
        self.converged |= ok
        self.iter_done[ok] = iteration
        self.done |= ok
        out = self.active & ~self.done & (self.pulses >= self.cfg.max_pulses)
        self.done |= out

    def _learn_loss(self) -> None:
        """Sizing 'adaptive': each pulsed cell's loss from the Δx its own reads saw."""
        m = self.sent_w > 0  # set by _adaptive only
        if m.any():
            dx = self.cfg.state_of(self.g_read[m]) - self.cfg.state_of(self.g_sent[m])
            up = self.sent_up[m]
            # a pulse that moved the cell the wrong way (or not at all) saw no more than
            # threshold
            dx = np.where(up, np.maximum(dx, 0.0), np.maximum(-dx, 0.0))
            idx = (np.where(up, 0, 1),) + np.nonzero(m)
            self.loss[idx] = self.cfg.pulse_loss(dx, up, self.sent_amp[m], self.sent_w[m])
            self.loss_seen[idx] = True
        self.sent_w[:] = 0.0

    def _adaptive(self, todo) -> list[CellPulse]:
        """Sizing 'adaptive': every cell's pulse from its read error and learned loss (the
        other polarity's loss until this one has been seen)."""
        i, j = todo[:, 0], todo[:, 1]
        g, tgt = self.g_read[i, j], self.targets[i, j]
        up = g > tgt
        side = np.where(up, 0, 1)
        seen = self.loss_seen[side, i, j]
        loss = np.where(seen, self.loss[side, i, j],
                        np.where(self.loss_seen[1 - side, i, j], self.loss[1 - side, i, j], 0.0))
        k, amp = self.cfg.adaptive_pulses(g, tgt, loss)
        widths, down = self.cfg.widths, self.cfg.reset_polarity
        pol = np.where(up, down, -down)
        self.k[i, j], self.last[i, j] = k, pol
        self.pulses[i, j] += 1
        self.sent_w[i, j], self.sent_amp[i, j], self.sent_up[i, j] = widths[k], amp, up
        self.g_sent[i, j] = g
        return [CellPulse(int(a), int(b), int(p), float(widths[kk]), amplitude=float(v))
                for a, b, p, kk, v in zip(i, j, pol, k, amp, strict=True)]

    def decide(self) -> list[CellPulse]:
        """Next pulse of every cell still outside its tolerance."""
        todo = np.argwhere(self.active & ~self.done)
        if self.cfg.sizing == "adaptive":
            return self._adaptive(todo)
        widths, amps = self.cfg.widths, self.cfg.amplitudes
        model = self.cfg.sizing == "model"
        guess = self.cfg.model_rungs(self.g_read, np.where(self.active, self.targets,
                                                           self.g_read)) if model else None
        out = []
        for i, j in todo:
            down = self.cfg.reset_polarity  # the polarity that lowers G (RESET)
            pol = down if self.g_read[i, j] > self.targets[i, j] else -down
            if self.last[i, j] == 0:
                k = self.cap[i, j] if model else 0  # 'model': from the guess below
            elif pol == self.last[i, j]:
                k = min(self.k[i, j] + 1, self.cap[i, j])
            else:
                self.cap[i, j] = max(self.cap[i, j] - 1, 0)
                k = min(max(self.k[i, j] - 1, 0), self.cap[i, j])
            if model:
                k = min(k, int(guess[i, j]))
            self.k[i, j], self.last[i, j] = k, pol
            self.pulses[i, j] += 1
            out.append(CellPulse(int(i), int(j), pol, float(widths[k]),
                                 amplitude=float(amps[k])))
        return out

    # -- resume -------------------------------------------------------------------------
    _FIELDS = ("done", "converged", "pulses", "k", "cap", "last", "g_read", "iter_done",
               "g_est", "loss", "loss_seen", "sent_w", "sent_amp", "sent_up", "g_sent")

    def state(self) -> dict:
        return {k: getattr(self, k) for k in self._FIELDS}

    def load(self, d) -> None:
        for k in self._FIELDS:
            setattr(self, k, np.array(d[k]))


@dataclass
class ProgramResult:
    """What one world's programming run produced."""

    world: str
    targets: np.ndarray
    x: np.ndarray
    """Final states [1]."""
    g: np.ndarray
    """Final device conductances 1/R(x) [S]."""
    g_read: np.ndarray
    """Last verify read of every cell [S]."""
    pulses: np.ndarray
    converged: np.ndarray
    g_at_accept: np.ndarray
    """Device G when the cell was accepted [S] (NaN if never)."""
    log: np.ndarray
    """(n, 7): row, col, time [s], amplitude [V], width [s], polarity, verify read after [S]."""
    energy_j: float
    time_s: float
    wall_s: float
    iterations: int
    decisions: list = field(default_factory=list)
    """Per iteration: sorted list of (row, col, polarity, width, amplitude) decided (for
    divergence)."""

    @property
    def cells(self) -> int:
        return int(np.isfinite(self.targets).sum())

    @property
    def converged_fraction(self) -> float:
        n = self.cells
        return float(self.converged.sum() / n) if n else 1.0

    def disturb_after_accept(self, g_range: float) -> float:
        """Largest |ΔG| of an accepted cell while later cells were programmed [fraction]."""
        m = np.isfinite(self.g_at_accept)
        return float(np.max(np.abs(self.g[m] - self.g_at_accept[m])) / g_range) if m.any() \
            else 0.0


STATE_VERSION = 2
"""Layout of the written state (:meth:`Verifier.state`); part of the run key, so a state
written by an older layout is not resumed from."""


def _run_key(cfg: ProgramConfig, targets, cells: CellArray, world: str, c2c) -> str:
    h = hashlib.sha256()
    h.update(f"state v{STATE_VERSION}".encode())
    h.update(json.dumps(cfg.to_dict(), sort_keys=True, default=str).encode())
    h.update(np.ascontiguousarray(np.nan_to_num(targets, nan=-1.0)).tobytes())
    for k in sorted(cells.params):
        h.update(np.ascontiguousarray(cells.params[k]).tobytes())
    h.update(world.encode())
    h.update(repr(c2c).encode())
    return h.hexdigest()[:16]


def program_array(cfg: ProgramConfig, targets, *, world: str, cells: CellArray | None = None,
                  runner=None, state_dir: Path | str | None = None, c2c_sigma: float = 0.0,
                  seed: int = 0, progress: bool = False, timeout_s: float = 600.0,
                  stop_after: int | None = None) -> ProgramResult:
    """Write-verify ``targets`` (rows, cols) [S] into one array in ``world`` ('spice' or
    'twin').  ``cells``: per-cell devices (default: every cell ``cfg.device``).
    ``c2c_sigma``: cycle-to-cycle lognormal σ of the switching rates, one draw per cell per
    iteration from ``seed`` (the same draws in both worlds).  ``state_dir``: write the state
    after every iteration and resume from it when it matches this run.  ``stop_after``: stop
    after that many iterations (tests of resume)."""
    from tqdm import tqdm


    if world not in WORLDS:
        raise ConfigError(f"world must be one of {WORLDS}, got {world!r}")
    targets = cfg.check_targets(targets)
    shape = targets.shape
    cells = CellArray(cfg.device, shape) if cells is None else cells
    if cells.shape != shape:
        raise ConfigError(f"cells have shape {cells.shape} but targets {shape}")
    if c2c_sigma < 0:
        raise ConfigError(f"c2c_sigma must be >= 0, got {c2c_sigma!r}")
    ver = Verifier(cfg, targets)
    x = np.full(shape, float(cfg.x0))
    g_acc = np.full(shape, np.nan)
    log: list = []
    decisions: list = []
    energy = t_total = wall = 0.0
    it_no = 0
    state_path = None
    if state_dir is not None:
        key = _run_key(cfg, targets, cells, world, c2c_sigma)
        state_path = Path(state_dir) / f"state_{world}.npz"
        state_path.parent.mkdir(parents=True, exist_ok=True)
        if state_path.exists():
            try:
                d = np.load(state_path, allow_pickle=False)
                if str(d["key"]) == key:
                    ver.load(d)
                    x, g_acc = np.array(d["x"]), np.array(d["g_acc"])
                    log = [tuple(r) for r in d["log"]]
                    energy, t_total, wall = (float(d["energy"]), float(d["t_total"]),
                                             float(d["wall"]))
                    it_no = int(d["iteration"])
                    # JSON gives lists; the decisions compared by divergence() are tuples
                    decisions = [[tuple(p) for p in it]
                                 for it in json.loads(str(d["decisions"]))]
            except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
                raise ConfigError(f"{state_path}: not a readable write-verify state "
                                  f"({type(exc).__name__}: {exc}); delete it to start this "
                                  "run afresh") from None
    twin = TwinProgrammer(cfg, cells) if world == "twin" else None
    bar = tqdm(desc=f"write-verify ({world})", disable=not progress, unit="it")
    own_runner = False
    if world == "spice" and runner is None:
        runner, own_runner = BatchRunner(), True
    try:
        while True:
            if stop_after is not None and it_no >= stop_after:
                break  # before decide(), which counts the next pulses
            if it_no == 0:
                pulses = []
                read_rows = sorted(set(int(i) for i in np.argwhere(ver.active)[:, 0]))
            else:
                pulses = ver.decide()
                if not pulses:
                    break
                read_rows = sorted(set(p.row for p in pulses))
                if cfg.reverify:  # the neighbours of other rows move too: read them all
                    read_rows = sorted(set(int(i) for i in np.argwhere(ver.active)[:, 0]))
            it = build_iteration(cfg, shape, pulses, read_rows)
            run_cells = cells
            if c2c_sigma > 0 and pulses:
                rng = np.random.default_rng(np.random.SeedSequence(
                    [seed, 15, it_no]).generate_state(4))
                run_cells = cells.with_rate_factor(
                    np.exp(c2c_sigma * rng.standard_normal(shape)))
            t0 = time.perf_counter()
            if world == "spice":
                out = run_iteration(runner, cfg, run_cells, x, it, timeout_s=timeout_s,
                                    title=f"write-verify iteration {it_no}")
            else:
                out = TwinProgrammer(cfg, run_cells).run(x, it) if run_cells is not cells \
                    else twin.run(x, it)
            wall += time.perf_counter() - t0
            x = out["x"]
            for p in it.pulses:
                log.append((p.row, p.col, t_total + p.t_start, p.amplitude, p.width,
                            p.polarity, float(out["reads"][p.row][p.col])))
            decisions.append(sorted((p.row, p.col, p.polarity, p.width, p.amplitude)
                                    for p in pulses))
            energy += out["energy"]
            t_total += it.stop
            prev_done = ver.converged.copy()
            ver.update(out["reads"], it_no)
            g_now = 1.0 / cfg.device.resistance(x)
            new = ver.converged & ~prev_done
            g_acc[new] = g_now[new]
            g_acc[~ver.converged] = np.nan  # re-verify: a cell pushed out is no longer accepted
            it_no += 1
            bar.update(1)
            bar.set_postfix(open=int((ver.active & ~ver.done).sum()))
            if state_path is not None:
                np.savez(state_path.with_suffix(".tmp.npz"), key=key, x=x, g_acc=g_acc,
                         log=np.array(log, dtype=float).reshape(-1, 7), energy=energy,
                         t_total=t_total, wall=wall, iteration=it_no,
                         decisions=json.dumps(decisions), **ver.state())
                state_path.with_suffix(".tmp.npz").replace(state_path)
    finally:
        bar.close()
        if own_runner:
            runner.close()
    g = 1.0 / cfg.device.resistance(x)
    return ProgramResult(world, targets, x, g, ver.g_read, ver.pulses, ver.converged, g_acc,
                         np.array(log, dtype=float).reshape(-1, 7), energy, t_total, wall,
                         it_no, decisions)


AMPLITUDE_RESOLUTION = 1e-3
"""Two decided amplitudes closer than this [V] count as the same decision in
:func:`divergence` (a column driver's resolution; sizing 'adaptive' chooses amplitudes from
each world's own reads, so they always differ in the last digits)."""


def _same(da, db, tol: float) -> bool:
    return len(da) == len(db) and all(
        pa[:4] == pb[:4] and abs(pa[4] - pb[4]) <= tol for pa, pb in zip(da, db, strict=True))


def divergence(a: ProgramResult, b: ProgramResult, *,
               amplitude_tol: float = AMPLITUDE_RESOLUTION) -> dict:
    """Where the two worlds' verify decisions differ: the first iteration with a different
    decision (the same cells, polarities and widths, amplitudes within ``amplitude_tol``
    [V]), the cells whose pulse counts differ; ``identical_decisions``: every decision equal
    to the last bit."""
    first = None
    for k, (da, db) in enumerate(zip(a.decisions, b.decisions, strict=False)):
        if not _same(da, db, amplitude_tol):
            first = k
            break
    if first is None and len(a.decisions) != len(b.decisions):
        first = min(len(a.decisions), len(b.decisions))
    diff = np.isfinite(a.targets) & (a.pulses != b.pulses)
    return {"first_divergent_iteration": first, "cells_with_different_pulse_count":
            int(diff.sum()), "identical_decisions": a.decisions == b.decisions,
            "cells": [[int(i), int(j)] for i, j in np.argwhere(diff)[:20]]}


__all__ = ["ProgramResult", "Verifier", "WORLDS", "divergence", "program_array"]
