"""Conductance transforms of the device: stuck-at faults, retention drift, endurance, and the
nonlinear pulse response of pulse-programmed weights.

Each is a frozen dataclass with ``apply(g, g_min, g_max, rng) -> g'`` (g in siemens, any
shape) and ``is_identity`` (zero strength → ``apply`` returns the input unchanged).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ..units import require_nonnegative, require_positive, require_range

__all__ = ["Drift", "Endurance", "PulseNonlinearity", "StuckAt", "nl_to_a_over_pmax"]


@dataclass(frozen=True)
class StuckAt:
    """Each device independently stuck at LRS (g_max) with ``p_lrs`` or at HRS (g_min) with
    ``p_hrs`` (exclusive events), whatever it was programmed to."""

    p_lrs: float = 0.0
    """Probability of a device stuck in the low-resistance state (conductance g_max) [1]."""
    p_hrs: float = 0.0
    """Probability of a device stuck in the high-resistance state (conductance g_min) [1]."""

    def __post_init__(self):
        require_range("StuckAt.p_lrs", self.p_lrs, 0.0, 1.0)
        require_range("StuckAt.p_hrs", self.p_hrs, 0.0, 1.0)
        if self.p_lrs + self.p_hrs > 1.0:
            raise ConfigError(f"StuckAt: p_lrs + p_hrs must be <= 1, got "
                              f"{self.p_lrs + self.p_hrs!r}")

    @property
    def is_identity(self) -> bool:
        return self.p_lrs == 0 and self.p_hrs == 0

    def apply(self, g, g_min: float, g_max: float, rng: np.random.Generator) -> np.ndarray:
        g = np.asarray(g, dtype=float)
        if self.is_identity:
            return g.copy()
        u = rng.random(g.shape)
        out = np.where(u < self.p_lrs, g_max, g)
        return np.where((u >= self.p_lrs) & (u < self.p_lrs + self.p_hrs), g_min, out)


@dataclass(frozen=True)
class Drift:
    """Retention: power-law conductance drift G(t) = G·(t/t0)^(−ν), ν ~ N(nu, nu_sigma) per
    device (the phase-change-memory form used by aihwkit's PCM model, Nandakumar et al. 2019;
    the default ν values here are illustrative [U]).  t ≤ t0 → no drift."""

    t: float = 0.0
    """Time since programming [s]."""
    nu: float = 0.05
    """Mean drift exponent [1]."""
    nu_sigma: float = 0.02
    """Device-to-device spread of ν [1]."""
    t0: float = 1.0
    """Time of the programming-verify read [s]."""

    def __post_init__(self):
        require_nonnegative("Drift.t", self.t, "[s]")
        require_nonnegative("Drift.nu", self.nu)
        require_nonnegative("Drift.nu_sigma", self.nu_sigma)
        require_positive("Drift.t0", self.t0, "[s]")

    @property
    def is_identity(self) -> bool:
        return self.t <= self.t0 or (self.nu == 0 and self.nu_sigma == 0)

    def apply(self, g, g_min: float, g_max: float, rng: np.random.Generator) -> np.ndarray:
        g = np.asarray(g, dtype=float)
        if self.is_identity:
            return g.copy()
        nu = self.nu + self.nu_sigma * rng.standard_normal(g.shape)
        return g * (self.t / self.t0) ** (-nu)


@dataclass(frozen=True)
class Endurance:
    """Endurance: after ``cycles`` write cycles the on/off window closes.  Beyond ``onset``
    cycles a fraction f = min(rate·log10(cycles/onset), 1) of the window is lost, the LRS
    falling and the HRS rising symmetrically toward the mid conductance; programmed values are
    clipped into the remaining window.  ``onset`` varies per device, log-normally with
    ``onset_sigma`` decades (illustrative parameters [U]; fit them to a device's cycling data)."""

    cycles: float = 0.0
    """Write cycles the devices have seen [1]."""
    onset: float = 1e6
    """Cycles at which the window starts to close [1]."""
    rate: float = 0.25
    """Fraction of the window lost per decade of cycles past the onset [1]."""
    onset_sigma: float = 0.0
    """Device-to-device spread of log10(onset) [decades]."""

    def __post_init__(self):
        require_nonnegative("Endurance.cycles", self.cycles)
        require_positive("Endurance.onset", self.onset)
        require_nonnegative("Endurance.rate", self.rate)
        require_nonnegative("Endurance.onset_sigma", self.onset_sigma)

    @property
    def is_identity(self) -> bool:
        return self.rate == 0 or self.cycles == 0 or (
            self.onset_sigma == 0 and self.cycles <= self.onset)

    def window_loss(self, rng: np.random.Generator | None = None, shape=()) -> np.ndarray:
        """Fraction f of the window lost, per device (shape ``shape``)."""
        log_on = np.full(shape, np.log10(self.onset))
        if self.onset_sigma > 0 and rng is not None:
            log_on = log_on + self.onset_sigma * rng.standard_normal(shape)
        if self.cycles <= 0:
            return np.zeros(shape)
        return np.clip(self.rate * (np.log10(self.cycles) - log_on), 0.0, 1.0)

    def apply(self, g, g_min: float, g_max: float, rng: np.random.Generator) -> np.ndarray:
        g = np.asarray(g, dtype=float)
        if self.is_identity:
            return g.copy()
        f = self.window_loss(rng, g.shape)
        mid = 0.5 * (g_min + g_max)
        lo = g_min + f * (mid - g_min)
        hi = g_max - f * (g_max - mid)
        return np.clip(g, lo, hi)


# NeuroSim's table of the nonlinearity label NL vs A/Pmax (DESIGN.md §4)
_NL_TABLE = np.array([[1.0, 1.25], [2.0, 0.609], [3.0, 0.387], [4.0, 0.269], [6.0, 0.136]])


def nl_to_a_over_pmax(nl: float) -> float:
    """A/Pmax for a NeuroSim nonlinearity label NL ∈ (0, 6] (log-linear interpolation of the
    table 1 → 1.25, 2 → 0.609, 3 → 0.387, 4 → 0.269, 6 → 0.136; below 1 the 1–2 segment is
    extended)."""
    require_range("NL", nl, 0.0, 6.0)
    if nl == 0:
        return float("inf")
    x, y = _NL_TABLE[:, 0], np.log(_NL_TABLE[:, 1])
    if nl < 1.0:
        slope = (y[1] - y[0]) / (x[1] - x[0])
        return float(np.exp(y[0] + slope * (nl - 1.0)))
    return float(np.exp(np.interp(nl, x, y)))


@dataclass(frozen=True)
class PulseNonlinearity:
    """Weights programmed open-loop by identical pulses on a nonlinear device (NeuroSim form).

    The controller assumes a linear device and applies P = Pmax·(G − g_min)/(g_max − g_min)
    potentiation pulses from g_min (or depression pulses from g_max: P = Pmax·(g_max − G)/...);
    the device responds G = g_min + B·(1 − e^(−P/A)) (depression: g_max − B·(1 − e^(−P/A))),
    B = (g_max − g_min)/(1 − e^(−Pmax/A)), A/Pmax from the NL label.  ``p_max`` None keeps P
    continuous, an integer rounds it to whole pulses."""

    nl: float = 0.0
    """Nonlinearity label NL (0 = linear; NeuroSim uses 1–6)."""
    p_max: int | None = None
    """Pulses from g_min to g_max; None = continuous."""
    direction: str = "potentiation"
    """``potentiation`` (program up from g_min) or ``depression`` (down from g_max)."""

    def __post_init__(self):
        nl_to_a_over_pmax(self.nl)
        if self.p_max is not None and (int(self.p_max) != self.p_max or self.p_max < 1):
            raise ConfigError(f"PulseNonlinearity.p_max must be None or an integer >= 1, got "
                              f"{self.p_max!r}")
        if self.direction not in ("potentiation", "depression"):
            raise ConfigError(f"PulseNonlinearity.direction must be 'potentiation' or "
                              f"'depression', got {self.direction!r}")

    @property
    def is_identity(self) -> bool:
        return self.nl == 0 and self.p_max is None

    def apply(self, g, g_min: float, g_max: float, rng: np.random.Generator | None = None
              ) -> np.ndarray:
        g = np.asarray(g, dtype=float)
        if self.is_identity:
            return g.copy()
        span = g_max - g_min
        frac = np.clip((g - g_min) / span, 0.0, 1.0)
        if self.direction == "depression":
            frac = 1.0 - frac
        pm = 1.0 if self.p_max is None else float(self.p_max)
        p = frac * pm
        if self.p_max is not None:
            p = np.round(p)
        if self.nl == 0:
            resp = p / pm
        else:
            a = nl_to_a_over_pmax(self.nl) * pm
            resp = (1.0 - np.exp(-p / a)) / (1.0 - np.exp(-pm / a))
        return g_min + span * resp if self.direction == "potentiation" else g_max - span * resp
