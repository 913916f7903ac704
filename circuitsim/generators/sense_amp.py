"""Sense amplifiers: the transimpedance amplifier (TIA) and the differential stage that turns
the currents of a G+/G- column pair into one voltage, with their DC twins.

Sign conventions: a current ``i`` [A] *enters* the input node (as a crossbar column current
does when its rows sit above the virtual ground).  A TIA answers ``v_out ≈ -r_f * i``.

The differential stage (:func:`diff_sense_subckt`) is three op-amps::

    ip ─┬─ TIA+ (r_a) ── vp ── r1 ──┬── r2 ── out          out = (r2/r1)·r_a·(i_p - i_n)
        │                          (−)diff amp
    in ─┴─ TIA- (r_a) ── vn ── r1 ──┴(+)── r2 ── 0

Each column sees its own TIA, so (for the linear op-amp kinds, no offset) a column end looks
into a plain resistance ``r_a / (1 + a0)`` to ground: :meth:`DiffSenseCard.r_in`.  The network
twin adds that resistance to the crossbar's sense resistance, which makes the finite-gain
virtual-ground error exact.  ``r_a`` keeps each single-column TIA inside its swing; the
difference amplifier supplies the rest of the gain.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..circuit import Resistor, Subcircuit
from ..units import require_positive
from .opamp import OpAmpCard, opamp_elements, opamp_models


@dataclass(frozen=True)
class TiaCard:
    """Transimpedance amplifier: op-amp with feedback resistor ``r_f``, non-inverting input
    grounded."""

    r_f: float = 10e3
    """Feedback resistance [ohm] (the transimpedance, V/A)."""
    opamp: OpAmpCard = field(default_factory=OpAmpCard)
    """The op-amp macro model."""

    def __post_init__(self):
        require_positive("TiaCard.r_f", self.r_f, "[ohm]")

    @property
    def r_in(self) -> float:
        """Small-signal input resistance of the virtual ground [ohm] (linear kinds: exact)."""
        return self.r_f / (1.0 + self.opamp.a0)

    def transfer(self, i_in):
        """DC output voltage [V] for an input current [A] (exact for every op-amp kind):
        ``v_n = out + i·r_f``, ``out = A(0 - v_n)``."""
        i_in = np.asarray(i_in, dtype=float)
        return self.opamp.solve(-i_in * self.r_f, 1.0)

    def input_voltage(self, i_in):
        """DC voltage of the input node (the virtual-ground error) [V]."""
        i_in = np.asarray(i_in, dtype=float)
        return self.transfer(i_in) + i_in * self.r_f


def tia_subckt(card: TiaCard, name: str = "tia") -> Subcircuit:
    """Ports ``(iin, out)``: current into ``iin``, voltage at ``out``."""
    els = [Resistor("Rf", "iin", "out", card.r_f, comment=f"feedback {card.r_f:g} ohm")]
    els += opamp_elements(card.opamp, "oa", "0", "iin", "out")
    return Subcircuit(name, ("iin", "out"), els, models=opamp_models(card.opamp),
                      comment=f"TIA: op-amp {card.opamp.kind} (a0={card.opamp.a0:g}), "
                              f"r_f={card.r_f:g} ohm; out = -r_f * i(iin)")


@dataclass(frozen=True)
class DiffSenseCard:
    """Differential sense stage: two column TIAs (feedback ``r_a``) and a difference amplifier
    (``r1``/``r2``); total transimpedance ``r_a·r2/r1`` [V/A] from ``i_p - i_n``."""

    r_a: float = 1e3
    """Feedback resistance of each column TIA [ohm]; sets the single-column swing."""
    r1: float = 10e3
    """Difference-amplifier input resistors [ohm]."""
    r2: float = 10e3
    """Difference-amplifier feedback / ground resistors [ohm]; gain r2/r1."""
    opamp: OpAmpCard = field(default_factory=OpAmpCard)
    """The op-amp macro model (the same for all three op-amps)."""

    def __post_init__(self):
        require_positive("DiffSenseCard.r_a", self.r_a, "[ohm]")
        require_positive("DiffSenseCard.r1", self.r1, "[ohm]")
        require_positive("DiffSenseCard.r2", self.r2, "[ohm]")

    @property
    def transimpedance(self) -> float:
        """Ideal (infinite-gain) output per unit of ``i_p - i_n`` [V/A]."""
        return self.r_a * self.r2 / self.r1

    @property
    def column_tia(self) -> TiaCard:
        return TiaCard(self.r_a, self.opamp)

    @property
    def r_in(self) -> float:
        """Input resistance seen by each column [ohm] (linear op-amp kinds: exact)."""
        return self.column_tia.r_in

    def transfer(self, i_p, i_n):
        """DC output [V] for the two column currents [A] (exact for every op-amp kind)."""
        tia = self.column_tia
        vp, vn = tia.transfer(i_p), tia.transfer(i_n)
        k = self.r2 / (self.r1 + self.r2)
        return self.opamp.solve(k * (vn - vp), self.r1 / (self.r1 + self.r2))

    def stage_voltages(self, i_p, i_n) -> dict:
        """All DC node voltages [V]: ``vp``, ``vn`` (TIA outputs), ``ip``, ``in`` (the two
        virtual grounds) and ``out``."""
        tia = self.column_tia
        return {"vp": tia.transfer(i_p), "vn": tia.transfer(i_n),
                "ip": tia.input_voltage(i_p), "in": tia.input_voltage(i_n),
                "out": self.transfer(i_p, i_n)}


def diff_sense_subckt(card: DiffSenseCard, name: str = "diffsense") -> Subcircuit:
    """Ports ``(ip, in, out)``: the G+ column current into ``ip``, the G- column current into
    ``in``; ``out = r_a·r2/r1·(i_p - i_n)``."""
    els = [Resistor("Rap", "ip", "vp", card.r_a, comment="TIA of the G+ column"),
           *opamp_elements(card.opamp, "oap", "0", "ip", "vp"),
           Resistor("Ran", "in", "vn", card.r_a, comment="TIA of the G- column"),
           *opamp_elements(card.opamp, "oan", "0", "in", "vn"),
           Resistor("Rd1", "vp", "dm", card.r1, comment="difference amplifier: out = "
                    "(r2/r1)(vn - vp)"),
           Resistor("Rd2", "dm", "out", card.r2),
           Resistor("Rd3", "vn", "dp", card.r1),
           Resistor("Rd4", "dp", "0", card.r2),
           *opamp_elements(card.opamp, "oad", "dp", "dm", "out")]
    return Subcircuit(name, ("ip", "in", "out"), els, models=opamp_models(card.opamp),
                      comment=f"differential sense stage: op-amps {card.opamp.kind} "
                              f"(a0={card.opamp.a0:g}); out = {card.transimpedance:g} V/A "
                              "* (i(ip) - i(in))")
