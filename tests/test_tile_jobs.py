"""Tile-parallel co-simulation (issue 14 item 5): every (layer, tile, image chunk) its own
ngspice job, staged layer by layer, stored as it finishes and reused on resume only when its
stamp, checksum and inputs match.  A small tiled network (6-7-3 ReLU, 4×4 tiles, 8-bit ADC,
wires; 4 + 2 tiles, 2 chunks: 12 jobs) through the real harness and real ngspice."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from circuitsim.errors import ConfigError
from circuitsim.nn.models import make_mlp
from circuitsim.xval import (
    ChunkStore,
    Variant,
    XvalConfig,
    XvalRun,
    comparable,
    get_executor,
    summarise,
)
from circuitsim.xval.harness import network_from_config
from circuitsim.xval.store import ChunkError

pytestmark = pytest.mark.ngspice

TESTS = Path(__file__).parent
CFG = XvalConfig(hidden=(7,), activation="relu", calibration_images=20, chunk_size=3,
                 mapping={"g_min": 1e-6, "g_max": 100e-6, "v_read": 0.2, "tile_size": 4,
                          "adc_bits": 8},
                 circuit={"r_wire_row": 2.0, "r_wire_col": 3.0, "r_source": 5.0,
                          "r_sense": 2.0})
N_JOBS = 12
"""(7 rows → 2 row tiles) × (7 outputs → 2 column tiles) + 2 × 1 tiles, × 2 chunks."""
TOL = {"1R": 0.0, "1T1R": 1e-6}
"""Tile-parallel vs serial ngspice, of each array's largest value.  1R: linear, one Newton
step: the same numbers (measured bit-identical).  1T1R: the serial deck holds all tiles of a
layer and its Newton loop stops when every node of every tile has converged, so a tile alone
stops at another iterate, within ngspice's reltol (1e-6 in the network decks; measured
1.4e-8).  The digital outputs (ADC codes, layer outputs) must be identical either way."""


@dataclass(frozen=True)
class Data:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    name: str = "tiny6"


def data() -> Data:
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 1, (26, 6))
    return Data(x[:20], (x[:20, 0] > x[:20, 1]).astype(int) % 3, x[20:],
                (x[20:, 0] > x[20:, 1]).astype(int))


def slow_factory(model, cfg, calibration=None):
    """The real network, each tile job slowed by TILE_JOB_SLEEP seconds (so a test can kill
    the run midway)."""
    net = network_from_config(model, cfg, calibration=calibration)
    pause = float(os.environ.get("TILE_JOB_SLEEP", "0"))
    inner = net.spice_tile

    def spice_tile(*a, **kw):
        time.sleep(pause)
        return inner(*a, **kw)

    net.spice_tile = spice_tile
    return net


def _run(out, tile_jobs=True, resume=False, cell="1R"):
    model = make_mlp((6, 7, 3), "relu", seed=3).eval()
    cfg = CFG.replace(tile_jobs=tile_jobs)
    if cell == "1T1R":
        cfg = cfg.replace(circuit={**cfg.circuit, "access": "ACCESS_018UM"})
    run = XvalRun([Variant("t", cfg, model)], data(), Path(out), factory=slow_factory)
    with get_executor("local", workers=1) as ex:
        stats = run.run(ex, resume=resume, progress=False)
    return stats, run


def _report(run) -> dict:
    s = summarise(run.records("t"))
    s.pop("_arrays")
    return comparable(s)


def _jobs(out) -> list[Path]:
    return sorted((Path(out) / "chunks").glob("t-L*.npz"))


@pytest.mark.parametrize("cell", ["1R", "1T1R"])
def test_tile_jobs_equal_the_serial_path(tmp_path, cell):
    stats, tiled = _run(tmp_path / "tiled", cell=cell)
    assert stats["tile_jobs"]["run"] == N_JOBS and not stats["tile_jobs"]["failed"]
    assert len(_jobs(tmp_path / "tiled")) == N_JOBS
    _, serial = _run(tmp_path / "serial", tile_jobs=False, cell=cell)
    a, b = tiled.records("t"), serial.records("t")
    for ra, rb in zip(a, b, strict=True):
        assert ra["meta"]["tile_jobs"] == 6 and ra["meta"]["solver"] == ["klu"]
        keys = sorted(k for k in rb if k.startswith("spice_"))
        assert len(keys) == 8 and keys == sorted(k for k in ra if k.startswith("spice_"))
        for k in keys:
            np.testing.assert_allclose(ra[k], rb[k], rtol=0,
                                       atol=TOL[cell] * np.abs(rb[k]).max(), err_msg=k)
        for k in ("spice_L0", "spice_L1"):  # after the ADC: the same codes
            np.testing.assert_array_equal(ra[k], rb[k])
    sa, sb = summarise(a), summarise(b)
    assert sa["accuracy"] == sb["accuracy"]
    argmax = [k for k in sb["agreement"] if k.startswith("argmax")]
    assert argmax and all(sa["agreement"][k] == sb["agreement"][k] for k in argmax)
    if cell == "1R":
        assert _report(tiled) == _report(serial)


KILLED = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from test_tile_jobs import _run
    _run({out!r})
""")


def test_killed_run_resumes_without_recomputing_finished_jobs(tmp_path):
    out = tmp_path / "killed"
    env = {**os.environ, "TILE_JOB_SLEEP": "0.4"}
    proc = subprocess.Popen([sys.executable, "-c", KILLED.format(tests=str(TESTS), out=str(out))],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(_jobs(out)) < 3 and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # no clean-up at all
    proc.wait(timeout=30)
    finished = {p.name: p.stat().st_mtime_ns for p in _jobs(out)}
    assert 3 <= len(finished) < N_JOBS, "the run was not killed midway"
    stats, resumed = _run(out, resume=True)
    # only whole jobs were stored (a file is renamed into place): each is reused as it was
    assert stats["tile_jobs"]["skipped"] == len(finished)
    assert stats["tile_jobs"]["run"] == N_JOBS - len(finished)
    assert all(p.stat().st_mtime_ns == finished[p.name] for p in _jobs(out) if p.name in finished)
    _, clean = _run(tmp_path / "clean")
    assert _report(resumed) == _report(clean)


def test_a_corrupted_job_file_is_detected_and_recomputed(tmp_path):
    out = tmp_path / "run"
    _, ref = _run(out)
    job = _jobs(out)[0]  # a layer-1 job of the first chunk
    with np.load(job) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["out"] = arrays["out"] + 1e-3  # altered, meta (and its checksum) kept
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    job.write_bytes(buf.getvalue())
    store = ChunkStore(out, ref.fingerprint())
    with pytest.raises(ChunkError, match="checksum mismatch"):
        store.load(job.stem)
    chunk = out / "chunks" / "t-i00000-00003.npz"
    chunk.unlink()  # the chunk built from it must be rebuilt too
    stats, again = _run(out, resume=True)
    assert stats["tile_jobs"]["run"] == 1 and stats["tile_jobs"]["skipped"] == 5
    assert stats["run"] == 1 and stats["skipped"] == 1
    store.load(job.stem)  # intact again
    assert json.loads(str(np.load(job)["__meta__"]))["chunk"] == job.stem
    assert _report(again) == _report(ref)


def test_tile_jobs_on_an_untiled_network_is_a_config_error(tmp_path):
    model = make_mlp((6, 7, 3), "relu", seed=3).eval()
    cfg = XvalConfig(hidden=(7,), activation="relu", tile_jobs=True, chunk_size=3)
    run = XvalRun([Variant("u", cfg, model)], data(), tmp_path)
    with get_executor("local", workers=1) as ex, pytest.raises(ConfigError, match="tile_jobs"):
        run.run(ex, progress=False)
    with pytest.raises(ConfigError, match="tile_jobs must be true or false"):
        XvalConfig(tile_jobs="yes")
