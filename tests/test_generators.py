"""Sense amplifiers and neurons: golden decks, determinism, ngspice vs the Python twins,
card validation."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from circuitsim.circuit import Dc
from circuitsim.emit import emit_deck
from circuitsim.errors import ConfigError
from circuitsim.generators import (
    DiffSenseCard,
    NeuronCard,
    OpAmpCard,
    TiaCard,
    characterisation_deck,
    characterise_neuron,
    neuron_subckt,
    neuron_transfer,
)
from circuitsim.generators.golden import NEURONS, OPAMPS, block_decks, diff_sense_deck, tia_deck

GOLDEN = Path(__file__).resolve().parents[1] / "netlists" / "golden"


def _norm(text: str) -> str:
    return "\n".join(re.sub(r"\s+", " ", line).strip() for line in text.strip().splitlines())


@pytest.mark.parametrize("name", list(block_decks()))
def test_golden_deck(name):
    text = emit_deck(block_decks()[name])
    assert text == emit_deck(block_decks()[name]), "regeneration must be byte-identical"
    golden = GOLDEN / f"{name}.cir"
    assert golden.exists(), f"missing {golden}: run python netlists/write_netlists.py"
    assert _norm(text) == _norm(golden.read_text()), (
        f"{name} differs from {golden}; if the change is intended, regenerate with "
        "python netlists/write_netlists.py and review the diff")


# ----------------------------------------------------------------- ngspice vs twins

@pytest.mark.ngspice
@pytest.mark.parametrize("kind", list(OPAMPS))
def test_tia_matches_twin(batch_runner, kind):
    card = TiaCard(r_f=1e4, opamp=OPAMPS[kind])
    res = batch_runner.run(tia_deck(card))
    i = res.axis
    # the sweep must reach the rails for the saturating kind, else the clamp goes untested
    if kind == "saturating":  # rails -1.2 / +1.0 V, reached within a diode-drop tolerance
        assert abs(res["v(out)"].min() + 1.2) < 0.15 and abs(res["v(out)"].max() - 1.0) < 0.15
    np.testing.assert_allclose(res["v(out)"], card.transfer(i), rtol=0, atol=1e-9)
    np.testing.assert_allclose(res["v(n)"], card.input_voltage(i), rtol=0, atol=1e-9)


@pytest.mark.ngspice
@pytest.mark.parametrize("kind", list(OPAMPS))
def test_diff_sense_matches_twin(batch_runner, kind):
    card = DiffSenseCard(r_a=2e3, r1=1e4, r2=3e4, opamp=OPAMPS[kind])
    res = batch_runner.run(diff_sense_deck(card, i_n=5e-5))
    ip = res.axis
    np.testing.assert_allclose(res["v(out)"], card.transfer(ip, 5e-5), rtol=0, atol=1e-9)
    if kind != "saturating":  # in the linear range: out = r_a r2/r1 (ip - in), up to 1/a0
        lin = np.abs(res["v(out)"]) < 0.8
        np.testing.assert_allclose(res["v(out)"][lin], card.transimpedance * (ip[lin] - 5e-5),
                                   rtol=2e-3, atol=1e-9)


@pytest.mark.ngspice
@pytest.mark.parametrize("name", list(NEURONS))
def test_neuron_dc_transfer(batch_runner, name):
    """Ideal flavour: ngspice equals the formula (1 µV).  Circuit flavour: the twin (linear
    interpolation in a 1 mV characterisation sweep) matches ngspice at points off that grid
    within 20 µV, and the circuit computes its activation within 1 mV of the ideal curve over
    ±2 V of input (0.2 V full scale)."""
    card = NEURONS[name]
    deck = characterisation_deck(card).replace(
        analyses=[Dc("Vin", -2.4996, 2.4996, 0.0107)])
    res = batch_runner.run(deck)
    v_in, v_out = res.axis, res["v(out)"]
    if card.flavour == "ideal":
        np.testing.assert_allclose(v_out, card.ideal_transfer(v_in), rtol=0, atol=1e-6)
        return
    np.testing.assert_allclose(v_out, neuron_transfer(card, v_in), rtol=0, atol=20e-6)
    inner = np.abs(v_in) <= 2.0
    np.testing.assert_allclose(v_out[inner], card.ideal_transfer(v_in[inner]), rtol=0,
                               atol=1e-3)
    # the offset is really there: the circuit's zero crossing / midpoint moves with it
    grid, out = characterise_neuron(card)
    if card.activation == "sigmoid":
        mid = np.interp(0.5 * card.v_full_scale, out, grid)
        assert abs(mid - card.v_offset) < 2e-4
    # rails: beyond the full scale the circuit flattens (ReLU: under v_pos minus a diode)
    assert out.max() < card.opamp.v_pos


def test_relu_gain_above_one_uses_feedback_divider():
    card = NeuronCard("relu", "circuit", v_per_unit=0.1, v_full_scale=0.5)
    names = {e.name for e in neuron_subckt(card).elements}
    assert {"Rg1", "Rg2"} <= names and "Rin1" not in names
    assert card.gain == pytest.approx(5.0)


@pytest.mark.ngspice
def test_relu_circuit_gain_above_one(batch_runner):
    """Gain 5 through the feedback divider: within 3e-4 relative (the loop gain a0/5, lowered
    by the tanh output stage near the rail) + 50 µV (the diode drop / loop gain dead zone,
    ≈ 0.5 V·5/a0) of the ideal ReLU."""
    card = NeuronCard("relu", "circuit", v_per_unit=0.1, v_full_scale=0.5)
    res = batch_runner.run(characterisation_deck(card).replace(
        analyses=[Dc("Vin", -0.3, 0.3, 0.0031)]))
    np.testing.assert_allclose(res["v(out)"], card.ideal_transfer(res.axis), rtol=3e-4,
                               atol=5e-5)


@pytest.mark.ngspice
def test_crossbar_2x2_golden_matches_engine(batch_runner):
    """The golden 2x2 differential 1T1R crossbar (wire, driver, sense R): ngspice column
    currents vs the behavioral engine within 1e-4 relative."""
    from circuitsim.behavioral import column_currents
    from circuitsim.generators.golden import CROSSBAR_2X2_V, crossbar_2x2_spec

    res = batch_runner.run(block_decks()["crossbar_2x2_diff_1t1r"])
    spice = np.array([float(res[f"i(vout{j})"][0]) for j in range(4)])
    twin = np.asarray(column_currents(crossbar_2x2_spec(), np.array(CROSSBAR_2X2_V)))
    np.testing.assert_allclose(spice, twin.ravel(), rtol=1e-4, atol=0)
    assert np.all(spice > 0)


# ------------------------------------------------------------------------- validation

@pytest.mark.parametrize("kwargs, match", [
    ({"kind": "bogus"}, "kind"),
    ({"kind": "single_pole"}, "gbw"),
    ({"kind": "ideal", "gbw": 1e6}, "no pole"),
    ({"kind": "saturating", "v_pos": -1.0, "v_neg": 1.0}, "v_pos"),
    ({"a0": 0.0}, "a0"),
    ({"v_offset": float("nan")}, "v_offset"),
])
def test_opamp_card_rejects(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        OpAmpCard(**kwargs)


@pytest.mark.parametrize("kwargs, match", [
    ({"activation": "tanh"}, "activation"),
    ({"flavour": "magic"}, "flavour"),
    ({"v_per_unit": -1.0}, "v_per_unit"),
    ({"flavour": "circuit", "opamp": OpAmpCard("ideal")}, "saturating"),
    ({"flavour": "circuit", "v_full_scale": 2.0}, "rail"),
    ({"i_tail": 0.0}, "i_tail"),
])
def test_neuron_card_rejects(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        NeuronCard(**kwargs)


def test_sense_cards_reject_nonpositive_resistors():
    with pytest.raises(ConfigError, match="r_f"):
        TiaCard(r_f=0.0)
    with pytest.raises(ConfigError, match="r_a"):
        DiffSenseCard(r_a=-1.0)


def test_opamp_solver_solves_the_clamped_stage():
    """The saturating closed-loop solver returns the root of the internal node's KCL, is
    monotone, and saturates near the rails."""
    oa = OpAmpCard("saturating", a0=300.0, v_pos=1.0, v_neg=-1.2, v_offset=1e-3)
    s = np.linspace(-0.05, 0.05, 101)
    out = oa.solve(s, 0.4)
    np.testing.assert_allclose(oa.stage_residual(out, s + oa.v_offset - 0.4 * out), 0.0,
                               atol=1e-15)
    assert np.all(np.diff(out) > 0)
    big = oa.output(np.array([-1.0, 1.0]), 0.0)
    assert abs(big[0] + 1.2) < 0.15 and abs(big[1] - 1.0) < 0.15
