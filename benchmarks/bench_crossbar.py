"""Crossbar engine vs ngspice: speed, accuracy and memory from 16x16 to 1024x1024.

    python benchmarks/bench_crossbar.py            # full table (sizes 16..1024)
    python benchmarks/bench_crossbar.py --quick    # 16..64 only

Writes benchmarks/results/crossbar.md and crossbar.json.  Circuit: N x N 1R array, cell
conductances uniform in [1, 100] uS, 1 ohm per row and column wire segment, ideal driver and
sense (the setting of ../shared/DESIGN.md section 6); inputs uniform in [0, 0.2] V.  1T1R rows:
the same array with the ACCESS_018UM transistor (V_WL 1.8 V).

Measured per size (engine in a fresh subprocess, so peak memory = that process's max RSS):
ngspice ``.op`` wall time for one vector (batch runner; stopped once a size takes more than
--ngspice-stop seconds or times out), engine setup (everything before the first vector),
per-vector time in a batch of 1000 (1T1R: batch of --nl-batch), the ideal dense MVM per vector
in the same batch, one vector including setup (``behavioral.column_currents``, method auto),
max relative column-current error vs ngspice, peak memory.  BLAS runs on one thread (see
``circuitsim.behavioral.solver.blas_limit``: the machine's 2 cores are shared).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZES = [16, 32, 64, 128, 256, 512, 1024]
QUICK = [16, 32, 64]
NL_SIZES = [16, 32, 64, 128]


def make_spec(n: int, kind: str):
    import numpy as np

    from circuitsim.cards import ACCESS_018UM
    from circuitsim.crossbar import CrossbarSpec

    rng = np.random.default_rng(n)
    G = rng.uniform(1e-6, 1e-4, (n, n))
    access = ACCESS_018UM if kind == "1t1r" else None
    return CrossbarSpec(G, r_wire_row=1.0, r_wire_col=1.0, r_source=0.0, r_sense=0.0,
                        access=access)


def make_inputs(n: int, k: int):
    import numpy as np

    # (k, n) then transposed: vector 0 is the same whatever the batch size
    return np.random.default_rng(10_000 + n).uniform(0.0, 0.2, (k, n)).T.copy()


# ----------------------------------------------------------------------- engine worker


def worker(n: int, kind: str, batch: int, map_limit: int) -> dict:
    """Run in a fresh process: time the engine on one size, report JSON on stdout."""
    import numpy as np

    from circuitsim import behavioral
    from circuitsim.behavioral.solver import blas_limit

    spec = make_spec(n, kind)
    V = make_inputs(n, batch)
    out: dict = {"n": n, "kind": kind, "batch": batch}
    with blas_limit(1):
        t0 = time.perf_counter()
        I1 = behavioral.column_currents(spec, V[:, 0])  # one vector including setup
        out["single_incl_setup_s"] = time.perf_counter() - t0
        out["I0"] = np.asarray(I1).tolist()
        G = spec.conductance
        reps = max(1, int(2e8 // (n * n * batch)))
        t0 = time.perf_counter()
        for _ in range(reps):
            G.T @ V
        out["ideal_per_vec_s"] = (time.perf_counter() - t0) / reps / batch
        if n <= map_limit:
            t0 = time.perf_counter()
            solver = behavioral.CrossbarSolver(spec)
            out["setup_s"] = time.perf_counter() - t0
            solver.column_currents(V[:, :2])  # warm-up
            reps_b = max(1, reps // 4) if kind == "1r" else 1
            t0 = time.perf_counter()
            for _ in range(reps_b):
                Ib = solver.column_currents(V)
            out["per_vec_s"] = (time.perf_counter() - t0) / reps_b / batch
            out["batch_vs_single_maxdiff"] = float(np.max(np.abs(Ib[:, 0] - I1))
                                                   / np.max(np.abs(I1)))
            if kind == "1t1r":
                out["newton_iterations"] = solver.stats.get("iterations")
    out["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return out


def run_worker(n: int, kind: str, batch: int, map_limit: int, timeout_s: float) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", str(n), "--kind", kind,
           "--batch", str(batch), "--map-limit", str(map_limit)]
    env = dict(os.environ, PYTHONPATH=str(ROOT), OPENBLAS_NUM_THREADS="1")
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, env=env,
                           cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"n": n, "kind": kind, "error": f"engine worker timed out after {timeout_s:g} s"}
    if p.returncode != 0:
        return {"n": n, "kind": kind, "error": p.stderr.strip().splitlines()[-1:]}
    return json.loads(p.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------- ngspice


def run_ngspice(n: int, kind: str, timeout_s: float) -> dict:
    from circuitsim import spice
    from circuitsim.errors import SimulationError

    spec = make_spec(n, kind)
    v = make_inputs(n, 1)[:, 0]
    t0 = time.perf_counter()
    try:
        I = spice.column_currents(spec, v, runner="batch", timeout_s=timeout_s)
    except SimulationError as exc:
        return {"error": type(exc).__name__, "time_s": time.perf_counter() - t0}
    return {"time_s": time.perf_counter() - t0, "I0": I.tolist()}


# ----------------------------------------------------------------------- table


def _fmt(x, unit="", digits=3):
    if x is None:
        return "—"
    if isinstance(x, str):
        return x
    return f"{x:.{digits}g}{unit}"


def build_rows(args) -> list[dict]:
    import numpy as np

    rows = []
    sizes = QUICK if args.quick else args.sizes
    for kind, ks in (("1r", sizes), ("1t1r", [s for s in NL_SIZES if s in sizes or
                                              (args.quick and s <= 32)])):
        ng_on, last_ng = True, None
        for n in ks:
            batch = args.batch if kind == "1r" else args.nl_batch
            print(f"[{kind} {n}x{n}] engine ...", flush=True)
            eng = run_worker(n, kind, batch, args.map_limit, args.engine_timeout)
            row = {"kind": kind, "n": n, "engine": eng}
            if ng_on and last_ng is not None and last_ng * 16 > args.ngspice_timeout:
                ng_on = False  # ngspice grew 25-40x per size doubling here: cannot finish
            ng_max = args.ngspice_max if kind == "1r" else args.nl_ngspice_max
            if ng_on and n <= ng_max:
                print(f"[{kind} {n}x{n}] ngspice ...", flush=True)
                ng = run_ngspice(n, kind, args.ngspice_timeout)
                row["ngspice"] = ng
                last_ng = ng["time_s"]
                if "error" in ng or ng["time_s"] > args.ngspice_stop:
                    ng_on = False  # the next size would take far longer: stop here
            if "ngspice" in row and "I0" in row["ngspice"] and "I0" in eng:
                ref = np.array(row["ngspice"]["I0"])
                row["max_rel_err"] = float(np.max(np.abs(np.array(eng["I0"]) - ref)
                                                  / np.abs(ref)))
            rows.append(row)
            print("   ", summarize(row), flush=True)
    return rows


def summarize(row) -> dict:
    e, ng = row["engine"], row.get("ngspice", {})
    ts = ng.get("time_s") if "I0" in ng else None
    s = {
        "array": f"{row['n']}x{row['n']} {row['kind'].upper()}",
        "ngspice_s": ts if ts is not None else (f">{ng['time_s']:.0f} ({ng['error']})"
                                                if ng else None),
        "setup_s": e.get("setup_s"),
        "per_vec_us": e["per_vec_s"] * 1e6 if "per_vec_s" in e else None,
        "ideal_us": e["ideal_per_vec_s"] * 1e6 if "ideal_per_vec_s" in e else None,
        "single_s": e.get("single_incl_setup_s"),
        "max_rel_err": row.get("max_rel_err"),
        "peak_mib": e["peak_rss_bytes"] / 2**20 if "peak_rss_bytes" in e else None,
        "error": e.get("error"),
        "map_vs_single": e.get("batch_vs_single_maxdiff"),
    }
    s["per_vec_over_ideal"] = (s["per_vec_us"] / s["ideal_us"]
                               if s["per_vec_us"] and s["ideal_us"] else None)
    s["speedup_batch"] = ts / (s["per_vec_us"] * 1e-6) if ts and s["per_vec_us"] else None
    s["speedup_single"] = ts / s["single_s"] if ts and s["single_s"] else None
    return s


def markdown(rows, meta) -> str:
    head = ("| array | ngspice .op [s] | engine setup [s] | per vector, batch [µs] | "
            "ideal MVM [µs] | per vector / ideal | ngspice / engine (batch) | "
            "one vector incl. setup [s] | ngspice / engine (one vector) | max rel. err | "
            "map vs one-vector path | peak mem [MiB] |")
    out = [f"# Crossbar engine benchmark ({meta['date']})", "",
           f"Machine: {meta['machine']}; load average at start {meta['load']}; BLAS 1 "
           f"thread.  Command: `{meta['command']}`.", "",
           "N x N array, G uniform 1–100 µS, 1 Ω per wire segment, ideal driver/sense, inputs "
           "0–0.2 V.  Batch = 1000 vectors for 1R, "
           f"{meta['nl_batch']} for 1T1R (ACCESS_018UM, V_WL 1.8 V).  Per-vector times are "
           "batch time / batch size; ideal MVM = `G.T @ V` on the same batch.  One vector "
           "incl. setup = `behavioral.column_currents(spec, v)` (method auto: block transfer "
           "map; above 300×300 cells line-preconditioned CG for 1R, sparse nodal Newton for "
           "1T1R).  'map vs one-vector path' = max relative difference between the two engine "
           "paths (an internal cross-check where ngspice cannot run).  ngspice: one `.op` per "
           f"size until a size takes over {meta['ngspice_stop']:g} s or is predicted (×16 per "
           f"doubling) to exceed the {meta['ngspice_timeout']:g} s timeout; 1T1R ngspice up to "
           "64×64.  ngspice / engine ratios use the same run's times.", "", head,
           "|" + "---|" * 12]
    for r in rows:
        s = summarize(r)
        out.append("| " + " | ".join([
            s["array"], _fmt(s["ngspice_s"]), _fmt(s["setup_s"]), _fmt(s["per_vec_us"]),
            _fmt(s["ideal_us"]), _fmt(s["per_vec_over_ideal"], "×", 2),
            _fmt(s["speedup_batch"], "×", 3), _fmt(s["single_s"]),
            _fmt(s["speedup_single"], "×", 3), _fmt(s["max_rel_err"], "", 2),
            _fmt(s["map_vs_single"], "", 2), _fmt(s["peak_mib"], "", 4)]) + " |"
            + (f" {s['error']}" if s["error"] else ""))
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="sizes 16..64 only")
    ap.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=SIZES)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--nl-batch", type=int, default=100)
    ap.add_argument("--map-limit", type=int, default=512,
                    help="largest N for which the full transfer map is built and timed")
    ap.add_argument("--ngspice-timeout", type=float, default=300.0)
    ap.add_argument("--ngspice-stop", type=float, default=60.0)
    ap.add_argument("--ngspice-max", type=int, default=1024)
    ap.add_argument("--nl-ngspice-max", type=int, default=64,
                    help="largest 1T1R size run in ngspice (128x128 1T1R takes > 10 min)")
    ap.add_argument("--engine-timeout", type=float, default=900.0)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    ap.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--kind", default="1r", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.kind, args.batch, args.map_limit)))
        return 0
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
            "load": " ".join(f"{x:.1f}" for x in os.getloadavg()),
            "command": "python benchmarks/bench_crossbar.py" + (" --quick" if args.quick
                                                                 else ""),
            "nl_batch": args.nl_batch, "ngspice_stop": args.ngspice_stop,
            "ngspice_timeout": args.ngspice_timeout}
    rows = build_rows(args)
    md = markdown(rows, meta)
    print(md)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "crossbar_quick" if args.quick else "crossbar"
    (args.out / f"{stem}.md").write_text(md)
    (args.out / f"{stem}.json").write_text(json.dumps(
        {"meta": meta, "rows": [{**r, "summary": summarize(r)} for r in rows]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
