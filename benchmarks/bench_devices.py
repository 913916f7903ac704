"""Memristor twins vs ngspice: state/current agreement and run times for every single-device
run of ``circuitsim.devices.decks.standard_runs`` and the one-pulse VTEAM Δx.

    .venv/bin/python benchmarks/bench_devices.py

Writes benchmarks/results/devices.md / devices_pulse.md (and .json).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _table import write_table  # noqa: E402

from circuitsim.cards import VTEAM_CROSSBAR, VTEAM_MEMTORCH  # noqa: E402
from circuitsim.circuit.elements import Pulse  # noqa: E402
from circuitsim.devices import VteamTwin  # noqa: E402
from circuitsim.devices.decks import device_deck, standard_runs  # noqa: E402

__all__ = ["pulse_rows", "run_rows"]
from circuitsim.spice import simulate  # noqa: E402
from circuitsim.spice.runner import ngspice_version  # noqa: E402


def run_rows() -> list[dict]:
    rows = []
    for name, run in standard_runs().items():
        res = simulate(run.deck(), timeout_s=120)
        t, x, i = res.axis, res["v(xm.x)"], -res["i(v1)"]
        t0 = time.perf_counter()
        xt, it = run.twin_response(t)
        twin_s = time.perf_counter() - t0
        last = t >= run.stop - run.period
        rows.append({"run": name, "points": int(t.size), "x range": f"{x.min():.3f}-{x.max():.3f}",
                     "max |dx|": float(np.max(np.abs(xt - x))),
                     "max |dx| last period": float(np.max(np.abs(xt - x)[last])),
                     "max |di|/max|i|": float(np.max(np.abs(it - i)) / np.max(np.abs(i))),
                     "ngspice s": res.wall_s, "twin s": twin_s,
                     "solver": res.solver})
    return rows


def pulse_rows() -> list[dict]:
    rows = []
    for label, card, v, width, x0 in (("crossbar +1 V", VTEAM_CROSSBAR, 1.0, 1e-6, 0.3),
                                      ("crossbar -0.8 V", VTEAM_CROSSBAR, -0.8, 2e-6, 0.7),
                                      ("memtorch +0.1 V", VTEAM_MEMTORCH, 0.1, 100e-9, 0.3),
                                      ("memtorch -0.25 V", VTEAM_MEMTORCH, -0.25, 1e-9, 0.6)):
        edge = min(1e-9, width / 20)
        w = Pulse(0.0, v, delay=10 * edge, rise=edge, fall=edge, width=width)
        stop = width + 30 * edge
        res = simulate(device_deck(card, w, stop=stop, step=stop / 400, x0=x0,
                                   tmax=min(edge / 10, width / 1000)))
        x = res["v(xm.x)"]
        dx = x[-1] - x[0]
        twin = VteamTwin(card)
        rect = float(twin.pulse_dx(v, width))
        exact = float(twin.pulse_dx(v, width, x0, edge=edge))
        rows.append({"pulse": f"{label}, {width:g} s, edges {edge:g} s", "ngspice dx": dx,
                     "err vs rate*width": f"{100 * (dx - rect) / rect:+.3f}%",
                     "err vs pulse_dx(edge=)": f"{100 * (dx - exact) / exact:+.4f}%",
                     "ngspice s": res.wall_s, "solver": res.solver})
    return rows


if __name__ == "__main__":
    write_table("devices_pulse", pulse_rows(),
                title=f"VTEAM: one update pulse in ngspice {ngspice_version()} vs the analytic Δx",
                notes="rate*width ignores the pulse edges (their own contribution is the "
                      "error shown); pulse_dx(edge=) includes them and the windows.")
    write_table("devices", run_rows(),
                title=f"Memristor twins vs ngspice {ngspice_version()} (single device, same "
                      "stimulus)",
                notes="State x is normalised (switching range 1).  Twin evaluated at ngspice's "
                      "own time points (LSODA, rtol 1e-8).  ngspice: gear, reltol 1e-4, tmax = "
                      "period/1000 (sines) or edge/10 (pulse trains).  See also "
                      "devices_pulse.md.")
