"""Memristor cards: validation, and one source of truth for the SPICE instance and the twin."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from circuitsim.cards import VTEAM_CROSSBAR, VTEAM_MEMTORCH, Vteam
from circuitsim.circuit import Deck, Op, VoltageSource
from circuitsim.circuit.subckt import library_subckts, validate_deck
from circuitsim.devices import VteamTwin
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
