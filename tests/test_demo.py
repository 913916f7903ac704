"""``circuitsim demo`` / ``sweep`` on the real pipeline (nn → mapping → network → ngspice),
kept small: a 64-8-10 sigmoid MLP trained for a few epochs, a few test images."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from circuitsim.cli import main as cli_main
from circuitsim.errors import ConfigError
from circuitsim.xval.config import XvalConfig
from circuitsim.xval.demo import DEMO_CONFIG, QUICK_IMAGES, run_demo
from circuitsim.xval.report import comparable
from circuitsim.xval.sweep import run_sweep

pytestmark = pytest.mark.ngspice
ROOT = Path(__file__).resolve().parents[1]

SMALL = DEMO_CONFIG.replace(hidden=(8,), train={"epochs": 8})
"""The demo's circuit and mapping on a smaller hidden layer (fast ngspice runs)."""


@pytest.fixture(scope="session")
def small_model(tmp_path_factory) -> Path:
    """A 64-8-10 sigmoid checkpoint for the session.  Instead of gradient training (slow on
    the shared machine) the hidden layer keeps its seeded random weights and the output
    layer is the least-squares fit of one-hot targets on the hidden activations: a working
    classifier (~80-90 % test accuracy) in milliseconds."""
    import numpy as np
    import torch

    from circuitsim.nn.data import load_digits
    from circuitsim.nn.models import make_mlp
    from circuitsim.nn.train import save_checkpoint

    ds = load_digits()
    model = make_mlp((64, 8, 10), "sigmoid", seed=0)
    with torch.no_grad():
        h = model[1](model[0](torch.as_tensor(ds.x_train))).numpy().astype(np.float64)
        A = np.hstack([h, np.ones((len(h), 1))])
        T = np.eye(10)[ds.y_train] * 4.0 - 2.0
        sol = np.linalg.lstsq(A, T, rcond=None)[0]
        model[2].weight.copy_(torch.as_tensor(sol[:-1].T, dtype=torch.float32))
        model[2].bias.copy_(torch.as_tensor(sol[-1], dtype=torch.float32))
    return save_checkpoint(tmp_path_factory.mktemp("model") / "small.pt", model, {})


def _quiet(*a):
    pass


def test_quick_demo_agrees_with_spice(tmp_path, small_model):
    r = run_demo(tmp_path, config=SMALL.replace(n_images=16), quick=True,
                 model_path=small_model, workers=2, progress=False, log=_quiet,
                 full_spice_images=1)
    assert r["n_test"] == 16 and r["n_spice"] == 16
    for key in ("dataset", "n_test", "accuracy", "agreement", "timing_s", "config"):
        assert key in r
    acc, ag = r["accuracy"], r["agreement"]
    assert acc["software"] == acc["behavioral_ideal"]
    assert ag["argmax_software_vs_behavioral_ideal"] == 1.0
    assert ag["argmax_spice_vs_behavioral"] >= 0.99
    assert abs(acc["spice"] - acc["behavioral_circuit"]) <= 0.01 + 1e-12
    assert ag["max_abs_output_diff_V"] < 1e-3
    assert acc["software"] > 0.5  # a trained network, not chance
    on_disk = json.loads((tmp_path / "report.json").read_text())
    assert on_disk["accuracy"] == acc
    md = (tmp_path / "report.md").read_text()
    for png in r["plots"]:
        assert (tmp_path / png).stat().st_size > 1000 and f"]({png})" in md
    assert {"accuracy.png", "spice_vs_behavioral.png", "error_histogram.png"} <= set(r["plots"])
    assert r["netlists"] and all((tmp_path / p).exists() for p in r["netlists"])
    assert QUICK_IMAGES == 40 and r["quick"]
    # the full-circuit variant (access transistors + circuit neurons): 1 image in ngspice
    fc = r["full_circuit"]
    assert fc["n_test"] == 16 and fc["n_spice"] == 1 and fc["circuit"]["access"]
    assert fc["agreement"]["argmax_spice_vs_behavioral"] == 1.0
    assert fc["agreement"]["max_abs_output_diff_V"] < 1e-3
    assert "spice_vs_behavioral_full_circuit.png" in r["plots"]


def test_tiled_demo_with_converters(tmp_path, small_model):
    """``--set mapping.tile_size=16`` etc.: tiles, DAC and ADC in both worlds; the report has
    every image's prediction per level, the per-tile agreement and the calibration set."""
    cfg = SMALL.replace(n_images=8, chunk_size=4, calibration_images=100,
                        mapping={**SMALL.mapping, "tile_size": 16, "dac_bits": 6,
                                 "adc_bits": 8})
    r = run_demo(tmp_path, config=cfg, model_path=small_model, workers=1, progress=False,
                 log=_quiet, full_spice_images=1)
    assert r["calibration"]["first_n"] == 100
    pred = r["predictions"]
    assert len(pred["software"]) == len(pred["spice"]) == len(pred["labels"]) == 8
    assert pred["spice"] == pred["behavioral_circuit"]
    tiles = r["agreement"]["tiles_spice_vs_behavioral"]
    assert [t["row_tiles"] for t in tiles] == [5, 1]
    for t in tiles:
        assert t["max_rel_to_adc_full_scale"] <= 1e-6
        assert t["adc_codes_differing"] <= t["adc_codes_near_boundary"]
    assert r["full_circuit"]["agreement"]["argmax_spice_vs_behavioral"] == 1.0
    assert "ADC codes differ" in (tmp_path / "report.md").read_text()


def test_cnn_demo_through_software_twin_and_spice(tmp_path):
    """``{"model": "cnn"}``: a CNN through every level (conv layers by unfolding)."""
    from test_network_cnn import small_cnn

    from circuitsim.nn.data import load_digits
    from circuitsim.nn.train import save_checkpoint

    ck = save_checkpoint(tmp_path / "cnn.pt", small_cnn(load_digits()), {})
    cfg = SMALL.replace(model="cnn", n_images=8, chunk_size=4, calibration_images=200)
    r = run_demo(tmp_path / "out", config=cfg, model_path=ck, workers=1, progress=False,
                 log=_quiet, full_spice_images=0)
    assert r["agreement"]["argmax_spice_vs_behavioral"] == 1.0
    assert r["predictions"]["spice"] == r["predictions"]["behavioral_circuit"]
    assert r["accuracy"]["software"] == r["accuracy"]["behavioral_ideal"]
    assert all(t["max_abs_diff_V"] < 1e-6 for t in r["agreement"]["tiles_spice_vs_behavioral"])


def test_dask_local_cluster_gives_the_same_report_as_local(tmp_path, small_model):
    cfg = SMALL.replace(n_images=8, chunk_size=4, spice_images=4)
    kw = dict(config=cfg, model_path=small_model, progress=False, log=_quiet,
              full_spice_images=0)
    local = run_demo(tmp_path / "local", workers=1, **kw)
    dask = run_demo(tmp_path / "dask", executor="dask", workers=2, dask_processes=False, **kw)
    assert dask["run"]["executor"] == "dask" and dask["run"]["workers"] == 2
    assert comparable(dask) == comparable(local)


def test_sigterm_then_resume_gives_the_clean_runs_report(tmp_path, small_model):
    out = tmp_path / "killed"
    args = ["--quick", "--model", str(small_model), "--set", "hidden=[8]",
            "--set", "n_images=12", "--set", "chunk_size=2", "--workers", "1",
            "--no-progress", "--full-spice-images", "0", "--no-macro"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "circuitsim.cli", "demo", "--out", str(out),
                             *args], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    chunks = out / "chunks"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(chunks.glob("*.npz"))) < 2:
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    log = proc.communicate(timeout=60)[0].decode()
    n_done = len(list(chunks.glob("*.npz")))
    assert proc.returncode == 130, log
    assert 2 <= n_done < 6, f"not interrupted mid-way ({n_done} of 6 chunks)"
    assert cli_main(["demo", "--out", str(out), "--resume", *args]) == 0
    resumed = json.loads((out / "report.json").read_text())
    assert resumed["run"]["chunks_skipped"] == n_done
    assert cli_main(["demo", "--out", str(tmp_path / "clean"), *args]) == 0
    clean = json.loads((tmp_path / "clean" / "report.json").read_text())
    assert comparable(resumed) == comparable(clean)


def _no_work_done(out: Path) -> bool:
    return not (out / "chunks").exists() and not (out / "models").exists()


def test_unknown_config_key_fails_before_any_work(tmp_path, capsys):
    out = tmp_path / "out"
    assert cli_main(["demo", "--out", str(out), "--set", "circuit.r_wire=3"]) == 1
    err = capsys.readouterr().err
    assert "circuit: unknown key(s) r_wire" in err and "r_wire_row" in err
    assert _no_work_done(out)
    cfg = tmp_path / "c.json"
    cfg.write_text('{"hiden": [8]}')
    assert cli_main(["demo", "--out", str(out), "--config", str(cfg)]) == 1
    assert "unknown key(s) hiden" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="mapping: unknown key"):
        run_demo(out, config=XvalConfig(mapping={"gmax": 1e-4}), log=_quiet)
    assert _no_work_done(out)


def test_a_file_that_is_not_a_checkpoint_fails_before_any_work(tmp_path, capsys):
    bad = tmp_path / "model.pt"
    bad.write_text("definitely not a checkpoint")
    out = tmp_path / "out"
    assert cli_main(["demo", "--out", str(out), "--model", str(bad)]) == 1
    assert "not a readable torch checkpoint" in capsys.readouterr().err
    assert _no_work_done(out)


def test_unwritable_out_fails_before_any_work(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert cli_main(["demo", "--out", str(blocker / "demo")]) == 1
    assert "cannot write there" in capsys.readouterr().err


def test_sweep_table_plot_and_behavioral_only_beyond_spice_images(tmp_path, small_model):
    r = run_sweep(tmp_path, "circuit.r_wire_row", [0.0, 20.0],
                  config=SMALL.replace(n_images=6, chunk_size=3), spice_images=3,
                  model_path=small_model, workers=1, progress=False, log=_quiet)
    assert [row["value"] for row in r["rows"]] == [0.0, 20.0]
    for p in r["variants"]:
        assert p["n_test"] == 6 and p["n_spice"] == 3
        assert p["agreement"]["argmax_spice_vs_behavioral"] >= 0.99
    assert (tmp_path / "sweep.png").stat().st_size > 1000
    md = (tmp_path / "sweep.md").read_text()
    assert "| 0.0 |" in md and "| 20.0 |" in md
    a, b = (p["accuracy"] for p in r["variants"])
    assert a["software"] == b["software"]  # the wire resistance only changes the circuit
    assert r["rows"][0]["software_err"] is not None  # binomial SE with one seed


def test_sweep_cli_behavioral_only(tmp_path, small_model, capsys):
    out = tmp_path / "sw"
    assert cli_main(["sweep", "--out", str(out), "--param", "circuit.r_wire_row",
                     "--values", "0", "50", "--spice", "none", "--model", str(small_model),
                     "--set", "hidden=[8]", "--n-images", "30", "--workers", "1",
                     "--no-progress"]) == 0
    r = json.loads((out / "sweep.json").read_text())
    assert [row["value"] for row in r["rows"]] == [0, 50]
    assert all(p["n_spice"] == 0 and p["accuracy"]["spice"] is None for p in r["variants"])
    assert all(p["n_test"] == 30 for p in r["variants"])
    assert "circuit.r_wire_row=50" in capsys.readouterr().out
    with pytest.raises(ConfigError, match="unknown config field"):
        run_sweep(tmp_path / "bad", "circuit_r", [1], log=_quiet)
