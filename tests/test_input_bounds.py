"""Values no circuit can have, and strings that would escape into SPICE text (issue 12,
classes 5 and 6): refused by the config, the cards and the circuit IR."""

from __future__ import annotations

import pytest

from circuitsim.cards import AccessTransistor, Nmos1Card
from circuitsim.circuit import (
    BSource,
    Deck,
    Instance,
    Model,
    Op,
    OsdiDevice,
    RawLine,
    Resistor,
    Subcircuit,
    VoltageSource,
)
from circuitsim.emit import emit_deck
from circuitsim.errors import ConfigError
from circuitsim.mapping import MappingConfig
from circuitsim.network import CircuitConfig
from circuitsim.nn.train import TrainConfig
from circuitsim.xval.config import build_section

ELS = [VoltageSource("V1", "a", "0", dc=0.2), Resistor("R1", "a", "0", 1e3)]
NL = ["\n", "\r", "\x00", "\x0b", "\x1b", "\u2028"]


@pytest.mark.parametrize("bad", NL)
@pytest.mark.parametrize("make", [
    lambda b: Deck(f"title{b}.end", elements=ELS),
    lambda b: Deck("t", elements=ELS, options={f"foo{b}": 1}),
    lambda b: Deck("t", elements=ELS, options={"method": f"gear{b}.end"}),
    lambda b: Deck("t", elements=ELS, params={f"p{b}": 1.0}),
    lambda b: Deck("t", elements=ELS, includes=[f"lib{b}.lib"]),
    lambda b: Deck("t", elements=ELS, saves=[f"v(a){b}"]),
    lambda b: Model("m1", f"nmos{b}"),
    lambda b: Model("m1", "nmos", {f"vto{b}": 0.4}),
    lambda b: RawLine("D1", f"D1 a 0 d{b}.end", ("a",)),
    lambda b: Subcircuit(f"sub{b}", ("a",)),
    lambda b: Subcircuit("sub", ("a",), params={f"k{b}": 1.0}),
    lambda b: Instance("X1", f"sub{b}", ("a",)),
    lambda b: Instance("X1", "sub", ("a",), params={f"k{b}": 1.0}),
    lambda b: BSource("B1", "a", "0", f"v(a){b}*2"),
    lambda b: Resistor("R1", f"a{b}", "0", 1e3),
    lambda b: Resistor(f"R1{b}", "a", "0", 1e3),
    lambda b: Deck("t", elements=ELS, ics={f"a{b}": 0.1}),
    lambda b: Deck("t", elements=ELS, osdi=[f"/x/vteam{b}.osdi"]),
    lambda b: OsdiDevice("N1", ("a", "0"), f"vteam{b}"),
])
def test_no_string_reaching_spice_text_may_break_a_line(make, bad):
    with pytest.raises(ConfigError):
        make(bad)


@pytest.mark.parametrize("options", [{"a b": 1}, {"1x": 1}, {"x": "a=b"}, {"x": "gear klu"},
                                     {"x": float("inf")}, {"": 1}])
def test_option_names_and_values_are_single_tokens(options):
    with pytest.raises(ConfigError):
        Deck("t", elements=ELS, options=options)


def test_valid_decks_still_emit():
    text = emit_deck(Deck("a plain title", elements=ELS, options={"method": "gear", "klu": True,
                                                                  "reltol": 1e-4},
                          params={"k": 2.0}, analyses=[Op()], saves=["v(a)", "i(v1)"]))
    assert ".options klu method=gear reltol=" in text and text.count("\n.end\n") == 1


@pytest.mark.parametrize("v", [100.0, 1.5])
def test_read_voltage_above_the_disturb_bound_is_refused(v):
    with pytest.raises(ConfigError, match="disturb"):
        MappingConfig(v_read=v)
    MappingConfig(v_read=1.0)  # the vmax study's top point


@pytest.mark.parametrize("v", [0.0, -1.0, 1e6, float("nan")])
def test_word_line_voltage_no_gate_can_have_is_refused(v):
    with pytest.raises(ConfigError):
        AccessTransistor(Nmos1Card(), v)


@pytest.mark.parametrize("cls, key, value, match", [
    (MappingConfig, "v_read", "0.2", "expected float, got str"),
    (MappingConfig, "g_max", float("inf"), "finite"),
    (MappingConfig, "levels", True, "expected int or null, got bool"),
    (MappingConfig, "levels", 2.5, "expected int"),
    (CircuitConfig, "r_wire_row", [1.0], "expected float, got list"),
    (CircuitConfig, "neuron_flavour", 3, "expected str"),
    (TrainConfig, "epochs", "5", "expected int, got str"),
])
def test_config_sections_are_type_checked(cls, key, value, match):
    with pytest.raises(ConfigError, match=match):
        build_section(cls, {key: value}, "section")


def test_config_sections_accept_ints_for_floats():
    assert build_section(MappingConfig, {"v_read": 1, "levels": None}, "mapping").v_read == 1
