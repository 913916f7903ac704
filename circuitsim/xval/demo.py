"""``circuitsim demo``: train (or load) the digits MLP, map it, write its netlists, run the
cross-validation harness over the test set and write the report.

Default (the README's ``make demo``): the embedded 8×8 digits, MLP 64-16-10 with sigmoid
hidden neurons, the default mapping and circuit, all 360 test images through both the
behavioral model and ngspice.  ``--quick``: the first :data:`QUICK_IMAGES` test images.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from pathlib import Path

import numpy as np

from ..behavioral import CrossbarSolver
from ..errors import ConfigError
from ..network.plan import layer_rows
from ..program.demo_block import programming_markdown, programming_section
from . import plots
from .config import DEFAULT_MAPPING, XvalConfig
from .executors import get_executor
from .harness import (
    Variant,
    XvalRun,
    calibration_inputs,
    make_network,
    network_from_config,
    section_configs,
    single_threaded,
)
from .pipeline import get_model, load_dataset, load_given_model, train_config
from .report import comparable, energy_summary, fmt_pct, fmt_s, fmt_v, summarise, write_json
from .store import atomic_write_text, check_writable


def _say(*args) -> None:
    print(*args, flush=True)

DEMO_CIRCUIT = {"r_wire_row": 2.5, "r_wire_col": 2.5}
"""The demo's circuit: wire resistance per cell segment 2.5 Ω (DESIGN.md §5: 1.5–12 Ω per
1T1R cell pitch from 65 nm to 7 nm), everything else the network builder's default."""

FULL_CIRCUIT = {"access": "ACCESS_018UM", "neuron_flavour": "circuit"}
"""Added to the demo circuit for its second, full-circuit variant: 1T1R cells (level-1 NMOS
access transistors, word line 1.8 V) and op-amp / transistor neurons with finite rails.
ngspice needs ~10–20 s per image for it (Newton on ~2,000 MOSFETs at every input), so the demo
runs it in ngspice on the first :data:`FULL_SPICE_IMAGES` images only (behavioral: all)."""

FULL_SPICE_IMAGES = 20
"""Images of the full-circuit variant run in ngspice (``--full-spice-images``; quick: 2)."""

DEMO_CONFIG = XvalConfig(circuit=DEMO_CIRCUIT)
"""The demo's defaults: digits, 64-16-10 sigmoid MLP, default mapping, :data:`DEMO_CIRCUIT`,
all test images, 20 images per chunk."""

QUICK_IMAGES = 40

MACRO_CONFIG = XvalConfig(
    hidden=(256, 256), activation="relu",
    mapping={**DEFAULT_MAPPING, "tile_size": 128, "adc_bits": 8},
    circuit={**DEMO_CIRCUIT, "access": "ACCESS_018UM"}, calibration_images=50, chunk_size=40,
    tile_jobs=True)
"""The ``macro`` variant: a 64-256-256-10 ReLU MLP on the digits (the packaged checkpoint
:data:`circuitsim.data.MACRO_CHECKPOINT`), 1T1R cells (level-1 NMOS, word line 1.8 V),
128×128 tiles (128 inputs × 128 outputs, a G+ and a G− column each: 128×256 arrays), an
8-bit ADC per tile output calibrated on the first 50 training images, 2.5 Ω wires; layers
co-simulated tile by tile (11 tiles: 2 + 6 + 3), each (tile, image) its own ngspice job
(``tile_jobs``: the workers share a layer's tiles).  Each worker builds it once: ~50 s of tile
factorisations plus the twin on the calibration images (measured ~2.5 CPU-minutes per worker
with 200 calibration images on the loaded 2-core machine, hence 50)."""

MACRO_IMAGES = 40
"""Test images of the macro variant through the twin by default (``--macro-images``; the
first ones).  Its 1T1R twin costs ~1.3 s per image per core here (11 tiles of up to 128×256
nonlinear cells, Newton), so all 360 would add ~8 CPU-minutes to ``make demo``; the report
states the number."""

MACRO_SPICE_IMAGES = 4
"""Images of the macro variant run in ngspice by default (``--macro-spice-images``; the twin
runs all of them), in one chunk: each of the 11 tiles is one job whose ``.dc`` sweep visits
them all.  A tile deck's set-up (parsing, matrix set-up, ordering, the first operating point
from scratch) costs more than a further image (``benchmarks/bench_macro_tile.py``: a 128×256
1T1R tile 22.5 s for 1 image, 150 s for 20), so one chunk of 4 costs about what 2 images cost
as one deck per image: measured 81 s of ngspice per image (``circuitsim demo``, 4 images,
load 6) against 160–168 s before.  All 360 would still take hours of ngspice; the report says so."""
"""``--quick``: the first 40 test images (or fewer if n_images says so), in chunks of ≤ 10."""


def quick_config(cfg: XvalConfig) -> XvalConfig:
    n = QUICK_IMAGES if cfg.n_images is None else min(cfg.n_images, QUICK_IMAGES)
    return cfg.replace(n_images=n, chunk_size=min(cfg.chunk_size, 10))


def run_demo(out: str | Path, *, config: XvalConfig | None = None, quick: bool = False,
             model_path: str | Path | None = None, executor: str = "local",
             scheduler: str | None = None, workers: int | None = None, resume: bool = False,
             progress: bool | None = None, factory=network_from_config, dataset=None,
             dask_processes: bool = True, full_spice_images: int | None = None,
             macro: bool = False, macro_spice_images: int | None = None,
             macro_images: int | None = None,
             macro_config: XvalConfig | None = None, log=None) -> dict:
    """Run the demo into ``out``; returns the report dict (also written as report.json).

    Two variants of the same mapped network: the demo circuit (:data:`DEMO_CONFIG`: wires,
    ideal-gain sense amplifiers, ideal neurons) on every image through both ngspice and the
    behavioral model — the report's top-level figures — and the full circuit
    (:data:`FULL_CIRCUIT`: + access transistors and circuit neurons) on every image
    behaviorally and on ``full_spice_images`` images (default :data:`FULL_SPICE_IMAGES`,
    quick 2; 0 skips the variant) in ngspice, reported under ``full_circuit``.  ``macro``
    adds the :data:`MACRO_CONFIG` variant (its own model): the twin on the first
    ``macro_images`` test images (default :data:`MACRO_IMAGES`, at most the demo's), ngspice
    on the first ``macro_spice_images`` of them (default :data:`MACRO_SPICE_IMAGES`, quick 0);
    ``macro_config`` replaces :data:`MACRO_CONFIG` (tests shrink it).  Every variant is
    reported under ``variants``.

    Everything that can be wrong with the inputs (config keys and values, the model file, the
    output directory, the executor) raises :class:`ConfigError` before training or
    simulating.  ``factory``/``dataset`` exist for tests (a tiny network / data set).
    """
    log = log or _say
    cfg = config or DEMO_CONFIG
    if quick:
        cfg = quick_config(cfg)
    if full_spice_images is None:
        full_spice_images = 2 if quick else FULL_SPICE_IMAGES
    if full_spice_images < 0:
        raise ConfigError(f"--full-spice-images must be ≥ 0, got {full_spice_images}")
    if macro_spice_images is None:
        macro_spice_images = 0 if quick else MACRO_SPICE_IMAGES
    if macro_spice_images < 0:
        raise ConfigError(f"--macro-spice-images must be ≥ 0, got {macro_spice_images}")
    macro_images = MACRO_IMAGES if macro_images is None else macro_images
    if macro_images < 1:
        raise ConfigError(f"--macro-images must be ≥ 1, got {macro_images}")
    if cfg.n_images is not None:
        macro_images = min(macro_images, cfg.n_images)
    macro_cfg = None
    if macro:
        macro_cfg = (macro_config or MACRO_CONFIG).replace(
            dataset=cfg.dataset, dataset_path=cfg.dataset_path, n_images=macro_images,
            spice_images=macro_spice_images, spice_runner=cfg.spice_runner,
            spice_timeout_s=max(cfg.spice_timeout_s, 1800.0))
    full_cfg = None
    if full_spice_images:
        full = dict(FULL_CIRCUIT)
        if cfg.model == "cnn" or any(cfg.mapping.get(k) is not None
                                     for k in ("tile_size", "dac_bits", "adc_bits")):
            full.pop("neuron_flavour")  # CNN or converters: the activation is digital
        full_cfg = cfg.replace(circuit={**cfg.circuit, **full},
                               spice_images=full_spice_images,
                               chunk_size=max(1, min(cfg.chunk_size, 2)))
    out = check_writable(Path(out))
    resolved = {}
    if factory is network_from_config:
        resolved = {k: _as_dict(v) for k, v in section_configs(cfg).items()}
        for c in (full_cfg, macro_cfg):
            if c is not None:
                section_configs(c)
    resolved["train"] = _as_dict(train_config(cfg))
    given = load_given_model(model_path) if model_path is not None else None
    ex = get_executor(executor, workers=workers, scheduler=scheduler, processes=dask_processes)
    with ex:
        t_start = time.perf_counter()
        ds = dataset if dataset is not None else load_dataset(cfg)
        model, model_info = get_model(cfg, ds, out / "models", given=given, progress=progress)
        log(f"model: {model_info['architecture']} ({model_info['source']}, torch test "
            f"accuracy {model_info['test_accuracy_torch']:.4f})")
        cal = calibration_inputs(cfg, ds)
        net = make_network(factory, model, cfg, cal)
        variants = [Variant("demo", cfg, model)]
        if full_cfg is not None:  # the costliest chunks first: better packing on workers
            variants.insert(0, Variant("full", full_cfg, model))
        if macro_cfg is not None:
            macro_model, macro_info = get_model(macro_cfg, ds, out / "models",
                                                progress=progress)
            log(f"macro model: {macro_info['architecture']} ({macro_info['source']}, torch "
                f"test accuracy {macro_info['test_accuracy_torch']:.4f})")
            variants.insert(0, Variant("macro", macro_cfg, macro_model))
        run = XvalRun(variants, ds, out, factory=factory)
        run.begin(resume=resume)  # a refused --resume leaves netlists/ as it was
        decks = _write_netlists(net, out / "netlists", out)
        n = run.n_images["demo"]
        X = ds.x_test[:n]
        beh = _time_behavioral(net, X)
        log(f"running {len(run.chunks)} chunks ({n} images, {cfg.chunk_size} per chunk) on "
            f"{ex.describe()}")
        stats = run.run(ex, resume=resume, progress=progress, desc="demo")
        run_info = {**ex.describe(), "resumed": resume, "model_source": model_info["source"],
                    "checkpoint": model_info["checkpoint"], "chunks": len(run.chunks),
                    "chunks_run_now": stats["run"], "chunks_skipped": stats["skipped"],
                    "chunks_retried": stats["retried"], "tile_jobs": stats["tile_jobs"],
                    "harness_wall_s": stats["wall_s"],
                    "total_wall_s": None}
    summary = summarise(run.records("demo"))
    report = build_report(summary, cfg, ds.name, model_info, resolved, beh, run_info,
                          quick=quick, decks=decks)
    report["calibration"] = calibration_info(cal)
    report["plots"] = make_plots(summary, out, net=net, X=X)
    if full_cfg is not None:
        fs = summarise(run.records("full"))
        report["full_circuit"] = full_section(fs, full_cfg)
        sp = fs["_arrays"]["spice"]
        if sp is not None:
            cir_on = [a[sp[1]] for a in fs["_arrays"]["behavioral_circuit"][0]]
            report["plots"].append(Path(plots.plot_scatter(
                sp[0], cir_on, out / "spice_vs_behavioral_full_circuit.png")).name)
    report["ir_drop"] = summary.get("ir_drop")
    report["variants"] = {"demo": variant_section(summary, cfg, run.records("demo"), factory)}
    if full_cfg is not None:
        report["variants"]["full"] = variant_section(fs, full_cfg, run.records("full"), factory)
    if macro_cfg is not None:
        ms = summarise(run.records("macro"))
        report["variants"]["macro"] = {
            **variant_section(ms, macro_cfg, run.records("macro"), factory),
            "model": {"architecture": macro_info["architecture"],
                      "checkpoint": Path(macro_info["checkpoint"]).name,
                      "source": macro_info["source"],
                      "test_accuracy_torch": macro_info["test_accuracy_torch"]}}
        report["variants"]["macro"]["spice_sizing"] = spice_sizing(
            report["variants"]["macro"], len(ds.x_test))
    report["energy"] = report["variants"]["demo"]["energy"]
    report["ngspice"] = report["variants"]["demo"]["ngspice"]
    _record_simulator(out, decks, report["ngspice"])
    report["programming"] = programming_section(net.plans[0], out, quick=quick,
                                                timeout_s=cfg.spice_timeout_s)[1]
    run_info["total_wall_s"] = time.perf_counter() - t_start
    write_json(out / "report.json", report)
    atomic_write_text(out / "report.md", render_markdown(report))
    return report


def _as_dict(obj) -> dict:
    if dataclasses.is_dataclass(obj):
        d = {}
        for f in dataclasses.fields(obj):
            v = getattr(obj, f.name)
            d[f.name] = _as_dict(v) if dataclasses.is_dataclass(v) else v
        return json.loads(json.dumps(d, default=repr))
    return {"repr": repr(obj)}


def _write_netlists(net, where: Path, out: Path) -> list[str]:
    """The network's decks + manifest, as paths relative to ``out``."""
    if not hasattr(net, "write"):
        return []
    if where.is_dir():  # the decks of an earlier run never sit next to this run's
        shutil.rmtree(where)
    return [str(Path(p).resolve().relative_to(out.resolve())) for p in net.write(where)]


def _time_behavioral(net, X) -> dict:
    """Behavioral-circuit forward pass over all images in one batch, on one thread: the
    first call (includes any lazy set-up) and the best of three more."""
    with single_threaded():
        return _time_behavioral_1(net, X)


def _time_behavioral_1(net, X) -> dict:
    t0 = time.perf_counter()
    net.behavioral_forward(X, ideal=False)
    first = time.perf_counter() - t0
    reps = []
    for _ in range(3):
        t0 = time.perf_counter()
        net.behavioral_forward(X, ideal=False)
        reps.append(time.perf_counter() - t0)
    return {"first": first, "best_of_3": min(reps), "n_images": int(len(X))}


def build_report(summary: dict, cfg: XvalConfig, dataset: str, model_info: dict,
                 resolved: dict, beh: dict, run_info: dict, *, quick: bool,
                 decks: list[str]) -> dict:
    chunk_t = summary["timing_s"]["chunks_sum"]
    n, n_sp = summary["n_test"], summary["n_spice"]
    spice_per_img = chunk_t["spice"] / n_sp if n_sp else None
    beh_per_img = beh["first"] / max(beh["n_images"], 1)
    timing = {
        "spice": chunk_t["spice"],
        "behavioral": beh["first"],
        "behavioral_best_of_3": beh["best_of_3"],
        "spice_per_image": spice_per_img,
        "behavioral_per_image": beh_per_img,
        "speedup_behavioral_vs_spice": (spice_per_img / beh_per_img
                                        if spice_per_img and beh_per_img > 0 else None),
        "harness_wall": run_info["harness_wall_s"],
        "chunks_sum": chunk_t,
    }
    return {
        "dataset": dataset,
        "n_test": n,
        "n_spice": int(n_sp),
        "quick": quick,
        "accuracy": summary["accuracy"],
        "accuracy_on_spice_images": summary.get("accuracy_on_spice_images"),
        "agreement": summary["agreement"],
        "timing_s": timing,
        "failed_chunks": summary["failed_chunks"],
        "predictions": summary["predictions"],
        "config": {**cfg.to_dict(), "resolved": resolved,
                   "model": {"architecture": model_info["architecture"],
                             "checkpoint": Path(model_info["checkpoint"]).name,
                             "test_accuracy_torch": model_info["test_accuracy_torch"]}},
        "netlists": decks,
        "run": run_info,
    }


def calibration_info(cal) -> dict | None:
    """What the calibration set was (report key ``calibration``)."""
    if cal is None:
        return None
    return {"set": "training images", "first_n": int(len(cal)),
            "sets": "ReLU full scales and calibrated ADC full scales (never test images)"}


def full_section(fs: dict, cfg: XvalConfig) -> dict:
    """The full-circuit variant's figures (report key ``full_circuit``)."""
    t = fs["timing_s"]["chunks_sum"]
    return {"circuit": cfg.circuit, "n_test": fs["n_test"], "n_spice": fs["n_spice"],
            "accuracy": fs["accuracy"],
            "accuracy_on_spice_images": fs.get("accuracy_on_spice_images"),
            "agreement": fs["agreement"], "failed_chunks": fs["failed_chunks"],
            "predictions": fs["predictions"],
            "timing_s": {"spice": t["spice"], "behavioral_circuit_chunks": t["behavioral_circuit"],
                         "spice_per_image": t["spice"] / fs["n_spice"] if fs["n_spice"] else None}}


def simulator_used(records: list[dict]) -> dict:
    """The ngspice version(s) and linear solver(s) the chunks' SimResults reported."""
    ver, sol = set(), set()
    for r in records:
        ver.update(r["meta"].get("ngspice_version") or [])
        sol.update(r["meta"].get("solver") or [])
    return {"version": sorted(ver), "solver": sorted(sol)}


def variant_section(s: dict, cfg: XvalConfig, records: list[dict], factory) -> dict:
    """One variant's figures (report ``variants[key]``): circuit, mapping, accuracy,
    agreement, timings, read energy, the simulator that ran it."""
    t = s["timing_s"]["chunks_sum"]
    t_read = None
    if factory is network_from_config:
        t_read = section_configs(cfg)["circuit"].t_read
    energy = energy_summary(records, t_read) if t_read is not None else None
    n_tiles = None if energy is None else sum(int(np.prod(d["tiles"])) for d in energy["layers"])
    per_img = t["spice"] / s["n_spice"] if s["n_spice"] else None
    return {"architecture": [*cfg.hidden], "activation": cfg.activation,
            "circuit": cfg.circuit, "mapping": cfg.mapping, "n_test": s["n_test"],
            "n_spice": s["n_spice"], "accuracy": s["accuracy"],
            "accuracy_on_spice_images": s.get("accuracy_on_spice_images"),
            "agreement": s["agreement"], "failed_chunks": s["failed_chunks"],
            "tiles": n_tiles, "energy": energy, "ngspice": simulator_used(records),
            "timing_s": {"spice": t["spice"], "behavioral_circuit_chunks": t["behavioral_circuit"],
                         "spice_per_image": per_img,
                         "spice_per_tile_per_image": (per_img / n_tiles
                                                      if per_img and n_tiles else None),
                         "behavioral_circuit_per_image": t["behavioral_circuit"] / s["n_test"]}}


def spice_sizing(v: dict, n_dataset: int) -> dict:
    """How many of a variant's images went through ngspice and why (the macro variant:
    fewer than all, sized by the ngspice cost this very run measured)."""
    per, n_sp = v["timing_s"]["spice_per_image"], v["n_spice"]
    out = {"n_spice": n_sp, "n_test": v["n_test"], "n_dataset": n_dataset,
           "spice_s_per_image": per,
           "projected_spice_s_all_images": None if per is None else per * n_dataset}
    if n_sp == 0:
        out["why"] = ("the twin only: --macro-spice-images 0 (the --quick default); ngspice "
                      "costs minutes per image here")
    elif n_sp >= n_dataset:
        out["why"] = "every test image"
    else:
        per_tile = f" ({per / v['tiles']:.1f} s per tile)" if v.get("tiles") else ""
        out["why"] = (
            f"ngspice on the first {n_sp} of the {v['n_test']} images the twin ran "
            f"(--macro-spice-images; default {MACRO_SPICE_IMAGES}): this run measured "
            f"{per:.0f} s of ngspice per image (wall time of its tile jobs, summed)"
            f"{per_tile}, so all {n_dataset} test images "
            f"would take {per * n_dataset / 3600:.1f} core-hours, far beyond the demo's "
            f"~3-minute budget; agreement with ngspice is measured on these {n_sp} images "
            "only")
    return out


def _record_simulator(out: Path, decks: list[str], used: dict) -> None:
    """Add the ngspice version and solver that ran the demo variant to its manifest."""
    for d in decks:
        p = out / d
        if p.name.endswith("manifest.json"):
            man = json.loads(p.read_text())
            man["simulated_with"] = {"ngspice_version": used["version"],
                                     "solver": used["solver"],
                                     "what": "reported by ngspice in the demo's runs"}
            atomic_write_text(p, json.dumps(man, indent=1, sort_keys=True) + "\n")


def make_plots(summary: dict, out: Path, *, net=None, X=None) -> list[str]:
    arr = summary["_arrays"]
    made = [plots.plot_accuracy(summary["accuracy"], out / "accuracy.png",
                                acc_spice_images=(summary.get("accuracy_on_spice_images")
                                                  if summary["n_spice"] < summary["n_test"]
                                                  else None))]
    sp, cir = arr["spice"], arr["behavioral_circuit"]
    if sp is not None:
        cir_on = [a[sp[1]] for a in cir[0]]
        made.append(plots.plot_scatter(sp[0], cir_on, out / "spice_vs_behavioral.png"))
        made.append(plots.plot_error_hist(sp[0], cir_on, out / "error_histogram.png"))
    ir = ir_drop_map(net, X) if net is not None and X is not None else None
    if ir is not None:
        made.append(plots.plot_ir_drop(ir[0], out / "ir_drop.png", title=ir[1]))
        summary["ir_drop"] = ir[2]
    return [Path(p).name for p in made]


def ir_drop_map(net, X) -> tuple[np.ndarray, str, dict] | None:
    """Cell voltage loss of the first layer's crossbar for the mean test input: the ideal
    voltage across each cell (its row input; the column is at virtual ground) minus the
    actual one, from the crossbar engine's node voltages (``CrossbarSolver.node_voltages``).
    Returns ``(loss (rows, cols) [V], title, figures)``, or None if the network exposes no
    crossbar spec or the engine has no node-voltage solver."""
    plans, spec_of = getattr(net, "plans", None), getattr(net, "crossbar_spec", None)
    if not plans or spec_of is None:
        return None
    p = plans[0]
    sense = getattr(p, "sense", None)
    extra = float(getattr(sense[0], "r_in", 0.0)) if sense else 0.0
    v_read = float(net.v_read)
    if getattr(p, "digital", False):  # DAC rows (conv: the mean over every patch)
        V = layer_rows(p, np.asarray(X, dtype=np.float64), v_read).mean(axis=0)
    else:
        V = np.concatenate([np.asarray(X, dtype=np.float64).mean(axis=0) * v_read, [v_read]])
    tiled = len(getattr(p, "row_tiles", ())) > 1 or len(getattr(p, "col_tiles", ())) > 1
    if tiled:  # tile (0, 0): tile boundaries cut the wires, IR drop is per tile
        spec = net.tile_spec(p, 0, 0, extra_r_sense=p.tile_sense[0][0][0].r_in)
        V = V[p.row_tiles[0][0]:p.row_tiles[0][1]]
    else:
        spec = spec_of(p, extra_r_sense=extra)
    v_row, v_col = CrossbarSolver(spec).node_voltages(V)
    v_row, v_col = np.asarray(v_row), np.asarray(v_col)
    if v_row.ndim == 3:
        v_row, v_col = v_row[..., 0], v_col[..., 0]
    loss = V[:, None] - (v_row - v_col)
    rows, cols = loss.shape
    figs = {"layer": 1, "tile": [0, 0] if tiled else None, "shape": [rows, cols],
            "input": "mean test image",
            "max_cell_voltage_loss_V": float(loss.max()),
            "mean_cell_voltage_loss_V": float(loss.mean()),
            "max_loss_over_v_read": float(loss.max() / v_read)}
    what = "tile (0, 0)" if tiled else "crossbar"
    title = (f"IR drop, layer 1 {what} {rows}×{cols} (G+/G− column pairs), mean test "
             f"input; max loss {loss.max() * 1e3:.3g} mV of {v_read:g} V")
    return loss, title, figs


def fmt_j(x) -> str:
    if x is None:
        return "—"
    for unit, scale in (("fJ", 1e-15), ("pJ", 1e-12), ("nJ", 1e-9)):
        if abs(x) < 1000 * scale:
            return f"{x / scale:.4g} {unit}"
    return f"{x:.4g} J"


def variants_markdown(variants: dict) -> list[str]:
    """The variants table and each tiled variant's read energy."""
    if not variants:
        return []
    lines = ["## Variants", "",
             "| variant | network | circuit | tiles | images (ngspice) | accuracy twin / "
             "ngspice | argmax agreement | max abs Δ output | ngspice per image | read energy "
             "per inference, ngspice / twin on the same images "
             "| ngspice, solver |", "|---|---|---|---|---|---|---|"
             "---|---|---|---|"]
    for key, v in variants.items():
        a, g, e, t = v["accuracy"], v["agreement"], v.get("energy") or {}, v["timing_s"]
        circ = ", ".join(f"{k}={val}" for k, val in v["circuit"].items())
        tiles = "—" if not v.get("tiles") else str(v["tiles"])
        if v["mapping"].get("tile_size"):
            tiles += f" of {v['mapping']['tile_size']}×{v['mapping']['tile_size']}"
        ng = v.get("ngspice") or {}
        lines.append(
            f"| {key} | {'-'.join(map(str, v['architecture']))} hidden, {v['activation']} | "
            f"{circ} | {tiles} | {v['n_test']} ({v['n_spice']}) | "
            f"{fmt_pct(a.get('behavioral_circuit'))} / {fmt_pct(a.get('spice'))} | "
            f"{fmt_pct(g.get('argmax_spice_vs_behavioral'))} | "
            f"{fmt_v(g.get('max_abs_output_diff_V'))} | {fmt_s(t.get('spice_per_image'))} | "
            f"{fmt_j(e.get('spice_mean_J'))} / "
            f"{fmt_j(e.get('behavioral_circuit_on_spice_images_mean_J'))} | "
            f"{', '.join(ng.get('version', []))}, {', '.join(ng.get('solver', []))} |")
    lines.append("")
    for key, v in variants.items():
        if v.get("spice_sizing"):
            z = v["spice_sizing"]
            lines += [f"Variant `{key}`: {z['n_spice']} of {z['n_test']} images through "
                      f"ngspice — {z['why']}.", ""]
    for key, v in variants.items():
        e = v.get("energy")
        if not e:
            continue
        nan = float("nan")
        lines += [f"### Read energy, variant `{key}`", "",
                  f"{e['what']}; t_read = {e['t_read_s']:g} s. Mean per inference: twin "
                  f"{fmt_j(e['behavioral_circuit_mean_J'])} over {e['n_images']} images "
                  f"(ideal crossbars {fmt_j(e.get('behavioral_ideal_mean_J'))}); ngspice "
                  f"{fmt_j(e.get('spice_mean_J'))} over {e['n_spice']} images (twin on the same "
                  f"images {fmt_j(e.get('behavioral_circuit_on_spice_images_mean_J'))}, largest "
                  f"relative difference per image {e.get('max_rel_diff_per_image', nan):.2g}).",
                  "", f"| layer | tiles (row × col) | twin mean ({e['n_images']} images) | ngspice "
                  f"mean ({e['n_spice']} images) | max rel. Δ per tile, same images |",
                  "|---|---|---|---|---|"]
        for d in e["layers"]:
            lines.append(f"| {d['layer'] + 1} | {d['tiles'][0]} × {d['tiles'][1]} | "
                         f"{fmt_j(d['behavioral_circuit_mean_J'])} | "
                         f"{fmt_j(d.get('spice_mean_J'))} | "
                         f"{d.get('max_rel_diff_tile', nan):.2g} |")
        lines.append("")
    return lines


def render_markdown(r: dict) -> str:
    acc, ag, t = r["accuracy"], r["agreement"], r["timing_s"]
    acc_sp = r.get("accuracy_on_spice_images") or {}
    lines = [f"# circuitsim cross-validation report — {r['dataset']}", "",
             f"{r['n_test']} test images{' (--quick subset)' if r['quick'] else ''}; "
             f"{r['n_spice']} of them also simulated in ngspice. Model: "
             f"`{r['config']['model'].get('architecture', '')}`.", "",
             "## Accuracy", "",
             "| level | all images | images run in ngspice |", "|---|---|---|"]
    for k in ("software", "behavioral_ideal", "behavioral_circuit", "spice"):
        lines.append(f"| {k} | {fmt_pct(acc.get(k))} | {fmt_pct(acc_sp.get(k))} |")
    lines += ["", "## Agreement (ngspice vs behavioral circuit model)", "",
              f"- argmax agreement: {fmt_pct(ag.get('argmax_spice_vs_behavioral'))} of "
              f"{r['n_spice']} images",
              f"- output voltage |Δ|: max {fmt_v(ag.get('max_abs_output_diff_V'))}, mean "
              f"{fmt_v(ag.get('mean_abs_output_diff_V'))}",
              f"- software vs behavioral ideal argmax agreement: "
              f"{fmt_pct(ag.get('argmax_software_vs_behavioral_ideal'))}", ""]
    if ag.get("spice_vs_behavioral_per_layer"):
        lines += ["| layer | max abs Δ | mean abs Δ | rms Δ | output range (behavioral) |",
                  "|---|---|---|---|---|"]
        for d in ag["spice_vs_behavioral_per_layer"]:
            lo, hi = d["output_range_V"]
            lines.append(f"| {d['layer'] + 1} | {fmt_v(d['max_abs_diff_V'])} | "
                         f"{fmt_v(d['mean_abs_diff_V'])} | {fmt_v(d['rms_diff_V'])} | "
                         f"{lo:.3g} … {hi:.3g} V |")
        lines.append("")
    if ag.get("tiles_spice_vs_behavioral"):
        lines.append("Tiles (analog outputs before the ADC), ngspice vs behavioral: " + ", ".join(
            f"layer {d['layer'] + 1} ({d['row_tiles']} row tiles) max "
            f"{fmt_v(d['max_abs_diff_V'])}" + (
                f" = {d['max_rel_to_adc_full_scale']:.2g} of ADC full scale, "
                f"{d['adc_codes_differing']} of {d['adc_codes']} ADC codes differ "
                f"({d['adc_codes_near_boundary']} values within 1e-6 of a code boundary)"
                if "adc_bits" in d else "")
            for d in ag["tiles_spice_vs_behavioral"]) + ".")
        lines.append("")
    if ag.get("column_currents_spice_vs_behavioral"):
        lines.append("Column currents into the sense stage, ngspice vs behavioral: " + ", ".join(
            f"layer {d['layer'] + 1} max {d['max_abs_diff_A']:.3g} A "
            f"({d['max_rel_to_full_scale']:.2g} of full scale {d['full_scale_A']:.3g} A)"
            for d in ag["column_currents_spice_vs_behavioral"]) + ".")
        lines.append("")
    lines += ["Circuit non-idealities (behavioral circuit vs behavioral ideal), per layer: " +
              ", ".join(f"layer {d['layer'] + 1} max {fmt_v(d['max_abs_diff_V'])}"
                        for d in ag["behavioral_circuit_vs_ideal_per_layer"]) + ".", "",
              "## Timing", "",
              "| what | time | per image |", "|---|---|---|",
              f"| ngspice, all chunks (sum over workers) | {fmt_s(t['spice'])} | "
              f"{fmt_s(t['spice_per_image'])} |",
              f"| behavioral circuit, all {r['n_test']} images in one batch | "
              f"{fmt_s(t['behavioral'])} | {fmt_s(t['behavioral_per_image'])} |",
              f"| harness wall time, all variants ({r['run']['executor']}, "
              f"{r['run']['workers']} workers) | "
              f"{fmt_s(t['harness_wall'])} | |", ""]
    if t.get("speedup_behavioral_vs_spice"):
        lines.append(f"Behavioral model speed-up over ngspice: "
                     f"**{t['speedup_behavioral_vs_spice']:,.0f}×** per image.")
        lines.append("")
    fc = r.get("full_circuit")
    if fc:
        fa, fg, fsp = fc["accuracy"], fc["agreement"], fc.get("accuracy_on_spice_images") or {}
        lines += ["## Full circuit: + 1T1R access transistors and op-amp neurons", "",
                  f"Circuit: `{json.dumps(fc['circuit'])}`. Behavioral levels on all "
                  f"{fc['n_test']} images, ngspice on the first {fc['n_spice']} "
                  f"({fmt_s(fc['timing_s']['spice_per_image'])} of ngspice per image).", "",
                  "| level | all images | images run in ngspice |", "|---|---|---|"]
        for k in ("software", "behavioral_ideal", "behavioral_circuit", "spice"):
            lines.append(f"| {k} | {fmt_pct(fa.get(k))} | {fmt_pct(fsp.get(k))} |")
        lines += ["", f"- argmax agreement ngspice vs behavioral: "
                  f"{fmt_pct(fg.get('argmax_spice_vs_behavioral'))} of {fc['n_spice']} images; "
                  f"output |Δ| max {fmt_v(fg.get('max_abs_output_diff_V'))}, mean "
                  f"{fmt_v(fg.get('mean_abs_output_diff_V'))}", ""]
    lines += variants_markdown(r.get("variants") or {})
    failed = list(r["failed_chunks"]) + list((fc or {}).get("failed_chunks", []))
    failed += list(((r.get("variants") or {}).get("macro") or {}).get("failed_chunks", []))
    if failed:
        lines += ["## Failed chunks", ""]
        for f in failed:
            lines.append(f"- `{f['chunk']}` (images {f['start']}–{f['stop'] - 1}): "
                         f"{(f['error'] or '').splitlines()[0]}; deck `{f.get('deck_path')}`, "
                         f"log `{f.get('log_path')}`")
        lines.append("")
    if r.get("ir_drop"):
        d = r["ir_drop"]
        lines += [f"IR drop in the layer-1 crossbar ({d['shape'][0]}×{d['shape'][1]}, "
                  f"{d['input']}): cell voltage loss max {fmt_v(d['max_cell_voltage_loss_V'])}, "
                  f"mean {fmt_v(d['mean_cell_voltage_loss_V'])} (max "
                  f"{100 * d['max_loss_over_v_read']:.2g} % of v_read).", ""]
    if r.get("programming"):
        lines += [programming_markdown(r["programming"])]
    lines += ["## Plots", ""]
    for p in r.get("plots", []):
        lines += [f"![{p}]({p})", ""]
    cfg = {k: v for k, v in r["config"].items() if k != "model"}
    lines += ["## Configuration", "", "```json", json.dumps(cfg, indent=1, default=str), "```",
              ""]
    return "\n".join(lines)


__all__ = ["DEMO_CONFIG", "QUICK_IMAGES", "comparable", "run_demo"]
