"""Circuit elements: frozen dataclasses that describe, never print themselves.

Names are full SPICE names: the first letter is the element kind (``R``, ``C``, ``V``, ``I``,
``E``, ``G``, ``B``, ``M``, ``X``, ``N``), checked here.  Node ``0`` is ground.  Values are SI
floats.
Only :mod:`circuitsim.emit` turns these into text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError
from ..units import require_finite, require_nonnegative, require_positive

_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.]*$")
_NODE_RE = re.compile(r"^[A-Za-z0-9_.]+$")
_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_WORD_RE = re.compile(r"^[A-Za-z0-9_.+\-]+$")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")
"""Characters that would end a SPICE line or corrupt it (all but tab of C0, DEL, NEL and the
Unicode line/paragraph separators)."""


def check_text(text: str, what: str) -> str:
    """``text`` if it is one line of SPICE text (no newline or control character), else a
    :class:`ConfigError`: a string that reaches the deck can never start a line of its own."""
    if not isinstance(text, str) or _CONTROL_RE.search(text):
        raise ConfigError(f"{what} {text!r} must be one line of text without control "
                          "characters (a newline would start a SPICE line of its own)")
    return text


def check_ref_name(name: str, what: str) -> str:
    """A model or subcircuit name: letters, digits, '_' and '.', starting with a letter."""
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise ConfigError(f"{what} {name!r} is invalid (letters, digits, '_' and '.', starting "
                          "with a letter)")
    return name


def check_ident(name: str, what: str) -> str:
    """A parameter or option name: a letter or '_' then letters, digits, '_'."""
    if not isinstance(name, str) or not _IDENT_RE.fullmatch(name):
        raise ConfigError(f"{what} {name!r} is not a valid name (letters, digits and '_', "
                          "starting with a letter)")
    return name


def check_word(value: str, what: str) -> str:
    """A bare SPICE token (an option value such as ``gear``): letters, digits, ``_.+-``."""
    if not isinstance(value, str) or not _WORD_RE.fullmatch(value):
        raise ConfigError(f"{what} {value!r} must be one word (letters, digits, '_', '.', '+', "
                          "'-')")
    return value


def check_name(name: str, letter: str) -> None:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise ConfigError(f"element name {name!r} is not a valid SPICE name "
                          "(letters, digits, '_' and '.', starting with a letter)")
    if name[0].upper() != letter:
        raise ConfigError(f"element name {name!r} must start with {letter!r} for this element "
                          f"kind (SPICE decides the kind from the first letter)")


def check_node(node: str, owner: str) -> None:
    if not isinstance(node, str) or not _NODE_RE.fullmatch(node):
        raise ConfigError(f"{owner}: node name {node!r} is invalid "
                          "(use letters, digits, '_' and '.'; '0' is ground)")


# ---------------------------------------------------------------------------- waveforms


SINGLE_PULSE_PERIOD = 1e30
"""[s] The period written for a single pulse (``Pulse.period == 0``): far past any stop time,
so no simulator default applies (ngspice 46 repeats a PULSE with no period after
rise + width + fall)."""


@dataclass(frozen=True)
class Pulse:
    """SPICE PULSE(v1 v2 delay rise fall width period)."""

    v1: float
    """Initial value [V or A]."""
    v2: float
    """Pulsed value [V or A]."""
    delay: float = 0.0
    """Delay before the first edge [s]."""
    rise: float = 1e-9
    """Rise time [s]; must be > 0."""
    fall: float = 1e-9
    """Fall time [s]; must be > 0."""
    width: float = 1e-6
    """Pulse width at v2 [s]."""
    period: float = 0.0
    """Repetition period [s]; 0 = a single pulse.  The emitter always writes a period (ngspice
    46 repeats a PULSE written without one, 39.3 did not): a single pulse is written with
    :data:`SINGLE_PULSE_PERIOD`."""

    def __post_init__(self):
        for k in ("v1", "v2"):
            require_finite(f"Pulse.{k}", getattr(self, k))
        require_nonnegative("Pulse.delay", self.delay, "[s]")
        require_positive("Pulse.rise", self.rise, "[s]")
        require_positive("Pulse.fall", self.fall, "[s]")
        require_nonnegative("Pulse.width", self.width, "[s]")
        require_nonnegative("Pulse.period", self.period, "[s]")
        if 0 < self.period < self.rise + self.width + self.fall:
            raise ConfigError(f"Pulse.period {self.period!r} s is shorter than rise + width + "
                              f"fall = {self.rise + self.width + self.fall!r} s; use a longer "
                              "period, or period=0 for a single pulse")

    def value(self, t):
        """The waveform at time(s) ``t`` [s], exactly as SPICE defines it (numpy-friendly)."""

        t = np.asarray(t, dtype=float) - self.delay
        per = self.period if self.period > 0 else math.inf
        if math.isfinite(per):
            t = np.where(t >= 0, np.mod(t, per), t)
        dv = self.v2 - self.v1
        out = np.full_like(t, self.v1)
        r, w, f = self.rise, self.width, self.fall
        m = (t >= 0) & (t < r)
        out = np.where(m, self.v1 + dv * t / r, out)
        m = (t >= r) & (t < r + w)
        out = np.where(m, self.v2, out)
        m = (t >= r + w) & (t < r + w + f)
        out = np.where(m, self.v2 - dv * (t - r - w) / f, out)
        return out


@dataclass(frozen=True)
class Pwl:
    """SPICE PWL(t1 v1 t2 v2 ...): piecewise linear, held constant after the last point."""

    points: tuple[tuple[float, float], ...]
    """(time [s], value [V or A]) pairs with strictly increasing times."""

    def __post_init__(self):
        pts = []
        previous = -math.inf
        for k, pt in enumerate(self.points):
            if isinstance(pt, str) or len(pt) != 2:
                raise ConfigError(f"Pwl point {k} must be a (time [s], value) pair, got {pt!r}")
            try:
                t, v = float(pt[0]), float(pt[1])
            except (TypeError, ValueError):
                t = v = math.nan
            if not (math.isfinite(t) and math.isfinite(v)):
                # The slow, message-building check runs only for the point that is wrong.
                require_finite(f"Pwl point {k} time", pt[0])
                require_finite(f"Pwl point {k} value", pt[1])
            if t <= previous:
                raise ConfigError(f"Pwl times must be strictly increasing (point {k}: {t!r} s "
                                  f"after {previous!r} s)")
            previous = t
            pts.append((t, v))
        if not pts:
            raise ConfigError("Pwl needs at least one (time, value) point")
        object.__setattr__(self, "points", tuple(pts))

    def value(self, t):
        ts = np.array([p[0] for p in self.points])
        vs = np.array([p[1] for p in self.points])
        return np.interp(np.asarray(t, dtype=float), ts, vs)


@dataclass(frozen=True)
class Sin:
    """SPICE SIN(offset amplitude freq delay damping phase); the emitter writes every field,
    phase 0."""

    offset: float
    amplitude: float
    freq: float
    """Frequency [Hz]."""
    delay: float = 0.0
    damping: float = 0.0

    def __post_init__(self):
        require_finite("Sin.offset", self.offset)
        require_finite("Sin.amplitude", self.amplitude)
        require_positive("Sin.freq", self.freq, "[Hz]")
        require_nonnegative("Sin.delay", self.delay, "[s]")
        require_nonnegative("Sin.damping", self.damping, "[1/s]")

    def value(self, t):
        t = np.asarray(t, dtype=float)
        td = t - self.delay
        s = self.offset + self.amplitude * np.sin(2 * np.pi * self.freq * td) * np.exp(
            -self.damping * np.clip(td, 0, None))
        return np.where(td < 0, self.offset, s)


Waveform = Pulse | Pwl | Sin


# ---------------------------------------------------------------------------- elements


@dataclass(frozen=True)
class Element:
    name: str
    comment: str = field(default="", kw_only=True)
    """Optional comment written above the element (for readable decks)."""

    letter = "?"

    def nodes(self) -> tuple[str, ...]:  # pragma: no cover - overridden
        raise NotImplementedError

    def _check(self):
        check_name(self.name, self.letter)
        for n in self.nodes():
            check_node(n, self.name)


@dataclass(frozen=True)
class Resistor(Element):
    p: str
    n: str
    value: float
    """Resistance [ohm]; finite and > 0."""
    letter = "R"

    def nodes(self):
        return (self.p, self.n)

    def __post_init__(self):
        self._check()
        require_positive(f"{self.name}: resistance", self.value, "[ohm]")


@dataclass(frozen=True)
class Capacitor(Element):
    p: str
    n: str
    value: float
    """Capacitance [F]; finite and > 0."""
    letter = "C"

    def nodes(self):
        return (self.p, self.n)

    def __post_init__(self):
        self._check()
        require_positive(f"{self.name}: capacitance", self.value, "[F]")


@dataclass(frozen=True)
class VoltageSource(Element):
    p: str
    n: str
    dc: float = 0.0
    """DC value [V] (also the operating-point value when a waveform is given)."""
    waveform: Waveform | None = None
    letter = "V"

    def nodes(self):
        return (self.p, self.n)

    def __post_init__(self):
        self._check()
        require_finite(f"{self.name}: dc", self.dc)


@dataclass(frozen=True)
class CurrentSource(Element):
    p: str
    n: str
    dc: float = 0.0
    """DC value [A]; flows from p through the source to n."""
    waveform: Waveform | None = None
    letter = "I"

    def nodes(self):
        return (self.p, self.n)

    def __post_init__(self):
        self._check()
        require_finite(f"{self.name}: dc", self.dc)


@dataclass(frozen=True)
class Vcvs(Element):
    """E element: V(p, n) = gain * V(cp, cn)."""

    p: str
    n: str
    cp: str
    cn: str
    gain: float
    """Voltage gain [V/V]."""
    letter = "E"

    def nodes(self):
        return (self.p, self.n, self.cp, self.cn)

    def __post_init__(self):
        self._check()
        require_finite(f"{self.name}: gain", self.gain)


@dataclass(frozen=True)
class Vccs(Element):
    """G element: current gm * V(cp, cn) flows from p through the source to n."""

    p: str
    n: str
    cp: str
    cn: str
    gm: float
    """Transconductance [S]."""
    letter = "G"

    def nodes(self):
        return (self.p, self.n, self.cp, self.cn)

    def __post_init__(self):
        self._check()
        require_finite(f"{self.name}: gm", self.gm)


@dataclass(frozen=True)
class BSource(Element):
    """Behavioral source: ``kind='V'`` sets V(p, n) = expr; ``kind='I'`` drives a current
    expr from p through the source to n.  ``expr`` is ngspice expression text and may name
    nodes of the same scope as ``v(node)`` and subcircuit parameters by name."""

    p: str
    n: str
    expr: str
    kind: str = "V"
    letter = "B"

    def nodes(self):
        return (self.p, self.n)

    def __post_init__(self):
        self._check()
        if self.kind not in ("V", "I"):
            raise ConfigError(f"{self.name}: BSource kind must be 'V' or 'I', got {self.kind!r}")
        if not isinstance(self.expr, str) or not self.expr.strip():
            raise ConfigError(f"{self.name}: expression must be one non-empty line")
        check_text(self.expr, f"{self.name}: expression")

    def referenced_nodes(self) -> tuple[str, ...]:
        """Nodes named inside ``v(...)`` in the expression (for validation)."""
        out = []
        for m in re.finditer(r"\bv\(\s*([A-Za-z0-9_.]+)\s*(?:,\s*([A-Za-z0-9_.]+)\s*)?\)",
                             self.expr, flags=re.IGNORECASE):
            out.extend(g for g in m.groups() if g)
        return tuple(out)


@dataclass(frozen=True)
class Mosfet(Element):
    d: str
    g: str
    s: str
    b: str
    model: str
    """Name of a :class:`Model` in scope."""
    w: float
    """Channel width [m]."""
    l: float
    """Channel length [m]."""
    letter = "M"

    def nodes(self):
        return (self.d, self.g, self.s, self.b)

    def __post_init__(self):
        self._check()
        require_positive(f"{self.name}: w", self.w, "[m]")
        require_positive(f"{self.name}: l", self.l, "[m]")


@dataclass(frozen=True)
class Instance(Element):
    """X element: an instance of a :class:`Subcircuit`."""

    subckt: str
    ports: tuple[str, ...]
    params: Mapping[str, float] = field(default_factory=dict)
    letter = "X"

    def nodes(self):
        return tuple(self.ports)

    def __post_init__(self):
        object.__setattr__(self, "ports", tuple(self.ports))
        object.__setattr__(self, "params", dict(sorted(self.params.items())))
        self._check()
        check_ref_name(self.subckt, f"{self.name}: subcircuit name")
        for k, v in self.params.items():
            check_ident(k, f"{self.name}: parameter")
            require_finite(f"{self.name}: parameter {k}", v)

    def __hash__(self):
        return hash((self.name, self.subckt, self.ports, tuple(self.params.items())))


@dataclass(frozen=True)
class OsdiDevice(Element):
    """N element: an instance of a compiled Verilog-A (OSDI) model.  ``model`` names a
    :class:`Model` whose kind is the Verilog-A module name; the deck must load the compiled
    library (``Deck(osdi=(path,))``, see :mod:`circuitsim.devices.verilog_a`)."""

    terminals: tuple[str, ...]
    model: str
    letter = "N"

    def nodes(self):
        return tuple(self.terminals)

    def __post_init__(self):
        object.__setattr__(self, "terminals", tuple(self.terminals))
        self._check()
        check_ref_name(self.model, f"{self.name}: model name")


@dataclass(frozen=True)
class Model:
    """A ``.model`` card, e.g. ``Model('nacc', 'nmos', {'level': 1, 'vto': 0.45})``."""

    name: str
    kind: str
    params: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self):
        check_ref_name(self.name, "model name")
        check_ident(self.kind, f"model {self.name}: kind")
        object.__setattr__(self, "params", dict(self.params))
        for k, v in self.params.items():
            check_ident(k, f"model {self.name}: parameter")
            require_finite(f"model {self.name}: {k}", v)

    def __hash__(self):
        return hash((self.name, self.kind, tuple(self.params.items())))


@dataclass(frozen=True)
class RawLine:
    """Verbatim SPICE text for what the IR has no class for (use sparingly).  Its nodes must
    be declared so validation can still see them."""

    name: str
    text: str
    declared_nodes: tuple[str, ...] = ()
    comment: str = field(default="", kw_only=True)

    def __post_init__(self):
        check_text(self.name, "RawLine name")
        check_text(self.text, f"RawLine {self.name}: text")
        for n in self.declared_nodes:
            check_node(n, f"RawLine {self.name}")

    def nodes(self):
        return tuple(self.declared_nodes)


ELEMENT_TYPES = (Resistor, Capacitor, VoltageSource, CurrentSource, Vcvs, Vccs, BSource, Mosfet,
                 Instance, OsdiDevice, RawLine)
