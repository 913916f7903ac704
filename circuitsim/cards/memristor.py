"""Memristor cards: one frozen dataclass per device model, the single source of truth for both
the SPICE subcircuit (``models/<library>``, equations only) and the Python twin
(:mod:`circuitsim.devices`).

State of the dynamic models: the normalised state ``x`` = w/D in [0, 1] of each paper, so its
meaning differs by model: VTEAM x = 1 is R_off, linear ion drift (HP) x = 1 is R_on.  Use the
card's ``resistance(x)`` rather than assuming.  Inside each subcircuit ``x`` is the voltage of
node ``x`` (read it as ``v(<instance>.x)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..circuit.elements import Instance, Resistor
from ..errors import ConfigError
from ..units import require_finite, require_positive


def _check_x0(owner: str, x0) -> float:
    x0 = require_finite(f"{owner}.instance: x0", x0)
    if not 0.0 <= x0 <= 1.0:
        raise ConfigError(f"{owner}.instance: x0 must lie in [0, 1] (normalised state), got "
                          f"{x0!r}")
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
    default_x0: ClassVar[float] = 0.0
    """Initial state when none is given: x_on, the ON state (as MemTorch starts)."""

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
        taken from this card; ``x0`` is the initial state (None = :attr:`default_x0`), held
        through the operating point by the library itself (no ``.ic`` needed).  The deck must
        include :attr:`library` (``Deck(includes=(card.library,))``)."""
        x0 = _check_x0("Vteam", self.default_x0 if x0 is None else x0)
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


# ---------------------------------------------------------------------- linear ion drift

WINDOWS = ("none", "joglekar", "biolek")


@dataclass(frozen=True)
class LinearIonDrift:
    """Linear ion drift (HP) memristor: Strukov, Snider, Stewart, Williams, Nature 453 (2008)
    80-83.  State x = w/D (doped fraction; x = 1 is R_on, as in the paper):

    M(x) = R_on·x + R_off·(1 − x),  i = v/M,  dx/dt = μ_v·R_on/D²·i·f(x, i)

    with the window f = 1 (``'none'``), Joglekar 1 − (2x − 1)^(2p) (Joglekar & Wolf,
    Eur. J. Phys. 30 (2009) 661) or Biolek 1 − (x − stp(−i))^(2p) (Biolek et al.,
    Radioengineering 18 (2009) 210).  Positive current (p → n) drives x up (towards R_on).
    x is clamped to [0, 1] inside M.  Defaults are :data:`HP_JOGLEKAR`.
    """

    r_on: float = 100.0
    """Resistance of the fully doped device (x = 1) [ohm]."""
    r_off: float = 16e3
    """Resistance of the undoped device (x = 0) [ohm]."""
    d: float = 10e-9
    """Film thickness D [m]."""
    mu_v: float = 1e-14
    """Dopant mobility μ_v [m²/(V·s)]."""
    window: str = "joglekar"
    """'none', 'joglekar' or 'biolek'."""
    p: float = 1.0
    """Window exponent p [1] (a positive integer in the papers; any value > 0 is accepted,
    the power is taken of |·|)."""

    library: ClassVar[str] = "linear_ion_drift.lib"
    subckt_name: ClassVar[str] = "linear_ion_drift"
    default_x0: ClassVar[float] = 0.5
    """Initial state when none is given: mid-range (Joglekar's window sticks at the bounds)."""

    def __post_init__(self):
        _check_resistances("LinearIonDrift", self.r_on, self.r_off)
        require_positive("LinearIonDrift.d", self.d, "[m]")
        require_positive("LinearIonDrift.mu_v", self.mu_v, "[m^2/(V s)]")
        if self.window not in WINDOWS:
            raise ConfigError(f"LinearIonDrift.window must be one of {WINDOWS}, got "
                              f"{self.window!r}")
        require_positive("LinearIonDrift.p", self.p)

    @property
    def k(self) -> float:
        """Rate constant μ_v·R_on/D² [1/(A·s)]: dx/dt = k·i·f."""
        return self.mu_v * self.r_on / self.d**2

    def spice_params(self) -> dict[str, float]:
        """Instance parameters of ``models/linear_ion_drift.lib`` (everything but x0)."""
        return {"ron": self.r_on, "roff": self.r_off, "d": self.d, "uv": self.mu_v,
                "pexp": self.p, "wnone": float(self.window == "none"),
                "wjog": float(self.window == "joglekar"),
                "wbio": float(self.window == "biolek")}

    def instance(self, name: str, p: str, n: str, x0: float | None = None) -> Instance:
        """An ``X`` instance between ``p`` and ``n`` with every value from this card; ``x0``
        is the initial state (None = :attr:`default_x0`).  The deck must include
        :attr:`library`."""
        x0 = _check_x0("LinearIonDrift", self.default_x0 if x0 is None else x0)
        return Instance(name, self.subckt_name, (p, n), {**self.spice_params(), "x0": x0})

    def resistance(self, x):
        """M(x) [ohm], x clamped to [0, 1] (numpy-friendly)."""
        xc = np.clip(np.asarray(x, dtype=float), 0.0, 1.0)
        return self.r_on * xc + self.r_off * (1.0 - xc)

    def state_for_resistance(self, r):
        """Inverse of :meth:`resistance` on [r_on, r_off] [1] (x = 1 at r_on)."""
        r = np.asarray(r, dtype=float)
        tol = 1e-12 * self.r_off  # rounding of resistance() at the bounds
        if (np.any(~np.isfinite(r)) or np.any(r < self.r_on - tol)
                or np.any(r > self.r_off + tol)):
            raise ConfigError(f"LinearIonDrift.state_for_resistance: resistance must lie in "
                              f"[{self.r_on}, {self.r_off}] ohm")
        return (self.r_off - r) / (self.r_off - self.r_on)


HP_JOGLEKAR = LinearIonDrift(r_on=100.0, r_off=16e3, d=10e-9, mu_v=1e-14, window="joglekar",
                             p=1.0)
"""HP TiO2 device values (Strukov et al., Nature 453 (2008) 80, Fig. 2: R_on 100 Ω,
R_off/R_on 160, D 10 nm, μ_v 1e-14 m²/(V·s)) with Joglekar's window, p = 1."""

HP_BIOLEK = LinearIonDrift(r_on=100.0, r_off=16e3, d=10e-9, mu_v=1e-14, window="biolek", p=2.0)
"""The same HP values with Biolek's window, p = 2 (the value used in Biolek et al. 2009)."""


# -------------------------------------------------------------------------- static device


@dataclass(frozen=True)
class StaticMemristor:
    """A programmed memristor for inference: a fixed conductance G in [g_min, g_max], written
    to SPICE as a plain resistor of 1/G.  ``g_min = 0`` allows unprogrammed (open) cells,
    which are then left out of the netlist."""

    g_min: float = 10e-6
    """Lowest programmable conductance [S] (0 = open cell allowed)."""
    g_max: float = 100e-6
    """Highest programmable conductance [S]."""

    def __post_init__(self):
        if require_finite("StaticMemristor.g_min", self.g_min) < 0:
            raise ConfigError(f"StaticMemristor.g_min must be >= 0 [S], got {self.g_min!r}")
        require_positive("StaticMemristor.g_max", self.g_max, "[S]")
        if not self.g_min < self.g_max:
            raise ConfigError(f"StaticMemristor: g_min ({self.g_min!r} S) must be below g_max "
                              f"({self.g_max!r} S)")

    @property
    def r_min(self) -> float:
        """Lowest resistance 1/g_max [ohm]."""
        return 1.0 / self.g_max

    @property
    def r_max(self) -> float:
        """Highest resistance 1/g_min [ohm] (inf for g_min = 0)."""
        return math.inf if self.g_min == 0 else 1.0 / self.g_min

    def check(self, g, name: str = "G") -> np.ndarray:
        """``g`` as a float array, or :class:`ConfigError` if any entry is non-finite,
        negative or outside [g_min, g_max] (relative slack 1e-9 for rounding)."""
        try:
            arr = np.asarray(g, dtype=float)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{name}: conductances must be numbers [S]") from exc
        bad = ~np.isfinite(arr)
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ConfigError(f"{name}: conductance at index {idx} is {arr[idx]!r}; every "
                              "conductance must be finite [S]")
        neg = arr < 0
        if neg.any():
            idx = tuple(int(i) for i in np.argwhere(neg)[0])
            raise ConfigError(f"{name}: conductance at index {idx} is negative ({arr[idx]!r} S);"
                              " map signed weights to a differential pair G+ - G-")
        slack = 1e-9 * self.g_max
        out = (arr < self.g_min - slack) | (arr > self.g_max + slack)
        if out.any():
            idx = tuple(int(i) for i in np.argwhere(out)[0])
            raise ConfigError(f"{name}: conductance at index {idx} is {arr[idx]!r} S, outside "
                              f"the programmable range [{self.g_min!r}, {self.g_max!r}] S; "
                              "clip or rescale the mapping")
        return arr

    def clip(self, g) -> np.ndarray:
        """Conductances clipped into [g_min, g_max] [S] (non-finite values still raise)."""
        arr = np.asarray(g, dtype=float)
        if not np.all(np.isfinite(arr)):
            raise ConfigError("StaticMemristor.clip: conductances must be finite [S]")
        return np.clip(arr, self.g_min, self.g_max)

    def resistor(self, name: str, p: str, n: str, g: float) -> Resistor | None:
        """The SPICE element of one programmed cell: a resistor of 1/g, or None for g = 0
        (an open cell: leave it out)."""
        g = float(self.check(g, name))
        if g == 0.0:
            return None
        return Resistor(name, p, n, 1.0 / g)


STATIC_10_100US = StaticMemristor(g_min=10e-6, g_max=100e-6)
"""G 10–100 µS (R 10–100 kΩ): the range used for the crossbar measurements of
../shared/DESIGN.md §5 and the 10 kΩ cell of §3."""

STATIC_CAT_110US = StaticMemristor(g_min=0.0, g_max=110e-6)
"""The cat-detector seed study (../shared/DESIGN.md §4): G_max 110 µS, G = w·G_max/max|w|, zero
weights left as unprogrammed (open) devices."""
