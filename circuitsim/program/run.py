"""A whole programming run: a trained network's arrays (or one small array) programmed in the
twin and, for the chosen part, in transient ngspice; accuracy through both read paths;
``program.json`` and the hand-off files."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..mapping import map_layer
from .config import ProgramConfig
from .handoff import write_handoff
from .probe import half_select_probe
from .reachable import reachability
from .writeverify import ProgramResult, divergence, program_array


def network_with_conductances(net, conductances: list[np.ndarray]):
    """The coupling to :mod:`circuitsim.network` (kept in this one function): a copy of
    ``net`` whose layer plans carry the given programmed conductances (one (in+1, 2·out)
    array per layer, the layout of ``LayerPlan.conductance``)."""
    from ..network import Network

    if len(conductances) != len(net.plans):
        raise ConfigError(f"{len(conductances)} conductance arrays for {len(net.plans)} layers")
    plans = []
    for p, g in zip(net.plans, conductances, strict=True):
        g = np.asarray(g, dtype=float)
        if g.shape != p.conductance.shape:
            raise ConfigError(f"layer {p.index}: conductances {g.shape}, plan "
                              f"{p.conductance.shape}")
        plans.append(replace(p, conductance=g))
    return Network(plans, net.circuit, net.mapping, name=net.name, sinh_v0=net.sinh_v0,
                   calibration_size=net.calibration_size)


def layer_targets(plan, cfg: ProgramConfig) -> np.ndarray:
    """A layer plan's weights and bias re-mapped into the device's programming window
    (:attr:`ProgramConfig.target_window`), in the plan's (in + 1, 2·out) layout (column 2j
    = G+ of output j, 2j + 1 = G−): the plan's own mapping config otherwise (scaling,
    levels), so the weights the array holds are the plan's, at the device's conductances.
    For a network mapped for another window (the read demo's 1–100 µS): nothing is
    clipped."""
    w, b = plan.mapped.weights()
    g_lo, g_hi = cfg.target_window
    m = plan.mapped
    ml = map_layer(w, b, replace(m.config, g_min=g_lo, g_max=g_hi), activation=m.activation,
                   kind=m.kind, conv=m.conv)
    g = np.empty((ml.g_pos.shape[0], 2 * ml.g_pos.shape[1]))
    g[:, 0::2], g[:, 1::2] = ml.g_pos, ml.g_neg
    return g


def pruned_targets(plan) -> np.ndarray:
    """A layer plan's conductance targets with NaN (unprogrammed) for both devices of every
    pruned (exactly zero) weight; the bias row is always programmed."""
    t = np.array(plan.conductance, dtype=float)
    zero = np.asarray(plan.weight) == 0  # (out, in)
    for j, i in np.argwhere(zero):
        t[i, 2 * j] = t[i, 2 * j + 1] = np.nan
    return t


def _summary(cfg: ProgramConfig, arrays: dict) -> dict:
    tw_all = [a["twin"] for a in arrays.values()]
    sp_all = [a["spice"] for a in arrays.values() if a.get("spice") is not None]

    def pulses(rs: list[ProgramResult]):
        p = np.concatenate([r.pulses[np.isfinite(r.targets)] for r in rs]) if rs else []
        return {"mean": float(np.mean(p)) if len(p) else None,
                "max": int(np.max(p)) if len(p) else None}

    def conv(rs):
        n = sum(r.cells for r in rs)
        return float(sum(r.converged.sum() for r in rs) / n) if n else None

    err = []
    div = {}
    for name, a in arrays.items():
        sp = a.get("spice")
        if sp is None:
            continue
        tw = a["spice_twin"]
        m = np.isfinite(sp.targets)
        err.append(float(np.max(np.abs(sp.g[m] - tw.g[m])) / cfg.g_range))
        div[name] = divergence(sp, tw)
    return {
        "cells": int(sum(r.cells for r in tw_all)),
        "cells_spice": int(sum(r.cells for r in sp_all)),
        "converged_fraction": {"twin": conv(tw_all), "spice": conv(sp_all)},
        "max_g_error_spice_vs_twin": max(err) if err else None,
        "max_g_error_vs_target": {
            "twin": float(max(np.nanmax(np.abs(r.g - r.targets)) for r in tw_all)
                          / cfg.g_range),
            "spice": float(max(np.nanmax(np.abs(r.g - r.targets)) for r in sp_all)
                           / cfg.g_range) if sp_all else None},
        "energy_j": {"spice": float(sum(r.energy_j for r in sp_all)) if sp_all else None,
                     "twin_on_spice_cells": float(sum(a["spice_twin"].energy_j for a in
                                                      arrays.values() if "spice_twin" in a)),
                     "twin": float(sum(r.energy_j for r in tw_all))},
        "time_s": {"spice": float(sum(r.time_s for r in sp_all)) if sp_all else None,
                   "twin_on_spice_cells": float(sum(a["spice_twin"].time_s for a in
                                                    arrays.values() if "spice_twin" in a)),
                   "twin": float(sum(r.time_s for r in tw_all))},
        "pulses_per_cell": {"twin": pulses(tw_all), "spice": pulses(sp_all)},
        "wall_s": {"spice": float(sum(r.wall_s for r in sp_all)) if sp_all else None,
                   "twin": float(sum(r.wall_s for r in tw_all)),
                   "twin_on_spice_cells": float(sum(a["spice_twin"].wall_s for a in
                                                    arrays.values() if "spice_twin" in a))},
        "disturb_after_accept": {
            "twin": max(r.disturb_after_accept(cfg.g_range) for r in tw_all),
            "spice": max(r.disturb_after_accept(cfg.g_range) for r in sp_all)
            if sp_all else None},
        "divergence": div,
    }


def _final_within(cfg: ProgramConfig, arrays: dict) -> dict:
    """Per world, the fraction of programmed cells whose final device G lies within the
    tolerance of its target (an accepted cell that the neighbours' later pulses moved out
    counts as out: the honest figure for a card without threshold)."""
    out = {}
    for world in ("twin", "spice"):
        rs = [a[world] for a in arrays.values() if a.get(world) is not None]
        m = [np.isfinite(r.targets) for r in rs]
        n = sum(int(k.sum()) for k in m)
        if n:
            ok = sum(int((np.abs(r.g - r.targets)[k] <= cfg.tolerance * cfg.g_range
                          * (1 + 1e-9)).sum()) for r, k in zip(rs, m, strict=True))
            out[world] = ok / n
    return out


def run_program(out: Path | str | None, *, cfg: ProgramConfig, quick: bool = False,
                checkpoint: str | None = None, hidden: int = 16, epochs: int = 30,
                spice_block: int | None = 16, spice_test: int = 40, seed: int = 0,
                probe_shape=(4, 4), progress: bool = False, variability=None, model=None,
                levels: int | None = None, probe: bool = True) -> dict:
    """Program and report; returns the program.json dictionary (written under ``out``).
    ``variability``: (d2d σ, c2c σ) to add :func:`~circuitsim.program.variability.
    variability_table` on a 16x16 twin array."""
    t_start = time.perf_counter()
    state = None if out is None else Path(out) / "state"
    arrays: dict = {}
    acc: dict = {}
    spice_origin = None
    test = None
    if quick:
        rng = np.random.default_rng(seed)
        lo = cfg.g_min + cfg.tolerance * cfg.g_range
        t = rng.uniform(lo, cfg.g_max - cfg.tolerance * cfg.g_range, (4, 4))
        tw = program_array(cfg, t, world="twin", state_dir=state and state / "quick",
                           progress=progress)
        sp = program_array(cfg, t, world="spice", state_dir=state and state / "quick",
                           progress=progress)
        arrays["quick"] = {"twin": tw, "spice": sp, "spice_twin": tw}
    else:
        import torch

        from ..mapping import MappingConfig
        from ..network import CircuitConfig, build_network
        from ..nn import TrainConfig, get_dataset, load_checkpoint, make_mlp, train

        ds = get_dataset("digits")
        if model is not None:
            model.cpu().eval()
        elif checkpoint:
            model, _ = load_checkpoint(checkpoint)
        else:
            torch.manual_seed(seed)
            model = make_mlp((ds.n_features, hidden, ds.n_classes), "sigmoid", seed)
            train(model, ds, TrainConfig(epochs=epochs, seed=seed, device="cpu",
                                         progress=False))
            model.cpu().eval()
        g_lo, g_hi = cfg.target_window
        mapping = MappingConfig(g_min=g_lo, g_max=g_hi, v_read=0.2, levels=levels)
        circuit = CircuitConfig(r_wire_row=cfg.r_wire_row, r_wire_col=cfg.r_wire_col)
        net = build_network(model, circuit, mapping)
        g_twin, g_spice = [], []
        for p in net.plans:
            name = f"l{p.index}"
            t = pruned_targets(p)
            tw = program_array(cfg, t, world="twin", state_dir=state and state / name,
                               progress=progress)
            arrays[name] = {"twin": tw}
            g_twin.append(tw.g)
            g_spice.append(tw.g.copy())
        if spice_block:
            b = int(spice_block)
            full = pruned_targets(net.plans[0])
            r0, c0 = _block_origin(full, b)
            tb = full[r0:r0 + b, c0:c0 + b]
            if not np.isfinite(tb).any():
                raise ConfigError("every cell of layer 1 is pruned; lower --prune")
            sp = program_array(cfg, tb, world="spice", state_dir=state and state / "l1_block",
                               progress=progress)
            twb = program_array(cfg, tb, world="twin", state_dir=state and state / "l1_block",
                                progress=False)
            shape = net.plans[0].conductance.shape
            arrays["l1"]["spice"] = _embed(sp, shape, (r0, c0))
            arrays["l1"]["spice_twin"] = _embed(twb, shape, (r0, c0))
            g_spice[0][r0:r0 + b, c0:c0 + b] = sp.g
            spice_origin = [r0, c0]
        x, y = ds.x_test, ds.y_test
        ideal = net
        acc["software"] = float(np.mean(np.argmax(ideal.reference_forward(x), 1) == y))
        acc["ideal_mapping_twin_read"] = _acc(ideal.behavioral_forward(x), y)
        n_twin = network_with_conductances(net, g_twin)
        n_spice = network_with_conductances(net, g_spice)
        acc["twin_programmed_twin_read"] = _acc(n_twin.behavioral_forward(x), y)
        acc["spice_programmed_twin_read"] = _acc(n_spice.behavioral_forward(x), y)
        if spice_test:
            xs, ys = x[:spice_test], y[:spice_test]
            acc["subset"] = int(len(xs))
            acc["ideal_mapping_spice_read_subset"] = _acc(ideal.spice_forward(xs), ys)
            acc["spice_programmed_spice_read_subset"] = _acc(n_spice.spice_forward(xs), ys)
            acc["spice_programmed_twin_read_subset"] = _acc(n_spice.behavioral_forward(xs), ys)
        out_twin = n_twin.behavioral_forward(x[:20])
        test = (x[:20], out_twin.logits, y[:20])
    summary = _summary(cfg, {k: v for k, v in arrays.items()})
    summary["final_within_tolerance"] = _final_within(cfg, arrays)
    if not cfg.has_threshold:
        summary["reachability"] = {k: reachability(cfg, v["twin"].targets)
                                   for k, v in arrays.items()}
    summary["half_select_max_dg"] = half_select_probe(cfg, probe_shape) if probe else None
    summary["accuracy"] = acc
    if variability is not None:
        from .variability import variability_table

        summary["variability"] = variability_table(cfg, (16, 16), d2d_sigma=variability[0],
                                                   c2c_sigma=variability[1], seed=seed)
    summary["arrays"] = {k: list(v["twin"].targets.shape) for k, v in arrays.items()}
    summary["spice_block"] = None if quick else spice_block
    summary["spice_block_origin"] = spice_origin
    summary["config"] = cfg.to_dict()
    summary["quick"] = quick
    summary["total_wall_s"] = time.perf_counter() - t_start
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "program.json").write_text(json.dumps(summary, indent=1, default=float))
        kw = {} if test is None else {"test_x": test[0], "test_y": test[1],
                                      "test_labels": test[2]}
        write_handoff(out, arrays, **kw)
    return summary


def prune_table(cfg: ProgramConfig, *, fractions=(0.0, 0.5, 0.75), levels=(None, 8),
                hidden: int = 8, epochs: int = 30, retrain_epochs: int = 10,
                spice_block: int = 4, spice_test: int = 20, seed: int = 0) -> list[dict]:
    """Prune fraction × levels -> accuracy (software, twin-programmed through the twin read
    path, SPICE read path on a subset with SPICE's block), programmed cells, twin programming
    energy of the whole network and pulses."""
    import copy

    import torch

    from ..nn import TrainConfig, get_dataset, make_mlp, train
    from ..nn.prune import prune_retrain

    ds = get_dataset("digits")
    torch.manual_seed(seed)
    base = make_mlp((ds.n_features, hidden, ds.n_classes), "sigmoid", seed)
    train(base, ds, TrainConfig(epochs=epochs, seed=seed, device="cpu", progress=False))
    rows = []
    for f in fractions:
        for lv in levels:
            m = copy.deepcopy(base).cpu()
            pr = {"pruned_fraction": 0.0}
            if f > 0 or lv is not None:
                pr = prune_retrain(m, ds, prune=f, levels=lv, epochs=retrain_epochs, seed=seed)
            s = run_program(None, cfg=cfg, model=m, levels=lv, spice_block=spice_block,
                            spice_test=spice_test, seed=seed, probe=False)
            a = s["accuracy"]
            pp = s["pulses_per_cell"]["twin"]
            rows.append({"prune": f, "levels": lv or "analog",
                         "pruned_fraction": pr["pruned_fraction"],
                         "software_acc": a["software"],
                         "twin_programmed_acc": a["twin_programmed_twin_read"],
                         "spice_read_subset_acc": a.get("spice_programmed_spice_read_subset"),
                         "programmed_cells": s["cells"],
                         "pulses_total": int(round(pp["mean"] * s["cells"])),
                         "energy_twin_j": s["energy_j"]["twin"],
                         "programming_time_s": s["time_s"]["twin"],
                         "spice_block_max_dg_vs_twin": s["max_g_error_spice_vs_twin"]})
    return rows


def _acc(outputs, y) -> float:
    return float(np.mean(np.argmax(np.asarray(outputs.logits), 1) == np.asarray(y)))


def _block_origin(t: np.ndarray, b: int) -> tuple[int, int]:
    """Top-left corner of the b x b block with the most programmed (finite) targets (the
    first such block; pruning empties whole input rows, e.g. the digits' blank pixels)."""
    f = np.isfinite(t).astype(int)
    best, at = -1, (0, 0)
    for r in range(0, max(t.shape[0] - b, 0) + 1):
        for c in range(0, max(t.shape[1] - b, 0) + 1, 2):
            n = int(f[r:r + b, c:c + b].sum())
            if n > best:
                best, at = n, (r, c)
    return at


def _embed(r: ProgramResult, shape, origin=(0, 0)) -> ProgramResult:
    """A block's result placed in a full array's frame (NaN target = not programmed here);
    the pulse log's rows and columns are shifted to the full array's."""
    R, C = r.targets.shape
    r0, c0 = origin

    def big(a, fill):
        o = np.full(shape, fill, dtype=np.asarray(a).dtype if fill is not np.nan else float)
        o[r0:r0 + R, c0:c0 + C] = a
        return o

    log = r.log.copy()
    log[:, 0] += r0
    log[:, 1] += c0

    return ProgramResult(r.world, big(r.targets, np.nan), big(r.x, np.nan), big(r.g, np.nan),
                         big(r.g_read, np.nan), big(r.pulses, 0), big(r.converged, False),
                         big(r.g_at_accept, np.nan), log, r.energy_j, r.time_s, r.wall_s,
                         r.iterations, r.decisions)


__all__ = ["layer_targets", "network_with_conductances", "prune_table", "pruned_targets",
           "run_program"]
