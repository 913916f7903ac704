"""VTEAM: ngspice subcircuit (models/vteam.lib) vs the analytic pulse response and the twin."""

from __future__ import annotations

import numpy as np
import pytest

from circuitsim.cards import VTEAM_CROSSBAR, VTEAM_MEMTORCH
from circuitsim.circuit.elements import Pulse
from circuitsim.devices import VteamTwin
from circuitsim.devices.decks import device_deck
from circuitsim.spice import simulate

EDGE = 1e-9  # pulse rise = fall time [s]


# (card, amplitude [V], width [s], start state): mid-range so the windows are 1 to 1e-20
PULSES = [
    pytest.param(VTEAM_CROSSBAR, 1.0, 1e-6, 0.3, id="crossbar-reset"),
    pytest.param(VTEAM_CROSSBAR, -0.8, 2e-6, 0.7, id="crossbar-set"),
    pytest.param(VTEAM_MEMTORCH, 0.1, 100e-9, 0.3, id="memtorch-reset"),
    pytest.param(VTEAM_MEMTORCH, -0.25, 1e-9, 0.6, id="memtorch-set-alpha3"),
]


@pytest.mark.ngspice
@pytest.mark.parametrize("card, v, width, x0", PULSES)
def test_one_pulse_matches_analytic_dx(card, v, width, x0):
    """One update pulse in ngspice moves x by the analytic rectangular-pulse rate·width within
    1% (measured ≤ 0.8%: that is the 1 ns edges' own contribution); with the edges included
    analytically (pulse_dx(..., edge=)) within 0.1% (measured ≤ 0.025%: ngspice's time-step
    error)."""
    edge = min(EDGE, width / 20)
    w = Pulse(0.0, v, delay=10 * edge, rise=edge, fall=edge, width=width)
    stop = width + 30 * edge
    tmax = min(edge / 10, width / 1000)
    res = simulate(device_deck(card, w, stop=stop, step=stop / 400, x0=x0, tmax=tmax))
    x = res["v(xm.x)"]
    dx_spice = x[-1] - x[0]
    twin = VteamTwin(card)
    dx_rect = float(twin.pulse_dx(v, width))
    assert np.sign(dx_rect) == np.sign(v)
    assert abs(x[0] - x0) < 1e-9  # the operating point starts at x0
    assert abs(dx_spice - dx_rect) <= 0.01 * abs(dx_rect)
    dx_exact = float(twin.pulse_dx(v, width, edge=edge))
    assert abs(dx_spice - dx_exact) <= 1e-3 * abs(dx_exact)
    assert float(twin.pulse_dx(v, width, x0, edge=edge)) == pytest.approx(dx_exact, rel=1e-12)


def test_pulse_dx_formula_alpha_one():
    c = VTEAM_CROSSBAR
    twin = VteamTwin(c)
    v, dt = np.array([0.2, 0.5, 1.0, -1.0]), 1e-6
    got = twin.pulse_dx(v, dt)
    want = np.array([0.0, c.k_off / c.d * (0.5 / c.v_off - 1) * dt,
                     c.k_off / c.d * (1.0 / c.v_off - 1) * dt,
                     c.k_on / c.d * (-1.0 / c.v_on - 1) * dt])
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=0)


def test_pulse_dx_beyond_a_bound_does_not_move():
    twin = VteamTwin(VTEAM_CROSSBAR)
    dx = twin.pulse_dx([1.0, -1.0, 1.0, -1.0], 1e-6, [1.2, -0.2, -0.2, 1.2])
    assert dx[0] == 0.0 and dx[1] == 0.0  # pushed further out: the window is 0
    assert dx[2] > 0 and dx[3] < 0  # pushed back in: moves (window of the other side is 1)


@pytest.mark.parametrize("x0", [0.5, 0.9, 0.97, 1.0, 0.03, 0.0])
@pytest.mark.parametrize("v", [1.0, -1.0])
def test_pulse_dx_with_windows_matches_integration(x0, v):
    """The exact windowed pulse response (Ei inversion) equals a tight numerical integration,
    also where the window stops the motion at a bound."""
    twin = VteamTwin(VTEAM_CROSSBAR)
    dt = 4e-6
    t = np.linspace(0.0, dt, 201)
    x, _ = twin.simulate(t, np.full_like(t, v), x0, rtol=1e-11, atol=1e-13)
    dx = float(twin.pulse_dx(v, dt, x0))
    assert abs((x0 + dx) - x[-1]) < 1e-8
    assert -0.06 < x0 + dx < 1.06  # the window stops x within a few x_c of the bound


@pytest.mark.ngspice
def test_card_field_change_moves_spice_and_twin_together():
    """One source of truth: doubling k_off in the card doubles Δx in ngspice and in the twin."""
    import dataclasses

    w = Pulse(0.0, 1.0, delay=1e-8, rise=1e-9, fall=1e-9, width=1e-6)
    dx = {}
    base = VTEAM_CROSSBAR
    for label, card in (("base", base), ("fast", dataclasses.replace(base, k_off=2 * base.k_off))):
        res = simulate(device_deck(card, w, stop=1.05e-6, step=5e-9, x0=0.3, tmax=1e-10))
        x = res["v(xm.x)"]
        xt, _ = VteamTwin(card).simulate(res.axis, w.value, 0.3, max_step=1e-9)
        dx[label] = (x[-1] - x[0], xt[-1] - xt[0])
    for k in (0, 1):
        assert dx["fast"][k] == pytest.approx(2 * dx["base"][k], rel=1e-3)
    assert dx["base"][0] == pytest.approx(dx["base"][1], rel=1e-3)


@pytest.mark.parametrize("card, v, width, edge, x0", [
    (VTEAM_CROSSBAR, 1.0, 1e-6, 50e-9, 0.5), (VTEAM_CROSSBAR, -0.7, 1e-6, 200e-9, 0.05),
    (VTEAM_MEMTORCH, 0.1, 50e-9, 10e-9, 0.4), (VTEAM_MEMTORCH, -0.25, 1e-9, 0.5e-9, 0.6),
])
def test_pulse_dx_with_edges_matches_integration(card, v, width, edge, x0):
    """The trapezoidal-pulse Δx (edges and windows analytic) equals a tight numerical
    integration of the same pulse: an independent check of the edge formula."""
    twin = VteamTwin(card)
    w = Pulse(0.0, v, delay=edge, rise=edge, fall=edge, width=width)
    t = np.linspace(0.0, width + 4 * edge, 4001)
    x, _ = twin.simulate(t, w.value, x0, rtol=1e-11, atol=1e-13, max_step=edge / 20)
    assert float(twin.pulse_dx(v, width, x0, edge=edge)) == pytest.approx(x[-1] - x0, rel=1e-6)
