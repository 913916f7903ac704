"""One write-verify iteration through run_iteration end to end (real ngspice, WORKERS side by
side): wall time, this process's CPU seconds and ngspice's, and the results saved, so two
checkouts can be compared on the same iteration (it uses only APIs older than issue 15's
Python work):

    PYTHONPATH=/path/to/old/checkout python benchmarks/bench_program_iteration.py --npz old.npz
    PYTHONPATH=$PWD python benchmarks/bench_program_iteration.py --npz new.npz --against old.npz

``--against``: the largest differences of states, reads and energy from an earlier run's
file (0 = bit-identical).  Writes benchmarks/results/<topic>.md / .json
(``program_iteration`` by default).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _iterations import random_iteration  # noqa: E402
from _table import write_table  # noqa: E402

import circuitsim  # noqa: E402
from circuitsim.program.spice import WORKERS, run_iteration  # noqa: E402
from circuitsim.spice import BatchRunner  # noqa: E402


def iteration(shape=(65, 32), rows=8, seed=0, npz=None, against=None) -> dict:
    R, C = shape
    cfg, cells, x, pulsed, it = random_iteration(shape, rows, seed)
    load0 = os.getloadavg()[0]
    with BatchRunner() as runner:
        c0, t0 = os.times(), time.perf_counter()
        out = run_iteration(runner, cfg, cells, x, it)
        wall, c1 = time.perf_counter() - t0, os.times()
    reads = np.stack([out["reads"][r] for r in pulsed])
    if npz:
        np.savez(npz, x=out["x"], reads=reads, energy=out["energy"])
    row = {"array": f"{R}x{C}", "pulsed_rows": len(pulsed), "decks": out["decks"],
           "package": str(Path(circuitsim.__file__).resolve().parents[1]),
           "wall_s": wall,
           "cpu_python_s": (c1.user - c0.user) + (c1.system - c0.system),
           "cpu_ngspice_s": (c1.children_user - c0.children_user)
           + (c1.children_system - c0.children_system),
           "load_1min_start_end": f"{load0:.1f}/{os.getloadavg()[0]:.1f}"}
    if against:
        ref = np.load(against)
        row.update(max_dx_vs_ref=float(np.max(np.abs(out["x"] - ref["x"]))),
                   max_dread_vs_ref=float(np.max(np.abs(reads - ref["reads"]))),
                   denergy_vs_ref=float(out["energy"] - ref["energy"]))
    return row


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="65x32", help="RxC")
    ap.add_argument("--rows", type=int, default=8, help="pulsed rows (one block deck each)")
    ap.add_argument("--npz", default=None, help="save states, reads, energy here")
    ap.add_argument("--against", default=None, help="an earlier run's --npz to compare with")
    ap.add_argument("--topic", default="program_iteration")
    args = ap.parse_args(argv)
    shape = tuple(int(v) for v in args.size.split("x"))
    write_table(args.topic, [iteration(shape, args.rows, npz=args.npz, against=args.against)],
                title=f"One {args.size} write-verify iteration through run_iteration",
                notes=f"{WORKERS} ngspice processes side by side; cpu_python_s: this "
                      "process's user + system seconds (deck building, emit, runner, raw "
                      "parsing), cpu_ngspice_s: its children's (os.times); package: the "
                      "checkout whose circuitsim ran.")


if __name__ == "__main__":
    main()
