"""Runner overhead vs bare ``ngspice -b``, and raw-file parser speed.

    .venv/bin/python benchmarks/bench_runners.py [--repeat 20]

Writes benchmarks/results/runners.md and .json.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _table import write_table  # noqa: E402

from circuitsim.circuit import Capacitor, Deck, Op, Pulse, Resistor, Tran, VoltageSource  # noqa: E402
from circuitsim.emit import emit_deck  # noqa: E402
from circuitsim.spice import BatchRunner, SharedRunner, find_ngspice, parse_raw  # noqa: E402


def small_deck() -> Deck:
    els = [VoltageSource("V1", "n0", "0", dc=1.0)]
    for i in range(10):
        els.append(Resistor(f"R{i}", f"n{i}", f"n{i + 1}", 1e3))
    els.append(Resistor("Rend", "n10", "0", 1e3))
    return Deck("ladder", elements=els, analyses=[Op()])


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    rows = []
    deck = small_deck()
    text = emit_deck(deck)
    exe = find_ngspice()
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "deck.cir"
        p.write_text(text)

        def bare():
            subprocess.run([exe, "-b", str(p)], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=True)

        t_bare = median_time(bare, args.repeat)
    rows.append({"what": "bare `ngspice -b deck.cir` (12-element .op)", "median_s": t_bare,
                 "vs_bare": 1.0})
    batch = BatchRunner()
    t_batch = median_time(lambda: batch.run(deck), args.repeat)
    rows.append({"what": "BatchRunner.run (deck write + ngspice -b -r + raw parse)",
                 "median_s": t_batch, "vs_bare": t_batch / t_bare})
    t0 = time.perf_counter()
    shared = SharedRunner()
    shared.run(deck)
    t_first = time.perf_counter() - t0
    t_shared = median_time(lambda: shared.run(deck), args.repeat)
    shared.close()
    rows.append({"what": "SharedRunner first run (worker start + library load)",
                 "median_s": t_first, "vs_bare": t_first / t_bare})
    rows.append({"what": "SharedRunner.run, warm worker", "median_s": t_shared,
                 "vs_bare": t_shared / t_bare})
    # raw parser on a ~10 MB binary raw file
    npts = 310_000
    big = Deck("big raw", elements=[
        VoltageSource("V1", "in", "0", waveform=Pulse(0, 1, 0, 1e-9, 1e-9, 1e-6, 2e-6)),
        Resistor("R1", "in", "out", 1e3), Capacitor("C1", "out", "0", 1e-12)],
        analyses=[Tran(1e-9, npts * 1e-9, tmax=1e-9)])
    with tempfile.TemporaryDirectory() as d:
        res = batch.run(big, run_dir=d)
        raw = Path(d) / "out.raw"
        size = raw.stat().st_size
        t_parse = median_time(lambda: parse_raw(raw), 5)
    n = res["time"].size
    rows.append({"what": f"parse_raw: {size / 1e6:.1f} MB binary raw, {n} points x "
                 f"{len(res.vectors)} vectors", "median_s": t_parse,
                 "vs_bare": float("nan")})
    write_table("runners", rows, title="Runner overhead and raw-file parsing",
                notes="Reproduce: `.venv/bin/python benchmarks/bench_runners.py`.")


if __name__ == "__main__":
    main()
