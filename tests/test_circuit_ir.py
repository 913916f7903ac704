"""Circuit IR validation and the emitter: bad parameters are ConfigErrors before ngspice runs;
emission is deterministic."""

from __future__ import annotations

import math

import numpy as np
import pytest

from circuitsim.circuit import (
    BSource,
    Capacitor,
    Dc,
    Deck,
    Instance,
    Model,
    Mosfet,
    Op,
    Pulse,
    Pwl,
    Resistor,
    Sin,
    Subcircuit,
    Tran,
    Vcvs,
    VoltageSource,
)
from circuitsim.emit import emit_deck
from circuitsim.errors import ConfigError
from circuitsim.units import spice_number


@pytest.mark.parametrize("value", [0.0, -1.0, math.nan, math.inf, -math.inf])
def test_resistor_rejects_nonpositive_and_nonfinite(value):
    with pytest.raises(ConfigError, match="R1: resistance"):
        Resistor("R1", "a", "b", value)


def test_capacitor_rejects_negative():
    with pytest.raises(ConfigError, match="capacitance"):
        Capacitor("C1", "a", "0", -1e-15)


def test_element_letter_must_match_kind():
    with pytest.raises(ConfigError, match="must start with 'R'"):
        Resistor("X1", "a", "b", 1.0)


@pytest.mark.parametrize("node", ["", "a b", "a\nb", "n(1)"])
def test_bad_node_names(node):
    with pytest.raises(ConfigError, match="node name"):
        Resistor("R1", node, "0", 1.0)


def test_duplicate_element_names_case_insensitive():
    deck = Deck("dup", elements=[VoltageSource("V1", "a", "0", dc=1), Resistor("R1", "a", "0", 1),
                                 Resistor("r1", "a", "0", 2)])
    with pytest.raises(ConfigError, match="duplicate element name"):
        emit_deck(deck)


def test_unknown_subckt_model_and_port_count():
    sub = Subcircuit("cell", ("p", "n"), [Resistor("R1", "p", "n", 1e3)])
    base = [VoltageSource("V1", "a", "0", dc=1)]
    with pytest.raises(ConfigError, match="unknown subcircuit"):
        emit_deck(Deck("t", base + [Instance("X1", "nope", ("a", "0"))], subcircuits=[sub]))
    with pytest.raises(ConfigError, match="connects 3 nodes"):
        emit_deck(Deck("t", base + [Instance("X1", "cell", ("a", "0", "b"))], subcircuits=[sub]))
    with pytest.raises(ConfigError, match="unknown model"):
        emit_deck(Deck("t", base + [Mosfet("M1", "a", "a", "0", "0", "nfoo", 1e-6, 1e-6)]))
    with pytest.raises(ConfigError, match="unknown parameters"):
        emit_deck(Deck("t", base + [Instance("X1", "cell", ("a", "0"), {"r": 1.0})],
                       subcircuits=[sub]))


def test_unknown_nodes_in_expressions_ics_and_saves():
    base = [VoltageSource("V1", "a", "0", dc=1), Resistor("R1", "a", "0", 1e3)]
    with pytest.raises(ConfigError, match="unknown node 'zz'"):
        emit_deck(Deck("t", base + [BSource("B1", "b", "0", "v(zz)*2")]))
    with pytest.raises(ConfigError, match=".ic names unknown node"):
        emit_deck(Deck("t", base, ics={"q": 0.1}))
    with pytest.raises(ConfigError, match="save names unknown node"):
        emit_deck(Deck("t", base, saves=("v(q)",)))
    with pytest.raises(ConfigError, match="unknown source"):
        emit_deck(Deck("t", base, analyses=[Dc("V9", 0, 1, 0.1)]))


def test_waveform_validation():
    with pytest.raises(ConfigError, match="strictly increasing"):
        Pwl(((0, 0), (1e-6, 1), (1e-6, 2)))
    with pytest.raises(ConfigError, match="point 1 must be a"):
        Pwl(((0, 0), (1e-6,)))
    with pytest.raises(ConfigError, match="point 0 value must be finite"):
        Pwl(((0, math.nan),))
    with pytest.raises(ConfigError, match="rise"):
        Pulse(0, 1, rise=0)
    with pytest.raises(ConfigError, match="freq"):
        Sin(0, 1, -5)
    with pytest.raises(ConfigError, match="sign of stop - start"):
        Dc("V1", 0, 1, -0.25)
    assert Dc("V1", 1, 0, -0.25).step == -0.25  # a downward sweep is fine
    with pytest.raises(ConfigError, match="tstart"):
        Tran(1e-9, 1e-6, tstart=2e-6)


def test_waveform_python_values_match_definition():
    p = Pulse(0, 1, delay=1e-6, rise=1e-7, fall=2e-7, width=1e-6, period=3e-6)
    t = np.array([0, 1e-6, 1.05e-6, 1.5e-6, 2.2e-6, 2.5e-6, 4.5e-6])
    np.testing.assert_allclose(p.value(t), [0, 0, 0.5, 1, 0.5, 0, 1], atol=1e-12)
    w = Pwl(((0, 0), (1, 2), (2, 2)))
    np.testing.assert_allclose(w.value([0.5, 3]), [1, 2])


def test_number_formatter():
    assert spice_number(1e-5) == "1e-05"
    assert spice_number(2.0) == "2"
    assert spice_number(0.1) == "0.1"
    assert float(spice_number(1 / 3)) == 1 / 3  # round-trips exactly
    with pytest.raises(ConfigError):
        spice_number(math.nan)


def _sample_deck():
    sub = Subcircuit("amp", ("inp", "out"), [Vcvs("E1", "out", "0", "inp", "0", 10.0),
                                              Resistor("Rl", "out", "0", 1e3)],
                     params={"g": 2.0}, comment="a gain stage")
    return Deck(
        "sample", elements=[
            VoltageSource("Vin", "in", "0", dc=0.1, waveform=Pulse(0, 0.2, 0, 1e-9, 1e-9, 1e-6)),
            Resistor("R1", "in", "mid", 1e3, comment="input resistor"),
            Capacitor("C1", "mid", "0", 1e-12),
            Instance("Xa", "amp", ("mid", "o"), {"g": 3.0}),
            Mosfet("M1", "o", "in", "0", "0", "nacc", 0.36e-6, 0.18e-6),
        ], subcircuits=[sub], models=[Model("nacc", "nmos", {"level": 1, "vto": 0.45})],
        options={"reltol": 1e-4, "method": "gear"}, ics={"mid": 0.0},
        analyses=[Op(), Tran(1e-9, 1e-6, tmax=1e-10)])


def test_emission_is_deterministic_and_readable():
    a, b = emit_deck(_sample_deck()), emit_deck(_sample_deck())
    assert a == b
    assert ".subckt amp inp out params: g=2" in a
    assert "Xa mid o amp g=3" in a
    assert "* input resistor\nR1 in mid 1000" in a
    assert "Vin in 0 dc 0.1 pulse(0 0.2 0 1e-09 1e-09 1e-06 1e+30)" in a
    assert ".options klu method=gear reltol=0.0001" in a
    assert ".tran 1e-09 1e-06 0 1e-10" in a
    assert a.rstrip().endswith(".end")
