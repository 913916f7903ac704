"""Every reused partial result is verified (issue 12, class 2): a chunk copied over another,
one from a run with another configuration, one altered by hand, or chunks left after run.json
was deleted are recomputed, and the report equals a clean run's.  Plus: a refused --resume
writes nothing, old reports never sit next to a new run's files, one run per --out, umask."""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest
from test_xval_machinery import _run

from circuitsim.errors import ConfigError
from circuitsim.xval import XvalConfig, comparable
from circuitsim.xval.store import ChunkStore, atomic_write_text, out_lock

CFG2 = XvalConfig(chunk_size=5, circuit={"r_wire": 2.0})


def _chunks(out: Path) -> list[Path]:
    return sorted((out / "chunks").glob("*.npz"))


def test_a_chunk_copied_over_another_is_recomputed(tmp_path):
    _, ref = _run(tmp_path / "run")
    files = _chunks(tmp_path / "run")
    shutil.copyfile(files[0], files[1])  # both valid files; the second is now wrong
    stats, again = _run(tmp_path / "run", resume=True)
    assert stats["run"] == 1
    assert comparable(again) == comparable(ref)


def test_a_chunk_of_another_configuration_is_recomputed(tmp_path):
    _, ref = _run(tmp_path / "run")
    _run(tmp_path / "other", cfg=CFG2)
    for f in _chunks(tmp_path / "other")[:3]:  # same chunk ids, another configuration
        shutil.copyfile(f, tmp_path / "run" / "chunks" / f.name)
    stats, again = _run(tmp_path / "run", resume=True)
    assert stats["run"] == 3
    assert comparable(again) == comparable(ref)


def test_deleted_run_json_then_resume_with_another_config_recomputes_everything(tmp_path):
    _run(tmp_path / "run")
    (tmp_path / "run" / "run.json").unlink()
    stats, got = _run(tmp_path / "run", resume=True, cfg=CFG2)
    assert stats["skipped"] == 0
    _, clean = _run(tmp_path / "clean", cfg=CFG2)
    assert comparable(got) == comparable(clean)


def test_an_altered_chunk_is_recomputed(tmp_path):
    _, ref = _run(tmp_path / "run")
    f = _chunks(tmp_path / "run")[2]
    with np.load(f, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    key = next(k for k in arrays if k.startswith("behavioral_circuit_L"))
    arrays[key] = arrays[key] + 0.5  # a consistent, readable file with other numbers
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    f.write_bytes(buf.getvalue())
    stats, again = _run(tmp_path / "run", resume=True)
    assert stats["run"] == 1 and comparable(again) == comparable(ref)


def test_store_load_refuses_a_foreign_chunk(tmp_path):
    a = ChunkStore(tmp_path / "a").begin("fp-a")
    a.save("v-i00000-00005", {"meta": {"status": "ok"}, "y": np.arange(5)})
    b = ChunkStore(tmp_path / "b").begin("fp-b")
    shutil.copyfile(a.path("v-i00000-00005"), b.path("v-i00000-00005"))
    shutil.copyfile(a.path("v-i00000-00005"), a.path("v-i00005-00010"))
    with pytest.raises(ConfigError, match="computed for run"):
        b.load("v-i00000-00005")
    with pytest.raises(ConfigError, match="holds chunk"):
        a.load("v-i00005-00010")
    assert a.load("v-i00000-00005")["y"].tolist() == list(range(5))
    assert not b.done("v-i00000-00005") and not a.done("v-i00005-00010")


def test_damaged_run_json_on_resume_is_a_config_error(tmp_path):
    ChunkStore(tmp_path).begin("fp")
    (tmp_path / "run.json").write_bytes(b"\x00garbage{")
    with pytest.raises(ConfigError, match="damaged"):
        ChunkStore(tmp_path).begin("fp", resume=True)


def test_old_report_is_removed_when_a_new_run_begins(tmp_path):
    for name in ("report.json", "report.md", "sweep.md"):
        (tmp_path / name).write_text("old")
    ChunkStore(tmp_path).begin("fp")
    assert not any((tmp_path / n).exists() for n in ("report.json", "report.md", "sweep.md"))


def test_refused_resume_leaves_the_directory_as_it_was(tmp_path):
    import torch

    from circuitsim.nn import make_mlp, save_checkpoint
    from circuitsim.xval.demo import DEMO_CONFIG, run_demo

    model = tmp_path / "m.pt"
    save_checkpoint(model, make_mlp((64, 8, 10)), {})
    torch.manual_seed(0)
    cfg = DEMO_CONFIG.replace(hidden=(8,), n_images=4, spice_images=0)
    out = tmp_path / "out"
    run_demo(out, config=cfg, model_path=model, workers=1, progress=False,
             full_spice_images=0, log=lambda *a: None)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert any("netlists" in str(p) for p in before)
    with pytest.raises(ConfigError, match="different configuration"):
        run_demo(out, config=cfg.with_value("circuit.r_wire_row", 7.0), model_path=model,
                 workers=1, progress=False, full_spice_images=0, resume=True,
                 log=lambda *a: None)
    after = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before


def test_two_runs_on_one_out_are_refused(tmp_path):
    with out_lock(tmp_path / "out"):
        with pytest.raises(ConfigError, match=f"another circuitsim run \\(pid {os.getpid()}\\)"):
            with out_lock(tmp_path / "out"):
                pass
    with out_lock(tmp_path / "out"):  # released
        pass


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o027, 0o640)])
def test_files_are_written_with_the_users_umask(tmp_path, mask, mode):
    old = os.umask(mask)
    try:
        atomic_write_text(tmp_path / "r.md", "x")
        s = ChunkStore(tmp_path).begin("fp")
        s.save("c", {"meta": {"status": "ok"}})
    finally:
        os.umask(old)
    for p in (tmp_path / "r.md", tmp_path / "run.json", s.path("c")):
        assert stat.S_IMODE(p.stat().st_mode) == mode, p
    assert json.loads((tmp_path / "run.json").read_text())["fingerprint"] == "fp"


def test_a_cached_model_of_another_configuration_is_not_used(tmp_path):
    from circuitsim.nn import load_digits, make_mlp, save_checkpoint
    from circuitsim.xval.pipeline import _cached_model, model_sizes, train_config

    ds = load_digits()
    cfg = XvalConfig(hidden=(8,), train={"epochs": 3})
    tcfg = train_config(cfg)
    meta = {"dataset": ds.name, "sizes": model_sizes(cfg, ds), "activation": cfg.activation,
            "model_seed": cfg.model_seed, "train": {**tcfg.to_dict(), "progress": False}}
    p = tmp_path / "model.pt"
    save_checkpoint(p, make_mlp(tuple(meta["sizes"])), meta)
    assert _cached_model(p, cfg, ds, tcfg) is not None
    other = cfg.replace(train={"epochs": 4})
    assert _cached_model(p, other, ds, train_config(other)) is None
    p.write_bytes(b"damaged")
    assert _cached_model(p, cfg, ds, tcfg) is None
