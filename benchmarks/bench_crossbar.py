"""Crossbar engine vs KLU ngspice and the ideal MVM: new conductances every call, batches,
Monte-Carlo draws, 1T1R, gradients (issue 13's table).

    python benchmarks/bench_crossbar.py            # sizes 64..1024 (+ --big for 2048)
    python benchmarks/bench_crossbar.py --quick    # 16..64, small MC / training rows
    python benchmarks/bench_crossbar.py --sizes 512 --ngspice-max 512 --no-extra --no-1t1r
    python benchmarks/bench_crossbar.py --sweep    # .op and a 100-vector .dc sweep in ngspice
    python benchmarks/bench_crossbar.py --only-nl  # the 1T1R / sinh rows only (crossbar_nl.*)

Writes benchmarks/results/crossbar.md and crossbar.json (crossbar_quick.* with --quick,
crossbar_<sizes>.* with --no-extra / --no-1t1r).
Circuit (the issue's setting): N x N array, cell conductances uniform in [1, 100] uS, 1 ohm
per row and column wire segment, 1 ohm driver and 1 ohm sense resistance; inputs uniform in
[0, 0.2] V.  1T1R: the same array with ACCESS_018UM (level-1 NMOS, V_WL 1.8 V); sinh: the
same array with sinh memristors (``sinh_v0`` = SINH_V0 = 0.2 V), no access device.

Rows (each engine figure is the best of a few repeats on this shared machine; one-vector
timings include every setup step -- nothing is cached between calls):

* ``1R one vector``: ``behavioral.column_currents(spec, v)`` (auto = the PCG of
  ``behavioral.pcg``) vs the block transfer map (``method="map"``, the previous default), the
  ideal MVM ``G.T @ v`` for one vector, and KLU ngspice 46 (``.options klu``, one ``.op``);
  errors vs ngspice, KCL report, peak memory (engine in a fresh subprocess: max RSS).
* ``1R batch``: fixed conductances, per-vector time in a batch of 1000 on the transfer map vs
  the ideal MVM on the same batch.
* ``MC``: K conductance draws x B vectors (``behavioral.column_currents_draws``, auto = a
  transfer map per draw for many vectors; and ``method="pcg"``, every draw and vector by the
  compiled per-vector PCG, on a tenth of the draws).
* ``1T1R`` / ``sinh``: one vector incl. setup and per vector in a batch of 100 (auto: the
  compiled Newton of ``behavioral.cellkernels``, every vector its own grid), vs ngspice KLU,
  the block map and the ideal MVM; ``floor``: one compiled cell-law evaluation of every cell
  plus the KCL residual per vector (``cellkernels.newton_pairs`` with no Newton step), the
  least any exact solve that evaluates the cell law must spend.
* ``train``: one epoch of a differential single-layer (G+ / G- arrays) classifier with the exact
  IR-drop solve and its adjoint gradient in the loop (``behavioral.crossbar_currents``).
BLAS and torch run on one thread.
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
SIZES = [64, 128, 256, 512, 1024]
QUICK = [16, 32, 64]
SINH_V0 = 0.2
"""sinh rows: memristor current G v0 sinh(v / v0) with v0 = 0.2 V (inputs 0-0.2 V)."""


def make_spec(n: int, kind: str = "1r", seed: int | None = None):
    import numpy as np

    from circuitsim.cards import ACCESS_018UM
    from circuitsim.crossbar import CrossbarSpec

    rng = np.random.default_rng(n if seed is None else seed)
    G = rng.uniform(1e-6, 1e-4, (n, n))
    access = ACCESS_018UM if kind == "1t1r" else None
    return CrossbarSpec(G, r_wire_row=1.0, r_wire_col=1.0, r_source=1.0, r_sense=1.0,
                        access=access, sinh_v0=SINH_V0 if kind == "sinh" else None)


def make_inputs(n: int, k: int):
    import numpy as np

    # (k, n) then transposed: vector 0 is the same whatever the batch size
    return np.random.default_rng(10_000 + n).uniform(0.0, 0.2, (k, n)).T.copy()


def best_of(f, reps: int):
    best, out = float("inf"), None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t0)
    return best, out


# ----------------------------------------------------------------------- engine worker


def worker(n: int, kind: str, map_limit: int) -> dict:
    """Fresh process: one vector with new conductances (setup included); JSON on stdout."""
    import numpy as np

    from circuitsim import behavioral
    from circuitsim.behavioral import newton, pcg
    from circuitsim.behavioral.solver import blas_limit

    spec = make_spec(n, kind)
    v = make_inputs(n, 1)[:, 0]
    reps = 5 if n <= 256 else 3 if n <= 1024 else 2
    if kind == "1r" and n <= 128:
        reps = 50  # sub-ms to ms calls: a few repeats rarely catch a quiet moment here
    out: dict = {"n": n, "kind": kind, "load": os.getloadavg()[0]}
    with blas_limit(1):
        solve = pcg.solve if kind == "1r" else newton.solve
        if kind == "1r" and n >= 256:  # the default (one thread) and numba's threads, in turn
            from circuitsim.behavioral import linekernels

            t, tp = float("inf"), float("inf")
            for _ in range(reps):
                dt, res = best_of(lambda: solve(spec, v), 1)
                pcg.PAR_MIN_NODES = 0
                dtp, _ = best_of(lambda: solve(spec, v), 1)
                pcg.PAR_MIN_NODES = None
                t, tp = min(t, dt), min(tp, dtp)
            out.update(threads_s=tp, threads=linekernels.threads())
        else:
            t, res = best_of(lambda: solve(spec, v), reps)
        out.update(single_s=t, I0=np.asarray(res.currents).tolist(), kcl_rel=res.kcl_rel,
                   kcl_sum_rel=res.kcl_sum / float(np.abs(res.currents).max()),
                   iterations=res.iterations)
        G = spec.conductance
        out["ideal_one_s"], _ = best_of(lambda: G.T @ v, 200)
        if n <= map_limit:
            t, I = best_of(lambda: behavioral.column_currents(spec, v, method="map"),
                           min(reps, 3))
            out["map_single_s"] = t
            out["pcg_vs_map"] = float(np.abs(np.asarray(res.currents) - I).max()
                                      / np.abs(I).max())
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def run_worker(n: int, kind: str, map_limit: int, timeout_s: float) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", str(n), "--kind", kind,
           "--map-limit", str(map_limit)]
    env = dict(os.environ, PYTHONPATH=str(ROOT), OPENBLAS_NUM_THREADS="1")
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, env=env,
                           cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"n": n, "kind": kind, "error": f"timed out after {timeout_s:g} s"}
    if p.returncode != 0:
        return {"n": n, "kind": kind, "error": " ".join(p.stderr.strip().splitlines()[-1:])}
    return json.loads(p.stdout.strip().splitlines()[-1])


def run_ngspice(n: int, kind: str, timeout_s: float) -> dict:
    """One ``.op`` with KLU (``.options klu``; a no-op addition once the emitter writes it)."""
    from circuitsim import spice
    from circuitsim.errors import SimulationError

    spec = make_spec(n, kind)
    v = make_inputs(n, 1)[:, 0]
    t0 = time.perf_counter()
    try:
        I = spice.column_currents(spec, v, runner="batch", timeout_s=timeout_s,
                                  options={"klu": True})
    except SimulationError as exc:
        return {"error": type(exc).__name__, "time_s": time.perf_counter() - t0}
    return {"time_s": time.perf_counter() - t0, "I0": I.tolist()}


# ----------------------------------------------------------------------- in-process rows


def batch_row(n: int, batch: int) -> dict:
    """Fixed conductances: per-vector cost on the transfer map vs the ideal MVM."""
    from circuitsim import behavioral
    from circuitsim.behavioral.solver import blas_limit

    spec = make_spec(n)
    V = make_inputs(n, batch)
    with blas_limit(1):
        t0 = time.perf_counter()
        sol = behavioral.CrossbarSolver(spec)
        setup = time.perf_counter() - t0
        t, _ = best_of(lambda: sol.column_currents(V), 3)
        ti, _ = best_of(lambda: spec.conductance.T @ V, 5)
    return {"what": f"1R batch {n}x{n}", "setup_s": setup, "per_vec_us": t / batch * 1e6,
            "ideal_us": ti / batch * 1e6, "ratio": t / ti}


def nl_batch_row(n: int, batch: int, kind: str = "1t1r") -> list[dict]:
    """Nonlinear cells, new operating point per vector: the whole batch incl. setup by
    ``column_currents`` (auto), per vector vs the ideal MVM; the same batch by the block map
    (``method="map"``, setup included) in a second row; check = max relative difference
    between the two."""
    import numpy as np

    from circuitsim import behavioral
    from circuitsim.behavioral.solver import blas_limit

    spec = make_spec(n, kind)
    V = make_inputs(n, batch)
    with blas_limit(1):
        behavioral.column_currents(spec, V[:, :2])  # numba cache load, outside the timing
        t, I = best_of(lambda: behavioral.column_currents(spec, V), 2)
        ti, _ = best_of(lambda: spec.conductance.T @ V, 5)
        tm, ref = best_of(lambda: behavioral.column_currents(spec, V, method="map"), 1)
    name = f"{'1T1R' if kind == '1t1r' else kind} batch {n}x{n}"
    return [{"what": f"{name} (incl. setup)", "time_s": t, "per_vec_us": t / batch * 1e6,
             "ideal_us": ti / batch * 1e6, "ratio": t / ti,
             "pcg_vs_auto": float(np.abs(I - ref).max() / np.abs(ref).max())},
            {"what": f"{name} by the block map (method=\"map\", incl. setup)", "time_s": tm,
             "per_vec_us": tm / batch * 1e6, "ideal_us": ti / batch * 1e6, "ratio": tm / ti}]


def nl_floor_row(n: int, batch: int, kind: str = "1t1r") -> list[dict]:
    """One compiled evaluation of every cell's law and the KCL residual per vector (the
    kernel of the compiled Newton stopped before its first step), per vector vs the ideal
    MVM: the floor of any exact method that evaluates the cell law."""
    import numpy as np

    from circuitsim.behavioral import cellkernels

    spec = make_spec(n, kind)
    V = np.ascontiguousarray(make_inputs(n, batch).T)
    G = np.array(spec.conductance[None])
    acc = spec.access

    def run():
        stats = np.empty((batch, 7))
        cellkernels.newton_pairs(G, V, np.zeros((batch, n, n)), np.zeros((batch, n, n)),
                                 acc is not None, acc.nmos.vto if acc else 0.0,
                                 acc.nmos.beta if acc else 0.0, acc.nmos.lambda_ if acc else 0.0,
                                 acc.v_wordline if acc else 0.0,
                                 SINH_V0 if kind == "sinh" else 0.0, 1.0, 1.0, 1.0, 1.0,
                                 float(V.max()), 1e-12, 1e-4, 0, np.empty((batch, n)), stats)

    run()
    t, _ = best_of(run, 3)
    ti, _ = best_of(lambda: spec.conductance.T @ V.T, 5)
    return [{"what": f"floor: one {'1T1R' if kind == '1t1r' else kind} cell-law evaluation "
             f"+ KCL residual, {n}x{n}", "per_vec_us": t / batch * 1e6,
             "ideal_us": ti / batch * 1e6, "ratio": t / ti}]


def mc_row(n: int, draws: int, vectors: int, method: str = "auto") -> dict:
    import numpy as np

    from circuitsim import behavioral
    from circuitsim.behavioral import pcg
    from circuitsim.behavioral.solver import blas_limit

    spec = make_spec(n)
    rng = np.random.default_rng(99)
    G = rng.uniform(1e-6, 1e-4, (draws, n, n))
    V = make_inputs(n, vectors)
    with blas_limit(1):
        t0 = time.perf_counter()
        I = behavioral.column_currents_draws(spec, G, V, method=method)
        t = time.perf_counter() - t0
        chk = pcg.solve(spec, V[:, :2], G[:2]).currents
    err = float(np.abs(I[:2, :, :2] - chk).max() / np.abs(chk).max())
    return {"what": f"MC {draws} draws x {vectors} vectors, {n}x{n} ({method})", "time_s": t,
            "per_draw_s": t / draws, "pcg_vs_auto": err}


def train_row(n: int, samples: int, batch: int) -> dict:
    """One epoch: differential single layer (n inputs -> n/2 signed outputs, G+ and G-
    arrays of n x n/2 each... here n x n for both), softmax cross-entropy on random labels,
    exact IR-drop forward + adjoint backward, SGD on the conductances."""
    import numpy as np
    import torch

    from circuitsim import behavioral

    torch.set_num_threads(1)
    spec = make_spec(n)
    rng = np.random.default_rng(5)
    X = torch.tensor(rng.uniform(0, 0.2, (samples, n)))
    y = torch.tensor(rng.integers(0, n, samples))
    gp = torch.tensor(rng.uniform(0.01, 1.0, (n, n)), requires_grad=True)  # [100 uS]
    gn = torch.tensor(rng.uniform(0.01, 1.0, (n, n)), requires_grad=True)
    opt = torch.optim.SGD([gp, gn], lr=0.05)
    t0 = time.perf_counter()
    steps = 0
    for s0 in range(0, samples, batch):
        v = X[s0:s0 + batch].T
        i_p = behavioral.crossbar_currents(spec, v, gp * 1e-4)
        i_n = behavioral.crossbar_currents(spec, v, gn * 1e-4)
        logits = ((i_p - i_n) * 1e4).T
        loss = torch.nn.functional.cross_entropy(logits, y[s0:s0 + batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            gp.clamp_(0.01, 1.0)
            gn.clamp_(0.01, 1.0)
        steps += 1
    t = time.perf_counter() - t0
    return {"what": f"train epoch {n}x{n} G+/G-, {samples} samples, batch {batch}",
            "time_s": t, "per_step_s": t / steps}


# ----------------------------------------------------------------------- table


def _f(x, unit="", digits=3):
    if x is None:
        return "—"
    if isinstance(x, str):
        return x
    return f"{x:.{digits}g}{unit}"


def single_rows(args) -> list[dict]:
    import numpy as np

    rows = []
    sizes = QUICK if args.quick else args.sizes + ([2048] if args.big else [])
    nl_sizes = [] if args.no_1t1r else [s for s in sizes if s <= 128]
    kinds = () if args.only_nl else (("1r", sizes),)
    for kind, ks in kinds + (("1t1r", nl_sizes), ("sinh", nl_sizes)):
        for n in ks:
            print(f"[{kind} {n}x{n}] engine ...", flush=True)
            e = run_worker(n, kind, args.map_limit, args.engine_timeout)
            row = {"kind": kind, "n": n, "engine": e}
            ng_max = args.ngspice_max if kind == "1r" else args.nl_ngspice_max
            if n <= ng_max:
                print(f"[{kind} {n}x{n}] ngspice KLU ...", flush=True)
                row["ngspice"] = run_ngspice(n, kind, args.ngspice_timeout)
                if "I0" in row["ngspice"] and "I0" in e:
                    ref = np.array(row["ngspice"]["I0"])
                    row["max_rel_err"] = float(np.max(np.abs(np.array(e["I0"]) - ref)
                                                      / np.abs(ref)))
            rows.append(row)
            print("   ", {k: v for k, v in e.items() if k != "I0"}, flush=True)
    return rows


def markdown(single, extra, meta) -> str:
    out = [f"# Crossbar engine benchmark ({meta['date']})", "",
           f"Machine: {meta['machine']}; load average at start {meta['load']} (shared with "
           f"other jobs: timings are the best of a few repeats); BLAS / torch 1 thread.  "
           f"Command: `{meta['command']}`.", "",
           "N x N array, G uniform 1–100 µS, 1 Ω per wire segment, 1 Ω driver, 1 Ω sense, "
           "inputs 0–0.2 V.  **New conductances, one vector, setup included**: engine = "
           "`behavioral.column_currents(spec, v)` (auto: PCG for 1R, Newton + PCG for "
           "1T1R); map = the block transfer map (`method=\"map\"`, the previous default); "
           "ideal = `G.T @ v`; ngspice = KLU ngspice 46, one `.op` (`.options klu`).  Error = "
           "max relative column-current difference to ngspice; KCL = largest node imbalance "
           "/ largest ideal column current, and sum of |imbalance| / largest current (a bound "
           "on every column's relative error).", "",
           "1R engine: one vector in one compiled call (`linekernels.solve_one`), CG on "
           "one thread (the default); `threads` = the same solve with its CG on numba's "
           "threads (`pcg.PAR_MIN_NODES = 0`), alternating with the first, best of each; "
           "load = the 1-minute load average when the row started (2 cores: above 2 the "
           "threads wait for each other at every pass).", "",
           "| array | engine [s] | CG / Newton it. | map [s] | ideal MVM [s] | engine / ideal "
           "| ngspice KLU [s] | ngspice / engine | error vs ngspice | PCG vs map | KCL max | "
           "KCL sum | peak mem [MiB] | threads [s] | load |",
           "|" + "---|" * 15]
    for r in single:
        e, ng = r["engine"], r.get("ngspice", {})
        tng = ng.get("time_s") if "I0" in ng else None
        out.append("| " + " | ".join([
            f"{r['n']}x{r['n']} {r['kind'].upper()}", _f(e.get("single_s")),
            _f(e.get("iterations")), _f(e.get("map_single_s")), _f(e.get("ideal_one_s")),
            _f(e["single_s"] / e["ideal_one_s"] if "single_s" in e else None, "×"),
            _f(tng) if tng else (_f(ng.get("error")) if ng else "—"),
            _f(tng / e["single_s"] if tng and "single_s" in e else None, "×"),
            _f(r.get("max_rel_err"), "", 2), _f(e.get("pcg_vs_map"), "", 2),
            _f(e.get("kcl_rel"), "", 2), _f(e.get("kcl_sum_rel"), "", 2),
            _f(e.get("peak_rss_mib"), "", 4), _f(e.get("threads_s")),
            _f(e.get("load"), "", 2)]) + " |" + (f" {e['error']}" if "error" in e else ""))
    out += ["", "**Batches, Monte-Carlo draws, training** (same array settings):", "",
            "| what | time [s] | per step / draw [s] | setup [s] | per vector [µs] | ideal MVM "
            "per vector [µs] | ratio to ideal | check |", "|" + "---|" * 8]
    for r in extra:
        out.append("| " + " | ".join([
            r["what"], _f(r.get("time_s")), _f(r.get("per_step_s", r.get("per_draw_s"))),
            _f(r.get("setup_s")), _f(r.get("per_vec_us")), _f(r.get("ideal_us")),
            _f(r.get("ratio"), "×"), _f(r.get("pcg_vs_auto"), "", 2)]) + " |")
    return "\n".join(out) + "\n"


SPARSE_39 = {64: "1.2 s", 128: "71–180 s", 256: "> 9 min"}
"""ngspice 39.3 (Debian 12 main, Sparse 1.3 only), one ``.op`` of the same 1R circuit, measured
before on this machine with an independent deck (issue 14's text); not re-measured: 39.3 is no
longer installed."""


def sweep_row(n: int, kind: str, vectors: int, timeout_s: float) -> dict:
    """KLU ngspice, ``vectors`` inputs in one ``.dc`` sweep (``column_currents(sweep=True)``)
    and one ``.op`` of the first, vs the engine on the same vectors with new conductances
    (setup included).  Errors: max |ΔI| / max |I| against the sweep."""
    import numpy as np

    from circuitsim import behavioral, spice
    from circuitsim.behavioral.solver import blas_limit
    from circuitsim.errors import SimulationError

    spec = make_spec(n, kind)
    V = make_inputs(n, vectors)
    row: dict = {"array": f"{n}x{n} {kind.upper()}", "vectors": vectors}
    t0 = time.perf_counter()
    try:
        op = spice.column_currents(spec, V[:, 0], runner="batch", timeout_s=timeout_s)
        row["ngspice .op, 1 vector [s]"] = time.perf_counter() - t0
    except SimulationError as exc:
        op = None
        row["ngspice .op, 1 vector [s]"] = (f"{type(exc).__name__} after "
                                            f"{time.perf_counter() - t0:.0f} s")
    t0 = time.perf_counter()
    try:
        sw = spice.column_currents(spec, V, runner="batch", timeout_s=timeout_s, sweep=True)
        t_sw = time.perf_counter() - t0
        row["ngspice .dc sweep [s]"] = t_sw
        row["ngspice per vector [s]"] = t_sw / vectors
    except SimulationError as exc:
        sw, t_sw = None, None
        row["ngspice .dc sweep [s]"] = (f"{type(exc).__name__} after "
                                        f"{time.perf_counter() - t0:.0f} s")
        row["ngspice per vector [s]"] = "—"
    with blas_limit(1):
        t_e, I = best_of(lambda: behavioral.column_currents(spec, V), 3 if n <= 128 else 1)
    row["engine, all vectors [s]"] = t_e
    row["sweep / engine"] = f"{t_sw / t_e:.0f}×" if t_sw else "—"
    scale = float(np.abs(I).max())
    row["engine vs sweep"] = (float(np.abs(I - sw).max()) / scale) if sw is not None else "—"
    row["sweep vs .op (vector 0)"] = (float(np.abs(sw[:, 0] - op).max()) / scale
                                      if sw is not None and op is not None else "—")
    row["bound"] = "1e-9" if kind == "1r" else "1e-6"
    row["ngspice 39.3 Sparse .op (earlier)"] = SPARSE_39.get(n, "—") if kind == "1r" else "—"
    return row


def sweep_main(args) -> int:
    rows = []
    for kind, sizes in (("1r", args.sweep_1r), ("1t1r", args.sweep_1t1r)):
        for n in sizes:
            print(f"[sweep] {kind} {n}x{n}, {args.vectors} vectors ...", flush=True)
            rows.append(sweep_row(n, kind, args.vectors, args.ngspice_timeout))
            write_sweep(rows, args.vectors, args.sweep_topic)  # a killed run keeps its rows
    return 0


def write_sweep(rows, vectors: int, topic: str = "crossbar_sweep") -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from _table import write_table

    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    write_table(topic, rows, title="Crossbar: KLU ngspice .op and a "
                f"{vectors}-vector .dc sweep vs the engine (issue 14's table)", notes=(
                    "Command: `python benchmarks/bench_crossbar.py --sweep`.  The array of "
                    "`make_spec` (G 1–100 µS, 1 Ω wires, 1 Ω driver and sense; 1T1R: "
                    "ACCESS_018UM), inputs 0–0.2 V.  ngspice 46, `.options klu`, batch runner "
                    "(times include writing the deck and reading the raw file).  Engine: "
                    "`behavioral.column_currents(spec, V)` on all vectors, new conductances, "
                    "setup included, one BLAS thread.  Errors: max |ΔI| / max |I|.  The 39.3 "
                    "column is the issue's earlier measurement (1R `.op`, Sparse), not "
                    f"re-measured.  Load average after the last row: {load}."))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="sizes 16..64, small extra rows")
    ap.add_argument("--big", action="store_true", help="also 2048x2048 (1R, one vector)")
    ap.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=SIZES)
    ap.add_argument("--map-limit", type=int, default=256,
                    help="largest N for which the one-vector transfer map is timed")
    ap.add_argument("--ngspice-timeout", type=float, default=300.0)
    ap.add_argument("--ngspice-max", type=int, default=256)
    ap.add_argument("--nl-ngspice-max", type=int, default=64)
    ap.add_argument("--engine-timeout", type=float, default=900.0)
    ap.add_argument("--mc-draws", type=int, default=100)
    ap.add_argument("--no-extra", action="store_true",
                    help="only the one-vector rows (no batch / MC / training rows)")
    ap.add_argument("--no-1t1r", action="store_true", help="skip the 1T1R one-vector rows")
    ap.add_argument("--only-nl", action="store_true",
                    help="only the 1T1R / sinh rows (one vector, batch, floor; crossbar_nl.*)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    ap.add_argument("--sweep", action="store_true",
                    help="only the .op / .dc-sweep table vs KLU ngspice (crossbar_sweep.*)")
    ap.add_argument("--sweep-1r", type=lambda s: [int(x) for x in s.split(",") if x],
                    default=[64, 128, 256, 512])
    ap.add_argument("--sweep-1t1r", type=lambda s: [int(x) for x in s.split(",") if x],
                    default=[64, 128, 256])
    ap.add_argument("--vectors", type=int, default=100, help="vectors per .dc sweep")
    ap.add_argument("--sweep-topic", default="crossbar_sweep",
                    help="results file stem of the --sweep table")
    ap.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--kind", default="1r", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.kind, args.map_limit)))
        return 0
    if args.sweep:
        return sweep_main(args)
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
            "load": " ".join(f"{x:.1f}" for x in os.getloadavg()),
            "command": "python benchmarks/bench_crossbar.py" + (
                " --quick" if args.quick else " --only-nl" if args.only_nl else "")}
    single = single_rows(args)
    print("[batches, MC, training] ...", flush=True)
    if args.no_extra:
        extra = []
    elif args.only_nl:
        extra = [r for kind in ("1t1r", "sinh") for n in (64, 128)
                 for f in (nl_batch_row, nl_floor_row) for r in f(n, 100, kind)]
    elif args.quick:
        extra = [batch_row(64, 1000), *nl_batch_row(32, 20), mc_row(64, 5, 20),
                 mc_row(64, 5, 20, "pcg"),
                 train_row(32, 256, 64)]
    else:
        extra = [batch_row(n, 1000) for n in (64, 128, 256)]
        extra += [r for kind in ("1t1r", "sinh") for n in (64, 128)
                  for f in (nl_batch_row, nl_floor_row) for r in f(n, 100, kind)]
        extra.append(mc_row(128, args.mc_draws, 100))
        extra.append(mc_row(128, max(args.mc_draws // 10, 2), 100, "pcg"))
        extra += [train_row(64, 1024, 64), train_row(128, 1024, 64)]
    md = markdown(single, extra, meta)
    print(md)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "crossbar_quick" if args.quick else "crossbar_nl" if args.only_nl else "crossbar" \
        if not (args.no_extra or args.no_1t1r) else "crossbar_" + "_".join(str(n) for n in
                                                                            args.sizes)
    (args.out / f"{stem}.md").write_text(md)
    (args.out / f"{stem}.json").write_text(json.dumps(
        {"meta": meta, "single": single, "extra": extra}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
