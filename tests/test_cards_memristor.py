"""Memristor cards: validation, and one source of truth for the SPICE instance and the twin."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from circuitsim.cards import (
    HP_BIOLEK,
    HP_JOGLEKAR,
    STATIC_10_100US,
    STATIC_CAT_110US,
    VTEAM_CROSSBAR,
    VTEAM_MEMTORCH,
    LinearIonDrift,
    StaticMemristor,
    Vteam,
)
from circuitsim.circuit import Deck, Op, VoltageSource
from circuitsim.circuit.subckt import library_subckts, validate_deck
from circuitsim.devices import LinearIonDriftTwin, VteamTwin, twin
from circuitsim.emit import emit_deck
from circuitsim.errors import ConfigError

# card field -> library parameter
VTEAM_MAP = {"r_on": "ron", "r_off": "roff", "d": "d", "k_on": "kon", "k_off": "koff",
             "alpha_on": "aon", "alpha_off": "aoff", "v_on": "von", "v_off": "voff", "x_c": "xc"}


@pytest.mark.parametrize("card", [VTEAM_MEMTORCH, VTEAM_CROSSBAR], ids=["memtorch", "crossbar"])
def test_vteam_instance_sets_every_library_parameter_from_the_card(card):
    lib = library_subckts([card.library])[card.subckt_name]
    inst = card.instance("Xm", "a", "b", x0=0.25)
    assert set(inst.params) == set(lib.params)  # nothing left to the library's placeholders
    assert lib.ports == ("p", "n")
    for fname, pname in VTEAM_MAP.items():
        assert inst.params[pname] == getattr(card, fname)
    assert inst.params["x0"] == 0.25
    assert inst.params["rexp"] == (card.resistance_law == "exponential")
    mapped = set(VTEAM_MAP) | {"resistance_law"}
    assert {f.name for f in dataclasses.fields(Vteam)} == mapped  # every field reaches SPICE


def test_vteam_card_change_reaches_both_sides():
    """Change one field: the emitted instance line and the twin's rate change together."""
    base = VTEAM_CROSSBAR
    faster = dataclasses.replace(base, k_off=2 * base.k_off)
    text = [emit_deck(Deck("t", (VoltageSource("V1", "a", "0", 0.0), c.instance("Xm", "a", "0")),
                           includes=(c.library,))) for c in (base, faster)]
    assert "koff=3e-05" in text[0] and "koff=6e-05" in text[1]
    dx = [VteamTwin(c).pulse_dx(1.0, 1e-6) for c in (base, faster)]
    assert dx[1] == pytest.approx(2 * dx[0], rel=1e-14)
    exp_law = dataclasses.replace(base, resistance_law="exponential")
    assert exp_law.instance("Xm", "a", "0").params["rexp"] == 1.0
    assert exp_law.resistance(0.5) == pytest.approx(math.sqrt(base.r_on * base.r_off))


def test_vteam_resistance_and_inverse():
    c = VTEAM_CROSSBAR
    np.testing.assert_allclose(c.resistance([-0.1, 0.0, 0.5, 1.0, 1.2]),
                               [c.r_on, c.r_on, 0.5 * (c.r_on + c.r_off), c.r_off, c.r_off])
    x = np.linspace(0, 1, 7)
    for card in (c, dataclasses.replace(c, resistance_law="exponential")):
        np.testing.assert_allclose(card.state_for_resistance(card.resistance(x)), x, atol=1e-12)
    with pytest.raises(ConfigError, match="resistance must lie"):
        c.state_for_resistance(c.r_on / 2)


def test_linear_ion_drift_resistance_inverse():
    """LinearIonDrift.state_for_resistance inverts M(x) = r_on x + r_off (1 - x) (the line
    controller and the reachability test map conductances to states through it)."""
    c = HP_JOGLEKAR
    x = np.linspace(0, 1, 7)
    np.testing.assert_allclose(c.state_for_resistance(c.resistance(x)), x, atol=1e-12)
    assert c.state_for_resistance(c.r_on) == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="resistance must lie"):
        c.state_for_resistance(2 * c.r_off)


@pytest.mark.parametrize("field, value, match", [
    ("r_on", 0.0, "r_on must be > 0"),
    ("r_on", -5.0, "r_on must be > 0"),
    ("r_off", math.inf, "r_off must be finite"),
    ("r_on", 2000.0, "must be below r_off"),
    ("d", 0.0, "d must be > 0"),
    ("k_off", -1e-4, "k_off must be > 0"),
    ("k_on", 1.0, "k_on must be < 0"),
    ("k_on", math.nan, "k_on must be finite"),
    ("v_off", -0.1, "v_off must be > 0"),
    ("v_off", 0.0, "v_off must be > 0"),
    ("v_on", 0.2, "v_on must be < 0"),
    ("alpha_off", 0.0, "alpha_off must be > 0"),
    ("alpha_on", math.nan, "alpha_on must be finite"),
    ("x_c", 0.0, "x_c must be > 0"),
    ("x_c", 0.5, "x_c must be <= 0.1"),
    ("resistance_law", "quadratic", "resistance_law"),
])
def test_vteam_rejects_bad_values(field, value, match):
    with pytest.raises(ConfigError, match=match):
        dataclasses.replace(VTEAM_MEMTORCH, **{field: value})


@pytest.mark.parametrize("x0", [-0.1, 1.5, math.nan])
def test_vteam_instance_rejects_bad_initial_state(x0):
    with pytest.raises(ConfigError, match="x0"):
        VTEAM_MEMTORCH.instance("Xm", "a", "0", x0=x0)


def test_library_instance_is_validated_against_the_library_head():
    """Instances of subcircuits defined in models/*.lib are checked like local ones."""
    inst = VTEAM_MEMTORCH.instance("Xm", "a", "0")
    good = Deck("t", (VoltageSource("V1", "a", "0", 0.0), inst), includes=("vteam.lib",),
                analyses=(Op(),))
    validate_deck(good)
    bad = dataclasses.replace(inst, params={**inst.params, "typo": 1.0})
    with pytest.raises(ConfigError, match="unknown parameters"):
        validate_deck(good.replace(elements=(good.elements[0], bad)))
    with pytest.raises(ConfigError, match="unknown subcircuit"):
        validate_deck(good.replace(includes=()))


# ------------------------------------------------------------------- linear ion drift

LID_MAP = {"r_on": "ron", "r_off": "roff", "d": "d", "mu_v": "uv", "p": "pexp"}


@pytest.mark.parametrize("card", [HP_JOGLEKAR, HP_BIOLEK, dataclasses.replace(HP_JOGLEKAR,
                                                                              window="none")])
def test_lid_instance_sets_every_library_parameter_from_the_card(card):
    lib = library_subckts([card.library])[card.subckt_name]
    inst = card.instance("Xm", "a", "b")
    assert set(inst.params) == set(lib.params)
    assert lib.ports == ("p", "n")
    for fname, pname in LID_MAP.items():
        assert inst.params[pname] == getattr(card, fname)
    flags = {w: inst.params[k] for w, k in (("none", "wnone"), ("joglekar", "wjog"),
                                            ("biolek", "wbio"))}
    assert flags == {w: float(w == card.window) for w in flags}
    assert inst.params["x0"] == card.default_x0
    assert {f.name for f in dataclasses.fields(LinearIonDrift)} == set(LID_MAP) | {"window"}


def test_lid_card_change_reaches_both_sides():
    a, b = HP_BIOLEK, dataclasses.replace(HP_BIOLEK, mu_v=3e-14)
    assert a.instance("X1", "p", "0").params["uv"] == 1e-14
    assert b.instance("X1", "p", "0").params["uv"] == 3e-14
    ta, tb = LinearIonDriftTwin(a), LinearIonDriftTwin(b)
    assert tb.dxdt(1.0, 0.5) == pytest.approx(3 * ta.dxdt(1.0, 0.5), rel=1e-14)
    assert a.k == pytest.approx(1e-14 * 100 / 1e-16)


def test_lid_windows():
    x = np.array([0.0, 0.25, 0.5, 1.0])
    jog = LinearIonDriftTwin(HP_JOGLEKAR).window(x, 1.0)
    np.testing.assert_allclose(jog, 1 - (2 * x - 1) ** 2)
    bio = LinearIonDriftTwin(HP_BIOLEK)
    np.testing.assert_allclose(bio.window(x, 1.0), 1 - x**4)  # i > 0: stops at x = 1
    np.testing.assert_allclose(bio.window(x, -1.0), 1 - (x - 1) ** 4)  # i < 0: stops at 0
    none = LinearIonDriftTwin(dataclasses.replace(HP_JOGLEKAR, window="none"))
    np.testing.assert_array_equal(none.window(x, 1.0), 1.0)


@pytest.mark.parametrize("field, value, match", [
    ("r_on", 0.0, "r_on must be > 0"),
    ("r_off", -1.0, "r_off must be > 0"),
    ("r_off", 50.0, "must be below r_off"),
    ("d", math.nan, "d must be finite"),
    ("mu_v", 0.0, "mu_v must be > 0"),
    ("window", "prodromakis", "window must be one of"),
    ("p", 0.0, "p must be > 0"),
    ("p", math.inf, "p must be finite"),
])
def test_lid_rejects_bad_values(field, value, match):
    with pytest.raises(ConfigError, match=match):
        dataclasses.replace(HP_JOGLEKAR, **{field: value})


def test_twin_needs_the_right_card():
    with pytest.raises(ConfigError, match="Vteam card"):
        VteamTwin(HP_JOGLEKAR)
    with pytest.raises(ConfigError, match="LinearIonDrift card"):
        LinearIonDriftTwin(VTEAM_CROSSBAR)
    with pytest.raises(ConfigError, match="no device twin"):
        twin(STATIC_10_100US)
    assert isinstance(twin(HP_BIOLEK), LinearIonDriftTwin)
    t = np.linspace(0, 1e-6, 5)
    for x0, match in ((1.5, r"x0 must lie in \[0, 1\]"), (math.nan, "x0 must be finite")):
        with pytest.raises(ConfigError, match=match):
            twin(VTEAM_CROSSBAR).simulate(t, np.zeros(5), x0)


# ---------------------------------------------------------------------------- static


def test_static_check_accepts_range_and_rejects_the_rest():
    s = STATIC_10_100US
    g = s.check([[10e-6, 55e-6], [100e-6, 100e-6 * (1 + 1e-12)]])
    assert g.shape == (2, 2)
    for bad, match in [([5e-6], "outside the programmable range"),
                       ([200e-6], "outside the programmable range"),
                       ([[1e-5, -1e-6]], r"index \(0, 1\) is negative"),
                       ([math.nan], "must be finite"), ([math.inf], "must be finite"),
                       (["abc"], "must be numbers")]:
        with pytest.raises(ConfigError, match=match):
            s.check(bad)
    np.testing.assert_allclose(s.clip([0.0, 50e-6, 1.0]), [10e-6, 50e-6, 100e-6])


def test_static_resistor_and_open_cells():
    r = STATIC_10_100US.resistor("R1", "a", "b", 50e-6)
    assert r.value == pytest.approx(20e3)
    assert STATIC_CAT_110US.resistor("R1", "a", "b", 0.0) is None  # unprogrammed: open
    assert STATIC_CAT_110US.r_max == math.inf
    assert STATIC_10_100US.r_min == pytest.approx(1e4)
    with pytest.raises(ConfigError, match="outside"):
        STATIC_10_100US.resistor("R1", "a", "b", 0.0)


@pytest.mark.parametrize("kw, match", [
    ({"g_min": -1e-6}, "g_min must be >= 0"),
    ({"g_max": 0.0}, "g_max must be > 0"),
    ({"g_min": 1e-4, "g_max": 1e-5}, "must be below g_max"),
    ({"g_max": math.nan}, "g_max must be finite"),
])
def test_static_rejects_bad_ranges(kw, match):
    with pytest.raises(ConfigError, match=match):
        StaticMemristor(**kw)
