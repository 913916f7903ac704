"""The Python around the ngspice decks of one 65x32 write-verify iteration (issue 15): what
this process spends per block deck and per iteration while the two ngspice workers run, the
plain path (``emit_deck`` of every block deck) next to the reusing one (``emit_deck_reusing``
with the wiring and static rows written once, what run_iteration does).

    python benchmarks/bench_program_python.py              # 65x32, 50 pulsed rows
    python benchmarks/bench_program_python.py --rows 20 --repeat 3

Every figure is this process's CPU seconds (``time.process_time``; the machine is shared, CPU
time is steadier than wall time), the best of ``--repeat`` runs, per call.  One real block
deck and one real verify-read deck run in ngspice (2 and 3 times), for the runner's own
Python (writing the deck, starting ngspice, reading its log and raw file — its children's
time excluded; the plain column adds back the old analysis-count regex) and for raw files to
parse.  The iteration totals are ``rows`` x the per-deck sum + the per-iteration pieces (the
exit wait's wall latency is not in them); the verify controller's
``Verifier.correct`` (6 sweeps of ArrayNetwork.factor + transfer over the read rows) is shown
with its parts.

Writes benchmarks/results/program_python_profile.md / .json.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _iterations import random_iteration  # noqa: E402
from _table import write_table  # noqa: E402

from circuitsim.emit import emit_deck, emit_deck_reusing  # noqa: E402
from circuitsim.program.spice import (  # noqa: E402
    DeckParts,
    iteration_deck,
    parse_reads,
    read_deck,
    read_iteration,
)
from circuitsim.program.twin import ArrayNetwork  # noqa: E402
from circuitsim.program.writeverify import Verifier  # noqa: E402
from circuitsim.spice import BatchRunner  # noqa: E402
from circuitsim.spice.rawfile import parse_raw  # noqa: E402
from circuitsim.spice.runner import _expected_plots, _wait  # noqa: E402


def _cpu(f, repeat: int):
    """Best CPU seconds of ``repeat`` calls of ``f`` and its last result."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.process_time()
        out = f()
        best = min(best, time.process_time() - t0)
    return best, out


_OLD_ANALYSIS_LINE = re.compile(r"^\s*\.(op|dc|tran|ac|noise|tf|sens|pz|disto)\b", re.I | re.M)
"""The runner's analysis count before issue 15's Python work (for the plain column)."""


def _late(wait, n=3) -> float:
    """Mean wall seconds between a ``sleep 1`` child's end and ``wait(proc)`` returning."""
    late = []
    for _ in range(n):
        t0 = time.perf_counter()
        proc = subprocess.Popen(["sleep", "1"], start_new_session=True)
        wait(proc)
        late.append(time.perf_counter() - t0 - 1.0)
    return float(np.mean(late))


def profile_python(shape=(65, 32), rows=50, repeat=5, seed=0) -> list[dict]:
    R, C = shape
    cfg, cells, x, pulsed, it = random_iteration(shape, rows, seed)
    i = pulsed[len(pulsed) // 2]
    phs = [ph for ph in it.phases if ph.row == i]
    t_parts, parts = _cpu(lambda: DeckParts(cfg, cells, x), repeat)
    t_window, sub = _cpu(lambda: it.window(min(p.t0 for p in phs), max(p.t1 for p in phs)),
                         repeat)
    t_deck, deck = _cpu(lambda: iteration_deck(cfg, cells, x, sub, parts=parts,
                                               dynamic_rows=[i]), repeat)
    t_plain, text = _cpu(lambda: emit_deck(deck), repeat)
    parts.emitted()  # what the first block of an iteration pays (in parts_build below)

    def reuse_after_update():
        # run_iteration's order: a finished block's row re-built, then the next deck written
        parts.update(x, [i])
        return emit_deck_reusing(deck, parts.emitted())

    t_update, _ = _cpu(lambda: parts.update(x, [i]), repeat)
    t_reuse, text2 = _cpu(reuse_after_update, repeat)
    t_reuse -= t_update
    if text2 != text:
        raise AssertionError("emit_deck_reusing differs from emit_deck")
    t_emit_parts, _ = _cpu(lambda: DeckParts(cfg, cells, x).emitted(), repeat)
    reads_rows = list(range(R))
    t_rdeck, rd_text = _cpu(lambda: emit_deck(read_deck(cfg, cells, x, reads_rows)), repeat)
    t_rdeck_reuse, rd_text2 = _cpu(lambda: emit_deck_reusing(
        read_deck(cfg, cells, x, reads_rows, wiring=parts.wiring), [parts.emitted_wiring()]),
        repeat)
    if rd_text2 != rd_text:
        raise AssertionError("the read deck from the wiring's text differs from emit_deck's")
    with BatchRunner(keep=True) as keep:
        # the runner's own CPU (its children's excluded): process_time around run()
        run_py, kres = _cpu(lambda: keep.run(text, timeout_s=600), 2)
        run_py_read, kread = _cpu(lambda: keep.run(rd_text, timeout_s=600), 3)
    res, rres = kres, kread
    t_count_old, _ = _cpu(lambda: len(_OLD_ANALYSIS_LINE.findall(text)), repeat)
    t_count, _ = _cpu(lambda: _expected_plots(text), repeat)
    late_old = _late(lambda p: p.wait(timeout=600))
    late_new = _late(lambda p: _wait(p, 600))
    t_raw, _ = _cpu(lambda: parse_raw(kres.run_dir / "out.raw"), repeat)
    t_rraw, _ = _cpu(lambda: parse_raw(kread.run_dir / "out.raw"), repeat)
    t_readit, _ = _cpu(lambda: read_iteration(res, cfg, sub, shape, x_prev=x,
                                              dynamic_rows=[i]), repeat)
    t_preads, (reads, _) = _cpu(lambda: parse_reads(rres, cfg, reads_rows, shape), repeat)
    net = ArrayNetwork(cfg, shape)
    g = np.maximum(np.stack([reads[r] for r in reads_rows]), 1e-12)
    t_factor, lu = _cpu(lambda: net.factor(g), repeat)
    t_transfer, _ = _cpu(lambda: net.transfer(lu, reads_rows), repeat)
    t_correct, _ = _cpu(lambda: Verifier(cfg, np.full(shape, cfg.g_min)).correct(reads),
                        max(1, repeat // 2))
    for d in {r.run_dir for r in (kres, kread)}:
        shutil.rmtree(d.parent / d.name, ignore_errors=True)
    n = len(pulsed)
    per_deck_common = t_window + t_deck + t_update + run_py + t_readit
    run_old = t_count_old - t_count  # the old runner's extra
    rows_out = []

    def row(piece, where, plain, reusing):
        rows_out.append({"piece": piece, "per": where, "plain_cpu_s": plain,
                         "reusing_cpu_s": reusing})

    row("Iteration.window (block's plan)", "deck", t_window, t_window)
    row("iteration_deck (Deck IR)", "deck", t_deck, t_deck)
    row("emit: emit_deck / emit_deck_reusing", "deck", t_plain, t_reuse)
    row("DeckParts.update (finished block's row)", "deck", t_update, t_update)
    row("runner Python (write, spawn, log, raw parse)", "deck", run_py - t_count + t_count_old,
        run_py)
    row("  of which the analysis count (regex)", "deck", t_count_old, t_count)
    row("  of which parse_raw (transient raw)", "deck", t_raw, t_raw)
    row("read_iteration (vectors, energy)", "deck", t_readit, t_readit)
    row("= per block deck", "deck", per_deck_common + run_old + t_plain,
        per_deck_common + t_reuse)
    row("exit wait: wall after the child's exit (sleep 1)", "deck", late_old, late_new)
    row("DeckParts build (+ its text, reusing)", "iteration", t_parts, t_emit_parts)
    row("read_deck + emit (verify reads)", "iteration", t_rdeck, t_rdeck_reuse)
    row("runner Python, read deck", "iteration", run_py_read, run_py_read)
    row("  of which parse_raw (dc raw)", "iteration", t_rraw, t_rraw)
    row("parse_reads", "iteration", t_preads, t_preads)
    row("Verifier.correct (6 sweeps)", "iteration", t_correct, t_correct)
    row("  ArrayNetwork.factor (one)", "iteration", t_factor, t_factor)
    row(f"  ArrayNetwork.transfer ({R} read rows, one)", "iteration", t_transfer, t_transfer)
    it_fixed_plain = t_parts + t_rdeck + run_py_read + t_preads + t_correct
    it_fixed_reuse = t_emit_parts + t_rdeck_reuse + run_py_read + t_preads + t_correct
    row(f"= per iteration ({n} block decks + reads)", "iteration",
        n * (per_deck_common + run_old + t_plain) + it_fixed_plain,
        n * (per_deck_common + t_reuse) + it_fixed_reuse)
    for r in rows_out:
        r["array"] = f"{R}x{C}"
    return rows_out


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="65x32", help="RxC")
    ap.add_argument("--rows", type=int, default=50,
                    help="pulsed rows of the iteration (the 65x32 benchmark: 901 row slots "
                         "in 18 iterations, ~50)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--topic", default="program_python_profile")
    args = ap.parse_args(argv)
    shape = tuple(int(v) for v in args.size.split("x"))
    write_table(args.topic, profile_python(shape, args.rows, args.repeat),
                title=f"Python around the programming decks of one {args.size} iteration",
                notes="CPU seconds of this process (time.process_time, best of "
                      f"{args.repeat}), per call; plain = emit_deck of every block deck (the "
                      "code before issue 15's Python work), reusing = emit_deck_reusing with "
                      "DeckParts.emitted() (run_iteration now); runner Python = process_time "
                      "around one BatchRunner.run (ngspice's own time excluded; plain: with "
                      "the old analysis-count regex); exit wait = wall seconds a "
                      "`sleep 1` child's wait returns late (Popen.wait(timeout) vs the "
                      "runner's pidfd wait; not CPU, and not in the sums); per iteration = "
                      "rows x per block deck + the per-iteration pieces.  Command: python "
                      "benchmarks/bench_program_python.py " + " ".join(argv or sys.argv[1:]))


if __name__ == "__main__":
    main()
