"""The digital periphery of a crossbar tile: input DAC, column ADC, partial sums.

One text for every read path: the studies (:func:`circuitsim.network.crossbar_forward`), the
circuit network's twin and its ngspice co-simulation all call these functions, so a difference
between SPICE and the twin is always analog.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError

__all__ = ["adc", "adc_codes", "dac", "near_code_boundary", "quantize_uniform",
           "row_tiles", "tile_ranges"]


def quantize_uniform(x: np.ndarray, bits: int, full_scale: float | np.ndarray,
                     signed: bool) -> np.ndarray:
    """Round to a uniform grid: unsigned, ``2**bits`` codes on [0, fs]; signed, the
    ``2**bits − 1`` codes k·fs/(2**(bits−1) − 1) symmetric about 0 (1 bit signed: ±fs, the sign);
    values outside the range clip."""
    fs = np.asarray(full_scale, dtype=float)
    fs = np.where(fs > 0, fs, 1.0)
    if signed:
        m = 2 ** (bits - 1) - 1
        if m == 0:
            return np.where(x >= 0, fs, -fs) * np.ones_like(x)
        return np.clip(np.round(x / fs * m), -m, m) * fs / m
    m = 2**bits - 1
    return np.clip(np.round(x / fs * m), 0, m) * fs / m


def _levels(bits: int, signed: bool) -> int:
    return 2 ** (bits - 1) - 1 if signed else 2**bits - 1


def dac(x, bits: int | None, signed: bool = False) -> np.ndarray:
    """Input DAC: values in [0, 1] (signed: [-1, 1]) to ``bits`` bits; None = ideal."""
    x = np.asarray(x, dtype=float)
    return x if bits is None else quantize_uniform(x, bits, 1.0, signed)


def adc(x, bits: int | None, full_scale) -> np.ndarray:
    """Signed column ADC of full scale ``full_scale`` (broadcast against ``x``); None = ideal."""
    x = np.asarray(x, dtype=float)
    return x if bits is None else quantize_uniform(x, bits, full_scale, signed=True)


def adc_codes(x, bits: int, full_scale) -> np.ndarray:
    """The integer ADC codes of :func:`adc` (−m … m, m = 2**(bits−1) − 1)."""
    m = _levels(bits, True)
    fs = np.asarray(full_scale, dtype=float)
    fs = np.where(fs > 0, fs, 1.0)
    return np.clip(np.round(np.asarray(x, dtype=float) / fs * m), -m, m).astype(np.int64)


def near_code_boundary(x, bits: int, full_scale, tol: float) -> np.ndarray:
    """True where ``x`` lies within ``tol``·full scale of a decision boundary of the ADC
    (halfway between two codes), where a difference of ``tol`` may flip the code."""
    m = _levels(bits, True)
    fs = np.asarray(full_scale, dtype=float)
    fs = np.where(fs > 0, fs, 1.0)
    u = np.asarray(x, dtype=float) / fs * m
    return np.abs(u - np.floor(u) - 0.5) <= tol * m


def tile_ranges(n: int, tile: int | None) -> tuple[tuple[int, int], ...]:
    """``[(start, stop), ...]`` covering ``range(n)`` in pieces of ``tile`` (None: one)."""
    if tile is None:
        return ((0, n),)
    if int(tile) < 1:
        raise ConfigError(f"tile size must be >= 1, got {tile!r}")
    return tuple((s, min(s + int(tile), n)) for s in range(0, n, int(tile)))


def row_tiles(rows: int, tile: int | None) -> tuple[tuple[int, int], ...]:
    """Row ranges of the tiles of a crossbar of ``rows`` rows (inputs + bias row)."""
    return tile_ranges(rows, tile)
