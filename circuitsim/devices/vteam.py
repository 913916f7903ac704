"""VTEAM twin: the equations of ``models/vteam.lib`` in numpy, fed by a ``Vteam`` card."""

from __future__ import annotations

import numpy as np
from scipy.special import expi

from ..cards.memristor import Vteam
from ..errors import ConfigError
from ._integrate import integrate_state

_EULER_GAMMA = 0.5772156649015329
_S_MAX = 6.5  # window argument cap: exp(exp(6.5)) ~ 1e290, still finite


def _ei_of_exp(s):
    """Ei(exp(s)), accurate also where exp(s) underflows (Ei(u) = γ + ln u + O(u))."""
    s = np.asarray(s, dtype=float)
    small = s < -30.0
    return np.where(small, _EULER_GAMMA + s, expi(np.exp(np.where(small, -30.0, s))))


def _solve_ei(target, s_lo, s_hi):
    """s in [s_lo, s_hi] with Ei(exp(s)) = target (increasing in s), by bisection: robust where
    the function is extremely steep (near and beyond a bound), exact to rounding after 200
    halvings of any bracket used here."""
    lo = np.asarray(s_lo, dtype=float).copy()
    hi = np.maximum(np.minimum(np.asarray(s_hi, dtype=float), _S_MAX), lo)
    lo, hi = np.broadcast_arrays(lo, hi)
    lo, hi = lo.copy(), hi.copy()
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        above = _ei_of_exp(mid) >= target
        hi = np.where(above, mid, hi)
        lo = np.where(above, lo, mid)
        if np.all(hi - lo <= 1e-15 * np.maximum(1.0, np.abs(hi))):
            break
    return 0.5 * (lo + hi)


class VteamTwin:
    """Python twin of a :class:`Vteam` card.  Methods take numpy arrays and broadcast."""

    def __init__(self, card: Vteam):
        if not isinstance(card, Vteam):
            raise ConfigError(f"VteamTwin needs a Vteam card, got {type(card).__name__}")
        self.card = card

    # -- equations (the same as models/vteam.lib) -----------------------------------------

    def rates(self, v):
        """Window-free rates (dx/dt towards R_off >= 0, towards R_on <= 0) [1/s]."""
        c = self.card
        v = np.asarray(v, dtype=float)
        r_off = c.k_off / c.d * np.maximum(v / c.v_off - 1.0, 0.0) ** c.alpha_off
        r_on = c.k_on / c.d * np.maximum(v / c.v_on - 1.0, 0.0) ** c.alpha_on
        return r_off, r_on

    def window_off(self, x):
        s = (np.asarray(x, dtype=float) - 1.0) / self.card.x_c
        return np.exp(-np.exp(np.minimum(s, 700.0)))

    def window_on(self, x):
        s = -np.asarray(x, dtype=float) / self.card.x_c
        return np.exp(-np.exp(np.minimum(s, 700.0)))

    def dxdt(self, v, x):
        """dx/dt [1/s] at voltage v [V] across the device and state x."""
        r_off, r_on = self.rates(v)
        return r_off * self.window_off(x) + r_on * self.window_on(x)

    def current(self, v, x):
        """Device current [A] from p to n."""
        return np.asarray(v, dtype=float) / self.card.resistance(x)

    # -- time responses -------------------------------------------------------------------

    def simulate(self, t, v, x0: float | None = None, **kw):
        """State and current over time for a voltage v(t) across the device: ``v`` is a
        callable (e.g. ``Pulse(...).value``) or one sample per time point (linear in
        between).  Returns ``(x, i)`` at the times ``t`` [s]; ``x0`` None = the card's
        default_x0.  Keyword arguments go to
        :func:`circuitsim.devices._integrate.integrate_state` (rtol, atol, max_step)."""
        x0 = self.card.default_x0 if x0 is None else x0
        x, v_t = integrate_state(self.dxdt, t, v, x0, **kw)
        return x, self.current(v_t, x)

    def pulse_dx(self, v, dt, x=None, edge: float = 0.0):
        """State change Δx of a pulse of amplitude v [V], flat-top width dt [s] and linear
        rise and fall edges of ``edge`` [s] each (SPICE PULSE semantics; 0 = rectangular).

        ``x=None``: the window-free value ∫rate dt: for a rectangular pulse rate·dt, e.g.
        (k_off/D)·(v/v_off − 1)·dt for α_off = 1; each edge adds
        (k/D)·edge·(v_th/v)·(v/v_th − 1)^(α+1)/(α+1).  With a start state ``x`` the windows are
        integrated exactly too (the equation is separable, dx/f(x) = rate(v(t))·dt, and
        ∫dx/f_off = x_c·Ei(exp((x − 1)/x_c)) is inverted numerically), so the result is exact
        for the model, also near the bounds.  Broadcasts over v, dt, x."""
        v = np.asarray(v, dtype=float)
        dt = np.asarray(dt, dtype=float)
        if np.any(dt < 0) or not np.all(np.isfinite(dt)):
            raise ConfigError("pulse_dx: pulse width dt must be finite and >= 0 [s]")
        if not (np.isfinite(edge) and edge >= 0):
            raise ConfigError(f"pulse_dx: edge must be finite and >= 0 [s], got {edge!r}")
        c = self.card
        r_off, r_on = self.rates(v)
        free = (r_off + r_on) * dt
        if edge > 0:
            with np.errstate(divide="ignore", invalid="ignore"):
                e_off = (c.k_off / c.d * edge * c.v_off / v
                         * np.maximum(v / c.v_off - 1.0, 0.0) ** (c.alpha_off + 1)
                         / (c.alpha_off + 1))
                e_on = (c.k_on / c.d * edge * c.v_on / v
                        * np.maximum(v / c.v_on - 1.0, 0.0) ** (c.alpha_on + 1)
                        / (c.alpha_on + 1))
            free = free + 2.0 * np.where(v > c.v_off, e_off, np.where(v < c.v_on, e_on, 0.0))
        if x is None:
            return free
        x = np.asarray(x, dtype=float)
        w = c.x_c
        # towards R_off: s = (x - 1)/w;  towards R_on: s = -x/w;  Ei(e^s1) = Ei(e^s0) + |∫r dt|/w
        up = free > 0
        s0 = np.where(up, (x - 1.0) / w, -x / w)
        s_free = np.where(up, (x + free - 1.0) / w, -(x + free) / w)
        target = _ei_of_exp(np.minimum(s0, _S_MAX)) + np.abs(free) / w
        s1 = _solve_ei(target, np.minimum(s0, _S_MAX), s_free)
        x1 = np.where(up, 1.0 + w * s1, -w * s1)
        # deep beyond the bound being approached the window is 0 to double precision
        moving = (free != 0) & (s0 < _S_MAX)
        return np.where(moving, x1 - x, 0.0)
