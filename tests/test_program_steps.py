"""Write-verify ladders (width vs amplitude steps), the cell card chosen on the CLI, and why a
linear ion drift array cannot be write-verified to arbitrary targets."""

from __future__ import annotations

import json

import numpy as np
import pytest

from circuitsim.cards.memristor import LinearIonDrift
from circuitsim.cli import main
from circuitsim.errors import ConfigError
from circuitsim.program import CellPulse, ProgramConfig, build_iteration, divergence, program_array
from circuitsim.program.config import LID_CROSSBAR
from circuitsim.program.reachable import (
    drift_coordinate,
    reachability,
    reachable_targets,
    row_col_fit,
    state_from_drift,
)


def _amp_cfg(**kw):
    return ProgramConfig(step="amplitude", w_amp=10e-6, **kw)


def test_amplitude_ladder_rungs_and_bad_input():
    cfg = _amp_cfg()
    np.testing.assert_allclose(cfg.amplitudes, np.linspace(0.303, cfg.v_pulse, 10))
    assert np.all(cfg.widths == 10e-6)
    w = ProgramConfig()
    assert np.all(w.amplitudes == w.v_pulse) and w.widths[-1] == pytest.approx(25.6e-6)
    c = ProgramConfig(step="amplitude", v_start=0.31, v_step=0.02, ladder=5)
    np.testing.assert_allclose(c.amplitudes, 0.31 + 0.02 * np.arange(6))
    # the ladder's maximum is checked against the half-select scheme like any pulse
    with pytest.raises(ConfigError, match="maximum.*below 2x the threshold"):
        ProgramConfig(step="amplitude", v_pulse=0.62)
    assert ProgramConfig(step="amplitude", v_pulse=0.62, scheme="v3").v_pulse == 0.62
    with pytest.raises(ConfigError, match="lower v_step or ladder"):
        ProgramConfig(step="amplitude", v_start=0.31, v_step=0.05)
    with pytest.raises(ConfigError, match="lower v_start"):
        ProgramConfig(step="amplitude", v_start=0.6)
    with pytest.raises(ConfigError, match="give v_start"):
        ProgramConfig(device=LID_CROSSBAR, v_pulse=1.0, step="amplitude")
    with pytest.raises(ConfigError, match="step must be one of"):
        ProgramConfig(step="charge")
    with pytest.raises(ConfigError, match="reverify"):
        ProgramConfig(reverify="yes")


def test_amplitude_phases_keep_the_scheme():
    """Two cells of a row at different amplitudes get a phase each, at its own amplitude; the
    unselected cells never see more than half the ladder's maximum (V/2) or a third (V/3)."""
    for scheme, frac in (("v2", 0.5), ("v3", 1 / 3)):
        cfg = _amp_cfg(scheme=scheme, v_pulse=0.54 if scheme == "v2" else 0.8)
        amps = cfg.amplitudes
        pulses = [CellPulse(1, 0, 1, 1e-6, amplitude=float(amps[2])),
                  CellPulse(1, 2, 1, 1e-6, amplitude=float(amps[7])),
                  CellPulse(1, 1, -1, 1e-6, amplitude=float(amps[2]))]
        it = build_iteration(cfg, (3, 3), pulses, [1])
        assert len(it.phases) == 3
        got = {(p.col, p.polarity): p.amplitude for p in it.pulses}
        assert got == {(0, 1): amps[2], (2, 1): amps[7], (1, -1): amps[2]}
        ts = it.breakpoints(0.0, it.read_start)
        d = it.drive(np.concatenate([ts, 0.5 * (ts[1:] + ts[:-1])]), 3, 3)
        vc = d[:, :3, None] - d[:, None, 3:]  # (t, row, col)
        sel = np.zeros((3, 3), bool)
        sel[1, :] = True  # the pulsed row's cells take turns being selected
        assert np.max(np.abs(vc[:, ~sel])) <= frac * cfg.v_pulse + 1e-12
        # each selected cell reaches its own amplitude, no more
        assert np.max(vc[:, 1, 0]) == pytest.approx(amps[2])
        assert np.max(vc[:, 1, 2]) == pytest.approx(amps[7])
        assert np.min(vc[:, 1, 1]) == pytest.approx(-amps[2])


def test_amplitude_ladder_spice_vs_twin(batch_runner):
    """ISPP write-verify of a 3x3 VTEAM array: both worlds apply the same amplitude ladder,
    converge every cell and end within 1 % of the G range of each other; the logged pulses
    all have the ladder's width and amplitudes from its rungs."""
    cfg = _amp_cfg()
    lo, hi = cfg.target_window
    t = np.random.default_rng(2).uniform(lo, hi, (3, 3))
    tw = program_array(cfg, t, world="twin")
    sp = program_array(cfg, t, world="spice", runner=batch_runner)
    for r in (tw, sp):
        assert r.converged_fraction >= 0.99
        assert np.max(np.abs(r.g - t)) <= cfg.tolerance * cfg.g_range * 1.01
        assert np.all(r.log[:, 4] == cfg.w_amp)
        assert np.all(np.min(np.abs(r.log[:, 3:4] - cfg.amplitudes[None]), axis=1) < 1e-12)
        assert len(np.unique(r.log[:, 3])) > 3  # the amplitude really steps
    assert np.max(np.abs(sp.g - tw.g)) <= 0.01 * cfg.g_range
    d = divergence(sp, tw)
    assert d["first_divergent_iteration"] is None or d["first_divergent_iteration"] >= 1


def test_amplitude_model_sizing_caps_rungs():
    """'model' sizing on an amplitude ladder picks the highest rung whose predicted Δx does
    not overshoot: never above the plain ladder's, and a cell far from target starts high."""
    cfg = _amp_cfg(sizing="model")
    g0 = np.array([[cfg.g_min]])
    far, near = np.array([[0.9 * cfg.g_max]]), np.array([[cfg.g_min * 1.02]])
    assert cfg.model_rungs(g0, far)[0, 0] == cfg.ladder
    assert cfg.model_rungs(g0, near)[0, 0] < 3


def test_cli_chooses_the_card_and_the_step(tmp_path):
    out = tmp_path / "lid"
    assert main(["program", "--quick", "--device", "lid", "--v-pulse", "1.0", "--max-pulses",
                 "3", "--reverify", "--out", str(out)]) == 0
    s = json.loads((out / "program.json").read_text())
    assert s["config"]["device"]["kind"] == "LinearIonDrift"
    assert s["config"]["x0"] == 0.5 and s["config"]["reverify"] is True
    assert s["reachability"]["quick"]["dof"] == 7 and not s["reachability"]["quick"]["feasible"]
    assert set(s["final_within_tolerance"]) == {"twin", "spice"}
    out = tmp_path / "amp"
    assert main(["program", "--quick", "--step", "amplitude", "--w-amp", "1e-5",
                 "--max-pulses", "2", "--out", str(out)]) == 0
    s = json.loads((out / "program.json").read_text())
    assert s["config"]["device"]["kind"] == "Vteam" and s["config"]["step"] == "amplitude"
    assert s["config"]["v_start"] == pytest.approx(0.303)
    assert main(["program", "--quick", "--device", "lid"]) == 1  # names --v-pulse
    with pytest.raises(SystemExit):
        main(["program", "--quick", "--device", "yakopcic"])


def test_drift_coordinate_integrates_the_voltage():
    """dy/dx = M(x)/f(x) for the closed form (Joglekar p = 1) and the quadrature (p = 2),
    and state_from_drift inverts it."""
    x = np.array([0.05, 0.3, 0.5, 0.8, 0.97])
    for card in (LID_CROSSBAR, LinearIonDrift(r_on=1e4, r_off=1e5, p=2.0),
                 LinearIonDrift(r_on=1e4, r_off=1e5, window="none")):
        h = 1e-6
        dydx = (drift_coordinate(card, x + h) - drift_coordinate(card, x - h)) / (2 * h)
        f = 1.0 if card.window == "none" else 1 - np.abs(2 * x - 1) ** (2 * card.p)
        np.testing.assert_allclose(dydx, card.resistance(x) / f, rtol=1e-5)
        np.testing.assert_allclose(state_from_drift(card, drift_coordinate(card, x)), x,
                                   atol=1e-12)


def test_lid_programming_moves_only_rows_plus_columns():
    """Whatever pulses write-verify applies (V/2 and V/3), the twin's states change in the
    drift coordinate as a_i + b_j (one number per row and column: 5 of 9 degrees of freedom
    on 3x3) up to the wires' IR drop (measured 6e-4 of the motion); random targets are
    therefore unreachable (no controller can put them all within tolerance)."""
    for scheme in ("v2", "v3"):
        cfg = ProgramConfig(device=LID_CROSSBAR, v_pulse=1.0, x0=0.5, max_pulses=8, ladder=7,
                            scheme=scheme)
        lo, hi = cfg.target_window
        t = np.random.default_rng(0).uniform(lo, hi, (3, 3))
        r = program_array(cfg, t, world="twin")
        dy = drift_coordinate(cfg.device, r.x) - drift_coordinate(cfg.device, cfg.x0)
        res = dy - row_col_fit(dy, np.ones(dy.shape, bool))
        assert np.max(np.abs(res)) < 2e-3 * np.max(np.abs(dy))
        a = reachability(cfg, t)
        assert a["dof"] == 5 and not a["feasible"] and a["ls_within"] < 0.5


def test_reachability_feasibility_is_exact():
    cfg = ProgramConfig(device=LID_CROSSBAR, v_pulse=1.0, x0=0.5)
    t = reachable_targets(cfg, (4, 5), seed=3)
    a = reachability(cfg, t)
    assert a["feasible"] and a["ls_within"] == 1.0 and a["ls_max_err"] < 1e-9
    # a checkerboard (zero row and column sums) in y is the unreachable direction
    d = cfg.device
    y = drift_coordinate(d, (d.r_off - 1 / t) / (d.r_off - d.r_on))
    chk = np.outer([1, -1, 1, -1], [1, -1, 1, -1, 0]) * 2e3
    g = 1 / cfg.device.resistance(state_from_drift(cfg.device, y + chk))
    assert not reachability(cfg, g)["feasible"]
    # ... and within the tolerance it still is reachable
    g = 1 / cfg.device.resistance(state_from_drift(cfg.device, y + 1e-3 * chk))
    assert reachability(cfg, g)["feasible"]
    t[0, 0] = np.nan  # unprogrammed cells are free
    assert reachability(cfg, t)["cells"] == 19


def test_lid_reverify_converges_on_reachable_targets(batch_runner):
    """Targets an LID array can reach (y0 + a_i + b_j), 3x3, V/2: with re-verify every cell
    ends within tolerance in both worlds (the last reads); without it, cells accepted early
    are pushed out again by their neighbours (measured 3.6 % of the range) while still
    counted as converged."""
    base = ProgramConfig(device=LID_CROSSBAR, v_pulse=1.0, x0=0.5, max_pulses=30, ladder=7)
    t = reachable_targets(base, (3, 3), seed=1)
    old = program_array(base, t, world="twin")
    assert old.converged_fraction == 1.0
    assert np.max(np.abs(old.g - t)) > 2 * base.tolerance * base.g_range
    cfg = base.replace(reverify=True)
    tw = program_array(cfg, t, world="twin")
    sp = program_array(cfg, t, world="spice", runner=batch_runner)
    for r in (tw, sp):
        assert r.converged_fraction == 1.0
        assert np.max(np.abs(r.g - t)) <= cfg.tolerance * cfg.g_range * 1.01
    assert np.max(np.abs(sp.g - tw.g)) <= 0.01 * cfg.g_range


def test_line_programming_reaches_reachable_targets(batch_runner):
    """The controller that matches a linear ion drift card: one pulse per row and column
    (charges from the array's network at the read G).  Reachable targets, V/2-free bipolar
    line drive: 3x3 in SPICE and the twin and 16x16 in the twin within tolerance after one
    pulse iteration (2 line pulses per cell; the per-cell ladder with re-verify: 95 % at
    16x16 V/2 after ~17 pulses a cell); SPICE vs twin within 1 % of the range.  A VTEAM card
    is refused (its cells are written one by one)."""
    from circuitsim.program.lines import program_lines

    cfg = ProgramConfig(device=LID_CROSSBAR, v_pulse=1.0, x0=0.5)
    t = reachable_targets(cfg, (3, 3), seed=1)
    sp = program_lines(cfg, t, world="spice", runner=batch_runner)
    tw = program_lines(cfg, t, world="twin")
    for r in (sp, tw):
        assert r.converged_fraction == 1.0 and r.iterations <= 2
        assert np.max(np.abs(r.g - t)) <= cfg.tolerance * cfg.g_range * 1.01
    assert np.max(np.abs(sp.g - tw.g)) <= 0.01 * cfg.g_range
    t16 = reachable_targets(cfg, (16, 16), seed=1)
    r16 = program_lines(cfg, t16, world="twin")
    assert r16.converged_fraction == 1.0 and r16.iterations <= 2
    assert np.max(np.abs(r16.g - t16)) <= cfg.tolerance * cfg.g_range * 1.01
    with pytest.raises(ConfigError, match="cell by cell"):
        program_lines(ProgramConfig(), np.full((2, 2), 5e-5), world="twin")


def test_resumed_run_has_the_same_decisions(tmp_path):
    """A run resumed from its written state reports the same decisions as an uninterrupted
    one (the state's JSON lists are read back as the tuples divergence() compares), here on
    an amplitude ladder whose decisions carry the amplitude."""
    cfg = _amp_cfg()
    t = np.random.default_rng(2).uniform(*cfg.target_window, (3, 3))
    full = program_array(cfg, t, world="twin")
    program_array(cfg, t, world="twin", state_dir=tmp_path, stop_after=4)
    resumed = program_array(cfg, t, world="twin", state_dir=tmp_path)
    assert divergence(resumed, full)["identical_decisions"]
    assert {p[4] for it in full.decisions for p in it} <= set(cfg.amplitudes.tolist())
