"""How weights become conductances and how the crossbar is read: one frozen config."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..errors import ConfigError
from ..units import require_nonnegative, require_positive

__all__ = ["CAT_STUDY", "DEFAULT_MAPPING", "MappingConfig"]


def _opt_int(name: str, value, lo: int) -> None:
    if value is None:
        return
    if isinstance(value, bool) or int(value) != value or value < lo:
        raise ConfigError(f"MappingConfig.{name} must be None or an integer >= {lo}, got "
                          f"{value!r}")


V_READ_MAX = 1.0
"""Highest read voltage [V] accepted: reads are 0.1-0.5 V (NeuroSim 0.5 V, the seed studies
0.2 V); above ~1 V typical RRAM cells start to switch, so a "read" would rewrite the
weights (read disturb).  The vmax study sweeps up to this value."""


@dataclass(frozen=True)
class MappingConfig:
    """Weights → differential conductances, and the read path's converters.

    A weight w (and each bias, on one extra row driven like an input of value 1) is held by a
    pair of devices: ``G+ = g_min + max(w, 0)·k``, ``G− = g_min + max(−w, 0)·k`` with
    ``k = (g_max − g_min) / max|w|`` (max over the layer, or over each output column with
    ``scaling='column'``).  With ``g_min = 0`` this is the cat study's G = w·G_max/max|w|; a
    positive ``g_min`` gives the on/off ratio ``g_max/g_min``.
    """

    g_min: float = 1e-6
    """Lowest programmed conductance (HRS) [S]; 0 = unprogrammed devices hold zero weights
    (the cat study, :data:`CAT_STUDY`).  Default 1 µS: a 1 MΩ memristor (DESIGN.md §3)."""
    g_max: float = 100e-6
    """Highest programmed conductance (LRS) [S]; default 100 µS, a 10 kΩ memristor (cat
    study: 110 µS)."""
    v_read: float = 0.2
    """Maximum input (row) voltage [V]: feature x ∈ [0, 1] ↦ row voltage x·v_read."""
    levels: int | None = None
    """Number of programmable conductance levels between g_min and g_max; None = analog."""
    level_spacing: str = "linear"
    """``linear`` or ``log`` (geometric levels; needs g_min > 0)."""
    scaling: str = "layer"
    """``layer`` (one max|w| per layer) or ``column`` (one per output column)."""
    tile_size: int | None = None
    """T: each layer is split into T×T crossbars (T inputs × T outputs, a G+ and a G− array
    each); partial sums of the row tiles are added digitally.  None = one crossbar per layer."""
    dac_bits: int | None = None
    """Input DAC resolution [bits]; None = ideal."""
    adc_bits: int | None = None
    """Column ADC resolution [bits] (one per differential output per row tile); None = ideal."""
    adc_range: str = "calibrated"
    """ADC full scale: ``calibrated`` = the largest |partial sum| per layer and row tile over
    calibration inputs (a training subset, never the evaluated images); ``full-scale`` =
    the worst case (every row of the tile at v_read, every cell at g_max − g_min)."""

    def __post_init__(self):
        require_nonnegative("MappingConfig.g_min", self.g_min, "[S]")
        require_positive("MappingConfig.g_max", self.g_max, "[S]")
        if self.g_min >= self.g_max:
            raise ConfigError(f"MappingConfig: g_min ({self.g_min!r} S) must be below g_max "
                              f"({self.g_max!r} S)")
        require_positive("MappingConfig.v_read", self.v_read, "[V]")
        if self.v_read > V_READ_MAX:
            raise ConfigError(
                f"MappingConfig.v_read {self.v_read!r} V is above {V_READ_MAX} V: a read that "
                "strong would disturb (switch) the cells it reads — RRAM SET/RESET thresholds "
                "are about 0.5-2 V and reads use 0.1-0.5 V (DESIGN.md §3); choose v_read <= "
                f"{V_READ_MAX} V")
        _opt_int("levels", self.levels, 2)
        _opt_int("tile_size", self.tile_size, 1)
        _opt_int("dac_bits", self.dac_bits, 1)
        _opt_int("adc_bits", self.adc_bits, 1)
        if self.level_spacing not in ("linear", "log"):
            raise ConfigError(f"MappingConfig.level_spacing must be 'linear' or 'log', got "
                              f"{self.level_spacing!r}")
        if self.level_spacing == "log" and self.g_min <= 0:
            raise ConfigError("MappingConfig: level_spacing='log' needs g_min > 0")
        if self.scaling not in ("layer", "column"):
            raise ConfigError(f"MappingConfig.scaling must be 'layer' or 'column', got "
                              f"{self.scaling!r}")
        if self.adc_range not in ("calibrated", "full-scale"):
            raise ConfigError(f"MappingConfig.adc_range must be 'calibrated' or 'full-scale', "
                              f"got {self.adc_range!r} (the former 'batch' calibrated on the "
                              "evaluated images; calibrate on a training subset instead)")

    @property
    def on_off_ratio(self) -> float:
        """g_max / g_min (infinite for g_min = 0)."""
        return float("inf") if self.g_min == 0 else self.g_max / self.g_min

    @classmethod
    def from_on_off(cls, g_max: float, on_off_ratio: float, **kw) -> MappingConfig:
        """g_min = g_max / on_off_ratio."""
        require_positive("on_off_ratio", on_off_ratio)
        if on_off_ratio <= 1:
            raise ConfigError(f"on_off_ratio must be > 1, got {on_off_ratio!r}")
        return cls(g_min=g_max / on_off_ratio, g_max=g_max, **kw)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> MappingConfig:
        return cls(**d)


DEFAULT_MAPPING = MappingConfig()
"""The package's one default: device window 1–100 µS (10 kΩ–1 MΩ) read at 0.2 V; used by the
circuit network, the cross-validation harness and ``map_layer``/``map_model``."""

CAT_STUDY = MappingConfig(g_min=0.0, g_max=110e-6)
"""The cat-detector study's scheme: G = w·G_max/max|w|, G_max 110 µS, zero weights unprogrammed."""
