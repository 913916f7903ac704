"""Memristor cards: one frozen dataclass per device model, the single source of truth for both
the SPICE subcircuit (``models/<library>``, equations only) and the Python twin
(:mod:`circuitsim.devices`).

State convention for the dynamic models: the normalised state ``x`` in [0, 1] grows towards the
high-resistance state (x = 0 is R_on, x = 1 is R_off), as in VTEAM's w/D and HP's (1 - w/D).
Inside each subcircuit ``x`` is the voltage of node ``x`` (read it as ``v(<instance>.x)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import ClassVar

import numpy as np

from ..circuit.elements import Instance
from ..errors import ConfigError
from ..units import require_finite, require_positive


def _check_x0(owner: str, x0) -> float:
    x0 = 0.0 if x0 is None else require_finite(f"{owner}.instance: x0", x0)
    if not 0.0 <= x0 <= 1.0:
        raise ConfigError(f"{owner}.instance: x0 must lie in [0, 1] (normalised state; 0 = R_on, "
                          f"1 = R_off), got {x0!r}")
    return x0


def _check_resistances(owner: str, r_on: float, r_off: float) -> None:
    require_positive(f"{owner}.r_on", r_on, "[ohm]")
    require_positive(f"{owner}.r_off", r_off, "[ohm]")
    if not r_on < r_off:
        raise ConfigError(f"{owner}: r_on ({r_on!r} ohm) must be below r_off ({r_off!r} ohm); "
                          "swap them or fix the preset")


# ----------------------------------------------------------------------------------- VTEAM


@dataclass(frozen=True)
class Vteam:
    """VTEAM: voltage-threshold adaptive memristor (Kvatinsky, Ramadan, Friedman, Kolodny,
    IEEE TCAS-II 62 (2015) 786-790), normalised state x = w/D:

    dx/dt = (k_off/D)·max(v/v_off − 1, 0)^α_off·f_off(x) + (k_on/D)·max(v/v_on − 1, 0)^α_on·f_on(x)

    with v_on < 0 < v_off, k_on < 0 < k_off and the Kvatinsky windows
    f_off = exp(−exp((x − 1)/x_c)), f_on = exp(−exp(−x/x_c)) (TEAM, IEEE TCAS-I 60 (2013) 211).
    Positive voltage above v_off drives x up (towards R_off).  Resistance is linear in x
    (``resistance_law='linear'``) or exponential, R = R_on·exp(ln(R_off/R_on)·x) (the paper's
    second current law), with x clamped to [0, 1].  Defaults are :data:`VTEAM_MEMTORCH`.
    """

    r_on: float = 50.0
    """Low (ON) resistance at x = 0 [ohm]."""
    r_off: float = 1000.0
    """High (OFF) resistance at x = 1 [ohm]."""
    d: float = 3e-9
    """Device thickness D (state w runs over [0, D]) [m]."""
    k_on: float = -10.0
    """Rate constant towards R_on (negative) [m/s]."""
    k_off: float = 5e-4
    """Rate constant towards R_off (positive) [m/s]."""
    alpha_on: float = 3.0
    """Exponent of the ON-switching rate [1]."""
    alpha_off: float = 1.0
    """Exponent of the OFF-switching rate [1]; with 1 a rectangular pulse gives exactly
    Δx = (k_off/D)·(V/v_off − 1)·Δt away from the bounds."""
    v_on: float = -0.2
    """ON (SET) threshold voltage, negative [V]."""
    v_off: float = 0.02
    """OFF (RESET) threshold voltage, positive [V]."""
    x_c: float = 0.01
    """Window width as a fraction of D [1]: motion slows only within a few x_c of the bound it
    approaches (f > 0.99 more than 5·x_c away)."""
    resistance_law: str = "linear"
    """'linear' or 'exponential' R(x)."""

    library: ClassVar[str] = "vteam.lib"
    subckt_name: ClassVar[str] = "vteam"

    def __post_init__(self):
        _check_resistances("Vteam", self.r_on, self.r_off)
        require_positive("Vteam.d", self.d, "[m]")
        require_positive("Vteam.k_off", self.k_off, "[m/s]")
        if require_finite("Vteam.k_on", self.k_on) >= 0:
            raise ConfigError(f"Vteam.k_on must be < 0 [m/s] (it drives x towards R_on), got "
                              f"{self.k_on!r}")
        require_positive("Vteam.alpha_on", self.alpha_on)
        require_positive("Vteam.alpha_off", self.alpha_off)
        require_positive("Vteam.v_off", self.v_off, "[V]")
        if require_finite("Vteam.v_on", self.v_on) >= 0:
            raise ConfigError(f"Vteam.v_on must be < 0 [V] (the ON threshold is negative), got "
                              f"{self.v_on!r}")
        require_positive("Vteam.x_c", self.x_c)
        if self.x_c > 0.1:
            raise ConfigError(f"Vteam.x_c must be <= 0.1 (window width as a fraction of D), got "
                              f"{self.x_c!r}")
        if self.resistance_law not in ("linear", "exponential"):
            raise ConfigError(f"Vteam.resistance_law must be 'linear' or 'exponential', got "
                              f"{self.resistance_law!r}")

    # -- SPICE side -----------------------------------------------------------------------

    def spice_params(self) -> dict[str, float]:
        """Instance parameters of ``models/vteam.lib`` (everything but x0)."""
        return {"ron": self.r_on, "roff": self.r_off, "d": self.d, "kon": self.k_on,
                "koff": self.k_off, "aon": self.alpha_on, "aoff": self.alpha_off,
                "von": self.v_on, "voff": self.v_off, "xc": self.x_c,
                "rexp": 1.0 if self.resistance_law == "exponential" else 0.0}

    def instance(self, name: str, p: str, n: str, x0: float | None = None) -> Instance:
        """An ``X`` instance of the library subcircuit between ``p`` and ``n`` with every value
        taken from this card; ``x0`` is the initial state (None = 0, i.e. R_on).  The deck
        must include :attr:`library` (``Deck(includes=(card.library,))``)."""
        x0 = _check_x0("Vteam", x0)
        return Instance(name, self.subckt_name, (p, n), {**self.spice_params(), "x0": x0})

    # -- equations shared with the twin ---------------------------------------------------

    def resistance(self, x):
        """R(x) [ohm], x clamped to [0, 1] (numpy-friendly)."""
        xc = np.clip(np.asarray(x, dtype=float), 0.0, 1.0)
        if self.resistance_law == "exponential":
            return self.r_on * np.exp(math.log(self.r_off / self.r_on) * xc)
        return self.r_on + (self.r_off - self.r_on) * xc

    def state_for_resistance(self, r):
        """Inverse of :meth:`resistance` on [r_on, r_off] [1]."""
        r = np.asarray(r, dtype=float)
        tol = 1e-12 * self.r_off  # rounding of resistance() at the bounds
        if (np.any(~np.isfinite(r)) or np.any(r < self.r_on - tol)
                or np.any(r > self.r_off + tol)):
            raise ConfigError(f"Vteam.state_for_resistance: resistance must lie in "
                              f"[{self.r_on}, {self.r_off}] ohm")
        if self.resistance_law == "exponential":
            x = np.log(r / self.r_on) / math.log(self.r_off / self.r_on)
        else:
            x = (r - self.r_on) / (self.r_off - self.r_on)
        return np.clip(x, 0.0, 1.0)


def card_fields(card) -> dict[str, object]:
    """The card's own fields (not the class-level library names) as a dict."""
    return {f.name: getattr(card, f.name) for f in fields(card)}


VTEAM_MEMTORCH = Vteam(r_on=50.0, r_off=1000.0, d=3e-9, k_on=-10.0, k_off=5e-4, alpha_on=3.0,
                       alpha_off=1.0, v_on=-0.2, v_off=0.02, x_c=0.01,
                       resistance_law="linear")
"""The VTEAM defaults of MemTorch (Lammie et al., ``memtorch/bh/memristor/VTEAM.py``, from the
asic2.group memristor-model page): R_on 50 Ω, R_off 1 kΩ, D 3 nm, k_on −10 m/s, k_off 5e-4 m/s,
α_on 3, α_off 1, v_on −0.2 V, v_off 0.02 V, linear R(x).  The window width x_c = 0.01 is ours
(MemTorch clips x instead).  Note v_off = 20 mV: a 0.2 V read disturbs this device."""

VTEAM_CROSSBAR = Vteam(r_on=10e3, r_off=100e3, d=3e-9, k_on=-3e-5, k_off=3e-5, alpha_on=1.0,
                       alpha_off=1.0, v_on=-0.3, v_off=0.3, x_c=0.01,
                       resistance_law="linear")
"""A VTEAM device chosen for this project's crossbar training circuits, NOT fitted to a
measured device: R 10–100 kΩ (G 10–100 µS, the range of ../shared/DESIGN.md §4-5), symmetric
thresholds ±0.3 V (above the 0.2 V read voltage, so reads do not disturb), α_on = α_off = 1
(linear in pulse amplitude and width both ways), |k|/D = 1e4 1/s: a 1 V, 1 µs pulse moves x by
0.023 (about 40 pulses end to end)."""
