"""The demo's ``macro`` variant, shrunken (64-8-8-10 ReLU, 1T1R, 8×8 tiles, 8-bit ADC):
reported under ``variants`` with its circuit, accuracy, agreement, timings, read energy from
ngspice and the twin, and the ngspice version and solver that ran it; the demo's manifest
records them too."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from circuitsim.nn.data import load_digits
from circuitsim.nn.models import make_mlp
from circuitsim.nn.train import save_checkpoint
from circuitsim.xval.config import DEFAULT_MAPPING
from circuitsim.xval.demo import DEMO_CIRCUIT, DEMO_CONFIG, MACRO_CONFIG, run_demo

pytestmark = pytest.mark.ngspice

SMALL_MACRO = MACRO_CONFIG.replace(hidden=(8, 8), train={"epochs": 3},
                                   mapping={**DEFAULT_MAPPING, "tile_size": 8, "adc_bits": 8},
                                   calibration_images=30)
ENERGY_TOL = 1e-5
"""Read energy per image, ngspice vs twin, relative (1T1R: the twin's Newton and ngspice's
reltol 1e-6 both converge far below it)."""


@pytest.mark.slow
def test_macro_variant_in_report(tmp_path):
    """~20 s of CPU: a whole demo run (demo variant + macro variant, 4 images; the macro
    variant's ngspice level as tile jobs)."""
    ds = load_digits()
    model = make_mlp((64, 6, 10), "sigmoid", seed=0)
    with torch.no_grad():  # least-squares readout: a working classifier in milliseconds
        h = model[1](model[0](torch.as_tensor(ds.x_train))).numpy().astype(np.float64)
        sol = np.linalg.lstsq(np.hstack([h, np.ones((len(h), 1))]),
                              np.eye(10)[ds.y_train] * 4.0 - 2.0, rcond=None)[0]
        model[2].weight.copy_(torch.as_tensor(sol[:-1].T, dtype=torch.float32))
        model[2].bias.copy_(torch.as_tensor(sol[-1], dtype=torch.float32))
    ck = save_checkpoint(tmp_path / "small.pt", model, {})
    r = run_demo(tmp_path / "out", config=DEMO_CONFIG.replace(hidden=(6,), n_images=4),
                 model_path=ck, workers=1, progress=False, log=lambda *a: None,
                 full_spice_images=0, macro=True, macro_spice_images=2,
                 macro_config=SMALL_MACRO)
    for key in ("dataset", "n_test", "accuracy", "agreement", "timing_s", "config"):
        assert key in r  # today's top-level keys stay
    assert set(r["variants"]) == {"demo", "macro"}
    m = r["variants"]["macro"]
    assert m["circuit"] == {**DEMO_CIRCUIT, "access": "ACCESS_018UM"}
    assert m["n_test"] == 4 and m["n_spice"] == 2 and not m["failed_chunks"]
    # 65 rows x 8 outputs -> 9 x 1 tiles; 9 x 8 -> 2 x 1; 9 x 10 -> 2 x 2
    assert [d["tiles"] for d in m["energy"]["layers"]] == [[9, 1], [2, 1], [2, 2]]
    assert m["tiles"] == 15
    assert m["agreement"]["argmax_spice_vs_behavioral"] == 1.0
    assert m["ngspice"]["solver"] == ["klu"] and m["ngspice"]["version"]
    e = m["energy"]
    assert e["n_images"] == 4 and e["n_spice"] == 2 and len(e["spice_per_image_J"]) == 2
    assert e["max_rel_diff_per_image"] <= ENERGY_TOL
    assert 0 < e["spice_mean_J"] < e["behavioral_ideal_mean_J"]  # wires lose voltage
    assert m["timing_s"]["spice_per_tile_per_image"] > 0
    # the untiled demo variant has no per-tile energy; its simulator is recorded
    assert r["variants"]["demo"]["energy"] is None
    assert r["ngspice"]["solver"] == ["klu"]
    man = json.loads((tmp_path / "out" / "netlists" / "manifest.json").read_text())
    assert man["simulated_with"]["solver"] == ["klu"]
    md = (tmp_path / "out" / "report.md").read_text()
    assert "## Variants" in md and "Read energy, variant `macro`" in md
    # how many images went through ngspice, and why, from this run's own ngspice cost
    z = m["spice_sizing"]
    assert (z["n_spice"], z["n_test"], z["n_dataset"]) == (2, 4, 360)
    assert z["projected_spice_s_all_images"] == pytest.approx(
        360 * m["timing_s"]["spice_per_image"])
    assert "core-hours" in z["why"] and "2 of 4 images through ngspice" in md
    # the macro variant runs its ngspice level as (tile, chunk) jobs: its 2 ngspice images
    # form one chunk, so one job per tile
    jobs = sorted((tmp_path / "out" / "chunks").glob("macro-L*.npz"))
    assert len(jobs) == 15 and all(j.name.endswith("-i00000-00002.npz") for j in jobs)
