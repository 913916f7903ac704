"""Linear ion drift (HP) twin: the equations of ``models/linear_ion_drift.lib`` in numpy, fed
by a ``LinearIonDrift`` card."""

from __future__ import annotations

import numpy as np

from ..cards.memristor import LinearIonDrift
from ..errors import ConfigError
from ._integrate import integrate_state


class LinearIonDriftTwin:
    """Python twin of a :class:`LinearIonDrift` card.  Methods take numpy arrays and
    broadcast."""

    def __init__(self, card: LinearIonDrift):
        if not isinstance(card, LinearIonDrift):
            raise ConfigError(f"LinearIonDriftTwin needs a LinearIonDrift card, got "
                              f"{type(card).__name__}")
        self.card = card

    def window(self, x, i):
        """f(x, i) [1]; Biolek's stp(−i) is ngspice's u(−i) with u(0) = 0.5 (irrelevant:
        dx/dt has the factor i)."""
        c = self.card
        x = np.asarray(x, dtype=float)
        if c.window == "joglekar":
            return 1.0 - np.abs(2.0 * x - 1.0) ** (2.0 * c.p)
        if c.window == "biolek":
            stp = np.heaviside(-np.asarray(i, dtype=float), 0.5)
            return 1.0 - np.abs(x - stp) ** (2.0 * c.p)
        return np.ones(np.broadcast(x, np.asarray(i)).shape)

    def current(self, v, x):
        """Device current [A] from p to n."""
        return np.asarray(v, dtype=float) / self.card.resistance(x)

    def dxdt(self, v, x):
        """dx/dt [1/s] at voltage v [V] across the device and state x."""
        i = self.current(v, x)
        return self.card.k * i * self.window(x, i)

    def simulate(self, t, v, x0: float | None = None, **kw):
        """State and current over time for a voltage v(t) (callable or one sample per time
        point); returns ``(x, i)`` at the times ``t`` [s].  ``x0`` None = the card's
        default_x0.  Keyword arguments go to the integrator (rtol, atol, max_step)."""
        x0 = self.card.default_x0 if x0 is None else x0
        x, v_t = integrate_state(self.dxdt, t, v, x0, **kw)
        return x, self.current(v_t, x)
