"""Transient ngspice of one programming iteration on the real crossbar wiring.

One deck per iteration (every row slot and every verify read of the iteration), chained to the
next by the cells' end states (each instance starts at its ``x0``).  Only the read block is
saved (``.tran`` tstart), so a raw file holds the reads, the final states and the energy
integrators, not every time point of every pulse.

Names: row driver ``Vr{i}`` -> ``in{i}`` -> ``Rs{i}`` -> row node ``r{i}_{j}``; column node
``c{i}_{j}``; column driver ``Vc{j}`` at ``ct{j}`` through ``Rd{j}``; cell ``Xm{i}_{j}``
(state ``v(xm{i}_{j}.x)``); ``Be{k}``/``Ce{k}`` integrate the power of line k into
``v(e{k})`` [J].
"""

from __future__ import annotations

import numpy as np

from ..circuit import BSource, Capacitor, Deck, Instance, Resistor, Tran, VoltageSource
from ..errors import SimulationError
from .array import CellArray
from .config import ProgramConfig
from .schedule import Iteration

TRAN_OPTIONS = {"method": "gear", "reltol": 1e-4, "abstol": 1e-12,
                "vntol": 1e-6}
"""ngspice options of every programming deck (the Deck default solver writes `.options klu`)."""

TRAN_TMAX = 5e-6
"""Largest ngspice time step [s].  Every waveform corner is a PWL breakpoint and a state moves
linearly along a flat top, so long steps lose nothing: measured on a 4x4 iteration, the
states agree with tmax = 5 ns to 2e-8 (the twin differs from both by ~2e-6)."""


def line_names(shape) -> list[str]:
    R, C = shape
    return [f"r{i}" for i in range(R)] + [f"c{j}" for j in range(C)]


def iteration_deck(cfg: ProgramConfig, cells: CellArray, x: np.ndarray, it: Iteration,
                   *, title: str = "write-verify iteration", tmax: float | None = None,
                   dynamic_rows=None) -> Deck:
    """The deck of one iteration from states ``x`` (rows, cols).  ``dynamic_rows``: rows whose
    cells are VTEAM instances (None = all); the other cells are resistors of 1/R(x) (for
    row-by-row decks: a half-select scheme keeps every cell off the selected row below
    threshold, where VTEAM does not move — :func:`~circuitsim.program.half_select_probe`
    measures that with every cell dynamic)."""
    R, C = cells.shape
    card = cells.card
    els: list = []
    for i in range(R):
        els.append(VoltageSource(f"Vr{i}", f"in{i}", "0", 0.0, it.pwl(f"r{i}")))
        els.append(Resistor(f"Rs{i}", f"in{i}", f"r{i}_0", cfg.r_driver))
        for j in range(C - 1):
            els.append(Resistor(f"Rr{i}_{j}", f"r{i}_{j}", f"r{i}_{j + 1}", cfg.r_wire_row))
    for j in range(C):
        els.append(VoltageSource(f"Vc{j}", f"ct{j}", "0", 0.0, it.pwl(f"c{j}")))
        els.append(Resistor(f"Rd{j}", f"c{R - 1}_{j}", f"ct{j}", cfg.r_driver))
        for i in range(R - 1):
            els.append(Resistor(f"Rc{i}_{j}", f"c{i}_{j}", f"c{i + 1}_{j}", cfg.r_wire_col))
    dyn = set(range(R)) if dynamic_rows is None else {int(r) for r in dynamic_rows}
    for i in range(R):
        for j in range(C):
            if i in dyn:
                p = cells.spice_params(i, j)
                p["x0"] = float(np.clip(x[i, j], 0.0, 1.0))
                els.append(Instance(f"Xm{i}_{j}", card.subckt_name,
                                    (f"r{i}_{j}", f"c{i}_{j}"), p))
            else:
                els.append(Resistor(f"Rm{i}_{j}", f"r{i}_{j}", f"c{i}_{j}",
                                    float(card.resistance(x[i, j]))))
            if cfg.c_wire > 0:
                els.append(Capacitor(f"Cr{i}_{j}", f"r{i}_{j}", "0", cfg.c_wire))
                els.append(Capacitor(f"Cc{i}_{j}", f"c{i}_{j}", "0", cfg.c_wire))
    saves = [f"i(vc{j})" for j in range(C)]
    for k, (src, node) in enumerate([(f"vr{i}", f"in{i}") for i in range(R)]
                                    + [(f"vc{j}", f"ct{j}") for j in range(C)]):
        els.append(BSource(f"Be{k}", "0", f"e{k}", f"-v({node})*i({src})", kind="I"))
        els.append(Capacitor(f"Ce{k}", f"e{k}", "0", 1.0))
        els.append(Resistor(f"Re{k}", f"e{k}", "0", 1e15))
        saves.append(f"v(e{k})")
    saves += [f"v(xm{i}_{j}.x)" for i in sorted(dyn) for j in range(C)]
    tmax = TRAN_TMAX if tmax is None else tmax
    tstart = min(it.read_start, it.stop * (1 - 1e-9))
    return Deck(title=f"{title}: {R}x{C} VTEAM 1R crossbar, scheme {cfg.scheme}",
                elements=tuple(els), includes=(card.library,), options=TRAN_OPTIONS,
                analyses=(Tran(tmax, it.stop, tstart, tmax),),
                saves=tuple(saves))


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
        energy = float(sum(float(res[f"v(e{k})"][-1]) for k in range(R + C)))
    except KeyError as exc:
        raise SimulationError(f"programming deck returned no vector {exc}", deck=res.deck,
                              run_dir=res.run_dir, log=res.log) from None
    reads = {}
    for row, ts in it.reads:
        if not t[0] <= ts <= t[-1]:
            raise SimulationError(f"read time {ts:g} s outside the saved window",
                                  deck=res.deck, run_dir=res.run_dir, log=res.log)
        reads[row] = np.array([np.interp(ts, t, cur[j]) for j in range(C)]) / cfg.v_read
    return {"x": x, "reads": reads, "energy": energy}


__all__ = ["TRAN_OPTIONS", "iteration_deck", "line_names", "read_iteration"]
