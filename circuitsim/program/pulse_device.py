"""The NeuroSim-style pulse-response device (../shared/DESIGN.md §4) for pulse-level training,
and a SPICE subcircuit that realises the same potentiation/depression curve.

Potentiation G = g_min + B_p(1 − e^(−P/A_p)), depression G = g_max − B_d(1 − e^(−n/A_d)) (n
depression pulses from g_max), B = (g_max − g_min)/(1 − e^(−Pmax/A)), A/Pmax from the NL label
by :func:`circuitsim.nonideal.device.nl_to_a_over_pmax` (the one table).  In G: one
potentiation pulse maps G to g_min + B_p − (B_p − (G − g_min))·e^(−1/A_p) — what the
continuous law dG/dP = (B_p − (G − g_min))/A_p gives over one pulse, which is the SPICE
subcircuit's state equation (a pulse is the time its control input is above 0.5 V, divided by
``t_pulse``).  NL 0 is the linear device (steps of (g_max − g_min)/Pmax, clipped).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..circuit import BSource, Capacitor, Pwl, Resistor, Subcircuit
from ..errors import ConfigError
from ..nonideal.device import nl_to_a_over_pmax
from ..units import require_positive, spice_number


@dataclass(frozen=True)
class PulseDevice:
    """A pulse-programmed conductance with nonlinear potentiation and depression."""

    nl_p: float = 0.0
    """Potentiation nonlinearity label NL (0 = linear, NeuroSim 1-6)."""
    nl_d: float = 0.0
    """Depression nonlinearity label."""
    p_max: int = 64
    """Pulses from g_min to g_max (and back) [1]."""
    g_min: float = 10e-6
    """[S]"""
    g_max: float = 100e-6
    """[S]"""
    t_pulse: float = 1e-6
    """Duration of one pulse in the SPICE subcircuit [s]."""

    def __post_init__(self):
        nl_to_a_over_pmax(self.nl_p)
        nl_to_a_over_pmax(self.nl_d)
        if isinstance(self.p_max, bool) or int(self.p_max) != self.p_max or self.p_max < 1:
            raise ConfigError(f"PulseDevice.p_max must be a whole number >= 1, got "
                              f"{self.p_max!r}")
        require_positive("PulseDevice.g_max", self.g_max, "[S]")
        if not 0 <= self.g_min < self.g_max:
            raise ConfigError("PulseDevice: need 0 <= g_min < g_max [S]")
        require_positive("PulseDevice.t_pulse", self.t_pulse, "[s]")

    @property
    def span(self) -> float:
        return self.g_max - self.g_min

    def _ab(self, nl):
        if nl == 0:
            return math.inf, self.span
        a = nl_to_a_over_pmax(nl) * self.p_max
        return a, self.span / (1.0 - math.exp(-self.p_max / a))

    def potentiate(self, g, n) -> np.ndarray:
        """G after ``n`` (>= 0, array) potentiation pulses [S]."""
        g = np.asarray(g, dtype=float)
        n = np.asarray(n, dtype=float)
        a, b = self._ab(self.nl_p)
        if math.isinf(a):
            out = g + n * self.span / self.p_max
        else:
            out = self.g_min + b - (b - (g - self.g_min)) * np.exp(-n / a)
        return np.clip(out, self.g_min, self.g_max)

    def depress(self, g, n) -> np.ndarray:
        """G after ``n`` depression pulses [S]."""
        g = np.asarray(g, dtype=float)
        n = np.asarray(n, dtype=float)
        a, b = self._ab(self.nl_d)
        if math.isinf(a):
            out = g - n * self.span / self.p_max
        else:
            out = self.g_max - b + (b - (self.g_max - g)) * np.exp(-n / a)
        return np.clip(out, self.g_min, self.g_max)

    def apply(self, g, n_signed) -> np.ndarray:
        """Potentiate where ``n_signed`` > 0, depress where < 0."""
        n = np.asarray(n_signed, dtype=float)
        return np.where(n >= 0, self.potentiate(g, np.maximum(n, 0)),
                        self.depress(g, np.maximum(-n, 0)))

    def subckt(self, name: str = "pulsenl") -> Subcircuit:
        """Ports ``p n ctrl``: conductance G = v(g) between p and n; a pulse is ctrl above
        +0.5 V (potentiation) or below −0.5 V (depression) for ``t_pulse``.  State: node
        ``g`` = G [S] on a 1 F capacitor (start it with ``.ic v(<inst>.g)=G0``)."""
        n_ = spice_number
        ap, bp = self._ab(self.nl_p)
        ad, bd = self._ab(self.nl_d)
        tp = self.t_pulse
        if math.isinf(ap):
            rate_p = f"{n_(self.span / self.p_max / tp)}"
        else:
            rate_p = f"({n_(bp)}-(v(g)-{n_(self.g_min)}))/{n_(ap * tp)}"
        if math.isinf(ad):
            rate_d = f"{n_(self.span / self.p_max / tp)}"
        else:
            rate_d = f"({n_(bd)}-({n_(self.g_max)}-v(g)))/{n_(ad * tp)}"
        # the bounds stop motion (as the twin clips): u() gates at g_min / g_max
        expr = (f"u(v(ctrl)-0.5)*u({n_(self.g_max)}-v(g))*{rate_p}"
                f"-u(-v(ctrl)-0.5)*u(v(g)-{n_(self.g_min)})*{rate_d}")
        return Subcircuit(name, ("p", "n", "ctrl"), (
            Capacitor("Cg", "g", "0", 1.0),
            BSource("Bg", "0", "g", expr, kind="I"),
            Resistor("Rg", "g", "0", 1e15),
            BSource("Bm", "p", "n", "v(p,n)*v(g)", kind="I"),
        ), comment=f"NeuroSim pulse device NL_p={self.nl_p:g} NL_d={self.nl_d:g} "
                   f"Pmax={self.p_max}")




def pulse_train(device: PulseDevice, signs, *, edge: float | None = None,
                gap: float | None = None):
    """Control waveform of a train of pulses (+1 potentiation, −1 depression): each above
    ±0.5 V for exactly ``t_pulse`` (linear edges of ``edge``, default t_pulse/20), separated by
    ``gap`` (default t_pulse) at 0 V.  Returns ``(Pwl, sample_times)``: a time in each gap
    after a pulse."""

    tp = device.t_pulse
    e = tp / 20 if edge is None else edge
    gap = tp if gap is None else gap
    pts = [(0.0, 0.0)]
    t = gap
    samples = []
    for s in signs:
        if s not in (1, -1):
            raise ConfigError(f"pulse signs must be +1 or -1, got {s!r}")
        pts += [(t, 0.0), (t + e, float(s)), (t + tp, float(s)), (t + tp + e, 0.0)]
        t += tp + e + gap
        samples.append(t - gap / 2)
    return Pwl(tuple(pts)), np.array(samples), t


__all__ = ["PulseDevice", "pulse_train"]
