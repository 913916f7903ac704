"""Read energy per tile from SPICE and from the twin: a small tiled network (4×4 tiles, 8-bit
ADC, wires, 1R and 1T1R) whose every tile has its own row drivers; ngspice's Σ V·I of those
drivers must equal the twin's (node voltages → cell currents) per tile and image."""

from __future__ import annotations

import numpy as np
import pytest

from circuitsim.cards import ACCESS_018UM
from circuitsim.generators.opamp import OpAmpCard
from circuitsim.mapping import MappingConfig
from circuitsim.network import CircuitConfig, build_network
from circuitsim.nn.models import make_mlp
from circuitsim.xval.report import energy_summary

TILED = MappingConfig(g_min=1e-6, g_max=100e-6, v_read=0.2, tile_size=4, adc_bits=8)
REL_TOL = {"1R": 1e-9, "1T1R": 1e-8}
"""Tile power, SPICE vs twin, relative to the largest tile power of the layer: both are exact
DC solves (measured 3.5e-12 for 1R, 7.6e-10 for 1T1R: ngspice's reltol 1e-6 / vntol 1e-9
on the MOSFET nodes)."""


@pytest.fixture(scope="module")
def x():
    return np.random.default_rng(1).uniform(0, 1, (5, 6))


@pytest.fixture(scope="module", params=["1R", "1T1R"])
def net(request, x):
    access = ACCESS_018UM if request.param == "1T1R" else None
    circuit = CircuitConfig(r_wire_row=2.0, r_wire_col=3.0, r_source=5.0, r_sense=2.0,
                            access=access)
    m = make_mlp((6, 7, 3), "relu", seed=3).double().eval()
    return request.param, build_network(m, circuit, TILED, calibration=x)


def test_twin_power_is_ideal_power_without_wires(x):
    """Zero wire / driver / sense resistance and a near-ideal sense op-amp (its virtual
    ground's input resistance r_a/(1+a0) is the twin's only resistance left): the circuit
    twin's tile power is Σ V² G."""
    m = make_mlp((6, 7, 3), "relu", seed=3).double().eval()
    net = build_network(m, CircuitConfig(sense_opamp=OpAmpCard("ideal", a0=1e12)), TILED,
                        calibration=x)
    a, b = net.behavioral_forward(x), net.behavioral_forward(x, ideal=True)
    for pa, pb in zip(a.power, b.power, strict=True):
        assert pa.shape == pb.shape and (pb > 0).all()
        np.testing.assert_allclose(pa, pb, rtol=1e-9)
    # the wires lose voltage: less power than ideal
    wired = build_network(m, CircuitConfig(r_wire_row=5.0, r_wire_col=5.0), TILED,
                          calibration=x).behavioral_forward(x)
    assert all((pw < pi).all() for pw, pi in zip(wired.power, b.power, strict=True))


@pytest.mark.ngspice
def test_tile_energy_spice_matches_twin(net, x, batch_runner):
    kind, net = net
    sp, tw = net.spice_forward(x, runner=batch_runner), net.behavioral_forward(x)
    assert sp.meta["solver"] == ["klu"]
    assert [p.shape for p in sp.power] == [(5, 2, 2), (5, 2, 1)]  # 7 rows x 7 outputs; 8 x 3
    for ps, pt in zip(sp.power, tw.power, strict=True):
        assert (ps > 0).all()
        assert np.abs(ps - pt).max() <= REL_TOL[kind] * np.abs(ps).max()
    # the report's energy section from chunk-like records
    rec = {"y": np.zeros(5, dtype=int), "meta": {"status": "ok"}}
    for level, o in (("spice", sp), ("behavioral_circuit", tw)):
        rec.update({f"{level}_P{k}": p for k, p in enumerate(o.power)})
    e = energy_summary([rec], t_read=net.circuit.t_read)
    total = sum(p.sum(axis=(1, 2)) for p in sp.power) * 10e-9
    np.testing.assert_allclose(e["spice_per_image_J"], total, rtol=1e-12)
    assert e["n_spice"] == 5 and e["max_rel_diff_per_image"] <= REL_TOL[kind]
