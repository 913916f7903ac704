"""One read path: the studies' evaluation (:func:`circuitsim.network.crossbar_forward`) is the
circuit network's twin, so a study configuration is a circuit that ngspice checks — tiles,
DAC / ADC, wires from ``nonideal.ir_drop``, programming noise, read noise and ``g_min = 0``
open cells in both worlds; and the fields a circuit cannot hold are refused with the reason."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from circuitsim.errors import ConfigError
from circuitsim.mapping import CAT_STUDY, MappingConfig
from circuitsim.network import (
    STUDY_CIRCUIT,
    CircuitConfig,
    build_network,
    crossbar_forward,
    mapped_accuracy,
)
from circuitsim.nn.data import load_digits
from circuitsim.nn.models import make_mlp
from circuitsim.nonideal import IRDrop, NonIdealityConfig, ProgrammingNoise, ReadNoise, StuckAt

TILED = MappingConfig(g_min=0.0, g_max=110e-6, v_read=0.2, tile_size=16, dac_bits=6,
                      adc_bits=8)
"""The studies' cat-study window (unprogrammed cells at 0 S) with tiles and converters."""
SCENARIO = NonIdealityConfig(programming=ProgrammingNoise(0.5e-6),
                             stuck_at=StuckAt(p_lrs=0.001, p_hrs=0.005),
                             ir_drop=IRDrop(r_wire_row=1.5, r_wire_col=3.0, r_source=5.0,
                                            r_sense=2.0),
                             read_noise=ReadNoise(relative=0.01, absolute=2e-8), seed=7)
"""Mild on purpose: with seed 5 one stuck-at-LRS cell alone takes this least-squares network
to chance (11 %, measured); with seed 7 it keeps 74 % of its 80 % on the first 100 images."""
REL_TOL = 1e-6
"""Per-tile analog agreement SPICE vs twin, relative to the tile's ADC full scale."""
N_IMAGES = 30


@pytest.fixture(scope="module")
def digits():
    return load_digits()


@pytest.fixture(scope="module")
def model(digits):
    """64-20-10 sigmoid: seeded hidden layer, least-squares output layer (~90 %)."""
    m = make_mlp((64, 20, 10), "sigmoid", seed=1)
    with torch.no_grad():
        m[0].weight.mul_(3.0)
        h = m[1](m[0](torch.as_tensor(digits.x_train))).numpy().astype(np.float64)
        A = np.hstack([h, np.ones((len(h), 1))])
        sol = np.linalg.lstsq(A, np.eye(10)[digits.y_train] * 4.0 - 2.0, rcond=None)[0]
        m[2].weight.copy_(torch.as_tensor(sol[:-1].T, dtype=torch.float32))
        m[2].bias.copy_(torch.as_tensor(sol[-1], dtype=torch.float32))
    return m.eval()


@pytest.fixture(scope="module")
def net(model, digits):
    """The circuit a study with TILED + SCENARIO describes."""
    return build_network(model, STUDY_CIRCUIT, TILED, nonideal=SCENARIO,
                         calibration=digits.x_train[:200])


def test_study_path_is_the_network_twin(model, net, digits):
    """The studies' read path returns the network twin's logits, bit for bit, and the
    scenario's wires became the circuit's (one source of truth)."""
    x = digits.x_test[:N_IMAGES]
    study = crossbar_forward(model, x, TILED, nonideal=SCENARIO,
                             calibration=digits.x_train[:200])
    np.testing.assert_array_equal(study, net.behavioral_forward(x).logits)
    assert net.circuit.wires == SCENARIO.ir_drop.wires and net.digital
    # the 0 S cells of the g_min = 0 scheme are open cells of g_open in both worlds
    assert net.plans[0].conductance.min() == net.circuit.g_open
    # another draw is another programmed array and another read-noise sample
    other = crossbar_forward(model, x, TILED, nonideal=SCENARIO, draw=1,
                             calibration=digits.x_train[:200])
    assert not np.array_equal(other, study)


@pytest.mark.ngspice
def test_study_configuration_in_ngspice(net, digits, batch_runner):
    """The same study configuration co-simulated in ngspice: every tile output within 1e-6 of
    its ADC full scale, ADC codes equal except within 1e-6 of a code boundary, the same
    predictions."""
    from circuitsim.mapping.converters import adc_codes, near_code_boundary

    x = digits.x_test[:N_IMAGES]
    sp, tw = net.spice_forward(x, runner=batch_runner), net.behavioral_forward(x)
    for p, a, b in zip(net.plans, sp.tiles, tw.tiles, strict=True):
        fs = p.adc_full_scale[None, :, None]
        assert (np.abs(a - b) / fs).max() <= REL_TOL
        differ = adc_codes(a, p.adc_bits, fs) != adc_codes(b, p.adc_bits, fs)
        assert not (differ & ~near_code_boundary(b, p.adc_bits, fs, REL_TOL)).any()
    assert np.mean(sp.predict() == tw.predict()) >= 0.99
    assert np.mean(tw.predict() == digits.y_test[:N_IMAGES]) >= 0.6  # not a broken network


@pytest.mark.ngspice
def test_open_cells_and_scenario_wires_in_an_analog_network(model, digits, batch_runner):
    """g_min = 0 (the cat study) and ``nonideal.ir_drop`` in an all-analog network (one deck,
    analog neurons): SPICE vs twin within 1e-9 V; without wires the twin's ideal mode equals
    the trained model (the open cells' 1 pS is invisible at this precision)."""
    x = digits.x_test[:20]
    plain = build_network(model, CircuitConfig(), CAT_STUDY)
    np.testing.assert_allclose(plain.behavioral_forward(x, ideal=True).logits,
                               plain.reference_forward(x), rtol=0, atol=1e-6)
    wired = build_network(model, CircuitConfig(), CAT_STUDY,
                          nonideal=NonIdealityConfig(ir_drop=IRDrop(r_wire_row=1.0,
                                                                    r_wire_col=2.0)))
    assert wired.circuit.r_wire_col == 2.0 and not wired.digital
    sp, tw = wired.spice_forward(x, runner=batch_runner), wired.behavioral_forward(x)
    for a, b in zip(sp.layers, tw.layers, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(sp.predict(), tw.predict())
    assert np.abs(tw.logits - plain.behavioral_forward(x).logits).max() > 1e-3


def test_study_accuracy_equals_software_on_ideal_hardware(model, digits):
    """Ideal wires, analog mapping, no converters: the one path reproduces the trained model's
    accuracy (the figure every study starts from)."""
    from circuitsim.nn import accuracy

    assert mapped_accuracy(model, digits.x_test, digits.y_test, CAT_STUDY) == \
        accuracy(model, digits.x_test, digits.y_test)


@pytest.mark.parametrize("circuit, mapping, nonideal, match", [
    (CircuitConfig(neuron_flavour="circuit"), MappingConfig(tile_size=16), None,
     "partial sums are added digitally"),
    (CircuitConfig(neuron_flavour="circuit", digital_periphery=True), MappingConfig(), None,
     "neuron_flavour must be 'ideal'"),
    (CircuitConfig(neuron_v_offset=1e-3), MappingConfig(adc_bits=8), None,
     "no analog neuron to have an offset"),
    (CircuitConfig(r_wire_row=1.0), MappingConfig(),
     NonIdealityConfig(ir_drop=IRDrop(r_wire_row=2.0)), "give them once"),
])
def test_fields_a_circuit_cannot_hold_say_why(model, circuit, mapping, nonideal, match):
    with pytest.raises(ConfigError, match=match):
        build_network(model, circuit, mapping, nonideal=nonideal)


@pytest.mark.ngspice
def test_transient_slots_with_a_digital_periphery(digits, batch_runner):
    """A tiled network with converters in a ``.tran`` (single-pole sense op-amps, GBW 10 MHz,
    1 fF wire segments), the ADC sampling each tile output at the end of its slot: 20 µs slots
    settle to the DC twin within 1e-9 of full scale (measured 6e-13); 0.2 µs slots do not
    (measured 3.7 %)."""
    from circuitsim.emit import emit_deck
    from circuitsim.generators import OpAmpCard

    circuit = CircuitConfig(r_wire_row=1.0, r_wire_col=2.0, c_wire_row=1e-15, c_wire_col=1e-15,
                            sense_opamp=OpAmpCard("single_pole", a0=1e5, gbw=10e6))
    net = build_network(make_mlp((64, 12, 10), "sigmoid", seed=1).eval(), circuit,
                        MappingConfig(tile_size=16, dac_bits=6, adc_bits=8),
                        calibration=digits.x_train[:100])
    x = digits.x_test[:3]
    twin = net.behavioral_forward(x)
    p1 = net.plans[0]
    assert ".tran" in emit_deck(net.layer_deck(p1, np.full((3, p1.n_in + 1), 0.1),
                                               slot_s=20e-6))
    slow = net.spice_forward(x, runner=batch_runner, slot_s=20e-6)
    fast = net.spice_forward(x, runner=batch_runner, slot_s=0.2e-6)
    err = {k: max(float((np.abs(a - b) / p.adc_full_scale[None, :, None]).max())
                  for p, a, b in zip(net.plans, out.tiles, twin.tiles, strict=True))
           for k, out in (("slow", slow), ("fast", fast))}
    assert err["slow"] <= 1e-9 and err["fast"] > 1e-2
    np.testing.assert_array_equal(slow.predict(), twin.predict())


def test_an_identity_ir_drop_leaves_the_circuit_wires(model):
    wired = CircuitConfig(r_wire_row=1.0)
    net = build_network(model, wired, MappingConfig(),
                        nonideal=NonIdealityConfig(ir_drop=IRDrop()))
    assert net.circuit == wired
