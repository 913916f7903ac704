"""Summaries of stored chunk records, and ``report.json`` / ``report.md``.

Every figure in a report is computed from the chunk records of that run directory, so a
resumed run and an uninterrupted one give the same report (apart from ``timing_s`` and
``run``, which describe how the run went, not what it found: see :func:`comparable`).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..errors import SimulationError
from ..mapping.converters import adc_codes, near_code_boundary
from ..readout import predict_labels
from .harness import LEVELS
from .store import atomic_write_text

VOLATILE_KEYS = ("timing_s", "run")
"""Report keys that depend on the machine and the executor, not on the results."""


def comparable(report: dict) -> dict:
    """``report`` without :data:`VOLATILE_KEYS` (at any depth): what must be identical
    between a clean run, a resumed run and a run on another executor."""
    if isinstance(report, dict):
        return {k: comparable(v) for k, v in report.items() if k not in VOLATILE_KEYS}
    if isinstance(report, list):
        return [comparable(v) for v in report]
    return report


def _stack(records: list[dict], level: str) -> tuple[list[np.ndarray], np.ndarray] | None:
    """Per-layer arrays of ``level`` over the records that have it, and the mask of images
    (over all records, in order) they cover."""
    have, mask = [], []
    for r in records:
        n = len(r["y"])
        ok = f"{level}_L0" in r and (level != "spice" or r["meta"]["status"] == "ok")
        mask.append(np.full(n, ok))
        if ok:
            have.append(r)
    if not have:
        return None
    n_layers = sum(1 for k in have[0] if k.startswith(f"{level}_L"))
    layers = [np.concatenate([r[f"{level}_L{k}"] for r in have]) for k in range(n_layers)]
    return layers, np.concatenate(mask)


def predict(out: np.ndarray) -> np.ndarray:
    """Class per image from the last layer's outputs (:func:`circuitsim.readout.predict_labels`)."""
    return predict_labels(out)


def _acc(logits: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(predict(logits) == y)) if len(y) else float("nan")


def _agree(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(predict(a) == predict(b)))


def _current_errors(records: list[dict]) -> list[dict] | None:
    """Per layer: column currents into the sense stage, ngspice vs behavioral circuit."""
    have = [r for r in records if "spice_I0" in r and "behavioral_circuit_I0" in r
            and r["meta"]["status"] == "ok"]
    if not have:
        return None
    out = []
    k = 0
    while f"spice_I{k}" in have[0]:
        s = np.concatenate([r[f"spice_I{k}"] for r in have])
        b = np.concatenate([r[f"behavioral_circuit_I{k}"] for r in have])
        d = np.abs(s - b)
        full = float(np.abs(b).max()) or 1.0
        out.append({"layer": k, "max_abs_diff_A": float(d.max()),
                    "mean_abs_diff_A": float(d.mean()),
                    "max_rel_to_full_scale": float(d.max() / full),
                    "full_scale_A": full})
        k += 1
    return out


def _tile_agreement(records: list[dict]) -> list[dict] | None:
    """Per layer with tiles: the analog tile outputs (before the ADC), ngspice vs behavioral
    circuit — max |Δ| [V], max |Δ| relative to the ADC full scale, and the ADC codes that
    differ (and how many of the twin's values lie within 1e-6 of full scale of a code
    boundary, where an analog difference of that size may flip a code)."""
    have = [r for r in records if "spice_T0" in r and "behavioral_circuit_T0" in r
            and r["meta"]["status"] == "ok"]
    if not have:
        return None
    out, k = [], 0
    while f"spice_T{k}" in have[0]:
        s = np.concatenate([r[f"spice_T{k}"] for r in have])
        b = np.concatenate([r[f"behavioral_circuit_T{k}"] for r in have])
        d = np.abs(s - b)
        row = {"layer": k, "row_tiles": int(s.shape[1]), "max_abs_diff_V": float(d.max())}
        bits = have[0]["meta"].get("adc_bits", {}).get(str(k))
        if bits is not None:
            fs = have[0][f"adcfs_L{k}"][None, :, None]
            differ = adc_codes(s, bits, fs) != adc_codes(b, bits, fs)
            row.update(adc_bits=int(bits), max_rel_to_adc_full_scale=float((d / fs).max()),
                       adc_codes=int(s.size), adc_codes_differing=int(differ.sum()),
                       adc_codes_near_boundary=int(near_code_boundary(b, bits, fs,
                                                                      1e-6).sum()))
        out.append(row)
        k += 1
    return out


def _diffs(a: list[np.ndarray], b: list[np.ndarray]) -> list[dict]:
    out = []
    for k, (x, z) in enumerate(zip(a, b, strict=True)):
        d = np.abs(x - z)
        out.append({"layer": k, "max_abs_diff_V": float(d.max()),
                    "mean_abs_diff_V": float(d.mean()),
                    "rms_diff_V": float(np.sqrt(np.mean(d ** 2))),
                    "output_range_V": [float(z.min()), float(z.max())]})
    return out


def _power_stack(records: list[dict], level: str) -> list[np.ndarray] | None:
    """Per-layer tile power (N, row tiles, col tiles) [W] of ``level`` over the records that
    have it (for ``spice``: the chunks whose ngspice run succeeded)."""
    have = [r for r in records if f"{level}_P0" in r
            and (level != "spice" or r["meta"]["status"] == "ok")]
    if not have:
        return None
    n_layers = sum(1 for k in have[0] if k.startswith(f"{level}_P"))
    return [np.concatenate([r[f"{level}_P{k}"] for r in have]) for k in range(n_layers)]


def energy_summary(records: list[dict], t_read: float) -> dict | None:
    """Read energy per inference [J] = tile read power (Σ V·I of its row drivers) × the read
    time ``t_read`` [s], per layer and tile, SPICE vs the behavioral circuit on the images run
    in ngspice, and the behavioral circuit and ideal crossbars on every image.  None when the
    records hold no power (all-analog decks)."""
    beh = _power_stack(records, "behavioral_circuit")
    if beh is None:
        return None
    ideal = _power_stack(records, "behavioral_ideal")
    sp = _power_stack(records, "spice")
    mask = np.concatenate([np.full(len(r["y"]), "spice_P0" in r and r["meta"]["status"] == "ok")
                           for r in records])

    def total(layers):
        return sum(a.sum(axis=(1, 2)) for a in layers) * t_read

    out: dict = {"t_read_s": t_read,
                 "what": "Σ V·I of every tile's row drivers × t_read (DC read power; the 0 V "
                         "column meters and the word line deliver none; sense amplifiers, "
                         "converters and line charging are not included)",
                 "n_images": int(len(mask)), "n_spice": int(mask.sum()),
                 "behavioral_circuit_mean_J": float(total(beh).mean()),
                 "behavioral_ideal_mean_J": (None if ideal is None
                                             else float(total(ideal).mean()))}
    layers = []
    for k, b in enumerate(beh):
        d = {"layer": k, "tiles": list(b.shape[1:]),
             "behavioral_circuit_mean_J": float(b.sum(axis=(1, 2)).mean() * t_read),
             "behavioral_circuit_tile_mean_J": (b.mean(axis=0) * t_read).tolist()}
        if sp is not None:
            s_, b_ = sp[k], b[mask]
            d["spice_mean_J"] = float(s_.sum(axis=(1, 2)).mean() * t_read)
            d["spice_tile_mean_J"] = (s_.mean(axis=0) * t_read).tolist()
            d["max_rel_diff_tile"] = float((np.abs(s_ - b_) / np.abs(s_).max()).max())
        layers.append(d)
    out["layers"] = layers
    if sp is not None:
        es, eb = total(sp), total([a[mask] for a in beh])
        out.update(spice_mean_J=float(es.mean()),
                   behavioral_circuit_on_spice_images_mean_J=float(eb.mean()),
                   max_rel_diff_per_image=float((np.abs(es - eb) / np.abs(es)).max()),
                   spice_per_image_J=es.tolist(), behavioral_circuit_per_image_J=eb.tolist())
    return out


def summarise(records: list[dict]) -> dict:
    """Accuracies, agreement and timings of one variant from its chunk records (in image
    order).  Also returns the stacked arrays under ``"_arrays"`` (for plots; not JSON).

    A chunk whose task raised before producing any arrays (e.g. the circuit neurons could not
    be characterised in ngspice) is listed under ``failed_chunks`` and its images are left
    out of every figure; if no chunk produced arrays, :class:`SimulationError` lists them."""
    failed = [{k: r["meta"].get(k) for k in ("chunk", "start", "stop", "error", "deck_path",
                                             "log_path")}
              for r in records if r["meta"].get("status") != "ok"]
    records = [r for r in records if "y" in r]
    if not records:
        first = (failed[0]["error"] or "").strip().splitlines() if failed else []
        raise SimulationError(
            f"all {len(failed)} chunk(s) failed, nothing to report "
            f"({first[0] if first else 'no error recorded'}); failed chunks: "
            f"{', '.join(str(f['chunk']) for f in failed)}; their errors, decks and logs are "
            "under failed/ in the output directory: fix the cause and rerun with --resume")
    y = np.concatenate([r["y"] for r in records])
    stacks = {lvl: _stack(records, lvl) for lvl in LEVELS}
    acc: dict = {}
    for lvl in LEVELS:
        s = stacks[lvl]
        acc[lvl] = _acc(s[0][-1], y[s[1]]) if s else None
    out: dict = {"n_test": int(len(y)), "accuracy": acc}
    agreement: dict = {}
    sw, ide, cir = stacks["software"], stacks["behavioral_ideal"], stacks["behavioral_circuit"]
    agreement["argmax_software_vs_behavioral_ideal"] = _agree(sw[0][-1], ide[0][-1])
    agreement["argmax_behavioral_ideal_vs_circuit"] = _agree(ide[0][-1], cir[0][-1])
    agreement["behavioral_circuit_vs_ideal_per_layer"] = _diffs(cir[0], ide[0])
    sp = stacks["spice"]
    n_spice = 0 if sp is None else int(sp[1].sum())
    out["n_spice"] = n_spice
    if sp is not None:
        cir_on = [a[sp[1]] for a in cir[0]]
        per_layer = _diffs(sp[0], cir_on)
        agreement["argmax_spice_vs_behavioral"] = _agree(sp[0][-1], cir_on[-1])
        agreement["max_abs_output_diff_V"] = max(d["max_abs_diff_V"] for d in per_layer)
        allabs = np.concatenate([np.abs(s - c).ravel() for s, c in zip(sp[0], cir_on,
                                                                          strict=True)])
        agreement["mean_abs_output_diff_V"] = float(allabs.mean())
        agreement["spice_vs_behavioral_per_layer"] = per_layer
        agreement["column_currents_spice_vs_behavioral"] = _current_errors(records)
        agreement["tiles_spice_vs_behavioral"] = _tile_agreement(records)
        ys = y[sp[1]]
        out["accuracy_on_spice_images"] = {
            "software": _acc(sw[0][-1][sp[1]], ys),
            "behavioral_ideal": _acc(ide[0][-1][sp[1]], ys),
            "behavioral_circuit": _acc(cir_on[-1], ys),
            "spice": _acc(sp[0][-1], ys)}
    else:
        agreement.update(argmax_spice_vs_behavioral=None, max_abs_output_diff_V=None,
                         mean_abs_output_diff_V=None)
    out["agreement"] = agreement
    out["predictions"] = {lvl: (None if stacks[lvl] is None
                                else predict(stacks[lvl][0][-1]).tolist()) for lvl in LEVELS}
    if sp is not None:
        out["predictions"]["spice_images"] = np.flatnonzero(sp[1]).tolist()
    out["predictions"]["labels"] = y.tolist()
    timing = {lvl: 0.0 for lvl in LEVELS}
    for r in records:
        for k, v in r["meta"].get("timing_s", {}).items():
            if k in timing:
                timing[k] += float(v)
    out["timing_s"] = {"chunks_sum": timing}
    out["failed_chunks"] = failed
    out["_arrays"] = {"y": y, **{lvl: s for lvl, s in stacks.items()}}
    return out


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON-able: {type(o).__name__}")


def _clean(o):
    """NaN → None so that report.json is strict JSON."""
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items() if not k.startswith("_")}
    if isinstance(o, list | tuple):
        return [_clean(v) for v in o]
    return o


def write_json(path: Path, report: dict) -> Path:
    atomic_write_text(Path(path), json.dumps(_clean(report), indent=2, sort_keys=False,
                                             default=_json_default) + "\n")
    return Path(path)


def fmt_pct(x) -> str:
    return "—" if x is None else f"{100 * x:.2f} %"


def fmt_v(x) -> str:
    """A voltage with the SI prefix that keeps the mantissa in [1, 1000): 1e-12 is "1 pV"."""
    if x is None:
        return "—"
    if x == 0:
        return "0 V"
    for unit, scale in (("fV", 1e-15), ("pV", 1e-12), ("nV", 1e-9), ("µV", 1e-6),
                        ("mV", 1e-3)):
        if abs(x) < 1000 * scale:
            return f"{x / scale:.3g} {unit}"
    return f"{x:.3g} V"


def fmt_s(x) -> str:
    return "—" if x is None else (f"{x:.3g} s" if x >= 0.01 else f"{x * 1e3:.3g} ms")
