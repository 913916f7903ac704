"""A broken ngspice in the middle of a run (issue 12, class 3): one that exits 1 or hangs
ends every variant with the project's error and the failed-chunk list; the neuron
characterisation honours the caller's timeout; a timeout kills the whole process group."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from circuitsim.errors import SimulationError, SimulationTimeoutError
from circuitsim.generators.neuron import NeuronCard, characterise_neuron
from circuitsim.nn import make_mlp, save_checkpoint
from circuitsim.spice import BatchRunner
from circuitsim.spice.runner import run_in_group
from circuitsim.xval.demo import DEMO_CONFIG, run_demo
from circuitsim.xval.report import summarise

VERSION = 'if [ "$1" = "-v" ]; then echo "ngspice-46 (fake)"; exit 0; fi\n'
"""A broken ngspice still answers ``-v`` (the runners ask for the version first); it breaks
in the simulation."""

HANG = """#!/bin/sh
""" + VERSION + """sleep 1000 &
echo $! > {pids}
sleep 1000
"""


def _script(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    p.chmod(0o755)
    return p


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in state  # a zombie has exited; only its parent can reap it


def test_timeout_kills_the_whole_process_group(tmp_path):
    pids = tmp_path / "child.pid"
    wrapper = _script(tmp_path, "ngspice", HANG.format(pids=pids))
    t0 = time.monotonic()
    with pytest.raises(Exception) as info:
        run_in_group([str(wrapper)], 1.0)
    assert type(info.value).__name__ == "TimeoutExpired" and time.monotonic() - t0 < 10
    child = int(pids.read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the wrapper's child was left running"


def test_batch_runner_timeout_leaves_no_orphans(tmp_path, monkeypatch):
    pids = tmp_path / "child.pid"
    monkeypatch.setenv("CIRCUITSIM_NGSPICE", str(_script(tmp_path, "ngspice",
                                                          HANG.format(pids=pids))))
    card = NeuronCard("relu", "circuit", v_per_unit=0.1, v_full_scale=0.5)
    t0 = time.monotonic()
    with pytest.raises(SimulationTimeoutError, match="1.5 s timeout"):
        characterise_neuron(card, timeout_s=1.5)  # the caller's timeout, not a fixed 60 s
    assert time.monotonic() - t0 < 15
    time.sleep(0.2)
    assert not _alive(int(pids.read_text()))
    BatchRunner()  # the real one still resolves after the env var goes


def test_all_chunks_failed_is_a_simulation_error_listing_them():
    recs = [{"meta": {"status": "failed", "chunk": f"full-i0000{i}-0000{i + 1}", "start": i,
                      "stop": i + 1, "error": "SimulationError: ngspice exited with status 1\n"
                                              "  log tail"}} for i in range(2)]
    with pytest.raises(SimulationError, match="all 2 chunk.*full-i00000-00001, full-i00001"):
        summarise(recs)


@pytest.mark.parametrize("script", [f"#!/bin/sh\n{VERSION}echo broken >&2\nexit 1\n",
                                    f"#!/bin/sh\n{VERSION}exec sleep 1000\n"])
def test_broken_ngspice_mid_run_every_variant(tmp_path, monkeypatch, script):
    """The main variant keeps its behavioral figures and lists its failed SPICE chunks; the
    full-circuit variant (circuit neurons need ngspice even behaviorally) ends the run with
    the project's error naming its failed chunks — never a KeyError."""
    model = tmp_path / "m.pt"
    save_checkpoint(model, make_mlp((64, 8, 10)), {})
    monkeypatch.setenv("CIRCUITSIM_NGSPICE", str(_script(tmp_path, "ngspice", script)))
    cfg = DEMO_CONFIG.replace(hidden=(8,), n_images=4, chunk_size=2, spice_timeout_s=1.0)
    out = tmp_path / "out"
    r = run_demo(out, config=cfg, model_path=model, workers=1, progress=False,
                 full_spice_images=0, log=lambda *a: None)
    assert [f["chunk"] for f in r["failed_chunks"]] == ["demo-i00000-00002",
                                                         "demo-i00002-00004"]
    assert r["accuracy"]["spice"] is None and r["accuracy"]["behavioral_circuit"] is not None
    with pytest.raises(SimulationError, match="all 1 chunk.*failed chunks: full-i00000-00002"):
        run_demo(tmp_path / "out2", config=cfg.replace(n_images=2), model_path=model,
                 workers=1, progress=False, full_spice_images=2, log=lambda *a: None)
    assert os.path.isdir(tmp_path / "out2" / "failed" / "full-i00000-00002")


def test_a_shared_library_that_is_not_ngspice_is_a_simulation_error(monkeypatch):
    from circuitsim.circuit import Deck, Op, Resistor, VoltageSource
    from circuitsim.spice import SharedRunner

    monkeypatch.setenv("NGSPICE_LIBRARY_PATH", "/lib/x86_64-linux-gnu/libm.so.6")
    deck = Deck("divider", elements=[VoltageSource("V1", "a", "0", dc=1.0),
                                     Resistor("R1", "a", "0", 1e3)], analyses=[Op()])
    with SharedRunner() as r, pytest.raises(SimulationError, match="failed to start"):
        r.run(deck, timeout_s=30)
