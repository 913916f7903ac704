"""Runners against the real ngspice: batch and shared-library runners agree exactly; failures,
hangs and crashes become clear errors and the caller goes on."""

from __future__ import annotations

import os
import shutil
import threading
import time

import numpy as np
import pytest

from circuitsim.circuit import (
    BSource,
    Capacitor,
    Dc,
    Deck,
    Op,
    Pulse,
    Resistor,
    Tran,
    VoltageSource,
)
from circuitsim.errors import (
    ConfigError,
    ConvergenceError,
    NgspiceNotFoundError,
    SimulationError,
    SimulationTimeoutError,
)
from circuitsim.spice import (
    BatchRunner,
    SharedRunner,
    find_ngspice,
    ngspice_features,
    parse_raw,
)

pytestmark = pytest.mark.ngspice


def rc_deck() -> Deck:
    return Deck("rc", elements=[
        VoltageSource("V1", "in", "0", dc=0.5, waveform=Pulse(0, 1, 1e-7, 1e-9, 1e-9, 1e-6)),
        Resistor("R1", "in", "out", 1e3), Capacitor("C1", "out", "0", 1e-10),
        BSource("B1", "sq", "0", "v(out)*v(out)"), Resistor("R2", "sq", "0", 1e3)],
        analyses=[Op(), Dc("V1", 0, 1, 0.25), Tran(1e-8, 2e-6, tmax=1e-8)])


def test_batch_and_shared_give_identical_results(batch_runner, shared_runner):
    a = batch_runner.run(rc_deck())
    b = shared_runner.run(rc_deck())
    assert [p.name for p in a.plots] == [p.name for p in b.plots]
    assert sorted(p.name for p in a.plots) == [
        "DC transfer characteristic", "Operating Point", "Transient Analysis"]
    for pa, pb in zip(a.plots, b.plots, strict=True):
        assert sorted(pa.vectors) == sorted(pb.vectors)
        for k in pa.vectors:
            np.testing.assert_array_equal(pa[k], pb[k], err_msg=k)
    # the values are the circuit's, not just equal to each other
    assert a.analysis("op")["v(out)"][0] == pytest.approx(0.5)
    np.testing.assert_allclose(a.analysis("dc")["v(sq)"], np.linspace(0, 1, 5) ** 2, rtol=1e-12)
    assert a.plot.name == "Transient Analysis"
    assert a.axis is not None and a.axis[-1] == pytest.approx(2e-6)
    # the whole charging phase against the exact response to the 1 ns ramp (measured max
    # error 2.9e-4 V: trapezoidal steps of tmax = tau/10)
    tau, delay, rise = 1e3 * 1e-10, 1e-7, 1e-9
    t = a["time"]
    m = (t >= delay + rise) & (t <= delay + rise + 1e-6)
    exact = 1 - tau / rise * np.expm1(rise / tau) * np.exp(-(t[m] - delay) / tau)
    assert m.sum() > 50
    np.testing.assert_allclose(a["v(out)"][m], exact, rtol=0, atol=1e-3)


def test_ascii_and_binary_raw_files_agree(tmp_path):
    deck = rc_deck()
    a = BatchRunner(ascii=True).run(deck, run_dir=tmp_path / "a")
    b = BatchRunner().run(deck, run_dir=tmp_path / "b")
    assert (tmp_path / "a" / "out.raw").read_bytes().count(b"Values:") == 3
    assert b"Binary:" in (tmp_path / "b" / "out.raw").read_bytes()
    for pa, pb in zip(a.plots, b.plots, strict=True):
        for k in pb.vectors:
            np.testing.assert_allclose(pa[k], pb[k], rtol=1e-14, atol=1e-300, err_msg=k)
    assert len(parse_raw(tmp_path / "b" / "out.raw")) == 3


def singular_deck() -> Deck:
    return Deck("singular", elements=[VoltageSource("V1", "a", "0", dc=1),
                                      VoltageSource("V2", "a", "0", dc=2),
                                      Resistor("R1", "a", "0", 1e3)], analyses=[Op()])


def test_nonconvergence_is_a_convergence_error_with_deck_and_log(batch_runner, shared_runner):
    with pytest.raises(ConvergenceError) as info:
        batch_runner.run(singular_deck())
    err = info.value
    assert "singular" in err.log.lower() and err.run_dir is not None
    assert (err.run_dir / "deck.cir").read_text() == err.deck
    shutil.rmtree(err.run_dir)  # kept for the user on failure; the test cleans up
    with pytest.raises(ConvergenceError):
        shared_runner.run(singular_deck())
    # the caller goes on: the same runners still work
    assert shared_runner.run(rc_deck())["v(out)"].size > 10


def hung_deck() -> Deck:
    return Deck("hang", elements=[VoltageSource("V1", "in", "0", waveform=Pulse(0, 1, 0, 1e-9,
                                                                                 1e-9, 1e-6)),
                                  Resistor("R1", "in", "out", 1e3),
                                  Capacitor("C1", "out", "0", 1e-12)],
                analyses=[Tran(1e-15, 10.0, tmax=1e-15)])


@pytest.mark.parametrize("runner_cls", [BatchRunner, SharedRunner])
def test_hung_simulation_times_out_and_caller_goes_on(runner_cls):
    with runner_cls() as runner:
        t0 = time.perf_counter()
        with pytest.raises(SimulationTimeoutError, match="timeout") as info:
            runner.run(hung_deck(), timeout_s=1.0)
        assert time.perf_counter() - t0 < 6.0
        if info.value.run_dir is not None:  # the batch run's partial raw file (10-30 MB)
            shutil.rmtree(info.value.run_dir)
        assert runner.run(rc_deck(), timeout_s=30)["v(out)"].size > 10


@pytest.mark.parametrize("timeout_s", [0.0, -1.0, float("nan"), float("inf"), None])
def test_timeout_must_be_finite_and_positive(batch_runner, timeout_s):
    with pytest.raises(ConfigError, match="timeout_s"):
        batch_runner.run(rc_deck(), timeout_s=timeout_s)


def test_crashing_worker_is_reported_and_replaced():
    with SharedRunner() as runner:
        runner.run(rc_deck())  # worker started
        pid = runner._proc.pid
        killer = threading.Timer(0.5, os.kill, args=(pid, 9))
        killer.start()
        with pytest.raises(SimulationError, match="crashed"):
            runner.run(hung_deck(), timeout_s=30)
        killer.join()
        res = runner.run(rc_deck())
        assert runner._proc.pid != pid and res["v(out)"].size > 10


def test_missing_ngspice_names_the_apt_command(monkeypatch):
    monkeypatch.setenv("CIRCUITSIM_NGSPICE", "/nonexistent/ngspice")
    with pytest.raises(NgspiceNotFoundError, match="install-ngspice.sh"):
        find_ngspice()
    with pytest.raises(NgspiceNotFoundError):
        BatchRunner()


def test_failed_run_keeps_its_directory(tmp_path, batch_runner):
    with pytest.raises(SimulationError) as info:
        batch_runner.run(singular_deck(), run_dir=tmp_path / "run")
    assert info.value.run_dir == tmp_path / "run"
    assert (tmp_path / "run" / "ngspice.log").exists()


# ------------------------------------------------------------------ solver, version, waveforms


def _one_pulse_deck(solver: str = "klu") -> Deck:
    # one 1 µs pulse, simulated for 3 µs: a simulator default period would bring it back
    return Deck("one pulse", elements=[
        VoltageSource("V1", "in", "0", dc=0.0, waveform=Pulse(0, 1, 1e-8, 1e-9, 1e-9, 1e-6)),
        Resistor("R1", "in", "0", 1e3)], analyses=[Tran(1e-8, 3e-6)], solver=solver)


@pytest.mark.parametrize("runner_fixture", ["batch_runner", "shared_runner"])
def test_single_pulse_does_not_repeat(runner_fixture, request):
    """ngspice 46 repeats a PULSE written without a period (39.3 held v1): the emitter writes
    every field, so the input stays at v1 after the one pulse in every ngspice."""
    res = request.getfixturevalue(runner_fixture).run(_one_pulse_deck(), timeout_s=60)
    t, v = res.axis, res["v(in)"]
    assert np.max(v[(t > 0.1e-6) & (t < 1.0e-6)]) == pytest.approx(1.0)
    assert np.max(np.abs(v[t > 1.1e-6])) == 0.0


def test_pulse_shorter_period_than_its_shape_is_refused():
    with pytest.raises(ConfigError, match="period"):
        Pulse(0, 1, 0, 1e-9, 1e-9, 1e-6, period=5e-7)


def test_emitted_waveforms_name_every_field():
    from circuitsim.circuit import Sin
    from circuitsim.emit.ngspice import NgspiceEmitter

    em = NgspiceEmitter()
    assert em.waveform(Pulse(0, 1, 0, 1e-9, 1e-9, 1e-6)).count(" ") == 6
    assert em.waveform(Pulse(0, 1, 0, 1e-9, 1e-9, 1e-6, 4e-6)).endswith(" 4e-06)")
    assert em.waveform(Sin(0, 1, 1e3)).count(" ") == 5


def test_runners_record_solver_and_version(batch_runner, shared_runner):
    for runner in (batch_runner, shared_runner):
        res = runner.run(rc_deck(), timeout_s=60)
        assert res.solver in ("klu", "sparse")
        assert res.ngspice_version not in ("", "unknown")
        assert res.ngspice_version.split(".")[0] == batch_runner.ngspice_version.split(".")[0]


def test_klu_and_sparse_give_the_same_vectors(batch_runner):
    """Every deck asks for KLU; the solver is recorded from ngspice's own output, and KLU and
    Sparse give the same node voltages on a resistive grid (to solver round-off)."""
    rng = np.random.default_rng(3)
    els = [VoltageSource("V1", "n0", "0", dc=0.2)]
    for k in range(40):
        els.append(Resistor(f"R{k}", f"n{k}", f"n{k + 1}", float(rng.uniform(1, 1e4))))
        els.append(Resistor(f"Rg{k}", f"n{k + 1}", "0", float(rng.uniform(1e3, 1e5))))
    out = {}
    for solver in ("klu", "sparse"):
        res = batch_runner.run(Deck("grid", elements=els, solver=solver), timeout_s=60)
        out[solver] = (res.solver, np.array([res[f"v(n{k})"][0] for k in range(1, 41)]))
    assert out["sparse"][0] == "sparse"
    features = ngspice_features()
    assert out["klu"][0] == ("klu" if features["klu"] else "sparse")
    np.testing.assert_allclose(out["klu"][1], out["sparse"][1], rtol=1e-12, atol=1e-15)


def test_deck_solver_is_validated():
    with pytest.raises(ConfigError, match="solver"):
        Deck("x", solver="umfpack")
    with pytest.raises(ConfigError, match="klu"):
        Deck("x", options={"klu": True}, solver="sparse")


def test_check_command_reports_version_klu_osdi(capsys):
    from circuitsim.cli import main

    assert main(["check"]) == 0
    out = capsys.readouterr().out
    feats = ngspice_features()
    assert f"ngspice version:    {feats['version']}" in out
    assert "KLU solver:" in out and "OSDI (Verilog-A):" in out
    assert out.count(f"solver {'klu' if feats['klu'] else 'sparse'}") == 2
