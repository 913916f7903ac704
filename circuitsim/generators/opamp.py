"""Op-amp macro models (ideal VCVS, single pole, saturating) and their DC twin.

One card, :class:`OpAmpCard`, feeds both the SPICE elements (:func:`opamp_elements`) and the
Python closed-loop solver (:meth:`OpAmpCard.solve`), so the two cannot drift apart.

Macro models (``vd = v(inp) + v_offset - v(inn)``):

* ``ideal``: ``E out 0 = a0 * vd`` (a VCVS; zero output resistance, no poles).
* ``single_pole``: a VCCS ``gm * vd`` into ``R1 || C1`` with ``gm * R1 = a0`` and the pole at
  ``gbw / a0``, buffered to the output by a unity VCVS.  At DC identical to ``ideal``.
* ``saturating``: the same internal node (with or without the pole), then a smooth rail clamp
  ``out = m + h * tanh((n1 - m) / h)``, ``m = (v_pos + v_neg) / 2``, ``h = (v_pos - v_neg) / 2``.
  Near mid-rail the gain is ``a0``; it falls smoothly to zero at the rails.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..circuit import BSource, Capacitor, Resistor, Vccs, Vcvs, VoltageSource
from ..errors import ConfigError
from ..units import require_finite, require_positive

OPAMP_KINDS = ("ideal", "single_pole", "saturating")

PRECISE_DC = {"reltol": 1e-6, "vntol": 1e-9, "abstol": 1e-15}
"""Tight Newton tolerances for decks that are compared with a twin at the µV level (the
saturating op-amp's tanh otherwise stops at ngspice's default reltol 1e-3 of its large
internal node)."""

_GM_INTERNAL = 1e-3
"""Transconductance of the single-pole macro model's input stage [S] (R1 = a0 / gm)."""


@dataclass(frozen=True)
class OpAmpCard:
    """Op-amp macro model parameters (see the module docstring for the three kinds)."""

    kind: str = "ideal"
    """Macro model: ``'ideal'`` (VCVS), ``'single_pole'`` (finite GBW) or ``'saturating'``
    (rails, optionally with the pole)."""
    a0: float = 1e5
    """Open-loop DC gain [V/V]."""
    gbw: float | None = None
    """Gain-bandwidth product [Hz]; required for ``single_pole``, optional for
    ``saturating``, not allowed for ``ideal``."""
    v_pos: float = 2.5
    """Positive rail [V] (``saturating`` only)."""
    v_neg: float = -2.5
    """Negative rail [V] (``saturating`` only)."""
    v_offset: float = 0.0
    """Input offset voltage [V], added to the non-inverting input."""

    def __post_init__(self):
        if self.kind not in OPAMP_KINDS:
            raise ConfigError(f"OpAmpCard.kind must be one of {OPAMP_KINDS}, got {self.kind!r}")
        require_positive("OpAmpCard.a0", self.a0, "[V/V]")
        require_finite("OpAmpCard.v_offset", self.v_offset)
        require_finite("OpAmpCard.v_pos", self.v_pos)
        require_finite("OpAmpCard.v_neg", self.v_neg)
        if self.kind == "single_pole" and self.gbw is None:
            raise ConfigError("OpAmpCard(kind='single_pole') needs gbw [Hz], e.g. gbw=10e6")
        if self.kind == "ideal" and self.gbw is not None:
            raise ConfigError("OpAmpCard(kind='ideal') has no pole: drop gbw or use "
                              "kind='single_pole'")
        if self.gbw is not None:
            require_positive("OpAmpCard.gbw", self.gbw, "[Hz]")
            if self.gbw / self.a0 <= 0 or not math.isfinite(self.gbw / self.a0):
                raise ConfigError("OpAmpCard: gbw / a0 (the open-loop pole) must be finite")
        if self.kind == "saturating" and not self.v_pos > self.v_neg:
            raise ConfigError(f"OpAmpCard: v_pos ({self.v_pos}) must be above v_neg "
                              f"({self.v_neg}) for kind='saturating'")

    @property
    def saturates(self) -> bool:
        return self.kind == "saturating"

    def clamp(self, y):
        """The output stage: identity, or the tanh rail clamp of ``saturating`` [V]."""
        y = np.asarray(y, dtype=float)
        if not self.saturates:
            return y
        m, h = 0.5 * (self.v_pos + self.v_neg), 0.5 * (self.v_pos - self.v_neg)
        return m + h * np.tanh((y - m) / h)

    def output(self, v_plus, v_minus):
        """Open-loop DC output [V] for input voltages [V]."""
        vd = np.asarray(v_plus, dtype=float) + self.v_offset - np.asarray(v_minus, dtype=float)
        return self.clamp(self.a0 * vd)

    def solve(self, s, beta):
        """DC output of the op-amp in a loop where ``v(inp) - v(inn) = s - beta * out``
        (``beta`` ≥ 0 the feedback fraction, ``s`` the rest, offset NOT included: it is added
        here).  Exact for the linear kinds; for ``saturating`` the monotone scalar equation
        ``out = clamp(a0 * (s + v_offset - beta * out))`` is solved by bisection to 1e-15 V."""
        s = np.asarray(s, dtype=float) + self.v_offset
        beta = np.broadcast_to(np.asarray(beta, dtype=float), s.shape)
        if not self.saturates:
            return self.a0 * s / (1.0 + self.a0 * beta)
        lo = np.full(s.shape, float(self.v_neg))
        hi = np.full(s.shape, float(self.v_pos))
        for _ in range(80):
            mid = 0.5 * (lo + hi)
            g = mid - self.clamp(self.a0 * (s - beta * mid))
            up = g > 0
            hi = np.where(up, mid, hi)
            lo = np.where(up, lo, mid)
        return 0.5 * (lo + hi)


def opamp_elements(card: OpAmpCard, prefix: str, inp: str, inn: str, out: str) -> list:
    """The macro model as elements named ``<letter><prefix>...`` with internal nodes
    ``<prefix>_...``; output referred to ground."""
    els: list = []
    ip = inp
    if card.v_offset != 0.0:
        ip = f"{prefix}_ip"
        els.append(VoltageSource(f"V{prefix}_os", ip, inp, dc=card.v_offset,
                                 comment=f"{prefix}: input offset {card.v_offset:g} V"))
    if card.kind == "ideal":
        els.append(Vcvs(f"E{prefix}", out, "0", ip, inn, card.a0))
        return els
    n1 = f"{prefix}_n1"
    if card.gbw is not None:
        r1 = card.a0 / _GM_INTERNAL
        c1 = 1.0 / (2.0 * math.pi * (card.gbw / card.a0) * r1)
        els += [Vccs(f"G{prefix}", "0", n1, ip, inn, _GM_INTERNAL,
                     comment=f"{prefix}: single pole at {card.gbw / card.a0:g} Hz, "
                             f"GBW {card.gbw:g} Hz"),
                Resistor(f"R{prefix}_p", n1, "0", r1), Capacitor(f"C{prefix}_p", n1, "0", c1)]
    else:
        els.append(Vcvs(f"E{prefix}_n1", n1, "0", ip, inn, card.a0))
    if card.saturates:
        m, h = 0.5 * (card.v_pos + card.v_neg), 0.5 * (card.v_pos - card.v_neg)
        from ..units import spice_number as sn

        els.append(BSource(f"B{prefix}", out, "0",
                           f"{sn(m)}+{sn(h)}*tanh((v({n1})-{sn(m)})/{sn(h)})",
                           comment=f"{prefix}: rails {card.v_neg:g} .. {card.v_pos:g} V "
                                   "(tanh clamp)"))
    else:
        els.append(Vcvs(f"E{prefix}", out, "0", n1, "0", 1.0))
    return els
