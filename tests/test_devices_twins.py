"""Each dynamic memristor in ngspice (models/*.lib through circuitsim.spice.simulate) and in its
Python twin, driven by the same sine and the same pulse train (devices.decks.standard_runs).

Tolerances (switching range of x is 1):
* state: max |x_spice − x_twin| ≤ 1e-3 over the whole run, for the pulse trains (the issue
  asks ≤ 0.01) and for the sines after 4 periods (measured ≤ 4.3e-4, the MemTorch VTEAM
  whose ON switching is ~1e8 1/s; ≤ 1.5e-4 for the others; benchmarks/bench_devices.py).
* current: max |i_spice − i_twin| ≤ 2e-2·max|i| (measured ≤ 6e-3, again MemTorch VTEAM near
  R_on = 50 Ω where dI/I = 19·dx).
"""

from __future__ import annotations

import numpy as np
import pytest

from circuitsim.cards import HP_BIOLEK, VTEAM_MEMTORCH
from circuitsim.devices import twin
from circuitsim.devices.decks import (
    GOLDEN,
    GOLDEN_DIR,
    device_deck,
    standard_runs,
    write_golden_decks,
)
from circuitsim.spice import simulate

RUNS = standard_runs()
SINES = [n for n in RUNS if n.endswith("_sine")]
STATE_TOL = 1e-3
CURRENT_TOL = 2e-2


def _spice(run):
    res = simulate(run.deck(), timeout_s=60)
    return res.axis, res["v(in)"], res["v(xm.x)"], -res["i(v1)"]


def _lobe_areas(v, i):
    """|∮ i dv| of the positive-voltage and of the negative-voltage half of a loop [W]."""
    pos = v >= 0
    return [abs(np.trapezoid(i[m], v[m])) for m in (pos, ~pos)]


@pytest.mark.ngspice
@pytest.mark.parametrize("name", list(RUNS))
def test_twin_follows_ngspice(name):
    run = RUNS[name]
    t, v, x, i = _spice(run)
    assert t[-1] == pytest.approx(run.stop)
    np.testing.assert_allclose(v, run.waveform.value(t), atol=1e-9)  # same stimulus
    assert abs(x[0] - run.x0) < 1e-9
    assert np.ptp(x) > 0.05  # the stimulus really switches the device
    xt, it = run.twin_response(t)
    assert np.max(np.abs(xt - x)) <= STATE_TOL
    assert np.max(np.abs(it - i)) <= CURRENT_TOL * np.max(np.abs(i))


@pytest.mark.ngspice
@pytest.mark.parametrize("name", SINES)
def test_sine_gives_pinched_hysteresis(name):
    """I = 0 at V = 0: at every point |I| ≤ |V|/R_on + abstol, and where |V| > 1 µV the
    ratio I/V lies in [1/R_off, 1/R_on] (a finite positive conductance, so the loop passes
    through the origin at each of the 2·periods zero crossings of V).  Both lobes of the last
    period enclose an area > 1% of max|V|·max|I|, equal in the twin within 2%."""
    run = RUNS[name]
    t, v, x, i = _spice(run)
    g_min, g_max = 1.0 / run.card.r_off, 1.0 / run.card.r_on
    assert np.all(np.abs(i) <= np.abs(v) * g_max * (1 + 1e-9) + 1e-12)
    big = np.abs(v) > 1e-6
    g = i[big] / v[big]
    assert np.all((g >= g_min * (1 - 1e-6)) & (g <= g_max * (1 + 1e-6)))
    crossings = np.count_nonzero(np.sign(v[:-1]) * np.sign(v[1:]) < 0)
    assert crossings >= 2 * run.periods - 1
    last = t >= run.stop - run.period
    areas = _lobe_areas(v[last], i[last])
    scale = np.max(np.abs(v)) * np.max(np.abs(i))
    assert min(areas) > 0.01 * scale
    _, it = run.twin_response(t)
    np.testing.assert_allclose(_lobe_areas(v[last], it[last]), areas, rtol=2e-2)


def test_golden_decks_regenerate_byte_identical(tmp_path):
    """netlists/devices/*.cir are what write_golden_decks() writes (run it to update them)."""
    paths = write_golden_decks(tmp_path)
    assert [p.name for p in paths] == [f"{n}.cir" for n in GOLDEN]
    for p in paths:
        committed = GOLDEN_DIR / p.name
        assert committed.exists(), f"missing golden deck {committed}"
        assert p.read_bytes() == committed.read_bytes(), f"{p.name} differs from the golden deck"
    assert write_golden_decks(tmp_path) and all(
        p.read_bytes() == (GOLDEN_DIR / p.name).read_bytes() for p in paths)


@pytest.mark.ngspice
def test_golden_deck_runs_from_its_folder(tmp_path):
    """A golden deck is a working ngspice input as committed (relative .include)."""
    import subprocess

    from circuitsim.spice import find_ngspice
    from circuitsim.spice.rawfile import parse_raw

    deck = GOLDEN_DIR / "vteam_crossbar_pulses.cir"
    raw = tmp_path / "out.raw"
    proc = subprocess.run([find_ngspice(), "-b", "-r", str(raw), deck.name], cwd=GOLDEN_DIR,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    plot = parse_raw(raw)[-1]
    x = plot["v(xm.x)"]
    run = RUNS["vteam_crossbar_pulses"]
    xt, _ = run.twin_response(plot[plot.axis])
    assert np.max(np.abs(xt - x)) <= STATE_TOL


@pytest.mark.ngspice
@pytest.mark.parametrize("card, v_dc, stop", [(VTEAM_MEMTORCH, 0.2, 20e-9), (HP_BIOLEK, 1.0, 0.1)],
                         ids=["vteam-memtorch-read-0.2V", "hp-biolek-1V"])
def test_state_starts_at_x0_with_a_source_above_threshold_at_t0(card, v_dc, stop):
    """Without .ic, a device biased beyond its threshold from t = 0 (a 0.2 V read of the
    MemTorch VTEAM, v_off = 20 mV) still starts at x0: the library gates the state current off
    during the operating point.  (Ungated, ngspice put x at 1.04 here.)"""
    from circuitsim.circuit.elements import Pwl

    x0 = 0.3
    w = Pwl(((0.0, v_dc), (stop, v_dc)))
    deck = device_deck(card, w, stop=stop, step=stop / 200, x0=x0, tmax=stop / 2000)
    res = simulate(deck.replace(ics={}))
    assert ".ic" not in res.deck
    x = res["v(xm.x)"]
    assert x[0] == pytest.approx(x0, abs=1e-9)
    xt, _ = twin(card).simulate(res.axis, w.value, x0, max_step=stop / 2000)
    assert x[-1] - x0 > 0.01  # it does move, as the twin says
    assert np.max(np.abs(xt - x)) <= STATE_TOL


@pytest.mark.ngspice
def test_device_deck_same_through_both_runners(batch_runner, shared_runner):
    """The memristor libraries behave the same in ngspice -b and in the shared library."""
    deck = RUNS["hp_biolek_sine"].deck()
    a, b = batch_runner.run(deck), shared_runner.run(deck)
    for vec in ("v(xm.x)", "i(v1)"):
        np.testing.assert_allclose(b[vec], a[vec], rtol=1e-12, atol=1e-15)
