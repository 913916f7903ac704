"""ProgramConfig: how a crossbar is programmed (pulses, verify, biasing scheme, wiring).

One frozen object read by both worlds: the transient-ngspice programmer
(:mod:`circuitsim.program.spice`) and the twin (:mod:`circuitsim.program.twin`) build their
drive waveforms from the same :mod:`circuitsim.program.schedule`, so a difference between them
is device or circuit physics, never bookkeeping.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..cards.memristor import VTEAM_CROSSBAR, LinearIonDrift, Vteam
from ..errors import ConfigError
from ..units import require_finite, require_positive

SCHEMES = ("v2", "v3", "ground")
"""Biasing of the unselected lines: ``v2`` (V/2 on every unselected row and column), ``v3``
(V/3 and 2V/3), ``ground`` (unselected lines at 0 V: the selected row's other cells see the
full pulse; used only to measure what a half-select scheme saves)."""

SIZINGS = ("ladder", "model", "adaptive")
"""How a pulse is sized (:attr:`ProgramConfig.sizing`)."""

STEPS = ("width", "amplitude")
"""What grows along the ladder (:attr:`ProgramConfig.step`): the pulse width at the fixed
amplitude ``v_pulse``, or the amplitude (ISPP) at the fixed width ``w_amp``."""

PROGRAM_SCHEMES = ("v2", "v3")
"""Schemes a programming run may use."""


def scheme_levels(scheme: str, v: float, polarity: int) -> dict[str, float]:
    """Line voltages [V] of one programming phase: selected row ``sr``, selected column
    ``sc``, unselected rows ``ur``, unselected columns ``uc``.  ``polarity`` +1 puts +v across
    the selected cells (row − column: RESET for VTEAM, G down), −1 puts −v (SET, G up).  Every
    line stays in [0, v]."""
    if scheme not in SCHEMES:
        raise ConfigError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    if polarity not in (1, -1):
        raise ConfigError(f"polarity must be +1 or -1, got {polarity!r}")
    if scheme == "v2":
        ur, uc = v / 2, v / 2
    elif scheme == "v3":
        ur, uc = (v / 3, 2 * v / 3) if polarity > 0 else (2 * v / 3, v / 3)
    else:
        ur, uc = 0.0, 0.0
    if polarity > 0:
        return {"sr": v, "sc": 0.0, "ur": ur, "uc": uc}
    return {"sr": 0.0, "sc": v, "ur": ur, "uc": uc}


LID_CROSSBAR = LinearIonDrift(r_on=10e3, r_off=100e3, d=10e-9, mu_v=2e-11, window="joglekar",
                              p=1.0)
"""A linear ion drift card for programming studies, NOT fitted to a measured device: the
G window of :data:`~circuitsim.cards.memristor.VTEAM_CROSSBAR` (R 10–100 kΩ), D 10 nm,
Joglekar p = 1 and a mobility 2000x HP's (μ_v 2e-11 m²/(V·s)), so that k = μ_v·R_on/D² =
2e9 1/(A·s): at 1 V on 50 kΩ dx/dt ≈ 4e4 1/s, and the top of the default pulse ladder
(25.6 µs) moves a cell about end to end, as for VTEAM_CROSSBAR at ~1.2 V."""


def has_threshold(device) -> bool:
    """True for a threshold device (VTEAM: no motion below v_off, v_on); False for linear
    ion drift, whose state moves at any voltage (half-selected cells and verify reads
    included)."""
    return isinstance(device, Vteam)


def half_select_voltage(scheme: str, v: float) -> float:
    """Largest |voltage| an unselected cell sees in ``scheme`` at pulse amplitude ``v`` [V]
    (ideal wires)."""
    return {"v2": v / 2, "v3": v / 3, "ground": v}[scheme]


@dataclass(frozen=True)
class ProgramConfig:
    """Incremental-step write-verify programming of a 1R crossbar of dynamic memristors.

    Every cell starts at ``x0``.  One *iteration* gives every cell still outside the
    tolerance one pulse, row by row (all cells of a row that need the same polarity are pulsed
    together, each with its own width: the selected row is held at its level while each
    selected column is held at its own for the cell's width), then reads every pulsed row
    (selected row at ``v_read``, all other lines at 0 V).  From its own read, each side
    decides the next pulse of each cell: polarity from the sign of the error, its rung ``k``
    of the ladder (``step='width'``: width ``w0·growth^k`` at ``v_pulse``; ``'amplitude'``:
    amplitude ``v_start + k·v_step`` at width ``w_amp``, the incremental-step pulse
    programming of flash and RRAM): ``k`` rises by one while the polarity repeats and the
    ladder's top falls by one at every polarity reversal (so the step shrinks around the
    target)."""

    device: Vteam | LinearIonDrift = field(default_factory=lambda: VTEAM_CROSSBAR)
    """Dynamic memristor card of every cell: VTEAM (threshold) or linear ion drift (no
    threshold: every cell stays dynamic in every SPICE deck and the verify reads are real
    read pulses of the transient, in both worlds; v_pulse must then be given)."""
    scheme: str = "v2"
    """Half-select scheme: ``v2`` or ``v3`` (see :data:`SCHEMES`)."""
    v_pulse: float | None = None
    """Pulse amplitude across a selected cell [V] (``step='amplitude'``: the ladder's
    maximum); None = the scheme's default (:meth:`default_v_pulse`).  The half-select check
    (unselected cells below threshold) is made at this amplitude."""
    step: str = "width"
    """What grows along the ladder: ``'width'`` or ``'amplitude'`` (:data:`STEPS`)."""
    v_start: float | None = None
    """``step='amplitude'``: amplitude of the ladder's first rung [V]; None = 1.01x the
    smaller threshold (VTEAM; a card without threshold needs it given)."""
    v_step: float | None = None
    """``step='amplitude'``: amplitude increment per rung [V]; None = (v_pulse −
    v_start)/ladder, so the top rung is v_pulse."""
    w_amp: float = 5e-6
    """``step='amplitude'``: width (flat top) of every pulse [s]."""
    w0: float = 50e-9
    """Shortest pulse width (flat top) [s]."""
    growth: float = 2.0
    """Width ratio of successive ladder steps [1]."""
    ladder: int = 9
    """Number of ladder steps above w0 (longest width w0·growth^ladder) [1]."""
    edge: float = 10e-9
    """Rise and fall time of every line transition [s]."""
    sizing: str = "ladder"
    """How a pulse's rung is chosen.  ``'ladder'``: incremental-step (a cell's first pulse is
    ``w0``; see the class docstring).  ``'model'``: the same ladder rule, but no rung longer
    than the one the nominal card predicts for the read error, (k/D)(v/v_th − 1)^α·w ≤ |Δx|
    (so a cell far from its target skips the climb from ``w0`` and approaches it from one
    side).  The guess uses only the nominal card: a cell that differs (variation) is
    corrected by its verify reads like any other.  ``'adaptive'`` (width steps, threshold
    cards): every pulse is sized to land on the target — the shortest rung whose width
    reaches it at ``v_pulse`` and, set by the cell's column driver, the amplitude at which
    the card moves the cell exactly the read error in that width
    (:meth:`adaptive_pulses`), less the voltage the cell is learned to lose to the wires
    (:meth:`pulse_loss`, from its last pulse's observed Δx); the cells of a row that need
    one polarity share one phase whatever their amplitudes (:attr:`column_amplitudes`)."""
    max_pulses: int = 40
    """Pulse budget per cell [1]."""
    reverify: bool = False
    """Re-verify accepted cells: every iteration reads every programmed row (not only the
    pulsed ones), and an accepted cell read outside its tolerance is pulsed again while its
    budget lasts (for cards whose half-selected cells move: linear ion drift).  A cell
    counts as converged when its last read is within tolerance."""
    tolerance: float = 0.005
    """Verify tolerance as a fraction of the device's G range [1]."""
    v_read: float = 0.2
    """Verify read voltage [V] (VTEAM: below both thresholds, reads do not disturb; linear
    ion drift: every read moves the read row's cells, simulated in both worlds)."""
    t_read: float = 100e-9
    """Flat part of a verify read [s]."""
    x0: float = 1.0
    """Initial state of every cell [1] (VTEAM x = 1 is R_off: an array after a block reset)."""
    r_wire_row: float = 1.0
    """Row wire resistance per segment [ohm] (> 0)."""
    r_wire_col: float = 1.0
    """Column wire resistance per segment [ohm] (> 0)."""
    r_driver: float = 10.0
    """Output resistance of every line driver, row and column [ohm] (> 0)."""
    c_wire: float = 0.1e-15
    """Wire capacitance per segment, lumped at each cell node to ground [F] (SPICE only: the
    twin's solve is static; the RC constants are ps against ns edges)."""

    def __post_init__(self):
        if not isinstance(self.device, (Vteam, LinearIonDrift)):
            raise ConfigError(f"ProgramConfig.device must be a Vteam or LinearIonDrift card, "
                              f"got {type(self.device).__name__}")
        if not has_threshold(self.device):
            if self.v_pulse is None:
                raise ConfigError(
                    f"{type(self.device).__name__} has no threshold to size the pulse from "
                    "(dx/dt = mu_v·R_on/D²·i·f(x) at any voltage): give v_pulse [V] "
                    "explicitly (ProgramConfig(v_pulse=...) / --v-pulse)")
            if self.sizing in ("model", "adaptive"):
                raise ConfigError(
                    f"sizing {self.sizing!r} sizes pulses from the VTEAM rate law and has no "
                    f"equivalent for {type(self.device).__name__} yet; use sizing 'ladder'")
        if self.scheme not in PROGRAM_SCHEMES:
            raise ConfigError(f"ProgramConfig.scheme must be one of {PROGRAM_SCHEMES}, got "
                              f"{self.scheme!r}" + ("; the ground scheme writes every cell of "
                                                    "the selected row and serves only the "
                                                    "half-select probe" if self.scheme ==
                                                    "ground" else ""))
        if self.sizing not in SIZINGS:
            raise ConfigError(f"ProgramConfig.sizing must be one of {SIZINGS}, got "
                              f"{self.sizing!r}")
        if self.v_pulse is None:
            object.__setattr__(self, "v_pulse", self.default_v_pulse(self.device, self.scheme))
        require_positive("ProgramConfig.v_pulse", self.v_pulse, "[V]")
        for k in ("w0", "edge", "t_read", "r_wire_row", "r_wire_col", "r_driver", "v_read"):
            require_positive(f"ProgramConfig.{k}", getattr(self, k),
                             "(use a small value such as 1e-3 ohm for an ideal wire)"
                             if k.startswith("r_") else "")
        if require_finite("ProgramConfig.c_wire", self.c_wire) < 0:
            raise ConfigError("ProgramConfig.c_wire must be >= 0 [F]")
        if require_finite("ProgramConfig.growth", self.growth) < 1.0:
            raise ConfigError(f"ProgramConfig.growth must be >= 1, got {self.growth!r}")
        for k, lo in (("ladder", 0), ("max_pulses", 1)):
            v = getattr(self, k)
            if isinstance(v, bool) or int(v) != v or v < lo:
                raise ConfigError(f"ProgramConfig.{k} must be a whole number >= {lo}, got "
                                  f"{v!r}" + ("; give every cell at least one pulse "
                                              "(--max-pulses 1 or more)" if k == "max_pulses"
                                              else ""))
            object.__setattr__(self, k, int(v))
        tol = require_finite("ProgramConfig.tolerance", self.tolerance)
        if not 0 < tol < 0.5:
            raise ConfigError(f"ProgramConfig.tolerance must be in (0, 0.5) (fraction of the G "
                              f"range), got {tol!r}")
        if not 0.0 <= require_finite("ProgramConfig.x0", self.x0) <= 1.0:
            raise ConfigError(f"ProgramConfig.x0 must lie in [0, 1], got {self.x0!r}")
        self._check_step()
        if self.sizing == "adaptive" and self.step != "width":
            raise ConfigError("sizing 'adaptive' chooses each pulse's width from the ladder "
                              "and its amplitude itself; it cannot run on an amplitude "
                              "ladder: use step 'width' (or sizing 'model' with step "
                              "'amplitude')")
        if not isinstance(self.reverify, bool):
            raise ConfigError(f"ProgramConfig.reverify must be True or False, got "
                              f"{self.reverify!r}")
        if not has_threshold(self.device):
            return
        d = self.device
        v = self.v_pulse
        if v <= max(d.v_off, -d.v_on):
            raise ConfigError(f"ProgramConfig.v_pulse {v!r} V does not exceed the device "
                              f"thresholds (v_off {d.v_off!r} V, v_on {d.v_on!r} V): no cell "
                              "would switch; raise v_pulse")
        vh = half_select_voltage(self.scheme, v)
        if vh >= min(d.v_off, -d.v_on):
            raise ConfigError(
                f"scheme {self.scheme!r} at v_pulse {v!r} V puts {vh:.3g} V on the unselected "
                f"cells, at or above the device threshold ({min(d.v_off, -d.v_on)!r} V): the "
                "array cannot realise this scheme without writing the half-selected cells; "
                "lower v_pulse" + (" (the amplitude ladder's maximum)" if self.step ==
                                   "amplitude" else "") + " below "
                + ("2" if self.scheme == "v2" else "3")
                + "x the threshold" + (" or use scheme 'v3'" if self.scheme == "v2" else ""))
        if self.v_read >= min(d.v_off, -d.v_on):
            raise ConfigError(f"ProgramConfig.v_read {self.v_read!r} V is not below the "
                              "device thresholds: a verify read would write the cell; lower it")

    def _check_step(self) -> None:
        if self.step not in STEPS:
            raise ConfigError(f"ProgramConfig.step must be one of {STEPS}, got {self.step!r}")
        require_positive("ProgramConfig.w_amp", self.w_amp, "[s]")
        if self.step != "amplitude":
            return
        if self.v_start is None:
            if not has_threshold(self.device):
                raise ConfigError(
                    f"{type(self.device).__name__} has no threshold to start an amplitude "
                    "ladder from: give v_start [V] (ProgramConfig(v_start=...) / --v-start)")
            object.__setattr__(self, "v_start",
                               1.01 * min(self.device.v_off, -self.device.v_on))
        require_positive("ProgramConfig.v_start", self.v_start, "[V]")
        if self.v_start >= self.v_pulse:
            raise ConfigError(f"ProgramConfig.v_start {self.v_start!r} V is not below the "
                              f"amplitude ladder's maximum v_pulse {self.v_pulse!r} V; lower "
                              "v_start or raise v_pulse (within the half-select limit)")
        if self.ladder < 1:
            raise ConfigError("an amplitude ladder needs ladder >= 1 step above v_start")
        if self.v_step is None:
            object.__setattr__(self, "v_step", (self.v_pulse - self.v_start) / self.ladder)
        require_positive("ProgramConfig.v_step", self.v_step, "[V]")
        top = self.v_start + self.ladder * self.v_step
        if top > self.v_pulse * (1 + 1e-12):
            raise ConfigError(
                f"amplitude ladder top v_start + ladder·v_step = {top:.6g} V exceeds its "
                f"maximum v_pulse {self.v_pulse!r} V; lower v_step or ladder, or raise "
                "v_pulse (within the half-select limit)")

    @staticmethod
    def default_v_pulse(device: Vteam, scheme: str) -> float:
        """Pulse amplitude [V]: 0.9 of the largest the scheme keeps below threshold on its
        half-selected cells (2x or 3x the smaller threshold)."""
        th = min(device.v_off, -device.v_on)
        return 0.9 * {"v2": 2.0, "v3": 3.0}.get(scheme, 2.0) * th

    @property
    def reset_polarity(self) -> int:
        """The pulse polarity (:func:`scheme_levels`: +1 = +v row − column) that lowers G:
        +1 for VTEAM (positive voltage drives x to R_off), −1 for linear ion drift (positive
        current drives x to R_on)."""
        return 1 if isinstance(self.device, Vteam) else -1

    @property
    def has_threshold(self) -> bool:
        """False when every cell moves in every pulse and read (:func:`has_threshold`): the
        SPICE decks then keep every cell dynamic and read in the transient."""
        return has_threshold(self.device)

    @property
    def g_min(self) -> float:
        return 1.0 / self.device.r_off

    @property
    def g_max(self) -> float:
        return 1.0 / self.device.r_on

    @property
    def g_range(self) -> float:
        return self.g_max - self.g_min

    def state_of(self, g) -> np.ndarray:
        """The card's state x of conductances ``g`` [S] (clipped to the device window)."""
        d = self.device
        return d.state_for_resistance(np.clip(1.0 / np.maximum(np.asarray(g, dtype=float),
                                                               1e-15), d.r_on, d.r_off))

    def rate_law(self, up) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(k/D [1/s], threshold [V], α) of the nominal VTEAM card per cell: its RESET branch
        (x up, towards R_off) where ``up``, else its SET branch.  Away from the window a flat
        top of voltage v > threshold and width w moves x by (k/D)·(v/v_th − 1)^α·w."""
        d = self.device
        up = np.asarray(up, dtype=bool)
        return (np.where(up, d.k_off, -d.k_on) / d.d, np.where(up, d.v_off, -d.v_on),
                np.where(up, d.alpha_off, d.alpha_on))

    def model_rungs(self, g_read, targets) -> np.ndarray:
        """Longest ladder index whose pulse the nominal card predicts does not overshoot
        from read G to target [S] (flat top only; 0 where even ``w0`` would)."""
        g_read, targets = np.asarray(g_read, dtype=float), np.asarray(targets, dtype=float)
        dx = np.abs(self.state_of(targets) - self.state_of(g_read))
        up = g_read > targets  # RESET: x up, towards R_off
        k_over_d, v_th, alpha = self.rate_law(up)
        if self.step == "width":
            w_need = dx / (k_over_d * (self.v_pulse / v_th - 1.0) ** alpha)
            k = np.searchsorted(self.widths, w_need, side="right") - 1
            return np.clip(k, 0, self.ladder)
        # amplitude ladder: the predicted Δx of every rung, the last that does not overshoot
        amp, w = self.amplitudes, self.widths
        pred = k_over_d[..., None] * np.maximum(amp / v_th[..., None] - 1.0, 0.0) \
            ** alpha[..., None] * w
        k = np.sum(pred <= dx[..., None], axis=-1) - 1
        return np.clip(k, 0, self.ladder)

    def adaptive_pulses(self, g_read, targets, loss) -> tuple[np.ndarray, np.ndarray]:
        """Sizing ``'adaptive'``: (rung index, amplitude [V]) of the pulse that moves each cell
        from its read G to its target [S] by the nominal card's flat-top law, for a cell that
        loses ``loss`` [V] of the applied amplitude (:meth:`pulse_loss`; 0 = ideal wires):
        the shortest rung whose width reaches the target at ``v_pulse``, then the amplitude
        that gives the read error in that width (never above ``v_pulse``, never below the
        threshold plus the loss where the loss is positive, the threshold where it is not)."""
        g_read, targets = np.asarray(g_read, dtype=float), np.asarray(targets, dtype=float)
        loss = np.asarray(loss, dtype=float)
        dx = np.abs(self.state_of(targets) - self.state_of(g_read))
        k_over_d, v_th, alpha = self.rate_law(g_read > targets)
        full = k_over_d * np.maximum((self.v_pulse - loss) / v_th - 1.0, 1e-9) ** alpha
        w = self.widths
        k = np.clip(np.searchsorted(w, dx / full, side="left"), 0, self.ladder)
        amp = loss + v_th * (1.0 + (dx / (k_over_d * w[k])) ** (1.0 / alpha))
        return k, np.clip(amp, np.minimum(v_th + np.maximum(loss, 0.0), self.v_pulse),
                          self.v_pulse)

    def pulse_loss(self, dx, up, amplitude, width) -> np.ndarray:
        """Sizing ``'adaptive'``: the voltage [V] a cell did not see of a pulse of
        ``amplitude`` [V] and flat top ``width`` [s] that moved it by ``dx`` (``up``: RESET):
        the amplitude less the flat-top voltage at which the nominal card gives that Δx (the
        wires' IR drop, the edges and the cell's own variation folded into one number), kept
        within [−½, 0.9]·(v_pulse − threshold)."""
        k_over_d, v_th, alpha = self.rate_law(up)
        v_eff = v_th * (1.0 + (np.abs(np.asarray(dx, dtype=float))
                               / (k_over_d * np.asarray(width, dtype=float))) ** (1.0 / alpha))
        room = self.v_pulse - v_th
        return np.clip(np.asarray(amplitude, dtype=float) - v_eff, -0.5 * room, 0.9 * room)

    @property
    def column_amplitudes(self) -> bool:
        """True when each selected cell's amplitude is set by its own column driver within
        one phase per row and polarity (sizing ``'adaptive'``); otherwise a phase has one
        amplitude (:func:`~circuitsim.program.schedule.build_iteration`)."""
        return self.sizing == "adaptive"

    @property
    def target_window(self) -> tuple[float, float]:
        """Conductance window [S] that weights are mapped into for programming: the device
        card's [1/R_off, 1/R_on] less the verify tolerance at each end (so a target's whole
        tolerance band is reachable).  The one place the programming window is written:
        :func:`circuitsim.program.layer_targets` and ``circuitsim program`` read it."""
        margin = self.tolerance * self.g_range
        return self.g_min + margin, self.g_max - margin

    @property
    def widths(self) -> np.ndarray:
        """Pulse width of every rung [s]: the width ladder ``w0·growth^k``, or ``w_amp`` at
        every rung of an amplitude ladder."""
        if self.step == "amplitude":
            return np.full(self.ladder + 1, float(self.w_amp))
        return self.w0 * self.growth ** np.arange(self.ladder + 1)

    @property
    def amplitudes(self) -> np.ndarray:
        """Pulse amplitude of every rung [V]: ``v_pulse`` at every rung of a width ladder, or
        ``v_start + k·v_step`` (ISPP)."""
        if self.step == "amplitude":
            return self.v_start + self.v_step * np.arange(self.ladder + 1)
        return np.full(self.ladder + 1, float(self.v_pulse))

    def check_targets(self, targets) -> np.ndarray:
        """Targets [S] as a (rows, cols) float array; NaN marks a cell left unprogrammed.
        :class:`ConfigError` for a target outside the device window (with the tolerance's
        room at each end)."""
        try:
            g = np.array(targets, dtype=float)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"targets must be a (rows, cols) array of conductances [S]: "
                              f"{exc}") from None
        if g.ndim != 2 or min(g.shape) < 1:
            raise ConfigError(f"targets must be 2-D (rows, cols), got shape {g.shape}")
        if np.isinf(g).any():
            raise ConfigError("targets must be finite (NaN = leave the cell unprogrammed)")
        lo, hi = self.g_min, self.g_max
        bad = np.isfinite(g) & ((g < lo) | (g > hi))
        if bad.any():
            i, j = (int(a) for a in np.argwhere(bad)[0])
            raise ConfigError(f"target G[{i}, {j}] = {g[i, j]!r} S lies outside the device "
                              f"window [{lo:.6g}, {hi:.6g}] S of {type(self.device).__name__} "
                              f"(R {self.device.r_on:g}-{self.device.r_off:g} ohm); map the "
                              "weights with MappingConfig(g_min, g_max) inside this window")
        return g

    def replace(self, **changes) -> ProgramConfig:
        return replace(self, **changes)

    def to_dict(self) -> dict:
        from dataclasses import asdict

        d = asdict(self)
        d["device"] = {"kind": type(self.device).__name__, **asdict(self.device)}
        return d


__all__ = ["LID_CROSSBAR", "PROGRAM_SCHEMES", "ProgramConfig", "SCHEMES", "SIZINGS", "STEPS",
           "half_select_voltage", "has_threshold", "scheme_levels"]
