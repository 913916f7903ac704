"""The only code that writes SPICE text.  ngspice dialect; other dialects subclass
:class:`NgspiceEmitter` and override only what differs.

Output is deterministic: the same deck gives byte-identical text (no dates, no dict-order
surprises, one number formatter: :func:`circuitsim.units.spice_number`).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from pathlib import Path

from ..circuit.elements import (
    SINGLE_PULSE_PERIOD,
    BSource,
    Capacitor,
    CurrentSource,
    Instance,
    Model,
    Mosfet,
    OsdiDevice,
    Pulse,
    Pwl,
    RawLine,
    Resistor,
    Sin,
    Vccs,
    Vcvs,
    VoltageSource,
)
from ..circuit.library import library_path
from ..circuit.subckt import Dc, Deck, Op, Subcircuit, Tran, validate_deck
from ..errors import ConfigError, NetlistError
from ..units import spice_number

BUILTIN_MODEL_KINDS = frozenset(
    "r c l sw csw urc ltra d npn pnp njf pjf nmos pmos nmf pmf nhfet phfet vdmos".split())
"""ngspice's own ``.model`` kinds; any other kind is a Verilog-A module loaded through OSDI."""


def _n(x) -> str:
    return spice_number(x)


_CONTEXT_FREE = (Resistor, Capacitor, VoltageSource, CurrentSource)


@dataclass(frozen=True, eq=False)
class Emitted:
    """Elements written once as ngspice lines (:meth:`NgspiceEmitter.emit_elements`) for the
    many decks that share them (a programming run's wiring and static rows): ``text`` is what
    :meth:`NgspiceEmitter.elements` writes for ``elements``, joined by newlines; ``names``
    their lower-case names (the deck's duplicate check); ``emitter`` the class that wrote
    them (a deck written by another class writes the elements itself)."""

    elements: tuple
    text: str
    names: frozenset
    emitter: type


class NgspiceEmitter:
    """Writes :class:`Deck` and :class:`Subcircuit` objects as ngspice text."""

    def deck(self, deck: Deck, *, validate: bool = True) -> str:
        if validate:
            validate_deck(deck)
        return "\n".join(self._head(deck) + self.elements(deck.elements)
                         + self._tail(deck)) + "\n"

    def deck_reusing(self, deck: Deck, emitted) -> str:
        """:meth:`deck` with runs of ``deck.elements`` already written (:class:`Emitted`, from
        :meth:`emit_elements`; a run is found by the identity of its element objects) spliced
        in as their text: byte-identical to :meth:`deck`.  The check is :func:`validate_deck`
        of the other elements plus the runs' names (no duplicate across the deck); a deck that
        check refuses (it does not see the runs' nodes) is written by :meth:`deck`, whose full
        check decides."""
        els, n = deck.elements, len(deck.elements)
        first = {id(g.elements[0]): g for g in emitted
                 if g.elements and g.emitter is type(self)}
        pieces: list = []  # an Emitted run or one other element, in deck order
        k = 0
        while k < n:
            g = first.get(id(els[k]))
            m = len(g.elements) if g is not None else 0
            if g is not None and k + m <= n and all(map(operator.is_, els[k:k + m],
                                                        g.elements)):
                pieces.append(g)
                k += m
            else:
                pieces.append(els[k])
                k += 1
        rest = [p for p in pieces if not isinstance(p, Emitted)]
        groups = [p for p in pieces if isinstance(p, Emitted)]
        names = [e.name.lower() for e in rest]
        union = set(names).union(*(g.names for g in groups))
        if len(union) != len(names) + sum(len(g.names) for g in groups):
            return self.deck(deck)  # a duplicate name: the full check names it
        try:
            validate_deck(deck.replace(elements=tuple(rest)))
        except ConfigError:
            return self.deck(deck)
        body = [p.text if isinstance(p, Emitted) else "\n".join(self.elements((p,)))
                for p in pieces]
        return "\n".join(self._head(deck) + body + self._tail(deck)) + "\n"

    def emit_elements(self, elements) -> Emitted:
        """Write ``elements`` once for many decks (:meth:`deck_reusing`): resistors,
        capacitors and sources, whose check needs nothing outside them."""
        elements = tuple(elements)
        bad = [e for e in elements if not isinstance(e, _CONTEXT_FREE)]
        if bad:
            raise NetlistError(f"emit_elements takes resistors, capacitors and sources only "
                               f"(their check needs no other part of a deck), got "
                               f"{type(bad[0]).__name__} {bad[0].name}; leave it in the deck")
        names = frozenset(e.name.lower() for e in elements)
        if len(names) != len(elements):
            raise ConfigError("emit_elements: duplicate element name among the elements "
                              "(make every name unique)")
        return Emitted(elements, "\n".join(self.elements(elements)), names, type(self))

    def _head(self, deck: Deck) -> list[str]:
        out = [f"* {deck.title}", "* written by circuitsim (deterministic; do not edit by hand)"]
        out.extend(self.osdi_loads(deck.osdi))
        for inc in deck.includes:
            out.append(f".include {self.include_path(inc)}")
        if deck.params:
            out.append(".param " + " ".join(f"{k}={_n(v)}" for k, v in sorted(deck.params.items())))
        options = dict(deck.options)
        if deck.solver == "klu":
            options["klu"] = True
        if options:
            out.append(self.options(options))
        for m in deck.models:
            out.append(self.model(m))
        for s in deck.subcircuits:
            out.append("")
            out.extend(self.subckt(s))
        out.append("")
        return out

    def _tail(self, deck: Deck) -> list[str]:
        out = []
        if deck.ics:
            out.append(".ic " + " ".join(f"v({k})={_n(v)}" for k, v in deck.ics.items()))
        if deck.saves:
            out.append(".save " + " ".join(deck.saves))
        for a in deck.analyses:
            out.append(self.analysis(a))
        out.append(".end")
        return out

    # -- pieces -------------------------------------------------------------------------

    def osdi_loads(self, paths) -> list[str]:
        """Compiled Verilog-A libraries: ``pre_osdi`` runs before the netlist is parsed, so the
        models exist when the N elements are read; works with ``ngspice -b`` and with the shared
        library (measured, ngspice 46).  OSDI devices are evaluated on one thread."""
        if not paths:
            return []
        for p in paths:
            if not Path(p).is_absolute() or not Path(p).is_file():
                raise NetlistError(f"OSDI library {p!r} not found (give the absolute path that "
                                   "circuitsim.devices.verilog_a.compile_verilog_a returned)")
        # ngspice evaluates OSDI devices in OpenMP threads (one per core by default): on 2 busy
        # cores that ran a VTEAM deck 28x slower (4.8 s vs 0.17 s, bit-identical results)
        return [".control", "set num_threads=1", *(f"pre_osdi {p}" for p in paths), ".endc"]

    def include_path(self, inc: str) -> str:
        p = library_path(inc)
        if not p.exists():
            raise NetlistError(f"include file {inc!r} not found (looked at {p})")
        return str(p)

    def options(self, options) -> str:
        parts = []
        for k, v in sorted(options.items()):
            if v is True:
                parts.append(k)
            elif v is False or v is None:
                continue
            elif isinstance(v, str):
                parts.append(f"{k}={v}")
            else:
                parts.append(f"{k}={_n(v)}")
        return ".options " + " ".join(parts)

    def model(self, m: Model) -> str:
        params = " ".join(f"{k}={self.model_value(k, v)}" for k, v in m.params.items())
        if m.kind.lower() not in BUILTIN_MODEL_KINDS:
            # an OSDI (Verilog-A) model: ngspice 46 drops the first parameter of
            # ``.model name module(p1=...`` (measured); with a space it reads them all
            return f".model {m.name} {m.kind} ({params})"
        return f".model {m.name} {m.kind}({params})"

    @staticmethod
    def model_value(key: str, value) -> str:
        """A ``.model`` parameter value.  ngspice matches a BSIM ``version`` as text: 4.0 must
        be written ``4.0`` ("BSIM4 version 4 not available", measured with ngspice 46)."""
        text = _n(value)
        if key.lower() == "version" and not any(c in text for c in ".eE"):
            text += ".0"
        return text

    def subckt(self, s: Subcircuit) -> list[str]:
        out = []
        if s.comment:
            out.extend(f"* {line}" for line in s.comment.splitlines())
        head = f".subckt {s.name} " + " ".join(s.ports)
        if s.params:
            head += " params: " + " ".join(f"{k}={_n(v)}" for k, v in s.params.items())
        out.append(head)
        for m in s.models:
            out.append(self.model(m))
        out.extend(self.elements(s.elements))
        out.append(f".ends {s.name}")
        return out

    def elements(self, elements) -> list[str]:
        out = []
        for el in elements:
            if el.comment:
                out.extend(f"* {line}" for line in el.comment.splitlines())
            out.append(self.element(el))
        return out

    def element(self, el) -> str:
        if isinstance(el, Resistor | Capacitor):
            return f"{el.name} {el.p} {el.n} {_n(el.value)}"
        if isinstance(el, VoltageSource | CurrentSource):
            text = f"{el.name} {el.p} {el.n} dc {_n(el.dc)}"
            if el.waveform is not None:
                text += " " + self.waveform(el.waveform)
            return text
        if isinstance(el, Vcvs):
            return f"{el.name} {el.p} {el.n} {el.cp} {el.cn} {_n(el.gain)}"
        if isinstance(el, Vccs):
            return f"{el.name} {el.p} {el.n} {el.cp} {el.cn} {_n(el.gm)}"
        if isinstance(el, BSource):
            return f"{el.name} {el.p} {el.n} {el.kind}={el.expr}"
        if isinstance(el, Mosfet):
            return f"{el.name} {el.d} {el.g} {el.s} {el.b} {el.model} w={_n(el.w)} l={_n(el.l)}"
        if isinstance(el, OsdiDevice):
            return f"{el.name} " + " ".join(el.terminals) + f" {el.model}"
        if isinstance(el, Instance):
            text = f"{el.name} " + " ".join(el.ports) + f" {el.subckt}"
            if el.params:
                text += " " + " ".join(f"{k}={_n(v)}" for k, v in el.params.items())
            return text
        if isinstance(el, RawLine):
            return el.text
        raise NetlistError(f"the ngspice emitter has no rule for {type(el).__name__}")

    def waveform(self, w) -> str:
        if isinstance(w, Pulse):
            # every field explicit: simulators disagree on the default period (ngspice 46
            # repeats a pulse written without one)
            period = w.period if w.period > 0 else SINGLE_PULSE_PERIOD
            vals = (w.v1, w.v2, w.delay, w.rise, w.fall, w.width, period)
            return "pulse(" + " ".join(_n(v) for v in vals) + ")"
        if isinstance(w, Pwl):
            return "pwl(" + " ".join(f"{_n(t)} {_n(v)}" for t, v in w.points) + ")"
        if isinstance(w, Sin):
            return "sin(" + " ".join(_n(v) for v in (w.offset, w.amplitude, w.freq, w.delay,
                                                       w.damping, 0.0)) + ")"
        raise NetlistError(f"unknown waveform {w!r}")

    def analysis(self, a) -> str:
        if isinstance(a, Op):
            return ".op"
        if isinstance(a, Dc):
            return f".dc {a.source} {_n(a.start)} {_n(a.stop)} {_n(a.step)}"
        if isinstance(a, Tran):
            text = f".tran {_n(a.step)} {_n(a.stop)}"
            if a.tmax is not None or a.tstart:
                text += f" {_n(a.tstart)}"
            if a.tmax is not None:
                text += f" {_n(a.tmax)}"
            if a.uic:
                text += " uic"
            return text
        raise NetlistError(f"unknown analysis {a!r}")


def emit_deck(deck: Deck, *, validate: bool = True) -> str:
    """Deck → ngspice text (validated first; raises :class:`ConfigError` on bad decks)."""
    return NgspiceEmitter().deck(deck, validate=validate)


def emit_elements(elements) -> Emitted:
    """Elements → :class:`Emitted` (their lines, written once for many decks)."""
    return NgspiceEmitter().emit_elements(elements)


def emit_deck_reusing(deck: Deck, emitted) -> str:
    """Deck → the same text as :func:`emit_deck`, the runs of elements in ``emitted`` (from
    :func:`emit_elements`) spliced in as written (see :meth:`NgspiceEmitter.deck_reusing`)."""
    return NgspiceEmitter().deck_reusing(deck, emitted)


def emit_subckt(sub: Subcircuit) -> str:
    return "\n".join(NgspiceEmitter().subckt(sub)) + "\n"
