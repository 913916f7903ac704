"""In-situ BP training: seconds per training iteration (one sample, four phases) in transient
ngspice vs the behavioral twin, and the SPICE-vs-twin state-change deviation, for a few
network sizes, with the default digital-PWM pulse width (tmax = 2·t_edge) and, for the small
networks, the analog-width variant (tmax = t_edge/4).

    python benchmarks/bench_bptrain.py [--quick] [--samples 2]

Writes benchmarks/results/bptrain.md and .json.  "Iterations in 10 min" is 600 s divided by
the measured wall time per iteration (an extrapolation, labelled as such); full training runs
are measured by ``circuitsim train-circuit`` (see the table's notes).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _table import write_table  # noqa: E402

from circuitsim.bptrain import CircuitParams, NetworkShape, TrainingCircuit, TrainingTwin
from circuitsim.bptrain.report import initial_states
from circuitsim.bptrain.train import spice_step
from circuitsim.spice import BatchRunner
from circuitsim.spice.runner import ngspice_version  # noqa: E402


def measure(shape: NetworkShape, levels: int, tmax_per_edge: float, samples: int,
            seed: int = 0) -> dict:
    circ = TrainingCircuit(shape, params=CircuitParams(width_levels=levels,
                                                       tmax_per_edge=tmax_per_edge))
    twin = TrainingTwin(circ)
    runner = BatchRunner()
    rng = np.random.default_rng(seed)
    x1, x2 = initial_states(circ, 1.5, seed)
    wall_s, wall_t, rel, absx = [], [], [], []
    for _ in range(samples):
        u = rng.uniform(0, 1, shape.n_in).round(2)
        t = (rng.uniform(0, 1, shape.n_out) > 0.5).astype(float)
        t0 = time.perf_counter()
        rec_s, _ = spice_step(circ, u, t, x1, x2, runner=runner, timeout_s=600)
        wall_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        rec_t = twin.step(u, t, x1, x2)
        wall_t.append(time.perf_counter() - t0)
        for a, s, w in ((x1, rec_s.x1, rec_t.x1), (x2, rec_s.x2, rec_t.x2)):
            m = w != a
            rel.extend((np.abs(s - w)[m] / np.abs(w - a)[m]).tolist())
            absx.extend(np.abs(s - w).ravel().tolist())
        x1, x2 = np.clip(rec_s.x1, 0, 1), np.clip(rec_s.x2, 0, 1)
    rel = np.array(rel)
    ws, wt = float(np.mean(wall_s)), float(np.mean(wall_t))
    return {"network": f"{shape.n_in}-{shape.n_hidden}-{shape.n_out}",
            "cells": shape.n_cells, "width": f"PWM {levels}" if levels else "analog",
            "tmax_s": circ.tmax,
            "sim_s_per_iter": circ.schedule.length, "wall_s_spice": ws, "wall_s_twin": wt,
            "speedup": ws / wt, "iters_in_600s_spice": int(600 // ws),
            "dx_rel_median": float(np.median(rel)), "dx_rel_max": float(rel.max()),
            "dx_within_2pct": float(np.mean(rel <= 0.02)),
            "dx_abs_max": float(max(absx)),
            "one_step_bound": circ.rate_max * circ.tmax}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="two small networks only")
    ap.add_argument("--samples", type=int, default=2, help="iterations per configuration")
    ap.add_argument("--xor-epochs", type=int, default=14,
                    help="also time a full XOR training run of this many epochs (0 = skip)")
    args = ap.parse_args()
    shapes = [NetworkShape(2, 3, 1), NetworkShape(4, 4, 2)]
    if args.quick:
        args.xor_epochs = 0
    else:
        shapes += [NetworkShape(8, 6, 3), NetworkShape(16, 4, 3)]
    rows = []
    for shape in shapes:
        configs = [(16, 2.0)]
        if shape.n_cells <= 30:
            configs.append((0, 0.25))  # the analog-width variant, for comparison
        for levels, tmf in configs:
            r = measure(shape, levels, tmf, args.samples)
            rows.append(r)
            print(f"{r['network']:>8} {r['width']:>8}: SPICE {r['wall_s_spice']:7.2f} s/iter, "
                  f"twin {r['wall_s_twin']:.3f} s/iter, sim {r['sim_s_per_iter'] * 1e6:.1f} "
                  f"µs/iter, Δx dev median {r['dx_rel_median']:.1e} max "
                  f"{r['dx_rel_max']:.1e}", flush=True)
    table = []
    for r in rows:
        table.append({
            "network": r["network"], "cells": r["cells"], "pulse width": r["width"],
            "tmax [ns]": r["tmax_s"] * 1e9,
            "simulated µs/iter": r["sim_s_per_iter"] * 1e6,
            "SPICE wall s/iter": r["wall_s_spice"], "twin wall s/iter": r["wall_s_twin"],
            "speed-up": r["speedup"], "SPICE iters in 10 min (extrap.)":
                r["iters_in_600s_spice"],
            "Δx dev median": r["dx_rel_median"], "Δx dev max": r["dx_rel_max"],
            "within 2%": r["dx_within_2pct"], "max abs Δx dev": r["dx_abs_max"],
            "one-step bound": r["one_step_bound"]})
    notes = [
        f"{os.cpu_count()} cores shared with other jobs: wall times vary by ±50% with load. "
        f"ngspice {ngspice_version()} batch runner, one deck per iteration (four phases); "
        f"{args.samples} iterations per row, random inputs/targets, start weights U(±1.5).",
        "Δx dev = |Δx_SPICE − Δx_twin| / |Δx_twin| over every cell that moved.  The large "
        "relative values of the analog-width variant come from pulses only a few ngspice steps "
        "long (small activations): its pulse end is a comparator on `time`, so ngspice has no "
        "breakpoint there and errs by up to one step of the rate (one-step bound = "
        "rate_max·tmax, in x units).  The default digital PWM width (16 levels) puts every "
        "edge on a PWL breakpoint, so ngspice may step 2·t_edge on the plateaus."]
    if args.xor_epochs:
        import tempfile

        from circuitsim.bptrain.report import run_training

        with tempfile.TemporaryDirectory() as d:
            res = run_training("xor", epochs=args.xor_epochs, out=d)
        notes.append(
            f"Full XOR run measured here (2-3-1, {args.xor_epochs} epochs = {res['iterations']} "
            f"iterations, seed 0): SPICE {res['wall_s_spice']:.1f} s "
            f"({res['wall_s_per_iteration_spice']:.2f} s/iter), twin "
            f"{res['wall_s_behavioral']:.2f} s; accuracy SPICE {res['accuracy_spice']:.2f}, "
            f"twin {res['accuracy_behavioral']:.2f}; max conductance deviation "
            f"{res['max_conductance_deviation_rel']:.1e} of the G range.")
    write_table("bptrain", table, title="In-situ BP training: SPICE vs twin per iteration",
                notes="\n\n".join(notes))


if __name__ == "__main__":
    main()
