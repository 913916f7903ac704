"""``circuitsim sweep``: accuracy and SPICE/behavioral agreement against one config field.

Each value × seed is a variant; every variant's test images are split into chunks like the
demo's and run on the same executors (so sweeps resume and scale the same way).  ngspice runs
where affordable: ``spice="auto"`` simulates the first ``spice_images`` (default
:data:`SWEEP_SPICE_IMAGES`) images of each variant whose largest crossbar has at most
:data:`SPICE_MAX_ROWS` rows — ngspice's sparse solver takes ~1 min per operating point at
128×128 and > 9 min at 256×256 (shared/DESIGN.md §6) — and none beyond; the behavioral levels
always run on all images.  ``"all"``: ngspice on every image; ``"none"``: behavioral only.

Error bars: the standard deviation over seeds when there are several, otherwise the binomial
standard error sqrt(p(1−p)/n) of one accuracy over n images.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from . import plots
from .config import XvalConfig
from .executors import get_executor
from .harness import LEVELS, Variant, XvalRun, network_from_config, section_configs
from .pipeline import get_model, load_dataset, load_given_model, model_key
from .report import fmt_pct, fmt_v, summarise, write_json
from .store import atomic_write_text, check_writable


def _say(*args) -> None:
    print(*args, flush=True)

SWEEP_SPICE_IMAGES = 40
SPICE_MAX_ROWS = 129
SPICE_MODES = ("auto", "all", "none")


def _max_rows(model) -> int:
    import torch

    return max(m.in_features + 1 for m in model.modules() if isinstance(m, torch.nn.Linear))


def run_sweep(out: str | Path, param: str, values: list, *, config: XvalConfig | None = None,
              seeds: list[int] | None = None, spice: str = "auto",
              spice_images: int | None = None, model_path=None, executor: str = "local",
              scheduler: str | None = None, workers: int | None = None, resume: bool = False,
              progress: bool | None = None, factory=network_from_config, dataset=None,
              dask_processes: bool = True, log=None) -> dict:
    """Sweep ``param`` over ``values`` (× ``seeds``) into ``out``; returns the sweep report
    (also ``sweep.json``, ``sweep.md``, ``sweep.png``)."""
    log = log or _say
    base = config or XvalConfig()
    if not values:
        raise ConfigError("--values: give at least one value")
    if spice not in SPICE_MODES:
        raise ConfigError(f"--spice must be one of {', '.join(SPICE_MODES)}, got {spice!r}")
    seeds = [int(s) for s in (seeds or [base.seed])]
    if param == "seed":
        seeds = [None]
    out = check_writable(Path(out))
    variants_cfg = []
    for i, v in enumerate(values):
        for s in seeds:
            c = base.with_value(param, v)
            if s is not None:
                c = c.with_value("seed", s)
            variants_cfg.append((f"p{i:02d}-s{c.seed}", c, {"value": v, "seed": c.seed}))
    if factory is network_from_config:
        for _, c, _ in variants_cfg:  # every variant's config is valid before any work
            section_configs(c)
    given = load_given_model(model_path) if model_path is not None else None
    ex = get_executor(executor, workers=workers, scheduler=scheduler, processes=dask_processes)
    with ex:
        ds = dataset if dataset is not None else load_dataset(base)
        models: dict = {}
        variants = []
        for key, c, label in variants_cfg:
            mk = model_key(c, ds) if model_path is None else "given"
            if mk not in models:
                models[mk] = get_model(c, ds, out / "models", given=given, progress=progress)
            model = models[mk][0]
            n_sp = _spice_images(spice, spice_images, model)
            variants.append(Variant(key, c.replace(spice_images=n_sp), model, label))
        run = XvalRun(variants, ds, out, factory=factory)
        log(f"sweep {param} over {len(values)} value(s) × {len(seeds)} seed(s): "
            f"{len(run.chunks)} chunks on {ex.describe()}")
        t0 = time.perf_counter()
        stats = run.run(ex, resume=resume, progress=progress, desc="sweep")
        run_info = {**ex.describe(), "resumed": resume, "chunks": len(run.chunks),
                    "chunks_run_now": stats["run"], "chunks_skipped": stats["skipped"],
                    "harness_wall_s": time.perf_counter() - t0}
    per_variant = []
    for v in variants:
        s = summarise(run.records(v.key))
        s.pop("_arrays")
        per_variant.append({"key": v.key, **v.label, "n_test": s["n_test"],
                            "n_spice": s["n_spice"], "accuracy": s["accuracy"],
                            "accuracy_on_spice_images": s.get("accuracy_on_spice_images"),
                            "agreement": {k: s["agreement"].get(k) for k in (
                                "argmax_spice_vs_behavioral", "max_abs_output_diff_V",
                                "mean_abs_output_diff_V")},
                            "failed_chunks": s["failed_chunks"],
                            "timing_s": s["timing_s"]})
    rows = aggregate(values, per_variant)
    report = {"param": param, "values": list(values), "seeds": seeds, "spice": spice,
              "dataset": ds.name, "rows": rows, "variants": per_variant,
              "config": base.to_dict(), "run": run_info}
    n_sp, n_all = per_variant[0]["n_spice"], per_variant[0]["n_test"]
    labels = {"spice": f"ngspice (first {n_sp} images)"} if 0 < n_sp < n_all else None
    report["plot"] = Path(plots.plot_sweep(param, rows, out / "sweep.png",
                                           labels=labels)).name
    write_json(out / "sweep.json", report)
    atomic_write_text(out / "sweep.md", render_markdown(report))
    return report


def _spice_images(mode: str, n: int | None, model) -> int:
    if mode == "none":
        return 0
    if mode == "all":
        return n if n is not None else 10 ** 9
    if _max_rows(model) > SPICE_MAX_ROWS:
        return 0
    return SWEEP_SPICE_IMAGES if n is None else int(n)


def aggregate(values: list, per_variant: list[dict]) -> list[dict]:
    """One row per value: mean accuracy of each level over seeds and its error bar."""
    rows = []
    for v in values:
        group = [p for p in per_variant if p["value"] == v]
        row: dict = {"value": v, "n_seeds": len(group)}
        for lvl in LEVELS:
            accs = [p["accuracy"][lvl] for p in group if p["accuracy"][lvl] is not None]
            if not accs:
                row[lvl], row[f"{lvl}_err"] = None, None
                continue
            m = float(np.mean(accs))
            if len(accs) > 1:
                err = float(np.std(accs, ddof=1))
            else:
                n = group[0]["n_spice"] if lvl == "spice" else group[0]["n_test"]
                err = math.sqrt(m * (1 - m) / n) if n else None
            row[lvl], row[f"{lvl}_err"] = m, err
        ag = [p["agreement"]["argmax_spice_vs_behavioral"] for p in group
              if p["agreement"]["argmax_spice_vs_behavioral"] is not None]
        row["argmax_spice_vs_behavioral"] = float(np.mean(ag)) if ag else None
        mx = [p["agreement"]["max_abs_output_diff_V"] for p in group
              if p["agreement"]["max_abs_output_diff_V"] is not None]
        row["max_abs_output_diff_V"] = max(mx) if mx else None
        rows.append(row)
    return rows


def render_markdown(r: dict) -> str:
    lines = [f"# Sweep of `{r['param']}` — {r['dataset']}", "",
             f"Seeds: {r['seeds']}; ngspice: {r['spice']} (behavioral levels on all "
             f"{r['variants'][0]['n_test']} images, ngspice on {r['variants'][0]['n_spice']} "
             "per variant). Error bars: std over seeds, or binomial SE for one seed.", "",
             "| value | software | behavioral ideal | behavioral circuit | ngspice | "
             "argmax agree | max abs Δ |", "|---|---|---|---|---|---|---|"]

    def cell(row, k):
        if row[k] is None:
            return "—"
        e = row[f"{k}_err"]
        return fmt_pct(row[k]) + (f" ± {100 * e:.2f}" if e else "")

    for row in r["rows"]:
        lines.append(f"| {row['value']} | " + " | ".join(cell(row, k) for k in LEVELS) +
                     f" | {fmt_pct(row['argmax_spice_vs_behavioral'])} | "
                     f"{fmt_v(row['max_abs_output_diff_V'])} |")
    fails = [f for p in r["variants"] for f in p["failed_chunks"]]
    if fails:
        lines += ["", "## Failed chunks", ""] + [f"- `{f['chunk']}`: {f['error']}"
                                                  for f in fails]
    lines += ["", f"![sweep]({r['plot']})", ""]
    return "\n".join(lines)
