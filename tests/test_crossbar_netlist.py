"""Crossbar spec validation and netlist generator structure (no simulator needed)."""

from __future__ import annotations

import numpy as np
import pytest

from circuitsim.cards import ACCESS_018UM
from circuitsim.circuit import Mosfet, Resistor
from circuitsim.crossbar import CrossbarSpec, crossbar_deck, crossbar_subckt
from circuitsim.emit import emit_deck
from circuitsim.errors import ConfigError

G = np.array([[1e-4, 2e-5, 5e-5], [3e-5, 8e-5, 1e-5]])


def _names(sub):
    return {e.name for e in sub.elements}


def test_spec_stores_readonly_copy_and_shape():
    g = G.copy()
    s = CrossbarSpec(g, r_wire_row=1.0, r_wire_col=2.0)
    g[0, 0] = 1.0
    assert s.conductance[0, 0] == 1e-4
    assert s.shape == (2, 3) and s.rows == 2 and s.cols == 3
    with pytest.raises(ValueError):
        s.conductance[0, 0] = 3.0
    assert s.is_linear and not s.is_ideal
    assert CrossbarSpec(G).is_ideal


@pytest.mark.parametrize("bad, words", [
    (np.zeros((2, 3)), "conductance must be > 0"),
    (-G, "conductance must be > 0"),
    (np.where(G == G[0, 0], np.nan, G), "finite"),
    (np.where(G == G[0, 0], np.inf, G), "finite"),
    (G[0], "2-D"),
    (np.zeros((0, 3)), "2-D"),
    ([["a", "b"]], "conductance"),
])
def test_spec_rejects_bad_conductance(bad, words):
    with pytest.raises(ConfigError, match=words):
        CrossbarSpec(bad)


@pytest.mark.parametrize("field", ["r_wire_row", "r_wire_col", "r_source", "r_sense"])
@pytest.mark.parametrize("value", [-1.0, float("nan"), float("inf"), np.ones(3)])
def test_spec_rejects_bad_resistance(field, value):
    with pytest.raises(ConfigError, match=field):
        CrossbarSpec(G, **{field: value})


def test_spec_rejects_bad_options():
    with pytest.raises(ConfigError, match="access"):
        CrossbarSpec(G, access="nmos")
    with pytest.raises(ConfigError, match="sinh_v0"):
        CrossbarSpec(G, sinh_v0=0.0)
    with pytest.raises(ConfigError, match="c_wire_row"):
        CrossbarSpec(G, c_wire_row=-1e-15)


@pytest.mark.parametrize("V, words", [
    (np.zeros(3), "rows = 2"),
    (np.zeros((3, 4)), "rows = 2"),
    (np.zeros((2, 0)), "no input"),
    (np.array([0.1, np.nan]), "finite"),
    (np.zeros((2, 2, 2)), "shape"),
])
def test_check_inputs_rejects(V, words):
    with pytest.raises(ConfigError, match=words):
        CrossbarSpec(G).check_inputs(V)


def test_subckt_elements_1r_full():
    s = CrossbarSpec(G, r_wire_row=1.0, r_wire_col=2.0, r_source=5.0, r_sense=3.0,
                     c_wire_row=1e-15, c_wire_col=2e-15)
    sub = crossbar_subckt(s, "xb")
    assert sub.ports == ("in0", "in1", "out0", "out1", "out2")
    names = _names(sub)
    R, C = s.shape
    assert {f"Rs{i}" for i in range(R)} <= names
    assert {f"Rk{j}" for j in range(C)} <= names
    assert len([n for n in names if n.startswith("Rr")]) == R * (C - 1)
    assert len([n for n in names if n.startswith("Rc")]) == (R - 1) * C
    assert len([n for n in names if n.startswith("Rm")]) == R * C
    assert len([n for n in names if n.startswith("C")]) == 2 * R * C
    el = {e.name: e for e in sub.elements}
    assert el["Rm1_2"].value == pytest.approx(1 / G[1, 2], rel=1e-15)
    assert (el["Rm1_2"].p, el["Rm1_2"].n) == ("r1_2", "c1_2")
    assert (el["Rk2"].p, el["Rk2"].n) == ("c1_2", "out2")
    assert (el["Rs0"].p, el["Rs0"].n) == ("in0", "r0_0")


def test_zero_resistances_merge_nodes():
    s = CrossbarSpec(G, r_wire_row=0.0, r_wire_col=0.0, r_source=0.0, r_sense=0.0)
    sub = crossbar_subckt(s)
    assert all(isinstance(e, Resistor) and e.name.startswith("Rm") for e in sub.elements)
    el = {e.name: e for e in sub.elements}
    assert (el["Rm1_2"].p, el["Rm1_2"].n) == ("in1", "out2")
    s2 = CrossbarSpec(G, r_wire_row=1.0, r_wire_col=1.0, r_source=0.0, r_sense=0.0)
    el2 = {e.name: e for e in crossbar_subckt(s2).elements}
    assert (el2["Rm0_0"].p, el2["Rm0_0"].n) == ("in0", "c0_0")
    assert (el2["Rm1_2"].p, el2["Rm1_2"].n) == ("r1_2", "out2")
    assert not any(n.startswith(("Rs", "Rk")) for n in el2)


def test_1t1r_subckt_orientation_and_model():
    s = CrossbarSpec(G, r_wire_row=1.0, r_wire_col=1.0, access=ACCESS_018UM)
    sub = crossbar_subckt(s)
    assert sub.ports[-1] == "wl"
    m = {e.name: e for e in sub.elements}["Mt0_1"]
    assert isinstance(m, Mosfet)
    assert (m.d, m.g, m.s, m.b) == ("m0_1", "wl", "c0_1", "c0_1")
    assert sub.models[0].params["vto"] == ACCESS_018UM.nmos.vto
    assert m.w == ACCESS_018UM.nmos.w and m.l == ACCESS_018UM.nmos.l


def test_deck_is_deterministic_and_measures_columns():
    s = CrossbarSpec(G, r_wire_row=1.0, r_wire_col=2.0, r_source=5.0, r_sense=3.0,
                     access=ACCESS_018UM)
    V = np.array([0.1, -0.2])
    a, b = emit_deck(crossbar_deck(s, V)), emit_deck(crossbar_deck(s, V))
    assert a == b
    assert "Vout2 out2 0 dc 0" in a and "Vin1 in1 0 dc -0.2" in a and "Vwl wl 0 dc 1.8" in a
    assert ".save i(vout0) i(vout1) i(vout2)" in a
    with pytest.raises(ConfigError, match="one input vector"):
        crossbar_deck(s, np.zeros((2, 2)))
