"""BSIM4 access transistors: the PTM 45 nm HP card in 1T1R crossbars (ngspice level 54) and
its SPICE-characterised drain-current table in the behavioral solver."""

from __future__ import annotations

import numpy as np
import pytest
from _small_nets import mlp_8_6_3

from circuitsim import behavioral
from circuitsim.cards.bsim4 import (
    ACCESS_BSIM4_PTM45HP,
    Bsim4Nmos,
    card_params,
    characterise_access,
)
from circuitsim.crossbar import CrossbarSpec, crossbar_deck
from circuitsim.crossbar.spice import column_currents
from circuitsim.emit import emit_deck
from circuitsim.errors import ConfigError


@pytest.fixture(scope="module")
def access():
    return characterise_access(ACCESS_BSIM4_PTM45HP)


def test_card_is_the_published_text():
    p = card_params("ptm_45nm_hp_nmos.pm")
    assert p["level"] == 54 and p["vth0"] == 0.46893 and p["toxe"] == 1.25e-9
    assert len(p) == 214  # level + the 213 values of the card


def test_deck_writes_the_bsim4_model():
    spec = CrossbarSpec(np.full((2, 2), 5e-5), r_wire_row=1.0, r_wire_col=1.0,
                        access=ACCESS_BSIM4_PTM45HP)
    text = emit_deck(crossbar_deck(spec, [0.1, 0.2]))
    model = next(line for line in text.splitlines() if line.startswith(".model nacc"))
    assert "level=54 version=4.0 " in model and "vth0=0.46893" in model
    assert "Mt0_0 m0_0 wl c0_0 c0_0 nacc w=1.8e-07 l=4.5e-08" in text


def test_the_card_alone_has_no_twin():
    spec = CrossbarSpec(np.full((2, 2), 5e-5), access=ACCESS_BSIM4_PTM45HP)
    with pytest.raises(ConfigError, match="characterise"):
        behavioral.column_currents(spec, [0.1, 0.2])


def test_32x32_1t1r_with_wires_matches_ngspice_to_1e4(access):
    """Bound 1e-4 of the largest column current (measured 1.2e-5; part of it is the card's
    gate tunnelling current, which the two-terminal table leaves out)."""
    rng = np.random.default_rng(32)
    G = rng.uniform(1e-5, 1e-4, (32, 32))
    kw = dict(r_wire_row=1.0, r_wire_col=1.0, r_source=1.0, r_sense=1.0)
    V = rng.uniform(0.0, 0.2, 32)
    ref = column_currents(CrossbarSpec(G, access=ACCESS_BSIM4_PTM45HP, **kw), V)
    twin = behavioral.column_currents(CrossbarSpec(G, access=access, **kw), V)
    assert np.max(np.abs(twin - ref)) <= 1e-4 * np.max(np.abs(ref))


def test_bias_outside_the_table_is_refused(access):
    with pytest.raises(ConfigError, match="outside the characterised grid"):
        access.nmos.drain_current(1.0, 0.9)


def test_other_sizes_use_the_same_card():
    small = Bsim4Nmos(w=90e-9)
    assert small.model().params == ACCESS_BSIM4_PTM45HP.nmos.model().params


def test_network_with_bsim4_access_spice_vs_twin(access):
    """An 8-6-3 MLP with 1T1R BSIM4 cells and wires: ngspice (the card, level 54) and the
    behavioral twin (its table) from one network object.  Column currents within 1e-4,
    outputs within 1 mV, same argmax (measured 1.8e-5 and 4.5e-6 V)."""
    from circuitsim.mapping import MappingConfig
    from circuitsim.network import CircuitConfig, build_network

    model, x = mlp_8_6_3()
    cfg = CircuitConfig(r_wire_row=2.0, r_wire_col=2.0, r_source=10.0, r_sense=10.0,
                        access=access)
    net = build_network(model, cfg, MappingConfig(g_min=1e-6, g_max=100e-6, v_read=0.2),
                        calibration=x)
    spice, twin = net.spice_forward(x), net.behavioral_forward(x)
    for a, b in zip(spice.currents, twin.currents, strict=True):
        assert np.max(np.abs(a - b)) <= 1e-4 * np.max(np.abs(a))
    for a, b in zip(spice.layers, twin.layers, strict=True):
        assert np.max(np.abs(a - b)) <= 1e-3
    assert (spice.predict() == twin.predict()).all()
