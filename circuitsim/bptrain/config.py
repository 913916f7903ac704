"""Parameters of the in-situ backpropagation training circuit: network shape, circuit values
and the per-sample phase schedule.  Frozen dataclasses validated with :class:`ConfigError`
before anything is simulated."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from ..units import require_nonnegative, require_positive, require_range

PHASES = ("forward", "backward", "update2", "update1")
"""The four phases of one training sample, in order (../shared/DESIGN.md §3)."""


@dataclass(frozen=True)
class NetworkShape:
    """A 2-layer network n_in → n_hidden → n_out (each layer has one extra bias row)."""

    n_in: int
    """Inputs (rows of layer 1 without the bias row) [1]."""
    n_hidden: int
    """Hidden neurons (columns of layer 1, rows of layer 2 without the bias row) [1]."""
    n_out: int
    """Outputs (columns of layer 2) [1]."""
    max_lines: int = 32
    """Largest row or column count of one array the generator accepts [1] (the arrays here
    are simulated cell by cell, one update slot per cell)."""

    def __post_init__(self):
        for k in ("n_in", "n_hidden", "n_out"):
            v = getattr(self, k)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ConfigError(f"NetworkShape.{k} must be a positive integer, got {v!r}")
        if self.n_in + 1 > self.max_lines or self.n_hidden + 1 > self.max_lines \
                or self.n_out + 1 > self.max_lines:
            raise ConfigError(
                f"NetworkShape {self.n_in}-{self.n_hidden}-{self.n_out} does not fit arrays of "
                f"at most {self.max_lines} rows/columns (bias row and reference column "
                "included); use a smaller network or raise max_lines")

    @property
    def layer_shapes(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """Trainable cell grid of each layer: (rows incl. bias, columns)."""
        return (self.n_in + 1, self.n_hidden), (self.n_hidden + 1, self.n_out)

    @property
    def n_cells(self) -> int:
        (a, b), (c, d) = self.layer_shapes
        return a * b + c * d


@dataclass(frozen=True)
class CircuitParams:
    """Circuit values of the training circuit (see :mod:`circuitsim.bptrain` for the circuit).

    Weights: w = (G − G_ref)/g_unit with G_ref = 1/R(x_ref) of the memristor card."""

    v_read: float = 0.2
    """Read voltage for an input or hidden activation of 1 [V]; must stay below both device
    thresholds so that phases 1-2 never move a state."""
    v_high: float = 1.8
    """Logic high of Ctrl1/Ctrl2/Dir/Tr1/Tr2 and the sample clocks [V]."""
    g_switch_on: float = 1.0
    """Conductance of a closed switch [S] (1 Ω; cells are 10-100 kΩ)."""
    g_switch_off: float = 1e-12
    """Conductance of an open switch [S]."""
    x_ref: float = 0.15
    """State whose conductance is the reference G_ref of the reference column/row [1]."""
    g_unit: float = 5e-6
    """Conductance per unit weight [S]."""
    b_max: float = 0.8
    """Largest pulse overdrive: |V| = v_th·(1 + b_max·|δ|^(1/α)) for |δ| = 1 [1]; must be < 1
    so that the half-selected cells (V/2) stay below threshold."""
    v_safe: float = 1.0
    """Largest pulse amplitude the device may see [V] (a stated limit of this study)."""
    dx_max: float = 0.03
    """State change of one full pulse (|δ| = 1, activation 1) away from the bounds [1]; sets the
    longest pulse width, i.e. the learning rate."""
    width_levels: int = 16
    """0: analog pulse width (the pulse ends when a comparator on ``time`` passes
    t_width·activation).  N >= 1: digital pulse-width modulation, width = round(activation·N)
    clock ticks of (t_width_max − t_edge)/N; the pulses end on the ticks of a counter clock (a
    PWL source), so ngspice has a breakpoint at every edge [1]."""
    t_edge: float = 20e-9
    """Rise and fall time of the update pulses [s]."""
    t_ctrl_edge: float = 5e-9
    """Rise and fall time of Ctrl1/Ctrl2/Dir/Tr and the sample clocks [s]."""
    t_read: float = 100e-9
    """Length of phase 1 and of phase 2 [s]."""
    t_sample: float = 40e-9
    """Sample-and-hold window at the end of phases 1 and 2 [s]."""
    t_guard: float = 10e-9
    """Guard time between a control edge and the next action (break-before-make) [s]."""
    t_gap: float = 20e-9
    """Idle time between two update slots [s]."""
    c_hold: float = 1e-12
    """Sample-and-hold capacitor [F]."""
    g_hold: float = 1e-3
    """Sample-and-hold switch conductance while sampling [S] (τ = c_hold/g_hold)."""
    tmax_per_edge: float = 2.0
    """``.tran`` largest step as a fraction of t_edge [1]."""

    def __post_init__(self):
        for k, unit in (("v_read", "[V]"), ("v_high", "[V]"), ("g_switch_on", "[S]"),
                        ("g_switch_off", "[S]"), ("g_unit", "[S]"), ("v_safe", "[V]"),
                        ("dx_max", "[1]"), ("t_edge", "[s]"), ("t_ctrl_edge", "[s]"),
                        ("t_read", "[s]"), ("t_sample", "[s]"), ("c_hold", "[F]"),
                        ("g_hold", "[S]"), ("tmax_per_edge", "[1]")):
            require_positive(f"CircuitParams.{k}", getattr(self, k), unit)
        require_nonnegative("CircuitParams.t_guard", self.t_guard, "[s]")
        if not isinstance(self.width_levels, int) or isinstance(self.width_levels, bool) \
                or self.width_levels < 0:
            raise ConfigError(f"CircuitParams.width_levels must be an integer >= 0, got "
                              f"{self.width_levels!r}")
        require_nonnegative("CircuitParams.t_gap", self.t_gap, "[s]")
        require_range("CircuitParams.x_ref", self.x_ref, 0.0, 1.0)
        if not 0 < self.b_max < 1:
            raise ConfigError(f"CircuitParams.b_max must lie in (0, 1) so that half-selected "
                              f"cells see less than the threshold, got {self.b_max!r}")
        if self.g_switch_off >= 1e-3 * self.g_switch_on:
            raise ConfigError("CircuitParams.g_switch_off must be < 1e-3 · g_switch_on "
                              "(an open switch must be open)")
        if self.dx_max > 0.5:
            raise ConfigError(f"CircuitParams.dx_max must be <= 0.5 (one pulse moving the state "
                              f"over half its range is no learning rate), got {self.dx_max!r}")
        hold = self.c_hold / self.g_hold
        if self.t_sample < 20 * hold:
            raise ConfigError(f"CircuitParams.t_sample ({self.t_sample:g} s) must be >= 20 "
                              f"sample-and-hold time constants (c_hold/g_hold = {hold:g} s)")
        if self.t_read < self.t_sample + self.t_guard + 2 * self.t_ctrl_edge:
            raise ConfigError("CircuitParams.t_read must hold a control edge, the sample window "
                              "and the guard time")


@dataclass(frozen=True)
class SampleSchedule:
    """Phase intervals of one training sample, relative to the sample start [s]:
    ``forward``, ``backward``, ``update2``, ``update1`` as (start, stop) pairs."""

    forward: tuple[float, float]
    backward: tuple[float, float]
    update2: tuple[float, float]
    update1: tuple[float, float]

    def __post_init__(self):
        prev_stop = 0.0
        prev = "sample start"
        for name in PHASES:
            iv = getattr(self, name)
            try:
                start, stop = (float(iv[0]), float(iv[1]))
            except (TypeError, ValueError, IndexError) as exc:
                raise ConfigError(f"SampleSchedule.{name} must be a (start, stop) pair [s], got "
                                  f"{iv!r}") from exc
            require_nonnegative(f"SampleSchedule.{name} start", start, "[s]")
            if stop <= start:
                raise ConfigError(f"SampleSchedule.{name}: stop ({stop:g} s) must be after start "
                                  f"({start:g} s)")
            if start < prev_stop:
                raise ConfigError(
                    f"SampleSchedule: phase {name!r} starts at {start:g} s, before {prev!r} "
                    f"ends ({prev_stop:g} s); phases must not overlap and must come in the "
                    f"order {PHASES}")
            object.__setattr__(self, name, (start, stop))
            prev_stop, prev = stop, name

    @property
    def length(self) -> float:
        """Duration of one sample [s]."""
        return self.update1[1]

    def phase_at(self, t) -> str | None:
        for name in PHASES:
            a, b = getattr(self, name)
            if a <= t < b:
                return name
        return None
