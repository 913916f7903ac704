"""Studies on tiny settings: files, shapes, and the trends physics demands."""

from __future__ import annotations

import json

import pytest
import torch

from circuitsim.cli import main
from circuitsim.errors import ConfigError
from circuitsim.studies import QUICK, StudyContext, run_study

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def ctx():
    c = StudyContext(quick=True, progress=False)
    c.trained()
    return c


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return tmp_path_factory.mktemp("studies")


def _files_ok(res, out):
    stem = res.name
    for ext in ("csv", "json", "png"):
        assert (out / f"{stem}.{ext}").stat().st_size > 0
    d = json.loads((out / f"{stem}.json").read_text())
    assert d["meta"]["mapping"]["g_max"] == pytest.approx(110e-6)
    assert len(d["rows"]) == len(res.rows)


def test_variability(ctx, out):
    res = run_study("variability", ctx, out)
    _files_ok(res, out)
    assert len(res.rows) == 2 * (len(QUICK["variability"]["sigmas_us"]) + 1)
    acc = {(r["sigma_us"], r["scheme"]): r["mean_acc"] for r in res.rows}
    assert acc[(40, "one-shot")] < acc[(2, "one-shot")]
    assert acc[(40, "write-verify")] > acc[(40, "one-shot")]
    assert res.meta["software_acc"] == res.meta["mapped_ideal_acc"]


def test_stuck_at_lrs_hurts_more_than_hrs(ctx, out):
    res = run_study("stuck-at", ctx, out)
    _files_ok(res, out)
    acc = {(r["p_lrs"], r["p_hrs"]): r for r in res.rows}
    clean = acc[(0.0, 0.0)]
    assert clean["std_acc"] == 0 and clean["mean_acc"] == res.meta["software_acc"]
    lrs = acc[(0.1, 0.0)]
    # more stuck-at-LRS never raises the mean accuracy beyond noise
    assert lrs["mean_acc"] <= clean["mean_acc"] + 2 * lrs["std_acc"] / lrs["draws"] ** 0.5
    assert lrs["mean_acc"] < acc[(0.0, 0.1)]["mean_acc"]


def test_tiles_adc(ctx, out):
    res = run_study("tiles-adc", ctx, out)
    _files_ok(res, out)
    assert len(res.rows) == 4
    for t in (16, 64):
        a = {r["adc_bits"]: r["mean_acc"] for r in res.rows if r["tile"] == t}
        assert a[8] > a[2]
        assert a[8] >= res.meta["software_acc"] - 0.03


def test_retention_endurance_vmax_noise_training(ctx, out):
    ret = run_study("retention", ctx, out)
    _files_ok(ret, out)
    drift = [r for r in ret.rows if r["model"] == "power-law drift"]
    assert drift[0]["mean_acc"] == ret.meta["software_acc"]  # t = t0: no drift yet
    assert drift[-1]["mean_acc"] < drift[0]["mean_acc"]
    end = run_study("endurance", ctx, out)
    _files_ok(end, out)
    assert end.rows[-1]["mean_acc"] < end.rows[0]["mean_acc"]
    vm = run_study("vmax", ctx, out)
    _files_ok(vm, out)
    assert {r["scenario"] for r in vm.rows} == {"noise only", "noise + sinh I-V"}
    nt = run_study("noise-training", ctx, out)
    _files_ok(nt, out)
    assert [r["training"] for r in nt.rows] == ["plain", "noise-injected"]


def test_cli_and_errors(tmp_path):
    assert main(["study", "endurance", "--quick", "--draws", "1", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "endurance.png").exists()
    with pytest.raises(ConfigError):
        run_study("nope", StudyContext(quick=True))


def test_cli_seed_seeds_the_draws(tmp_path):
    for seed in (0, 1):
        assert main(["study", "stuck-at", "--quick", "--draws", "2", "--seed", str(seed),
                     "--out", str(tmp_path / str(seed))]) == 0
    a, b = (json.loads((tmp_path / s / "stuck_at.json").read_text()) for s in "01")
    assert a["meta"]["seed"] == 0 and b["meta"]["seed"] == 1


def test_ir_drop_study(ctx, out):
    res = run_study("ir-drop", ctx, out)
    _files_ok(res, out)
    rows = {(r["r_wire"], r["training"]): r for r in res.rows}
    assert rows[(0.0, "plain")]["max_logit_error_rel"] == 0.0
    assert rows[(10.0, "plain")]["max_logit_error_rel"] > 0.05
    assert {t for _, t in rows} == {"plain", "plain-finetuned", "ir-drop-aware"}
    # IR-drop-aware training recovers at least what equal-length plain fine-tuning does
    assert rows[(10.0, "ir-drop-aware")]["mean_acc"] >= rows[(10.0, "plain-finetuned")]["mean_acc"]


def test_scenario_study_from_saved_config(ctx, tmp_path):
    from circuitsim.nonideal import NonIdealityConfig, ReadNoise, StuckAt

    ni = NonIdealityConfig(stuck_at=StuckAt(0.02, 0.02), read_noise=ReadNoise(0.01), seed=4)
    path = ni.save(tmp_path / "scn.json")
    res = run_study("scenario", ctx, tmp_path, scenario=str(path))
    d = json.loads((tmp_path / "scenario.json").read_text())
    assert d["rows"][0]["_scenario"] == ni.to_dict()  # the scenario is saved with the result
    assert "_scenario" not in (tmp_path / "scenario.csv").read_text()
    assert 0 < res.rows[0]["mean_acc"] <= 1
    with pytest.raises(ConfigError, match="needs a scenario"):
        run_study("scenario", ctx)


def test_cli_study_names_match_the_registry():
    from circuitsim.names import STUDY_NAMES
    from circuitsim.studies import STUDIES

    assert tuple(STUDIES) == STUDY_NAMES


@pytest.mark.parametrize("argv, message", [
    (["train", "--hidden", "a,b"], "--hidden 'a,b'"),
    (["train", "--noise-sigma=-1e-6", "--epochs", "1"], "sigma must be >= 0"),
    (["study", "variability", "--quick", "--draws", "0"], "--draws 0"),
    (["study", "variability", "--quick", "--hidden", "0"], "--hidden '0'"),
])
def test_cli_user_errors_are_config_errors(tmp_path, capsys, argv, message):
    """Bad arguments end in one clear line (exit 1), not a traceback, before any training."""
    out = str(tmp_path / ("m.pt" if argv[0] == "train" else "s"))
    assert main([*argv, "--out", out]) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "m.pt").exists()


@pytest.mark.parametrize("argv", [["train", "--epochs", "0"], ["study", "variability"],
                                  ["train-circuit"]])
def test_cli_unwritable_out(tmp_path, capsys, argv):
    blocker = tmp_path / "file"
    blocker.write_text("")
    out = str(blocker / ("m.pt" if argv[0] == "train" else "dir"))
    assert main([*argv, "--out", out]) == 1
    assert "cannot write there" in capsys.readouterr().err
