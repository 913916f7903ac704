"""SI floats everywhere; one deterministic SPICE number formatter."""

from __future__ import annotations

import math

from .errors import ConfigError


def spice_number(x: float) -> str:
    """Format a number for a SPICE deck: shortest text that round-trips the float exactly.

    ``spice_number(1e-5) == '1e-05'``, ``spice_number(2.0) == '2'``.  Deterministic, locale-free.
    Non-finite numbers raise :class:`ConfigError` (SPICE has no NaN or infinity).
    """
    if isinstance(x, bool):
        raise ConfigError(f"expected a number, got the boolean {x!r}")
    try:
        xf = float(x)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"expected a number, got {x!r}") from exc
    if not math.isfinite(xf):
        raise ConfigError(f"SPICE numbers must be finite, got {xf!r}")
    if xf == 0.0:
        return "0"
    if xf.is_integer() and abs(xf) < 1e15:
        return str(int(xf))
    return repr(xf)


def require_finite(name: str, value: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be a number, got {value!r}") from exc
    if not math.isfinite(v):
        raise ConfigError(f"{name} must be finite, got {v!r}")
    return v


def require_positive(name: str, value: float, unit: str = "") -> float:
    v = require_finite(name, value)
    if v <= 0:
        raise ConfigError(f"{name} must be > 0 {unit}, got {v!r}".replace("  ", " "))
    return v


def require_nonnegative(name: str, value: float, unit: str = "") -> float:
    v = require_finite(name, value)
    if v < 0:
        raise ConfigError(f"{name} must be >= 0 {unit}, got {v!r}".replace("  ", " "))
    return v


def require_range(name: str, value: float, lo: float, hi: float) -> float:
    v = require_finite(name, value)
    if not lo <= v <= hi:
        raise ConfigError(f"{name} must lie in [{lo}, {hi}], got {v!r}")
    return v
