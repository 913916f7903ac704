"""Write-verify programming: ngspice (reference) vs the twin, on the same schedule."""

from __future__ import annotations

import numpy as np
import pytest

from circuitsim.devices import VteamTwin
from circuitsim.errors import ConfigError
from circuitsim.program import (
    CellArray,
    CellPulse,
    ProgramConfig,
    build_iteration,
    divergence,
    half_select_probe,
    program_array,
)
from circuitsim.program.spice import (
    HOLD_MARGIN,
    iteration_deck,
    read_deck,
    read_iteration,
    run_iteration,
    static_rows,
)
from circuitsim.program.twin import TwinProgrammer, segment_integral


def test_one_pulse_matches_analytic_vteam(batch_runner):
    """One RESET pulse on a 1x1 array with (almost) ideal wires: ngspice's ΔG within 1 % of
    the analytic VTEAM Δx, (k_off/D)(V/v_off − 1)·w plus the edges.  The cell rises from 0
    to V in one edge time (the edges of a symmetric pulse of edge ``e``) and falls from V to
    the V/2 bias in one edge time (above the threshold: the upper half of a V -> 0 ramp of
    2e); with α = 1 the edges add, so Δx is the mean of the symmetric pulses with edges e
    and 2e."""
    cfg = ProgramConfig(r_wire_row=1e-3, r_wire_col=1e-3, r_driver=1e-3, c_wire=0.0)
    cells = CellArray(cfg.device, (1, 1))
    x = np.full((1, 1), 0.5)
    w = 2e-6
    it = build_iteration(cfg, (1, 1), [CellPulse(0, 0, 1, w)], [0])
    out = read_iteration(batch_runner.run(iteration_deck(cfg, cells, x, it)), cfg, it, (1, 1))
    dx_spice = out["x"][0, 0] - 0.5
    dev = VteamTwin(cfg.device)
    dx_analytic = 0.5 * float(dev.pulse_dx(cfg.v_pulse, w, edge=cfg.edge)
                              + dev.pulse_dx(cfg.v_pulse, w, edge=2 * cfg.edge))
    assert dx_analytic == pytest.approx(
        cfg.device.k_off / cfg.device.d * (cfg.v_pulse / cfg.device.v_off - 1) * w, rel=0.02)
    g = lambda xx: 1.0 / cfg.device.resistance(xx)  # noqa: E731
    dg_spice = g(0.5 + dx_spice) - g(0.5)
    dg_analytic = g(0.5 + dx_analytic) - g(0.5)
    assert abs(dg_spice / dg_analytic - 1) < 0.01
    assert abs(dx_spice / dx_analytic - 1) < 0.01


def test_segment_integral_exact():
    u0, u1, dt, a = -0.5, 1.5, 2.0, 3.0
    t = np.linspace(0, dt, 200001)
    u = u0 + (u1 - u0) * t / dt
    num = np.trapezoid(np.maximum(u, 0) ** a, t)
    assert float(segment_integral(u0, u1, dt, a)) == pytest.approx(num, rel=1e-6)
    assert float(segment_integral(0.3, 0.3, dt, a)) == pytest.approx(0.3 ** 3 * dt)
    assert float(segment_integral(-1, -0.1, dt, a)) == 0.0


@pytest.fixture(scope="module")
def iteration_4x4():
    cfg = ProgramConfig()
    cells = CellArray(cfg.device, (4, 4))
    x = np.full((4, 4), 0.5)
    pulses = [CellPulse(1, 0, 1, 1e-6), CellPulse(1, 1, -1, 2e-6), CellPulse(1, 2, 1, 50e-9),
              CellPulse(1, 3, -1, 400e-9), CellPulse(2, 1, 1, 3.2e-6)]
    it = build_iteration(cfg, (4, 4), pulses, [0, 1, 2, 3])
    return cfg, cells, x, it


def test_iteration_twin_vs_spice(batch_runner, iteration_4x4):
    """Same start, same waveforms on a 4x4 array with wires: every pulsed cell's Δx agrees
    within 1 % (measured ≤ 0.4 %, the shortest pulse), unpulsed cells do not move in either
    world (V/2 below threshold), reads agree to 1e-4 of the G range, energy within 1 %."""
    cfg, cells, x, it = iteration_4x4
    sp = read_iteration(batch_runner.run(iteration_deck(cfg, cells, x, it)), cfg, it, (4, 4))
    tw = TwinProgrammer(cfg, cells).run(x, it)
    dxs, dxt = sp["x"] - x, tw["x"] - x
    pulsed = np.zeros((4, 4), bool)
    for p in it.pulses:
        pulsed[p.row, p.col] = True
    assert np.all(np.abs(dxt[pulsed] / dxs[pulsed] - 1) < 0.01)
    assert np.all(dxs[~pulsed] == 0) and np.all(dxt[~pulsed] == 0)
    for r in sp["reads"]:
        assert np.max(np.abs(sp["reads"][r] - tw["reads"][r])) < 1e-4 * cfg.g_range
    assert tw["energy"] == pytest.approx(sp["energy"], rel=0.01)
    # per-phase refactoring (exact sequencing) changes nothing at this level
    tw2 = TwinProgrammer(cfg, cells).run(x, it, refactor="phase")
    assert np.max(np.abs(tw2["x"] - tw["x"])) < 1e-4 * np.max(np.abs(dxt))


def test_write_verify_converges_both_worlds(batch_runner):
    """A 3x4 array, random targets: both worlds converge every cell within the budget and end
    within 1 % of the G range of each other (each is within its tolerance of the target)."""
    cfg = ProgramConfig()
    t = np.random.default_rng(1).uniform(cfg.g_min, cfg.g_max, (3, 4))
    t[0, 0] = np.nan  # an unprogrammed cell stays at x0
    tw = program_array(cfg, t, world="twin")
    sp = program_array(cfg, t, world="spice", runner=batch_runner)
    m = np.isfinite(t)
    for r in (tw, sp):
        assert r.converged_fraction >= 0.99
        assert np.max(np.abs(r.g[m] - t[m])) <= cfg.tolerance * cfg.g_range * 1.01
        assert r.x[0, 0] == cfg.x0 and r.pulses[0, 0] == 0
        assert r.disturb_after_accept(cfg.g_range) < 1e-6
    assert np.max(np.abs(sp.g[m] - tw.g[m])) <= 0.01 * cfg.g_range
    d = divergence(sp, tw)
    assert d["first_divergent_iteration"] is None or d["first_divergent_iteration"] >= 1


def test_half_select_v2_below_ground_scheme(batch_runner):
    """V/2 keeps the unselected cells below threshold (no change in either world); grounding
    the unselected lines writes the selected row's other cells (measured ~10 % of the range)."""
    out = half_select_probe(ProgramConfig(), (3, 3), runner=batch_runner)
    for s in ("v2", "v3"):
        assert out[s]["spice"] < 1e-9 and out[s]["twin"] < 1e-9
    assert out["ground"]["spice"] > 0.01
    assert out["ground"]["twin"] == pytest.approx(out["ground"]["spice"], rel=0.01)


def test_resume_continues_from_written_state(tmp_path):
    cfg = ProgramConfig()
    t = np.random.default_rng(2).uniform(cfg.g_min, cfg.g_max, (3, 3))
    full = program_array(cfg, t, world="twin")
    part = program_array(cfg, t, world="twin", state_dir=tmp_path, stop_after=4)
    assert part.iterations == 4 and (tmp_path / "state_twin.npz").exists()
    resumed = program_array(cfg, t, world="twin", state_dir=tmp_path)
    assert resumed.iterations == full.iterations
    np.testing.assert_array_equal(resumed.pulses, full.pulses)
    np.testing.assert_allclose(resumed.g, full.g, rtol=0, atol=1e-15)
    assert len(resumed.log) == len(full.log)
    # a different run does not pick up this state
    other = program_array(cfg, t * 0.99 + 0.01 * cfg.g_min, world="twin", state_dir=tmp_path,
                          stop_after=1)
    assert other.iterations == 1


def test_c2c_and_d2d_variation_same_draw_both_worlds(batch_runner):
    cfg = ProgramConfig()
    rng = np.random.default_rng(3)
    shape = (2, 3)
    cells = CellArray(cfg.device, shape, {"k_off": cfg.device.k_off * np.exp(
        0.2 * rng.standard_normal(shape)), "k_on": cfg.device.k_on * np.exp(
        0.2 * rng.standard_normal(shape))})
    t = rng.uniform(cfg.g_min, cfg.g_max, shape)
    tw = program_array(cfg, t, world="twin", cells=cells, c2c_sigma=0.1, seed=5)
    sp = program_array(cfg, t, world="spice", cells=cells, c2c_sigma=0.1, seed=5,
                       runner=batch_runner)
    assert tw.converged_fraction == 1.0 and sp.converged_fraction == 1.0
    assert np.max(np.abs(sp.g - tw.g)) <= 0.01 * cfg.g_range


def test_bad_input_names_the_fix():
    cfg = ProgramConfig()
    with pytest.raises(ConfigError, match="outside the device window"):
        cfg.check_targets([[cfg.g_max * 1.5]])
    with pytest.raises(ConfigError, match="at least one pulse"):
        ProgramConfig(max_pulses=0)
    with pytest.raises(ConfigError, match="cannot realise"):
        ProgramConfig(scheme="v2", v_pulse=0.7)
    assert ProgramConfig(scheme="v3", v_pulse=0.7).v_pulse == 0.7
    with pytest.raises(ConfigError, match="half-select probe"):
        ProgramConfig(scheme="ground")
    with pytest.raises(ConfigError, match="does not exceed"):
        ProgramConfig(v_pulse=0.25)
    from circuitsim.cards.memristor import HP_JOGLEKAR

    with pytest.raises(ConfigError, match="no threshold to size the pulse.*give v_pulse"):
        ProgramConfig(device=HP_JOGLEKAR)
    with pytest.raises(ConfigError, match="sizing 'model'.*use sizing 'ladder'"):
        ProgramConfig(device=HP_JOGLEKAR, v_pulse=1.0, sizing="model")
    with pytest.raises(ConfigError, match="Vteam cards only"):
        CellArray(HP_JOGLEKAR, (2, 2), {"k_on": -1.0})
    from circuitsim.program.variability import draw_cells

    with pytest.raises(ConfigError, match="without variability"):
        draw_cells(ProgramConfig(device=HP_JOGLEKAR, v_pulse=1.0), (2, 2), d2d_sigma=0.1)
    with pytest.raises(ConfigError, match="c2c_sigma = 0"):
        program_array(ProgramConfig(device=HP_JOGLEKAR, v_pulse=1.0), np.full((1, 1), 1e-4),
                      world="twin", c2c_sigma=0.1)
    with pytest.raises(ConfigError, match="sizing"):
        ProgramConfig(sizing="greedy")
    cells = CellArray(cfg.device, (2, 2))
    it = build_iteration(cfg, (2, 2), [CellPulse(0, 0, 1, 1e-7)], [0])
    with pytest.raises(ConfigError, match="rows_per_deck"):
        run_iteration(None, cfg, cells, np.full((2, 2), 0.5), it, rows_per_deck=0)
    with pytest.raises(ConfigError, match="distinct rows"):
        read_deck(cfg, cells, np.full((2, 2), 0.5), [0, 0])


@pytest.mark.slow
def test_program_quick_writes_handoff_and_loaders_read_it(tmp_path):
    """`circuitsim program --quick --out DIR`: program.json with the documented keys, the
    hand-off files, and their loaders agree with program.json."""
    from circuitsim.cli import main
    from circuitsim.program.handoff import load_devices, load_program_json, load_pulses

    assert main(["program", "--quick", "--out", str(tmp_path)]) == 0
    s = load_program_json(tmp_path / "program.json")
    for k in ("cells", "converged_fraction", "max_g_error_spice_vs_twin", "half_select_max_dg",
              "energy_j", "time_s", "pulses_per_cell", "wall_s", "accuracy"):
        assert k in s
    assert s["cells"] == 16
    assert s["converged_fraction"]["spice"] >= 0.99 and s["converged_fraction"]["twin"] >= 0.99
    assert s["max_g_error_spice_vs_twin"] <= 0.01
    hs = s["half_select_max_dg"]
    assert hs["v2"]["spice"] < hs["ground"]["spice"]
    dev = load_devices(tmp_path / "handoff" / "devices.csv")["quick"]
    assert dev["target"].shape == (4, 4)
    assert np.max(np.abs(dev["g_spice"] - dev["g_twin"])) / ProgramConfig().g_range == \
        pytest.approx(s["max_g_error_spice_vs_twin"], rel=1e-9)
    pulses = load_pulses(tmp_path / "handoff" / "pulses.csv")
    n_sp = sum(1 for p in pulses if p["world"] == "spice")
    assert n_sp == int(dev["pulses_spice"].sum())
    assert {p["polarity"] for p in pulses} <= {1, -1}
    t = [p["time_s"] for p in pulses if p["world"] == "spice"]
    assert t == sorted(t)
    assert (tmp_path / "handoff" / "README.md").read_text().startswith("# Programming")


def test_handoff_loaders_refuse_foreign_files(tmp_path):
    from circuitsim.program.handoff import load_devices, load_pulses

    bad = tmp_path / "devices.csv"
    bad.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(ConfigError, match="not a circuitsim hand-off"):
        load_devices(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_pulses(tmp_path / "nope.csv")


def test_variability_write_verify_vs_one_shot_and_wan():
    """Varied cells (d2d σ 0.2 on the rates, c2c 0.1): write-verify leaves σ(G) inside the
    tolerance band (≈ tol/√3 for errors spread over ±tol), one-shot programming with the
    nominal recipe is far worse; the statistical Wan model is given next to them."""
    from circuitsim.program.variability import variability_table

    cfg = ProgramConfig()
    r = variability_table(cfg, (6, 6), bins=2)
    assert r["write_verify_converged"] == 1.0
    for row in r["rows"]:
        assert row["sigma_write_verify_us"] <= r["tolerance_us"]
        assert row["sigma_one_shot_us"] > 10 * row["sigma_write_verify_us"]
        assert row["sigma_wan2022_model_us"] > 0


def test_row_deck_with_static_other_rows_matches_full_deck(batch_runner, iteration_4x4):
    """Cells off the pulsed row as resistors (V/2 keeps them below threshold): the same end
    states and reads as the all-dynamic deck."""
    cfg, cells, x, _ = iteration_4x4
    it = build_iteration(cfg, (4, 4), [CellPulse(2, 1, 1, 1e-6), CellPulse(2, 3, -1, 2e-6)],
                         [2])
    full = read_iteration(batch_runner.run(iteration_deck(cfg, cells, x, it)), cfg, it, (4, 4))
    row = read_iteration(batch_runner.run(iteration_deck(cfg, cells, x, it, dynamic_rows=[2])),
                         cfg, it, (4, 4), x_prev=x, dynamic_rows=[2])
    np.testing.assert_allclose(row["x"], full["x"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(row["reads"][2], full["reads"][2], rtol=1e-6)


def test_programming_section_for_the_demo(tmp_path, batch_runner):
    from circuitsim.program.demo_block import programming_section

    cfg = ProgramConfig()
    t = np.random.default_rng(4).uniform(cfg.g_min, cfg.g_max, (6, 6))
    md, s = programming_section(t, tmp_path, block=4, spice_block=2, runner=batch_runner)
    assert md.startswith("## Programming") and "programming.png" in md and "| converged |" in md
    assert (tmp_path / "programming.png").stat().st_size > 1000
    assert s["converged"]["spice"] == 1.0 and s["max_g_error_spice_vs_twin"] <= 0.01
    assert s["half_select_max_dg"]["ground"]["spice"] > s["half_select_max_dg"]["v2"]["spice"]


def test_handoff_round_trip_with_test_vectors(tmp_path):
    from circuitsim.program.handoff import load_devices, load_test_vectors, write_handoff

    cfg = ProgramConfig()
    t = np.random.default_rng(6).uniform(cfg.g_min, cfg.g_max, (2, 3))
    t[1, 2] = np.nan
    tw = program_array(cfg, t, world="twin")
    x = np.random.default_rng(7).random((4, 5))
    y = np.random.default_rng(8).standard_normal((4, 3))
    write_handoff(tmp_path, {"a": {"twin": tw}}, test_x=x, test_y=y, test_labels=[0, 1, 2, 1])
    d = load_devices(tmp_path / "handoff" / "devices.csv")["a"]
    np.testing.assert_array_equal(d["g_twin"], tw.g)
    assert np.isnan(d["target"][1, 2]) and np.isnan(d["g_spice"]).all()
    assert (d["pulses_spice"] == -1).all() and d["pulses_twin"][1, 2] == 0
    xl, yl, lab = load_test_vectors(tmp_path / "handoff" / "test_vectors.csv")
    np.testing.assert_array_equal(xl, x)
    np.testing.assert_array_equal(yl, y)
    assert lab.tolist() == [0, 1, 2, 1]


def test_blocked_spice_iteration_matches_one_deck(batch_runner):
    """An iteration run as one block deck per pulsed row (the other rows' cells resistors)
    plus one ``.dc`` read deck ends where the single all-dynamic deck ends: states within
    ngspice's own integration tolerance on x (reltol 1e-4 of x ~ 0.5; measured 2e-5, i.e.
    < 0.3 % of the smallest pulse's Δx), reads within 1e-4 of the G range (measured 6e-6),
    energy within 0.1 % (measured 4e-4 relative)."""
    cfg = ProgramConfig()
    cells = CellArray(cfg.device, (4, 4))
    x = np.full((4, 4), 0.5)
    pulses = [CellPulse(1, 0, 1, 1e-6), CellPulse(1, 1, -1, 2e-6), CellPulse(2, 1, 1, 3.2e-6),
              CellPulse(3, 2, -1, 4e-7)]
    it = build_iteration(cfg, (4, 4), pulses, [0, 1, 2, 3])
    full = read_iteration(batch_runner.run(iteration_deck(cfg, cells, x, it)), cfg, it, (4, 4))
    blk = run_iteration(batch_runner, cfg, cells, x, it, rows_per_deck=1)
    assert blk["decks"] == 4  # rows 1, 2, 3 and the reads
    assert np.max(np.abs(blk["x"] - full["x"])) < 5e-5
    unpulsed = np.ones((4, 4), bool)
    for p in pulses:
        unpulsed[p.row, p.col] = False
    assert np.all(blk["x"][unpulsed] == 0.5)
    for r in full["reads"]:
        assert np.max(np.abs(blk["reads"][r] - full["reads"][r])) < 1e-4 * cfg.g_range
    assert blk["energy"] == pytest.approx(full["energy"], rel=1e-3)
    # one block holding every pulsed row: the same deck contents, the same numbers
    one = run_iteration(batch_runner, cfg, cells, x, it, rows_per_deck=4)
    assert one["decks"] == 2
    np.testing.assert_allclose(one["x"], full["x"], rtol=0, atol=1e-12)
    for r in full["reads"]:
        np.testing.assert_allclose(one["reads"][r], full["reads"][r], rtol=1e-9)


def test_rows_with_a_loose_cell_stay_dynamic():
    """A cell whose own threshold is within HOLD_MARGIN of the half-select voltage keeps its
    row dynamic in every block deck (its half-select pulses may move it)."""
    cfg = ProgramConfig()
    vh = cfg.v_pulse / 2
    v_off = np.full((3, 2), cfg.device.v_off)
    v_off[1, 0] = vh * HOLD_MARGIN * 0.99
    cells = CellArray(cfg.device, (3, 2), {"v_off": v_off})
    np.testing.assert_array_equal(static_rows(cfg, cells), [True, False, True])
    assert static_rows(cfg, CellArray(cfg.device, (3, 2))).all()


def test_model_sizing_needs_fewer_pulses():
    """'model' sizing (no rung longer than the nominal card predicts for the read error)
    converges with fewer pulses than the plain ladder on the same targets."""
    t = np.random.default_rng(6).uniform(12e-6, 98e-6, (4, 4))
    lad = program_array(ProgramConfig(), t, world="twin")
    mod = program_array(ProgramConfig(sizing="model"), t, world="twin")
    for r in (lad, mod):
        assert r.converged_fraction == 1.0
    assert mod.pulses.mean() < 0.7 * lad.pulses.mean()
    assert mod.iterations < lad.iterations


def test_layer_targets_map_weights_into_the_device_window():
    """A network mapped for the read demo's 1-100 µS: its first layer's targets for
    programming lie inside the device card's window less the tolerance (nothing clipped),
    hold the same weights, and equal the plan's own conductances when the plan was mapped
    for that window already."""
    from circuitsim.mapping import MappingConfig
    from circuitsim.network import build_network
    from circuitsim.nn import make_mlp
    from circuitsim.program.run import layer_targets

    cfg = ProgramConfig()
    lo, hi = cfg.target_window
    assert lo == pytest.approx(cfg.g_min + cfg.tolerance * cfg.g_range)
    model = make_mlp((12, 6, 3), "sigmoid", 0)
    net = build_network(model, mapping=MappingConfig(g_min=1e-6, g_max=100e-6))
    p = net.plans[0]
    assert p.conductance.min() < cfg.g_min  # the read mapping's targets lie below the card
    t = layer_targets(p, cfg)
    assert t.shape == p.conductance.shape
    assert t.min() >= lo * (1 - 1e-12) and t.max() <= hi * (1 + 1e-12)
    cfg.check_targets(t)
    # same weights: G+ - G- proportional to the plan's
    d_plan = p.conductance[:, 0::2] - p.conductance[:, 1::2]
    d_new = t[:, 0::2] - t[:, 1::2]
    np.testing.assert_allclose(d_new, d_plan * (hi - lo) / (100e-6 - 1e-6), rtol=1e-9,
                               atol=1e-18)
    own = build_network(model, mapping=MappingConfig(g_min=lo, g_max=hi)).plans[0]
    np.testing.assert_allclose(layer_targets(own, cfg), own.conductance, rtol=1e-12)


def test_twin_energy_follows_the_moving_state(batch_runner):
    """One SET pulse from R_off on a 2x2 array: a short one (G unchanged), a 25.6 µs one
    (G +23 % during the pulse) and a 102.4 µs one (G 3.8x).  The twin's energy (Simpson on
    the quadratic power, plus the v²·(G(t) − G_start) term along the card's exact G(x(t)))
    within 1 % of ngspice's integrated V·I for all three (measured 0.012 / 0.077 %; with the
    start conductances alone the 25.6 µs pulse was 6.6 % low, with G linear in the drift
    fraction the 102.4 µs one was 25 % high)."""
    cfg = ProgramConfig()
    cells = CellArray(cfg.device, (2, 2))
    x = np.ones((2, 2))
    for w in (1e-7, 25.6e-6, 102.4e-6):
        it = build_iteration(cfg, (2, 2), [CellPulse(0, 0, -1, w)], [])
        sp = run_iteration(batch_runner, cfg, cells, x, it)
        tw = TwinProgrammer(cfg, cells).run(x, it)
        assert tw["energy"] == pytest.approx(sp["energy"], rel=0.01)
    assert 1 / cfg.device.resistance(sp["x"][0, 0]) > 3.5 / cfg.device.r_off


def test_waveform_corners_never_nearly_coincide():
    """Times reached along different sums (a column's return t + e + w + e and the next
    phase's start t + 2e + w_max) are equal, not 1e-19 s apart (such a pair stopped a 65x32
    ngspice run with 'timestep too small'); the same for every row block's window."""
    cfg = ProgramConfig()
    rng = np.random.default_rng(8)
    pulses = [CellPulse(i, j, int(rng.choice([-1, 1])), float(cfg.widths[rng.integers(10)]))
              for i in range(6) for j in range(5)]
    it = build_iteration(cfg, (6, 5), pulses, range(6))
    subs = [it] + [it.window(ph.t0, ph.t1) for ph in it.phases]
    for sub in subs:
        ts = np.unique(np.concatenate([t for t, _ in sub.points.values()] + [[sub.stop]]))
        assert np.min(np.diff(ts)) > 1e-12
        for t, _ in sub.points.values():
            assert t[-1] == sub.stop


def _lid_cfg():
    from circuitsim.program.config import LID_CROSSBAR

    return ProgramConfig(device=LID_CROSSBAR, v_pulse=1.0, x0=0.5, max_pulses=8, ladder=7)


def test_linear_ion_drift_programming_spice_vs_twin(batch_runner):
    """A card without threshold (linear ion drift) programs with every cell dynamic in one
    transient deck per iteration and its verify reads as real read pulses: on 3x3, 8 pulses
    a cell, both worlds take the same decisions and end within 1 % of the G range (measured
    0.18 %; ngspice's time step dominates: 0.68 % at tmax 0.5 µs).  Under V/2 the neighbours'
    pulses knock accepted cells out again (measured: no cell converges in 8 pulses)."""
    cfg = _lid_cfg()
    lo, hi = cfg.target_window
    t = np.random.default_rng(0).uniform(lo, hi, (3, 3))
    tw = program_array(cfg, t, world="twin")
    sp = program_array(cfg, t, world="spice", runner=batch_runner)
    assert divergence(sp, tw)["identical_decisions"]
    assert tw.log.shape[0] == 9 * 8  # every cell used its budget: no cell stays accepted
    assert np.max(np.abs(sp.g - tw.g)) <= 0.01 * cfg.g_range
    # the verify reads themselves write: a reads-only iteration moves every read cell, the
    # same in both worlds (no VTEAM read does: v_read is below its thresholds)
    cells = CellArray(cfg.device, (3, 3))
    x = np.full((3, 3), 0.5)
    it = build_iteration(cfg, (3, 3), [], [0, 1, 2])
    xs = run_iteration(batch_runner, cfg, cells, x, it)["x"]
    xt = TwinProgrammer(cfg, cells).run(x, it)["x"]
    assert np.min(xs - x) > 1e-5  # +v_read drives x towards R_on
    np.testing.assert_allclose(xt - x, xs - x, rtol=0.01)


def test_linear_ion_drift_half_select_disturb(batch_runner):
    """One RESET and one SET pulse (6.4 µs) on the centre of 3x3, the largest |ΔG| after
    either: VTEAM's unselected
    cells do not move under V/2 or V/3 (below threshold), linear ion drift's half-selected
    cells drift by several % of the G range (measured V/2 5.3 %, V/3 3.2 %), the two worlds
    within 1 % of each other."""
    lid = half_select_probe(_lid_cfg(), (3, 3), schemes=("v2", "v3"), runner=batch_runner,
                            each_pulse=True)
    vt = half_select_probe(ProgramConfig(ladder=7), (3, 3), schemes=("v2", "v3"),
                           runner=batch_runner, each_pulse=True)
    print("half-select max |dG| / range: LID", lid, "VTEAM", vt)
    for s in ("v2", "v3"):
        assert vt[s]["spice"] < 1e-9 and vt[s]["twin"] < 1e-9
        assert lid[s]["spice"] > 0.01
        assert lid[s]["twin"] == pytest.approx(lid[s]["spice"], rel=0.01)


def test_linear_ion_drift_program_quick(tmp_path):
    """The `program --quick` path takes a linear ion drift card: its program.json reports the
    per-pulse half-select disturb (not the RESET+SET pair's, which cancels for a
    charge-controlled cell) and SPICE vs twin within 1 % of the range."""
    from circuitsim.program.run import run_program

    s = run_program(tmp_path, cfg=_lid_cfg(), quick=True)
    assert s["max_g_error_spice_vs_twin"] <= 0.01
    for sc in ("v2", "v3"):
        assert s["half_select_max_dg"][sc]["spice"] > 0.01
    assert (tmp_path / "program.json").exists()
