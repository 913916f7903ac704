"""Non-idealities: zero strength is the identity, drawn statistics match the model, seeds
reproduce, bad parameters raise ConfigError."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from circuitsim.errors import ConfigError
from circuitsim.mapping import MappingConfig
from circuitsim.network import CircuitConfig, build_network, crossbar_forward, study_network
from circuitsim.nonideal import (
    Drift,
    Endurance,
    IRDrop,
    IVNonlinearity,
    NonIdealityConfig,
    ProgrammingNoise,
    PulseNonlinearity,
    ReadNoise,
    StuckAt,
    WeightNoise,
    WriteVerify,
    nl_to_a_over_pmax,
    wan2022_sigma,
)

N = 40_000
G_MAX = 100e-6


def rng(seed=0):
    return np.random.default_rng(seed)


MAP = MappingConfig(g_max=G_MAX)


def model():
    """9-6-3 sigmoid MLP with seeded normal weights (read through the network twin)."""
    r = rng(5)
    m = torch.nn.Sequential(torch.nn.Linear(9, 6), torch.nn.Sigmoid(), torch.nn.Linear(6, 3))
    with torch.no_grad():
        for lin in (m[0], m[2]):
            lin.weight.copy_(torch.as_tensor(r.normal(size=tuple(lin.weight.shape))))
            lin.bias.copy_(torch.as_tensor(r.normal(size=lin.out_features)))
    return m


ZERO = [ProgrammingNoise(0.0), StuckAt(0.0, 0.0), Drift(t=0.0), Drift(t=1e6, nu=0, nu_sigma=0),
        Endurance(cycles=0.0), Endurance(cycles=1e9, rate=0.0), PulseNonlinearity(0.0)]


@pytest.mark.parametrize("t", ZERO, ids=lambda t: repr(t))
def test_zero_strength_is_identity(t):
    g = rng().uniform(0, G_MAX, size=(30, 7))
    out = t.apply(g, G_MAX, rng()) if isinstance(t, ProgrammingNoise) else \
        t.apply(g, 0.0, G_MAX, rng())
    assert t.is_identity
    np.testing.assert_array_equal(out, g)


def test_zero_strength_scenario_equals_ideal_forward():
    x = rng(1).random((20, 9))
    ni = NonIdealityConfig(programming=ProgrammingNoise(0.0), stuck_at=StuckAt(), drift=Drift(),
                           endurance=Endurance(), pulse=PulseNonlinearity(), read_noise=ReadNoise())
    np.testing.assert_array_equal(crossbar_forward(model(), x, MAP, nonideal=ni),
                                  crossbar_forward(model(), x, MAP))


def test_constant_sigma_statistics():
    g = np.full(N, 50e-6)
    out = ProgrammingNoise(2e-6).apply(g, G_MAX, rng())
    e = out - g
    assert abs(e.mean()) < 4 * 2e-6 / np.sqrt(N)
    assert abs(e.std() - 2e-6) < 4 * 2e-6 / np.sqrt(2 * N)


def test_wan2022_sigma_shape_and_statistics():
    # the published fit at G_max = 40 µS: σ(0) = 0.348 µS, σ(G_max) = 1.103 µS
    assert wan2022_sigma(0.0, 40e-6) == pytest.approx(0.348e-6)
    assert wan2022_sigma(40e-6, 40e-6) == pytest.approx((0.348 + 16.03 - 43.853 + 45.393
                                                         - 16.815) * 1e-6)
    # rescaled to a peak σ: the peak over the range equals sigma, intermediate states noisiest
    pn = ProgrammingNoise(10e-6, "wan2022")
    grid = np.linspace(0, G_MAX, 1001)
    s = pn.sigma_of(grid, G_MAX)
    assert s.max() == pytest.approx(10e-6, rel=1e-4)
    assert 0.2 < grid[s.argmax()] / G_MAX < 0.6 and s[-1] < s.max() and s[0] < s.max()
    for gval in (20e-6, 45e-6, 90e-6):
        g = np.full(N, gval)
        e = pn.apply(g, G_MAX, rng(2)) - g
        sig = float(pn.sigma_of(gval, G_MAX))
        assert abs(e.mean()) < 4 * sig / np.sqrt(N)
        assert abs(e.std() - sig) < 4 * sig / np.sqrt(2 * N)


def test_write_verify_statistics():
    sig, tol, n_att = 3e-6, 2e-6, 3
    g = np.full(N, 50e-6)
    one = ProgrammingNoise(sig).apply(g, G_MAX, rng(3)) - g
    wv = ProgrammingNoise(sig, write_verify=WriteVerify(tol, n_att)).apply(g, G_MAX, rng(3)) - g
    from math import erf, sqrt

    p_fail = 1 - erf(tol / sig / sqrt(2))  # one attempt outside the tolerance
    expect = p_fail**n_att
    frac = np.mean(np.abs(wv) > tol)
    assert abs(frac - expect) < 3 * np.sqrt(expect * (1 - expect) / N)
    assert wv.std() < 0.7 * one.std()
    assert abs(wv.mean()) < 4 * sig / np.sqrt(N)


def test_unprogrammed_zero_devices_and_clipping():
    g = np.r_[np.zeros(1000), np.full(1000, 1e-6)]
    out = ProgrammingNoise(5e-6).apply(g, G_MAX, rng())
    assert np.all(out[:1000] == 0) and np.all(out >= 0) and np.any(out[1000:] == 0)
    out2 = ProgrammingNoise(5e-6, vary_unprogrammed=True).apply(g, G_MAX, rng())
    assert np.mean(out2[:1000] > 0) == pytest.approx(0.5, abs=0.06)


def test_stuck_at_fractions():
    g = np.full(N, 30e-6)
    out = StuckAt(0.05, 0.10).apply(g, 1e-6, G_MAX, rng(4))
    for val, p in ((G_MAX, 0.05), (1e-6, 0.10)):
        f = np.mean(out == val)
        assert abs(f - p) < 3 * np.sqrt(p * (1 - p) / N)
    assert np.all((out == G_MAX) | (out == 1e-6) | (out == 30e-6))


def test_drift_statistics():
    t, nu, s = 1e4, 0.05, 0.02
    g = np.full(N, 40e-6)
    out = Drift(t, nu, s).apply(g, 0.0, G_MAX, rng(5))
    lr = np.log(out / g) / -np.log(t)  # = ν per device
    assert abs(lr.mean() - nu) < 4 * s / np.sqrt(N)
    assert abs(lr.std() - s) < 4 * s / np.sqrt(2 * N)


def test_endurance_window():
    e = Endurance(cycles=1e8, onset=1e6, rate=0.25)
    assert e.window_loss() == pytest.approx(0.5)
    g = np.linspace(0, G_MAX, 101)
    out = e.apply(g, 0.0, G_MAX, rng())
    assert out.min() == pytest.approx(25e-6) and out.max() == pytest.approx(75e-6)
    more = Endurance(cycles=1e9).apply(g, 0.0, G_MAX, rng())
    assert np.ptp(more) < np.ptp(out)


def test_pulse_nonlinearity():
    assert nl_to_a_over_pmax(2.0) == pytest.approx(0.609)
    assert nl_to_a_over_pmax(6.0) == pytest.approx(0.136)
    g = np.linspace(10e-6, G_MAX, 50)
    pot = PulseNonlinearity(3.0).apply(g, 10e-6, G_MAX)
    assert pot[0] == pytest.approx(10e-6) and pot[-1] == pytest.approx(G_MAX)
    assert np.all(pot[1:-1] > g[1:-1])  # a concave response overshoots the linear target
    dep = PulseNonlinearity(3.0, direction="depression").apply(g, 10e-6, G_MAX)
    assert np.all(dep[1:-1] < g[1:-1])
    q = PulseNonlinearity(0.0, p_max=4).apply(g, 10e-6, G_MAX)
    assert len(np.unique(np.round(q, 15))) == 5


def test_read_noise_statistics():
    """The network's read-noise sample (what both worlds add at the ADC input): per column a
    Gaussian of variance absolute² + relative²·Σ_i V_i²·G_ij², the G+ and G− columns
    independent, seen through the output's transimpedance."""
    n = 20_000
    rn = ReadNoise(relative=0.05, absolute=1e-7)
    lin = torch.nn.Linear(8, 2)
    net = build_network(torch.nn.Sequential(lin), CircuitConfig(digital_periphery=True), MAP,
                        nonideal=NonIdealityConfig(read_noise=rn, seed=7))
    p = net.plans[0]
    v = rng(6).uniform(0, 0.2, size=9)
    v[-1] = net.v_read  # the bias row
    # distinct inputs (the sample is keyed by the row voltages), statistically the same
    V = v + 1e-15 * np.arange(n)[:, None]
    e = net.read_noise(p, V)[:, 0, :]
    var = 1e-14 + 0.05**2 * ((v ** 2) @ (p.conductance**2))
    sig = p.transimpedance * np.sqrt(var[0::2] + var[1::2])
    np.testing.assert_array_less(np.abs(e.mean(0)), 4 * sig / np.sqrt(n))
    np.testing.assert_allclose(e.std(0), sig, rtol=4 / np.sqrt(2 * n))


def test_seeds_reproduce_and_differ():
    ni = NonIdealityConfig(programming=ProgrammingNoise(5e-6, "wan2022"),
                           stuck_at=StuckAt(0.02, 0.02), drift=Drift(1e3),
                           read_noise=ReadNoise(0.02), seed=11)
    x = rng(8).random((10, 9))

    def fwd(cfg, draw):
        return crossbar_forward(model(), x, MAP, nonideal=cfg, draw=draw)

    a, b = fwd(ni, 3), fwd(ni, 3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, fwd(ni, 4))
    other = NonIdealityConfig.from_dict({**ni.to_dict(), "seed": 12})
    assert not np.array_equal(a, fwd(other, 3))


def test_config_round_trip(tmp_path):
    ni = NonIdealityConfig(programming=ProgrammingNoise(5e-6, write_verify=WriteVerify(1e-6, 4)),
                           endurance=Endurance(1e7), pulse=PulseNonlinearity(2, 64),
                           ir_drop=IRDrop(r_wire_row=2.0, r_wire_col=2.0), seed=3)
    d = json.loads(ni.save(tmp_path / "ni.json").read_text())
    assert NonIdealityConfig.from_dict(d) == ni


@pytest.mark.parametrize("make", [
    lambda: ProgrammingNoise(-1e-6), lambda: StuckAt(-0.1), lambda: StuckAt(1.1),
    lambda: StuckAt(0.6, 0.6), lambda: Drift(-1), lambda: Endurance(rate=-1),
    lambda: PulseNonlinearity(7), lambda: PulseNonlinearity(1, p_max=0),
    lambda: ReadNoise(-0.1), lambda: WriteVerify(max_attempts=0), lambda: IRDrop(r_wire_row=-1.0),
    lambda: IRDrop(g_open=0.0), lambda: IVNonlinearity(0.0),
    lambda: NonIdealityConfig(stuck_at=0.1), lambda: ProgrammingNoise(1e-6, "gauss"),
    lambda: NonIdealityConfig(seed=-1), lambda: NonIdealityConfig.from_dict({"seed": "a"}),
    lambda: NonIdealityConfig.from_dict({"nope": 1})])
def test_bad_parameters_raise(make):
    with pytest.raises(ConfigError):
        make()


def test_weight_noise_for_training():
    w = np.r_[np.zeros(1000), np.full(N, 0.5), [1.0]]
    wn = WeightNoise(ProgrammingNoise(2e-6), g_max=G_MAX)
    e = wn.sample_numpy(w, rng(9))
    assert np.all(e[:1000] == 0)  # zero weights: both devices unprogrammed
    k = G_MAX / 1.0
    assert abs(e[1000:-1].std() - 2e-6 / k) < 4 * (2e-6 / k) / np.sqrt(2 * N)
    t = wn.sample(torch.as_tensor(w[:50], dtype=torch.float32), torch.Generator().manual_seed(0))
    assert t.dtype == torch.float32 and t.shape == (50,)
    dw, db = wn.layer_noise(torch.ones(4, 3), torch.zeros(4), torch.Generator().manual_seed(1))
    assert dw.shape == (4, 3) and db.shape == (4,) and torch.all(db == 0) and torch.any(dw != 0)


def test_ir_drop_through_the_engine():
    """``nonideal.ir_drop`` is the network's wires: more resistance, larger error; the
    effective-conductance layer (IR-drop-aware training) is exactly the network layout's
    transfer matrix (G+ and G− columns side by side)."""
    from circuitsim.behavioral import CrossbarSolver

    m = model()
    x = rng(10).random((15, 9))
    ideal = crossbar_forward(m, x, MAP)
    errs = []
    for r in (0.5, 5.0, 50.0):
        ir = IRDrop(r_wire_row=r, r_wire_col=r)
        ni = NonIdealityConfig(ir_drop=ir)
        out = crossbar_forward(m, x, MAP, nonideal=ni)
        errs.append(np.abs(out - ideal).max())
        net = study_network(m, MAP, nonideal=ni)
        assert net.circuit.r_wire_row == r and net.circuit.r_wire_col == r
        for p in net.plans:
            eff = ir.effective_layer(p.mapped)
            a = np.asarray(CrossbarSolver(net.tile_spec(p, 0, 0)).transfer_matrix)
            np.testing.assert_allclose(eff.g_pos, a[:, 0::2], rtol=1e-12, atol=1e-18)
            np.testing.assert_allclose(eff.g_neg, a[:, 1::2], rtol=1e-12, atol=1e-18)
    assert errs[0] < errs[1] < errs[2]  # more wire resistance, larger error
    np.testing.assert_array_equal(crossbar_forward(m, x, MAP, nonideal=NonIdealityConfig(
        ir_drop=IRDrop())), ideal)
    # IR drop with a sinh cell I-V runs the engine's Newton solve
    both = crossbar_forward(m, x, MAP, nonideal=NonIdealityConfig(
        iv=IVNonlinearity(0.25), ir_drop=IRDrop(r_wire_row=1.0, r_wire_col=1.0)))
    assert np.all(np.isfinite(both)) and not np.allclose(both, ideal)
    from circuitsim.nonideal import IRDropAware

    ir5 = IRDrop(r_wire_row=5.0, r_wire_col=5.0)
    dw, db = IRDropAware(ir5, MappingConfig(g_max=G_MAX)).layer_noise(
        torch.ones(4, 3), torch.zeros(4))
    assert dw.shape == (4, 3) and db.shape == (4,) and torch.all(dw < 0)  # IR drop shrinks
