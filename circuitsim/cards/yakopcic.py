"""Yakopcic memristor card: one frozen dataclass, written to SPICE both as a B-source
subcircuit (:meth:`Yakopcic.subckt`) and as the Verilog-A module ``circuitsim/models/
yakopcic.va`` (:meth:`Yakopcic.verilog_a`) with the same parameter names; the twin is the one
characterised from SPICE (:mod:`circuitsim.devices.characterise`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import ClassVar

from ..circuit import BSource, Capacitor, Instance, Resistor, Subcircuit
from ..errors import ConfigError
from ..units import require_finite, require_positive
from ..units import spice_number as _n


@dataclass(frozen=True)
class Yakopcic:
    """Yakopcic, Taha, Subramanyam, Pino, Rogers, IEEE EDL 32 (2011) 1436: I = a·x·sinh(b·V),
    dx/dt = η·g(V)·f(x) with thresholded exponential g and the x_p / x_n windows f (equations in
    ``circuitsim/models/yakopcic.va``).  State x in [0, 1]; x = 1 is the most conductive.
    Defaults are :data:`YAKOPCIC_KNOWM`."""

    a1: float = 0.17
    """Current scale for V >= 0 [A]."""
    a2: float = 0.17
    """Current scale for V < 0 [A]."""
    b: float = 0.05
    """sinh slope [1/V]."""
    vp: float = 0.65
    """Positive switching threshold [V]."""
    vn: float = 0.56
    """Negative switching threshold magnitude [V]."""
    ap: float = 4000.0
    """Positive rate magnitude [1/s]."""
    an: float = 4000.0
    """Negative rate magnitude [1/s]."""
    xp: float = 0.3
    """State where the positive window starts [1]."""
    xn: float = 0.5
    """1 - state where the negative window starts [1]."""
    alphap: float = 1.0
    """Positive window decay [1]."""
    alphan: float = 5.0
    """Negative window decay [1]."""
    eta: float = 1.0
    """Direction of motion (+1: positive V raises x) [1]."""

    subckt_name: ClassVar[str] = "yakopcic"
    default_x0: ClassVar[float] = 0.11

    def __post_init__(self):
        for k in ("a1", "a2", "b", "vp", "vn", "ap", "an", "alphap", "alphan"):
            require_positive(f"Yakopcic.{k}", getattr(self, k))
        for k in ("xp", "xn"):
            if not 0.0 < require_finite(f"Yakopcic.{k}", getattr(self, k)) < 1.0:
                raise ConfigError(f"Yakopcic.{k} must lie in (0, 1), got {getattr(self, k)!r}")
        if self.eta not in (1.0, -1.0):
            raise ConfigError(f"Yakopcic.eta must be +1 or -1, got {self.eta!r}")

    def params(self) -> dict[str, float]:
        """Parameter values by their Verilog-A names (everything but x0)."""
        return {k: float(v) for k, v in asdict(self).items()}

    def subckt(self) -> Subcircuit:
        """The B-source version: state on a 1 F capacitor at node ``x`` (``v(<inst>.x)``),
        held at x0 through the operating point ((time>0) gate, 1e12 ohm tie), as
        ``models/vteam.lib`` does."""
        p = {k: _n(v) for k, v in self.params().items()}
        v, x = "v(p,n)", "v(x)"
        g = (f"(({v}>{p['vp']})?({p['ap']}*(exp({v})-exp({p['vp']}))):"
             f"(({v}<-{p['vn']})?(-{p['an']}*(exp(-{v})-exp({p['vn']}))):0))")
        fp = (f"(({x}>={p['xp']})?(exp(-{p['alphap']}*({x}-{p['xp']}))*"
              f"(({p['xp']}-{x})/(1-{p['xp']})+1)):1)")
        fn = (f"(({x}<=1-{p['xn']})?(exp({p['alphan']}*({x}+{p['xn']}-1))*"
              f"({x}/(1-{p['xn']}))):1)")
        els = (
            Capacitor("Cx", "x", "0", 1.0),
            BSource("Bx", "0", "x", f"(time>0)*{p['eta']}*{g}*(({v}>0)?{fp}:{fn})", kind="I"),
            Resistor("Rx", "x", "xinit", 1e12),
            BSource("Bx0", "xinit", "0", "{x0}", kind="V"),
            BSource("Bm", "p", "n", f"(({v}>=0)?{p['a1']}:{p['a2']})*{x}*sinh({p['b']}*{v})",
                    kind="I"),
        )
        return Subcircuit(self.subckt_name, ("p", "n"), els, params={"x0": self.default_x0},
                          comment="Yakopcic memristor (B-source version of models/yakopcic.va)")

    def instance(self, name: str, p: str, n: str, x0: float | None = None) -> Instance:
        """An X instance of :meth:`subckt` (the deck must hold that subcircuit)."""
        x0 = self.default_x0 if x0 is None else require_finite("Yakopcic x0", x0)
        return Instance(name, self.subckt_name, (p, n), {"x0": x0})


YAKOPCIC_KNOWM = Yakopcic()
"""The LTspice values of the knowm memristor-models-4-all Yakopcic model as listed in
../shared/DESIGN.md §4 (a 0.17, b 0.05, V_p 0.65 V, V_n 0.56 V, A_p = A_n 4000, x_p 0.3, x_n 0.5,
α_p 1, α_n 5), η = 1, x0 0.11."""
