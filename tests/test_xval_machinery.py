"""The harness machinery — chunking, chunk store, executors, retries, resume — on a toy
stand-in network (tests/_xval_toy.py); the real network is tested in test_xval_pipeline.py
and test_demo.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from _xval_toy import toy_dataset, toy_factory, toy_model

from circuitsim.errors import ConfigError
from circuitsim.xval import (
    ChunkStore,
    Variant,
    XvalConfig,
    XvalRun,
    comparable,
    get_executor,
    make_chunks,
    summarise,
)
from circuitsim.xval.report import fmt_v

TESTS = Path(__file__).parent


def _run(out, executor="local", workers=1, resume=False, cfg=None, processes=True, n=24):
    cfg = cfg or XvalConfig(chunk_size=5, circuit={"r_wire": 1.0})
    variants = [Variant("a", cfg, toy_model()),
                Variant("b", cfg.with_value("circuit.r_wire", 3.0), toy_model())]
    run = XvalRun(variants, toy_dataset(n), out, factory=toy_factory)
    with get_executor(executor, workers=workers, processes=processes) as ex:
        stats = run.run(ex, resume=resume, progress=False)
    reports = {}
    for v in ("a", "b"):
        s = summarise(run.records(v))
        s.pop("_arrays")
        reports[v] = s
    return stats, reports


def test_chunks_cover_images_and_split_at_spice_boundary():
    ch = make_chunks(["x", "y"], 23, 5, spice_images=7)
    for v in ("x", "y"):
        mine = [c for c in ch if c.variant == v]
        covered = np.concatenate([np.arange(c.start, c.stop) for c in mine])
        assert covered.tolist() == list(range(23))
        assert all(c.spice == (c.stop <= 7) for c in mine)
        assert all(c.n <= 5 for c in mine if c.spice)
        assert [(c.start, c.stop) for c in mine if not c.spice] == [(7, 23)]
    assert len({c.id for c in ch}) == len(ch)
    with pytest.raises(ConfigError):
        make_chunks(["x"], 10, 0)


def test_config_rejects_unknown_keys_and_bad_values(tmp_path):
    with pytest.raises(ConfigError, match="unknown key.*bogus"):
        XvalConfig.from_dict({"bogus": 1})
    p = tmp_path / "c.json"
    p.write_text(json.dumps({"hidden": [8], "chunk_sise": 3}))
    with pytest.raises(ConfigError, match="chunk_sise"):
        XvalConfig.from_file(p)
    with pytest.raises(ConfigError):
        XvalConfig(chunk_size=0)
    with pytest.raises(ConfigError):
        XvalConfig(activation="tanhh")
    for bad in ({"seed": "x"}, {"seed": -1}, {"model_seed": 1.5}, {"spice_timeout_s": "x"}):
        with pytest.raises(ConfigError):  # `--set seed=x` ran the whole demo before
            XvalConfig(**bad)
    with pytest.raises(ConfigError, match="unknown config field"):
        XvalConfig().with_value("wire_r", 1)
    c = XvalConfig().with_value("circuit.r_wire_row", 2.5)
    assert c.circuit == {"r_wire_row": 2.5} and c.fingerprint() != XvalConfig().fingerprint()
    (tmp_path / "c.toml").write_text('hidden = [8, 4]\n[circuit]\nr_wire_row = 1.0\n')
    c = XvalConfig.from_file(tmp_path / "c.toml")
    assert c.hidden == (8, 4) and c.circuit == {"r_wire_row": 1.0}


def test_unwritable_out_is_a_config_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(ConfigError, match="cannot write"):
        ChunkStore(blocker / "run").begin("x")


def test_resume_refuses_a_different_run(tmp_path):
    ChunkStore(tmp_path).begin("aaa")
    with pytest.raises(ConfigError, match="different configuration"):
        ChunkStore(tmp_path).begin("bbb", resume=True)


def test_process_pool_and_dask_give_the_same_report_as_in_process(tmp_path):
    _, ref = _run(tmp_path / "inline", workers=1)
    _, pool = _run(tmp_path / "pool", workers=2)
    _, dsk = _run(tmp_path / "dask", executor="dask", workers=2, processes=False)
    assert comparable(pool) == comparable(ref)
    assert comparable(dsk) == comparable(ref)
    assert ref["a"]["accuracy"]["software"] == ref["a"]["accuracy"]["behavioral_ideal"]
    # the two variants differ (the toy's "wire resistance" scales the outputs)
    assert ref["a"]["agreement"] != ref["b"]["agreement"]


def test_resume_skips_finished_chunks_and_gives_the_same_report(tmp_path):
    stats, ref = _run(tmp_path / "run")
    assert stats["run"] == 10 and stats["skipped"] == 0
    for f in sorted((tmp_path / "run" / "chunks").glob("*.npz"))[::3]:
        f.unlink()
    stats, again = _run(tmp_path / "run", resume=True)
    assert stats["skipped"] == 6 and stats["run"] == 4
    assert comparable(again) == comparable(ref)


def test_failed_chunk_is_retried_once_then_reported_with_deck_and_log(tmp_path):
    cfg = XvalConfig(chunk_size=5, circuit={"r_wire": 1.0, "fail": "always"}, spice_images=10)
    stats, rep = _run(tmp_path, cfg=cfg)
    # variant a and b: 2 SPICE chunks each fail twice (one retry), behavioral-only chunks ok
    assert len(stats["failed"]) == 4 and len(stats["retried"]) == 4
    a = rep["a"]
    assert a["n_spice"] == 0 and a["accuracy"]["spice"] is None
    assert a["accuracy"]["behavioral_circuit"] is not None and a["n_test"] == 24
    assert len(a["failed_chunks"]) == 2
    f = a["failed_chunks"][0]
    assert "toy ngspice failure" in f["error"]
    assert Path(f["deck_path"]).read_text().startswith("* toy deck")
    assert "singular matrix" in Path(f["log_path"]).read_text()


def test_failed_chunk_is_tried_again_on_resume(tmp_path, monkeypatch):
    flag = tmp_path / "fail-now"
    flag.write_text("1")
    monkeypatch.setenv("TOY_FAIL_FLAG", str(flag))
    cfg = XvalConfig(chunk_size=5, circuit={"r_wire": 1.0, "fail": "file"})
    stats, rep = _run(tmp_path / "run", cfg=cfg)
    assert len(rep["a"]["failed_chunks"]) == 5
    flag.unlink()
    stats, rep = _run(tmp_path / "run", cfg=cfg, resume=True)
    assert stats["run"] == 10 and not rep["a"]["failed_chunks"]
    _, clean = _run(tmp_path / "clean", cfg=cfg)
    assert comparable(rep) == comparable(clean)


RUNNER = textwrap.dedent("""
    import sys, signal
    sys.path.insert(0, {tests!r})
    from test_xval_machinery import _run
    def stop(*a):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, stop)
    _run({out!r}, workers=2, resume=True, n=60)
""")


def test_sigterm_mid_run_then_resume_equals_clean_run(tmp_path):
    out = tmp_path / "killed"
    env = {**os.environ, "TOY_SPICE_SLEEP": "0.25"}
    proc = subprocess.Popen([sys.executable, "-c", RUNNER.format(tests=str(TESTS), out=str(out))],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    chunks = out / "chunks"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(chunks.glob("*.npz"))) < 3:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    n_done = len(list(chunks.glob("*.npz")))
    assert 3 <= n_done < 24, "the run was not interrupted mid-way"
    assert not list(chunks.glob(".*.tmp")), "a partial chunk file was left behind"
    stats, resumed = _run(out, resume=True, n=60)
    assert stats["skipped"] >= 3 and stats["run"] == 24 - stats["skipped"]
    _, clean = _run(tmp_path / "clean", n=60)
    assert comparable(resumed) == comparable(clean)


def test_worker_crash_is_retried_in_a_new_pool(tmp_path, monkeypatch):
    from _xval_toy import crash_factory

    flag = tmp_path / "crash-once"
    flag.write_text("1")
    monkeypatch.setenv("TOY_CRASH_FLAG", str(flag))
    cfg = XvalConfig(chunk_size=5)
    run = XvalRun([Variant("a", cfg, toy_model())], toy_dataset(), tmp_path / "run",
                  factory=crash_factory)
    with get_executor("local", workers=2) as ex:
        stats = run.run(ex, progress=False)
    assert not flag.exists() and stats["retried"] and not stats["failed"]
    s = summarise(run.records("a"))
    assert s["n_spice"] == 24 and not s["failed_chunks"]


def test_fmt_v_picks_the_prefix_that_keeps_the_mantissa_readable():
    """Report voltages: 1.04e-12 V is "1.04 pV", not "1.04e-06 µV" (which it printed before)."""
    assert fmt_v(1.04e-12) == "1.04 pV"
    assert fmt_v(-3.2e-9) == "-3.2 nV"
    assert fmt_v(5e-6) == "5 µV"
    assert fmt_v(0.0125) == "12.5 mV"
    assert fmt_v(1.5) == "1.5 V"
    assert fmt_v(0.0) == "0 V"
    assert fmt_v(None) == "—"
