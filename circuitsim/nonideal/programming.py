"""Programming variability: constant σ or conductance-dependent σ(G), one-shot or write-verify.

σ(G) of Wan et al., Nature 608 (2022) 504 (ReRAM compute-in-memory chip), as fitted by IBM
aihwkit's ``ReRamWan2022NoiseModel``: σ(µS) = Σ c_i·(G/G_max)^i, fitted at G_max = 40 µS, with
coefficients 1 s after programming (0.348, 16.03, −43.85, 45.39, −16.82) and after 1 day and
2 days (relaxation) — intermediate states are the noisiest.  aihwkit scales σ by G_max/40 µS;
``shape='wan2022'`` with ``sigma=None`` does the same, with a ``sigma`` it rescales the curve so
that its peak over [0, G_max] equals ``sigma`` (the σ sweeps of the cat-detector study).

Write-verify is modelled as repeated one-shot programming with a verify read after each attempt:
an attempt within ``tolerance`` of the target is kept, otherwise the device is re-programmed, up
to ``max_attempts``; when all fail, the attempt closest to the target is kept.  Its residual σ
is therefore below the one-shot σ and falls with more attempts.

Devices whose target is exactly 0 S (the zero device of a pair with g_min = 0) are
unprogrammed and left alone unless ``vary_unprogrammed``.  Results are clipped at 0 S.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ..units import require_nonnegative

__all__ = ["ProgrammingNoise", "WAN2022_COEFFS", "WAN2022_G_REF", "WriteVerify", "wan2022_sigma"]

WAN2022_G_REF = 40e-6
"""G_max at which the Wan et al. 2022 σ(G) polynomials were fitted [S]."""

WAN2022_COEFFS = {
    "1s": (0.348, 16.030, -43.853, 45.393, -16.815),
    "1d": (0.701, 22.086, -50.773, 47.095, -16.458),
    "2d": (0.782, 20.274, -43.507, 37.062, -11.934),
}
"""σ(µS) polynomial coefficients c_0..c_4 in G/G_max, at 1 s, 1 day, 2 days after programming
(Wan et al., Nature 2022, via aihwkit ReRamWan2022NoiseModel)."""


def wan2022_sigma(g, g_max: float, when: str = "1s") -> np.ndarray:
    """σ [S] of the Wan et al. fit for conductances ``g`` [S] on a device of range ``g_max``."""
    c = WAN2022_COEFFS[when]
    u = np.clip(np.asarray(g, dtype=float) / g_max, 0.0, 1.0)
    s = np.zeros_like(u)
    for ci in c[::-1]:
        s = s * u + ci
    return s * 1e-6 * (g_max / WAN2022_G_REF)


def _wan_peak(when: str) -> float:
    """Peak of σ(G) over [0, G_max] [µS at G_max = 40 µS]."""
    u = np.linspace(0, 1, 2001) * WAN2022_G_REF
    return float(wan2022_sigma(u, WAN2022_G_REF, when).max()) * 1e6


@dataclass(frozen=True)
class WriteVerify:
    """Iterative programming: re-program until within ``tolerance`` of the target."""

    tolerance: float = 2e-6
    """Accept an attempt within ± this of the target [S]."""
    max_attempts: int = 10
    """Programming attempts per device (1 = one-shot)."""

    def __post_init__(self):
        require_nonnegative("WriteVerify.tolerance", self.tolerance, "[S]")
        if int(self.max_attempts) != self.max_attempts or self.max_attempts < 1:
            raise ConfigError(f"WriteVerify.max_attempts must be an integer >= 1, got "
                              f"{self.max_attempts!r}")


@dataclass(frozen=True)
class ProgrammingNoise:
    """Gaussian programming error G' = G + σ(G)·ε, ε ~ N(0, 1), clipped at 0 S."""

    sigma: float | None = 1e-6
    """σ [S] (``constant``), or the peak of σ(G) (``wan2022``; None = the fit's own scale)."""
    shape: str = "constant"
    """``constant`` or ``wan2022`` (σ(G) 1 s after programming), ``wan2022-1d``,
    ``wan2022-2d`` (after 1 or 2 days of relaxation)."""
    write_verify: WriteVerify | None = None
    """None = one-shot programming; else the write-verify loop."""
    vary_unprogrammed: bool = False
    """Also perturb devices whose target is 0 S."""

    def __post_init__(self):
        if self.shape not in ("constant", "wan2022", "wan2022-1d", "wan2022-2d"):
            raise ConfigError(f"ProgrammingNoise.shape must be 'constant', 'wan2022', "
                              f"'wan2022-1d' or 'wan2022-2d', got {self.shape!r}")
        if self.sigma is None:
            if self.shape == "constant":
                raise ConfigError("ProgrammingNoise: sigma=None needs shape='wan2022*'")
        else:
            require_nonnegative("ProgrammingNoise.sigma", self.sigma, "[S]")
        if isinstance(self.write_verify, dict):  # from a saved config
            object.__setattr__(self, "write_verify", WriteVerify(**self.write_verify))

    def sigma_of(self, g, g_max: float) -> np.ndarray:
        """σ [S] for target conductances ``g`` [S] on a device range ``g_max`` [S]."""
        g = np.asarray(g, dtype=float)
        if self.shape == "constant":
            return np.full(g.shape, float(self.sigma))
        when = {"wan2022": "1s", "wan2022-1d": "1d", "wan2022-2d": "2d"}[self.shape]
        s = wan2022_sigma(g, g_max, when)
        if self.sigma is not None:
            s = s * (self.sigma / (_wan_peak(when) * 1e-6 * g_max / WAN2022_G_REF))
        return s

    @property
    def is_identity(self) -> bool:
        return self.sigma == 0

    def apply(self, g: np.ndarray, g_max: float, rng: np.random.Generator) -> np.ndarray:
        """Programmed conductances for targets ``g`` [S]."""
        g = np.asarray(g, dtype=float)
        if self.is_identity:
            return g.copy()
        sig = self.sigma_of(g, g_max)
        wv = self.write_verify
        attempts = 1 if wv is None else wv.max_attempts
        best = g + sig * rng.standard_normal(g.shape)
        if wv is not None:
            for _ in range(attempts - 1):
                bad = np.abs(best - g) > wv.tolerance
                if not bad.any():
                    break
                trial = g[bad] + sig[bad] * rng.standard_normal(int(bad.sum()))
                better = np.abs(trial - g[bad]) < np.abs(best[bad] - g[bad])
                cur = best[bad]
                cur[better] = trial[better]
                best[bad] = cur
        out = np.maximum(best, 0.0)
        if not self.vary_unprogrammed:
            out = np.where(g == 0.0, 0.0, out)
        return out
