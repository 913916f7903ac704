"""Op-amp macro models (ideal VCVS, single pole, saturating) and their DC twin.

One card, :class:`OpAmpCard`, feeds both the SPICE elements (:func:`opamp_elements`) and the
Python closed-loop solver (:meth:`OpAmpCard.solve`), so the two cannot drift apart.

Macro models (``vd = v(inp) + v_offset - v(inn)``):

* ``ideal``: ``E out 0 = a0 * vd`` (a VCVS; zero output resistance, no poles).
* ``single_pole``: a VCCS ``gm * vd`` into ``R1 || C1`` (node ``n1``) with ``gm * R1 = a0`` and
  the pole at ``gbw / a0``, buffered to the output by a unity VCVS.  At DC identical to
  ``ideal``.
* ``saturating``: the same ``gm``/``R1`` stage (with ``C1`` when ``gbw`` is given) whose node
  ``n1`` is clamped by two diodes to ``v_pos - 0.6 V`` and ``v_neg + 0.6 V`` (so the output
  saturates near the rails, softly: a diode drop that grows with the overdrive), then the unity
  buffer.  Diode clamps rather than a ``tanh`` output stage: with a ``tanh``, Newton iterates
  that overshoot into saturation see zero gain and stall (gmin stepping at every large input
  step, measured ~240 iterations instead of ~11 per operating point); ngspice limits the
  diode junction steps, so the clamped model converges like the linear one.

The twin solves the same DC equations: ``gm·vd = n1/R1 + i_D(n1 - v_hi) - i_D(v_lo - n1)``
with ngspice's diode law (including its gmin conductance and reverse-bias form).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..circuit import Capacitor, Model, RawLine, Resistor, Vccs, Vcvs, VoltageSource
from ..errors import ConfigError
from ..units import require_finite, require_positive

OPAMP_KINDS = ("ideal", "single_pole", "saturating")

PRECISE_DC = {"reltol": 1e-9, "vntol": 1e-12, "abstol": 1e-15}
"""Tight Newton tolerances for decks that are compared with a twin at the µV level (ngspice's
default reltol 1e-3 stops the Newton iteration ~1e-3 relative from the solution on nodes such
as the op-amp's internal node)."""

_GM_INTERNAL = 1e-3
"""Transconductance of the macro models' input stage [S] (R1 = a0 / gm)."""

CLAMP_OFFSET = 0.6
"""The clamp diodes of ``saturating`` sit this far inside the rails [V]; one diode drop
(≈ 0.6-0.75 V with ``CLAMP_IS``) brings the output back to about the rail."""

CLAMP_IS = 1e-14
"""Saturation current of the clamp diodes [A] (emission coefficient 1)."""

_GMIN = 1e-12
"""ngspice's default gmin [S], which it puts across every diode junction."""

_VT_27C = 1.38064852e-23 * 300.15 / 1.6021766208e-19
"""kT/q at 27 °C with ngspice's constants [V]."""


def diode_current(v):
    """ngspice's junction current [A] of the clamp diode (n = 1, rs = 0) at voltage ``v`` [V],
    including the gmin conductance ngspice adds in parallel."""
    v = np.asarray(v, dtype=float)
    vt = _VT_27C
    fwd = CLAMP_IS * (np.exp(np.minimum(v, 2.0) / vt) - 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        arg = (3.0 * vt / (np.e * np.where(v < 0, v, -1.0))) ** 3
    rev = -CLAMP_IS * (1.0 + arg)
    return np.where(v >= -3.0 * vt, fwd, rev) + _GMIN * v


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

    @property
    def clamp_levels(self) -> tuple[float, float]:
        """(v_lo, v_hi): where the clamp diodes of ``saturating`` are tied [V]."""
        return self.v_neg + CLAMP_OFFSET, self.v_pos - CLAMP_OFFSET

    def stage_residual(self, n1, vd):
        """KCL at the internal node of ``saturating`` [A]: current in minus current out, for
        ``n1`` [V] and the differential input ``vd`` [V] (offset included by the caller);
        strictly decreasing in ``n1``."""
        lo, hi = self.clamp_levels
        r1 = self.a0 / _GM_INTERNAL
        return (_GM_INTERNAL * vd - n1 / r1 - diode_current(n1 - hi)
                + diode_current(lo - n1))

    def output(self, v_plus, v_minus):
        """Open-loop DC output [V] for input voltages [V]."""
        vd = np.asarray(v_plus, dtype=float) - np.asarray(v_minus, dtype=float)
        return self.solve(vd, 0.0)

    def solve(self, s, beta):
        """DC output of the op-amp in a loop where ``v(inp) - v(inn) = s - beta * out``
        (``beta`` ≥ 0 the feedback fraction, ``s`` the rest, offset NOT included: it is added
        here).  Exact for the linear kinds; for ``saturating`` the monotone KCL equation of
        the clamped internal node (:meth:`stage_residual` with ``vd = s + v_offset - beta·out``,
        ``out = n1``) is solved by bisection to ~1e-15 V."""
        s = np.asarray(s, dtype=float) + self.v_offset
        beta = np.broadcast_to(np.asarray(beta, dtype=float), s.shape)
        if not self.saturates:
            return self.a0 * s / (1.0 + self.a0 * beta)
        v_lo, v_hi = self.clamp_levels
        lo = np.full(s.shape, v_lo - 1.5)
        hi = np.full(s.shape, v_hi + 1.5)
        for _ in range(100):
            mid = 0.5 * (lo + hi)
            down = self.stage_residual(mid, s - beta * mid) < 0
            hi = np.where(down, mid, hi)
            lo = np.where(down, lo, mid)
        return 0.5 * (lo + hi)


def opamp_models(card: OpAmpCard) -> tuple:
    """The ``.model`` cards the macro model needs (the clamp diode of ``saturating``)."""
    if not card.saturates:
        return ()
    return (Model(CLAMP_MODEL, "d", {"is": CLAMP_IS, "n": 1.0}),)


CLAMP_MODEL = "dclamp"
"""Name of the clamp diode model inside subcircuits with saturating op-amps."""


def opamp_elements(card: OpAmpCard, prefix: str, inp: str, inn: str, out: str) -> list:
    """The macro model as elements named ``<letter><prefix>...`` with internal nodes
    ``<prefix>_...``; output referred to ground.  A subcircuit using it must also carry
    :func:`opamp_models`."""
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
    r1 = card.a0 / _GM_INTERNAL
    els += [Vccs(f"G{prefix}", "0", n1, ip, inn, _GM_INTERNAL,
                 comment=f"{prefix}: gain stage, a0 = {card.a0:g}"),
            Resistor(f"R{prefix}_p", n1, "0", r1)]
    if card.gbw is not None:
        c1 = 1.0 / (2.0 * math.pi * (card.gbw / card.a0) * r1)
        els.append(Capacitor(f"C{prefix}_p", n1, "0", c1,
                             comment=f"{prefix}: single pole at {card.gbw / card.a0:g} Hz, "
                                     f"GBW {card.gbw:g} Hz"))
    if card.saturates:
        lo, hi = card.clamp_levels
        els += [RawLine(f"D{prefix}_hi", f"D{prefix}_hi {n1} {prefix}_vhi {CLAMP_MODEL}",
                        (n1, f"{prefix}_vhi"),
                        comment=f"{prefix}: rails {card.v_neg:g} .. {card.v_pos:g} V "
                                "(diode clamps)"),
                VoltageSource(f"V{prefix}_hi", f"{prefix}_vhi", "0", dc=hi),
                RawLine(f"D{prefix}_lo", f"D{prefix}_lo {prefix}_vlo {n1} {CLAMP_MODEL}",
                        (f"{prefix}_vlo", n1)),
                VoltageSource(f"V{prefix}_lo", f"{prefix}_vlo", "0", dc=lo)]
    els.append(Vcvs(f"E{prefix}", out, "0", n1, "0", 1.0))
    return els
