"""One training run, SPICE and twin side by side: result.json and plots (used by
``circuitsim train-circuit``)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..spice import BatchRunner
from ..units import require_positive
from .circuit import TrainingCircuit
from .config import CircuitParams, NetworkShape
from .tasks import get_task
from .train import evaluate, sample_order, spice_step, train
from .twin import TrainingTwin


def initial_states(circuit: TrainingCircuit, scale: float, seed: int):
    """States of weights uniform in ±scale (clipped to 90% of the reachable range)."""
    if not scale > 0:
        raise ConfigError(f"init scale must be > 0, got {scale!r}")
    rng = np.random.default_rng(seed)
    lo, hi = circuit.weight_range()
    (r1, c1), (r2, c2) = circuit.shape.layer_shapes
    w1 = np.clip(rng.uniform(-scale, scale, (r1, c1)), 0.9 * lo, 0.9 * hi)
    w2 = np.clip(rng.uniform(-scale, scale, (r2, c2)), 0.9 * lo, 0.9 * hi)
    return circuit.states_for_weights(w1), circuit.states_for_weights(w2)


def _g_span(circuit) -> float:
    """The device's conductance range 1/R_on − 1/R_off [S]."""
    return 1 / circuit.card.r_on - 1 / circuit.card.r_off


def conductance_deviation(circuit, a1, a2, b1, b2) -> float:
    """max |G_a − G_b| over cells and samples, relative to the device's G range."""
    span = _g_span(circuit)
    g = circuit.conductance
    return float(max(np.max(np.abs(g(np.asarray(a1)) - g(np.asarray(b1)))),
                     np.max(np.abs(g(np.asarray(a2)) - g(np.asarray(b2))))) / span)


ONE_STEP_FLOOR_REL = 1e-6
"""Absolute floor of the one-step comparison, as a fraction of the G range: how far SPICE's
own ΔG of a tiny update moves with its time step.  Measured on ngspice 46 (XOR 2-3-1, seed 0,
first sample, layer-2 cell (2, 0), ΔG ≈ 7.7e-10 S ≈ 9e-6 of the range): ΔG is 7.88e-10 S at
tmax 40 ns and 7.47e-10 S at tmax 10 ns (4.1e-11 S ≈ 4.6e-7 of the range), so a 2 % relative
bound on that change is below SPICE's resolution."""


def one_step_deviation(circuit, hist, X, Y, order) -> dict:
    """The twin stepped from SPICE's states before each sample, vs SPICE's states after it:
    deviation of every conductance change, relative to that change.  ``fraction_within_2pct``
    is the plain relative criterion; ``fraction_within_2pct_or_floor`` also accepts a
    difference below :data:`ONE_STEP_FLOOR_REL` of the G range (SPICE's time-step resolution
    of a tiny update)."""
    twin = TrainingTwin(circuit)
    idx = np.concatenate(order)[:len(hist.records)]
    rel, absd, floor_ok = [], [], []
    g = circuit.conductance
    span = _g_span(circuit)
    for k, i in enumerate(idx):
        rec = twin.step(X[i], Y[i], hist.x1[k], hist.x2[k])
        for xa, xs, xt in ((hist.x1[k], hist.x1[k + 1], rec.x1),
                           (hist.x2[k], hist.x2[k + 1], rec.x2)):
            dg_s = g(xs) - g(xa)
            dg_t = g(xt) - g(xa)
            m = np.abs(dg_t) > 0
            rel.extend((np.abs(dg_s - dg_t)[m] / np.abs(dg_t[m])).tolist())
            absd.extend(np.abs(dg_s - dg_t).ravel().tolist())
            floor_ok.extend((np.abs(dg_s - dg_t)[m] <= 0.02 * np.abs(dg_t[m])
                             + ONE_STEP_FLOOR_REL * span).tolist())
    rel = np.array(rel)
    return {"cell_updates": int(rel.size),
            "median_rel_of_change": float(np.median(rel)) if rel.size else 0.0,
            "p99_rel_of_change": float(np.percentile(rel, 99)) if rel.size else 0.0,
            "max_rel_of_change": float(rel.max()) if rel.size else 0.0,
            "fraction_within_2pct": float(np.mean(rel <= 0.02)) if rel.size else 1.0,
            "fraction_within_2pct_or_floor": float(np.mean(floor_ok)) if rel.size else 1.0,
            "max_abs_S": float(max(absd)) if absd else 0.0}


def run_training(task="xor", epochs=14, out="out", hidden=None, seed=0, init_scale=None,
                 dx_max=0.03, train_per_class=5, test_per_class=10, timeout_s=600.0,
                 runner=None, t_edge=20e-9) -> dict:
    require_positive("timeout_s (--timeout)", timeout_s, "[s]")  # before any ngspice run
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    kw = {}
    if task == "digits3":
        kw = {"n_train_per_class": train_per_class, "n_test_per_class": test_per_class,
              "seed": seed}
    tk = get_task(task, **kw)
    hidden = hidden if hidden is not None else (3 if task == "xor" else 4)
    init_scale = init_scale if init_scale is not None else (3.0 if task == "xor" else 1.0)
    circ = TrainingCircuit(NetworkShape(tk.n_in, hidden, tk.n_out),
                           params=CircuitParams(dx_max=dx_max, t_edge=t_edge))
    x1, x2 = initial_states(circ, init_scale, seed)
    order = sample_order(len(tk.x_train), epochs, seed)

    runner = runner or BatchRunner()
    hs = train(circ, tk.x_train, tk.y_train, x1, x2, epochs=epochs, order=order,
               backend="spice", runner=runner, timeout_s=timeout_s)
    ht = train(circ, tk.x_train, tk.y_train, x1, x2, epochs=epochs, order=order,
               backend="twin")
    t0 = time.perf_counter()
    acc_s, out_s = evaluate(circ, tk.x_test, tk.y_test, hs.x1[-1], hs.x2[-1],
                            backend="spice", runner=runner, timeout_s=timeout_s)
    wall_eval_s = time.perf_counter() - t0
    acc_t, out_t = evaluate(circ, tk.x_test, tk.y_test, ht.x1[-1], ht.x2[-1])
    acc_twin_on_spice_states, _ = evaluate(circ, tk.x_test, tk.y_test, hs.x1[-1], hs.x2[-1])
    dev = conductance_deviation(circ, hs.x1, hs.x2, ht.x1, ht.x2)
    dev_series = [conductance_deviation(circ, [a1], [a2], [b1], [b2]) for a1, a2, b1, b2 in
                  zip(hs.x1, hs.x2, ht.x1, ht.x2, strict=True)]
    flips = 0
    if circ.p.width_levels:
        for rs, rt in zip(hs.records, ht.records, strict=True):
            flips += int(np.sum(circ.pwm_level(rs.hidden) != circ.pwm_level(rt.hidden)))
    step_dev = one_step_deviation(circ, hs, tk.x_train, tk.y_train, order)
    n = len(hs.records)
    result = {
        "task": tk.name, "task_description": tk.description, "epochs": epochs,
        "network": [tk.n_in, hidden, tk.n_out], "seed": seed, "init_scale": init_scale,
        "n_train": len(tk.x_train), "n_test": len(tk.x_test), "iterations": n,
        "accuracy_spice": acc_s, "accuracy_behavioral": acc_t,
        "accuracy_twin_read_of_spice_states": acc_twin_on_spice_states,
        "max_conductance_deviation_rel": dev,
        "conductance_deviation_rel_per_iteration": dev_series,
        "pwm_level_mismatches": flips,
        "one_step_twin_vs_spice": step_dev,
        "max_output_deviation_final": float(np.max(np.abs(out_s - out_t))),
        "loss_spice": hs.loss, "loss_behavioral": ht.loss,
        "accuracy_online_spice": hs.accuracy_online,
        "accuracy_online_behavioral": ht.accuracy_online,
        "wall_s_spice": hs.wall_s, "wall_s_behavioral": ht.wall_s,
        "wall_s_spice_eval": wall_eval_s,
        "wall_s_per_iteration_spice": hs.wall_s / n, "wall_s_per_iteration_behavioral":
            ht.wall_s / n,
        "simulated_s_per_iteration": circ.schedule.length,
        "state_clipped_max": max(hs.clipped, ht.clipped),
        "device": {k: getattr(circ.card, k) for k in ("r_on", "r_off", "k_on", "k_off",
                                                     "v_on", "v_off", "alpha_on",
                                                     "alpha_off", "x_c")},
        "circuit": circ.describe(),
        "schedule": {k: list(getattr(circ.schedule, k)) for k in
                     ("forward", "backward", "update2", "update1")},
    }
    (out / "result.json").write_text(json.dumps(result, indent=2))
    np.savez(out / "trajectories.npz", x1_spice=np.array(hs.x1), x2_spice=np.array(hs.x2),
             x1_twin=np.array(ht.x1), x2_twin=np.array(ht.x2))
    # the waveform plot shows the training sample with the largest output error at the start
    o0 = TrainingTwin(circ).predict(tk.x_train, x1, x2)
    i0 = int(np.argmax(np.abs(tk.y_train - o0).max(axis=1)))
    _, res = spice_step(circ, tk.x_train[i0], tk.y_train[i0], x1, x2, runner=runner,
                        timeout_s=timeout_s)
    plot_waveforms(circ, res, out / "waveforms_one_sample.png")
    plot_trajectories(circ, hs, ht, out / "conductance_trajectories.png")
    plot_loss(hs, ht, out / "loss.png")
    return result


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_waveforms(circ: TrainingCircuit, res, path: Path) -> None:
    """Ctrl1/Ctrl2/Dir/Tr, the inputs, held errors and the update pulses of one sample; left
    column zoomed on phases 1-2, right column the whole sample."""
    plt = _plt()
    t = res.axis * 1e6
    sch = circ.schedule
    fig, axs = plt.subplots(4, 2, figsize=(13, 9), sharex="col",
                            gridspec_kw={"width_ratios": [1, 2.2]})
    for col in range(2):
        ax = axs[:, col]
        for n, off in (("ctrl1", 0.0), ("ctrl2", 0.05), ("dir", 0.1), ("tr2", 0.15),
                       ("tr1", 0.2), ("shf", -0.05), ("shb", -0.1)):
            ax[0].plot(t, res[f"v({n})"] + off, label=n)
        for i in range(circ.shape.n_in + 1):
            if i < 4 or i == circ.shape.n_in:
                ax[1].plot(t, res[f"v(in{i})"],
                           label=f"in{i}" if i < circ.shape.n_in else "bias")
        ax[1].plot(t, res["v(o0)"] * circ.p.v_read, "k--", label="o0·v_read")
        ax[1].plot(t, res["v(y0)"], "k:", label="y0")
        for k in range(min(circ.shape.n_out, 3)):
            ax[2].plot(t, res[f"v(hd2_{k})"], label=f"held δ2[{k}]")
        for j in range(min(circ.shape.n_hidden, 3)):
            ax[2].plot(t, res[f"v(hd1_{j})"], label=f"held δ1[{j}]")
        ax[3].plot(t, res["v(r2_0)"] - res["v(c2_0)"], label="cell L2[0,0]")
        ax[3].plot(t, res["v(r1_0)"] - res["v(c1_0)"], label="cell L1[0,0]")
        ax[3].plot(t, res[f"v(r1_{circ.shape.n_in})"] - res["v(c1_0)"],
                   label="cell L1[bias,0]")
        for v in (circ.card.v_off, circ.card.v_on):
            ax[3].axhline(v, color="gray", lw=0.5, ls=":")
        for a in ax:
            for name in ("backward", "update2", "update1"):
                a.axvline(getattr(sch, name)[0] * 1e6, color="gray", lw=0.5)
        ax[3].set_xlabel("time [µs]")
    axs[0, 0].set_xlim(0, sch.update2[0] * 1e6 * 1.3)
    for a, lab in zip(axs[:, 0], ("control [V]", "inputs / activations [V]",
                                  "held errors [1]", "cell voltage [V]"), strict=True):
        a.set_ylabel(lab)
    for a in axs[:, 1]:
        a.legend(ncol=4, fontsize=7)
    axs[0, 0].set_title("phases 1 (forward) and 2 (backward)")
    axs[0, 1].set_title("whole sample: (3) update layer 2, (4) update layer 1")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_trajectories(circ, hs, ht, path: Path, max_cells: int = 8) -> None:
    plt = _plt()
    fig, ax = plt.subplots(1, 2, figsize=(12, 4.5))
    for a, layer, xs, xt in ((ax[0], 1, hs.x1, ht.x1), (ax[1], 2, hs.x2, ht.x2)):
        gs = circ.conductance(np.array(xs)) * 1e6
        gt = circ.conductance(np.array(xt)) * 1e6
        cells = [(i, j) for i in range(gs.shape[1]) for j in range(gs.shape[2])][:max_cells]
        for n, (i, j) in enumerate(cells):
            color = f"C{n % 10}"
            a.plot(gs[:, i, j], color=color, label=f"[{i},{j}]")
            a.plot(gt[:, i, j], color=color, ls="--", lw=1)
        a.axhline(circ.g_ref * 1e6, color="gray", lw=0.5, ls=":")
        a.set_title(f"layer {layer}: SPICE (solid) vs twin (dashed)")
        a.set_xlabel("training iteration (sample)")
        a.set_ylabel("G [µS]")
        a.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_loss(hs, ht, path: Path) -> None:
    plt = _plt()
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    e = np.arange(1, len(hs.loss) + 1)
    ax[0].plot(e, hs.loss, "o-", label="SPICE")
    ax[0].plot(e, ht.loss, "x--", label="twin")
    ax[0].set_xlabel("epoch")
    ax[0].set_ylabel("cross-entropy of the phase-1 outputs")
    ax[0].legend()
    ax[1].plot(e, hs.accuracy_online, "o-", label="SPICE")
    ax[1].plot(e, ht.accuracy_online, "x--", label="twin")
    ax[1].set_xlabel("epoch")
    ax[1].set_ylabel("accuracy while training")
    ax[1].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
