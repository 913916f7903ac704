"""Access transistor card: ngspice level-1 (Shichman-Hodges) NMOS, and its Python twin.

The same card writes the ``.model`` line (:meth:`Nmos1Card.model`) and evaluates the same
equations in numpy (:meth:`Nmos1Card.drain_current`), so SPICE and the behavioral engine
cannot drift apart.  Values default to the 0.18 µm-style access device of
``../shared/DESIGN.md`` §3 (VTO 0.45 V, KP 200 µA/V², W/L 0.36/0.18 µm), measured there to give
G_eff 55/84/92 µS for a 10 kΩ cell at V_WL 0.8/1.8/3.3 V.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..circuit.elements import Model
from ..errors import ConfigError
from ..units import require_finite, require_nonnegative, require_positive


@dataclass(frozen=True)
class Nmos1Card:
    """Level-1 NMOS with bulk tied to source (no body effect, junction currents off)."""

    vto: float = 0.45
    """Threshold voltage [V]."""
    kp: float = 200e-6
    """Transconductance parameter µn·Cox [A/V²]."""
    w: float = 0.36e-6
    """Channel width [m]."""
    l: float = 0.18e-6
    """Channel length [m]."""
    lambda_: float = 0.0
    """Channel-length modulation [1/V]."""

    def __post_init__(self):
        require_finite("Nmos1Card.vto", self.vto)
        require_positive("Nmos1Card.kp", self.kp, "[A/V^2]")
        require_positive("Nmos1Card.w", self.w, "[m]")
        require_positive("Nmos1Card.l", self.l, "[m]")
        require_nonnegative("Nmos1Card.lambda_", self.lambda_, "[1/V]")

    @property
    def beta(self) -> float:
        """KP·W/L [A/V²]."""
        return self.kp * self.w / self.l

    def model(self, name: str = "nacc") -> Model:
        """The ``.model`` card.  Junction saturation current is 0 so the bulk diodes carry no
        current (the twin has none either)."""
        return Model(name, "nmos", {"level": 1, "vto": self.vto, "kp": self.kp,
                                    "lambda": self.lambda_, "is": 0.0})

    def drain_current(self, vgs, vds):
        """Drain current [A] for gate-source and drain-source voltages (numpy arrays).

        Symmetric device: for vds < 0 source and drain swap roles (as in ngspice).  Returns
        ``(id, gm, gds)``: the current and its derivatives d id/d vgs, d id/d vds (with the
        swap folded in), for Newton solvers."""
        vgs, vds = np.broadcast_arrays(np.asarray(vgs, dtype=float), np.asarray(vds, dtype=float))
        return self.level1(vgs, vds, np)

    def level1(self, vgs, vds, xp):
        """The level-1 equations on same-shape arrays of the array module ``xp`` (numpy or
        torch): the one text of them that both behavioral backends call."""
        rev = vds < 0
        vgs_e = xp.where(rev, vgs - vds, vgs)  # effective gate-source w.r.t. the lower node
        vds_e = abs(vds)
        vov = vgs_e - self.vto
        lam = 1.0 + self.lambda_ * vds_e
        b = self.beta
        on = vov > 0
        sat = on & (vds_e >= vov)
        lin = on & ~sat
        zero = xp.zeros_like(vds_e)
        i = xp.where(sat, 0.5 * b * vov**2 * lam, zero)
        g_ov = xp.where(sat, b * vov * lam, zero)  # d i / d vov
        g_ds = xp.where(sat, 0.5 * b * vov**2 * self.lambda_, zero)  # d i / d vds_e, vov fixed
        i = xp.where(lin, b * (vov - 0.5 * vds_e) * vds_e * lam, i)
        g_ov = xp.where(lin, b * vds_e * lam, g_ov)
        g_ds = xp.where(lin, b * (vov - vds_e) * lam + b * (vov - 0.5 * vds_e) * vds_e
                        * self.lambda_, g_ds)
        # back to the terminal frame: forward: i(vgs, vds); reverse: -i(vgd, -vds)
        current = xp.where(rev, -i, i)
        gm = xp.where(rev, -g_ov, g_ov)
        # forward: d/dvds = g_ds; reverse: vgs_e = vgs - vds, vds_e = -vds
        gds = xp.where(rev, g_ov + g_ds, g_ds)
        return current, gm, gds

    def on_resistance(self, v_gs: float) -> float:
        """Small-signal channel resistance at vds→0 [ohm] (inf when off)."""
        vov = v_gs - self.vto
        return float("inf") if vov <= 0 else 1.0 / (self.beta * vov)


V_WORDLINE_MAX = 5.0
"""Highest word-line (gate) voltage [V] accepted: above the 3.3 V of 0.18 um I/O devices with
margin; beyond it the gate oxide breaks down."""


@dataclass(frozen=True)
class AccessTransistor:
    """A 1T1R access device: the NMOS card plus the word-line (gate) voltage."""

    nmos: Nmos1Card = Nmos1Card()
    """The transistor card."""
    v_wordline: float = 1.8
    """Gate voltage on the word line [V]."""

    def __post_init__(self):
        require_finite("AccessTransistor.v_wordline", self.v_wordline)
        if not 0 < self.v_wordline <= V_WORDLINE_MAX:
            raise ConfigError(
                f"AccessTransistor.v_wordline {self.v_wordline!r} V: a word line drives an NMOS "
                f"gate, so it must be above 0 V (the cells are off otherwise) and at most "
                f"{V_WORDLINE_MAX} V (gate-oxide limit of 0.18 um devices: 1.8 V core, 3.3 V "
                "I/O); e.g. 1.8 V")


ACCESS_018UM = AccessTransistor(Nmos1Card(), 1.8)
"""Default access device: level-1, VTO 0.45 V, KP 200 µA/V², W/L 0.36/0.18 µm, V_WL 1.8 V
(../shared/DESIGN.md §3, values tested there in ngspice 39.3)."""
