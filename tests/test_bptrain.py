"""Training circuit without ngspice: schedule, control waveforms, pulse coding, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from circuitsim.bptrain import (
    CircuitParams,
    NetworkShape,
    SampleSchedule,
    TrainingCircuit,
    TrainingTwin,
    train,
)
from circuitsim.bptrain.tasks import digits3, xor
from circuitsim.errors import ConfigError


@pytest.fixture(scope="module")
def circ():
    return TrainingCircuit(NetworkShape(2, 3, 1))


def test_schedule_phases_in_order_and_controls(circ):
    sch = circ.schedule
    assert sch.forward[1] == sch.backward[0] <= sch.update2[0] < sch.update2[1] \
        <= sch.update1[0] < sch.update1[1] == sch.length
    w = circ.control_waveforms()
    vh = circ.p.v_high
    mid = {n: 0.5 * (a + b) for n, (a, b) in
           (("forward", sch.forward), ("backward", sch.backward), ("update2", sch.update2),
            ("update1", sch.update1))}
    for ctrl in ("ctrl1", "ctrl2"):
        assert w[ctrl].value(mid["forward"]) == vh and w[ctrl].value(mid["backward"]) == vh
        # Ctrl1 = Ctrl2 = 0 for the whole of both update phases
        ts = np.linspace(sch.update2[0], sch.update1[1], 2001)
        assert np.all(w[ctrl].value(ts) == 0)
    assert w["dir"].value(mid["forward"]) == 0 and w["dir"].value(mid["backward"]) == vh
    assert w["tr2"].value(mid["update2"]) == vh and w["tr2"].value(mid["update1"]) == 0
    assert w["tr1"].value(mid["update1"]) == vh and w["tr1"].value(mid["update2"]) == 0
    # training drivers never on while the read path is on (break before make)
    ts = np.linspace(0, sch.length, 20001)
    on_read = w["ctrl1"].value(ts) > 0
    on_train = (w["tr1"].value(ts) > 0) | (w["tr2"].value(ts) > 0)
    assert not np.any(on_read & on_train)
    # sample windows close before the phase they sample ends
    shf = ts[w["shf"].value(ts) > 0]
    shb = ts[w["shb"].value(ts) > 0]
    assert sch.forward[0] < shf.min() and shf.max() < sch.forward[1]
    assert sch.backward[0] < shb.min() and shb.max() < sch.backward[1]
    # every update slot lies inside its phase, inside its Tr window
    for s in circ.slots:
        a, b = sch.update2 if s.layer == 2 else sch.update1
        tr = w["tr2"] if s.layer == 2 else w["tr1"]
        assert a < s.start < s.pulse_start < s.pulse_start + circ.t_width_max <= s.stop < b
        assert tr.value(s.start) == vh and tr.value(s.stop) == vh


def test_overlapping_phases_raise():
    with pytest.raises(ConfigError, match="overlap"):
        SampleSchedule((0, 1e-7), (0.5e-7, 2e-7), (2e-7, 1e-5), (1e-5, 2e-5))
    with pytest.raises(ConfigError, match="overlap"):
        SampleSchedule((0, 1e-7), (1e-7, 2e-7), (2e-7, 1e-5), (0.9e-5, 2e-5))
    with pytest.raises(ConfigError, match="after start"):
        SampleSchedule((0, 1e-7), (1e-7, 1e-7), (2e-7, 1e-5), (1e-5, 2e-5))


def test_schedule_too_short_for_the_slots_raises(circ):
    sch = circ.schedule
    short = SampleSchedule(sch.forward, sch.backward, sch.update2,
                           (sch.update1[0], sch.update1[0] + 0.5 * (sch.update1[1]
                                                                    - sch.update1[0])))
    with pytest.raises(ConfigError, match="update1"):
        TrainingCircuit(NetworkShape(2, 3, 1), schedule=short)


def test_pulse_amplitude_above_safe_limit_raises():
    # V = v_th·(1 + b_max) = 0.3·1.8 = 0.54 V for VTEAM_CROSSBAR
    with pytest.raises(ConfigError, match="safe limit"):
        TrainingCircuit(NetworkShape(2, 3, 1), params=CircuitParams(v_safe=0.5))
    with pytest.raises(ConfigError, match="b_max"):
        CircuitParams(b_max=1.0)  # half-selected cells would reach the threshold


def test_read_voltage_above_threshold_raises():
    with pytest.raises(ConfigError, match="thresholds"):
        TrainingCircuit(NetworkShape(2, 3, 1), params=CircuitParams(v_read=0.35))


def test_task_that_does_not_fit_the_array_raises(circ):
    task = digits3()
    x1 = np.full((3, 3), 0.2)
    x2 = np.full((4, 1), 0.2)
    with pytest.raises(ConfigError, match="features"):
        train(circ, task.x_train, task.y_train, x1, x2, epochs=1)
    with pytest.raises(ConfigError, match="rows/columns"):
        NetworkShape(64, 3, 1)
    with pytest.raises(ConfigError, match="shape"):
        circ.deck([0, 1], [1], np.full((2, 3), 0.2), x2, cells="static")


def test_pulse_coding_linear_in_delta_and_activation(circ):
    """Rate ∝ |δ| (amplitude) and area ∝ activation (width), polarity = −sign δ."""
    tw = TrainingTwin(circ)
    card = circ.card
    d = np.array([-1.0, -0.5, -0.1, 0.1, 0.5, 1.0])
    v = tw.pulse_amplitude(d)
    assert np.all(np.sign(v) == -np.sign(d))
    r_off, r_on = circ.twin.rates(v)
    rate = r_off + r_on
    np.testing.assert_allclose(np.abs(rate), circ.rate_max * np.abs(d), rtol=1e-12)
    assert np.max(np.abs(v)) <= circ.v_pulse_max + 1e-15 < 2 * min(card.v_off, -card.v_on)


def test_weights_and_states_round_trip(circ):
    w = np.linspace(*circ.weight_range(), 7)[1:-1]
    np.testing.assert_allclose(circ.weights(circ.states_for_weights(w)), w, atol=1e-9)
    with pytest.raises(ConfigError):
        circ.states_for_weights(np.array([1e3]))


def test_twin_update_moves_weights_along_the_gradient(circ):
    """One twin step on an XOR sample: each trained weight changes with the sign of δ·a."""
    tw = TrainingTwin(circ)
    rng = np.random.default_rng(1)
    x1 = circ.states_for_weights(rng.uniform(-2, 2, (3, 3)))
    x2 = circ.states_for_weights(rng.uniform(-2, 2, (4, 1)))
    u, t = np.array([1.0, 0.0]), np.array([1.0])
    rec = tw.step(u, t, x1, x2)
    dw2 = circ.weights(rec.x2) - circ.weights(x2)
    act2 = np.append(rec.hidden, 1.0)
    assert np.all(np.sign(dw2[:, 0]) == np.sign(rec.delta2[0] * act2))
    dw1 = circ.weights(rec.x1) - circ.weights(x1)
    assert np.all(dw1[1] == 0)  # input 0: zero pulse width, no change
    for j in range(3):
        assert np.sign(dw1[0, j]) == np.sign(rec.delta1[j])


def test_tasks():
    t = xor()
    assert t.x_train.shape == (4, 2) and t.y_train.sum() == 2
    d = digits3()
    assert d.x_train.shape == (30, 16) and d.y_train.shape == (30, 3)
    assert d.x_train.min() >= 0 and d.x_train.max() <= 1
    assert np.all(d.y_train.sum(1) == 1) and np.all(d.y_train.sum(0) == 10)
    with pytest.raises(ConfigError):
        digits3(classes=(1, 1, 2))
