"""Subcircuits and decks (the top level of a simulation), plus their validation."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..errors import ConfigError
from ..units import require_finite, require_nonnegative, require_positive
from .elements import (
    BSource,
    Instance,
    Model,
    Mosfet,
    OsdiDevice,
    RawLine,
    check_ident,
    check_node,
    check_ref_name,
    check_text,
    check_word,
)
from .library import library_path


@dataclass(frozen=True)
class Subcircuit:
    """A ``.subckt``: named ports, elements, default parameters and local models."""

    name: str
    ports: tuple[str, ...]
    elements: tuple = ()
    params: Mapping[str, float] = field(default_factory=dict)
    """Parameter defaults; elements may use them in ``{...}`` or B-source expressions."""
    models: tuple[Model, ...] = ()
    comment: str = ""

    def __post_init__(self):
        object.__setattr__(self, "ports", tuple(self.ports))
        object.__setattr__(self, "elements", tuple(self.elements))
        object.__setattr__(self, "models", tuple(self.models))
        object.__setattr__(self, "params", dict(self.params))
        check_ref_name(self.name, "subcircuit name")
        for p in self.ports:
            check_node(p, f"subcircuit {self.name}")
        if "0" in self.ports:
            raise ConfigError(f"subcircuit {self.name}: ground '0' cannot be a port")
        if len(set(self.ports)) != len(self.ports):
            raise ConfigError(f"subcircuit {self.name}: duplicate port names {self.ports}")
        for k, v in self.params.items():
            check_ident(k, f"subcircuit {self.name}: parameter")
            require_finite(f"subcircuit {self.name}: parameter {k}", v)

    def __hash__(self):
        return hash((self.name, self.ports, self.elements))


@dataclass(frozen=True)
class Op:
    """``.op``: the DC operating point."""


@dataclass(frozen=True)
class Dc:
    """``.dc source start stop step``."""

    source: str
    start: float
    stop: float
    step: float

    def __post_init__(self):
        require_finite("Dc.start", self.start)
        require_finite("Dc.stop", self.stop)
        require_positive("Dc.step", abs(self.step))
        if (self.stop - self.start) * self.step < 0:
            raise ConfigError(f"Dc.step {self.step!r} points away from stop: a sweep from "
                              f"{self.start!r} to {self.stop!r} needs a step of the sign of "
                              "stop - start (ngspice silently returns no points otherwise)")


@dataclass(frozen=True)
class Tran:
    """``.tran step stop [tstart [tmax]] [uic]``."""

    step: float
    """Output (print) step [s]."""
    stop: float
    """Stop time [s]."""
    tstart: float = 0.0
    """Start saving at this time [s]."""
    tmax: float | None = None
    """Largest internal time step [s] (keep it ≤ 1/10 of the shortest pulse edge)."""
    uic: bool = False

    def __post_init__(self):
        require_positive("Tran.step", self.step, "[s]")
        require_positive("Tran.stop", self.stop, "[s]")
        require_nonnegative("Tran.tstart", self.tstart, "[s]")
        if self.tmax is not None:
            require_positive("Tran.tmax", self.tmax, "[s]")
        if self.tstart >= self.stop:
            raise ConfigError("Tran.tstart must be before Tran.stop")


Analysis = Op | Dc | Tran


SOLVERS = ("klu", "sparse")


@dataclass(frozen=True)
class Deck:
    """Everything one ngspice run needs.  ``ics`` maps node names (hierarchical ones as
    ``xinst.node``) to initial voltages; ``saves`` lists vectors to keep (``v(node)`` /
    ``i(vsource)``; empty = all)."""

    title: str
    elements: tuple = ()
    subcircuits: tuple[Subcircuit, ...] = ()
    models: tuple[Model, ...] = ()
    includes: tuple[str, ...] = ()
    """Library files to ``.include`` (absolute paths, or names of files in ``models/``)."""
    options: Mapping[str, float | str | bool] = field(default_factory=dict)
    params: Mapping[str, float] = field(default_factory=dict)
    ics: Mapping[str, float] = field(default_factory=dict)
    analyses: tuple = (Op(),)
    saves: tuple[str, ...] = ()
    osdi: tuple[str, ...] = ()
    """Compiled Verilog-A libraries (absolute ``.osdi`` paths) loaded with ``pre_osdi`` before
    the circuit is parsed (needed by :class:`~circuitsim.circuit.elements.OsdiDevice`)."""
    solver: str = "klu"
    """ngspice's linear solver: ``"klu"`` (written as ``.options klu``; an ngspice built without
    KLU ignores it and uses Sparse, which the runners detect and record) or ``"sparse"``
    (ngspice's default Sparse 1.3)."""

    def __post_init__(self):
        if self.solver not in SOLVERS:
            raise ConfigError(f"Deck.solver {self.solver!r} is not one of {SOLVERS}")
        if self.solver == "sparse" and any(str(k).lower() == "klu" for k in self.options):
            raise ConfigError("Deck options ask for klu while Deck.solver is 'sparse'; set "
                              "solver='klu' instead of a 'klu' option")
        for k in ("elements", "subcircuits", "models", "includes", "analyses", "saves", "osdi"):
            object.__setattr__(self, k, tuple(getattr(self, k)))
        for k in ("options", "params", "ics"):
            object.__setattr__(self, k, dict(getattr(self, k)))
        check_text(self.title, "deck title")
        for k, v in self.options.items():
            check_ident(k, ".options name")
            if isinstance(v, str):
                check_word(v, f".options {k}: value")
            elif v is not None and not isinstance(v, bool):
                require_finite(f".options {k}", v)
        for k, v in self.params.items():
            check_ident(k, ".param name")
            require_finite(f".param {k}", v)
        for inc in self.includes:
            check_text(str(inc), ".include path")
        for lib in self.osdi:
            check_text(str(lib), "pre_osdi path")
        for sv in self.saves:
            if not isinstance(sv, str) or not sv.strip() or any(c.isspace() for c in sv):
                raise ConfigError(f".save vector {sv!r} must be one word, e.g. v(out)")
            check_text(sv, ".save vector")
        for k, v in self.ics.items():
            check_node(k, ".ic")
            require_finite(f".ic {k}", v)

    def __hash__(self):
        return hash((self.title, self.elements, self.subcircuits))

    def replace(self, **changes) -> Deck:
        from dataclasses import replace

        return replace(self, **changes)


# ---------------------------------------------------------------------------- validation


def _scope_nodes(elements: Sequence) -> set[str]:
    nodes: set[str] = set()
    for el in elements:
        nodes.update(n.lower() for n in el.nodes())
    return nodes


def _check_scope(where: str, elements: Sequence, models: set[str], subckts: dict[str, Subcircuit],
                 ports: Sequence[str] = ()) -> set[str]:
    seen: dict[str, object] = {}
    for el in elements:
        key = el.name.lower()
        if key in seen:
            raise ConfigError(f"{where}: duplicate element name {el.name!r}")
        seen[key] = el
    nodes = _scope_nodes(elements) | {p.lower() for p in ports} | {"0"}
    for el in elements:
        if isinstance(el, Mosfet | OsdiDevice) and el.model.lower() not in models:
            raise ConfigError(f"{where}: {el.name} uses unknown model {el.model!r}; "
                              f"known: {sorted(models) or 'none'}")
        if isinstance(el, Instance):
            sub = subckts.get(el.subckt.lower())
            if sub is None:
                raise ConfigError(f"{where}: {el.name} instantiates unknown subcircuit "
                                  f"{el.subckt!r}; known: {sorted(subckts) or 'none'}")
            if len(sub.ports) != len(el.ports):
                raise ConfigError(f"{where}: {el.name} connects {len(el.ports)} nodes but "
                                  f"subcircuit {sub.name} has {len(sub.ports)} ports "
                                  f"{sub.ports}")
            unknown = set(el.params) - set(sub.params)
            if unknown:
                raise ConfigError(f"{where}: {el.name} sets unknown parameters "
                                  f"{sorted(unknown)} of {sub.name} (known: {sorted(sub.params)})")
        if isinstance(el, BSource):
            for n in el.referenced_nodes():
                if n.lower() not in nodes:
                    raise ConfigError(f"{where}: {el.name} expression refers to unknown node "
                                      f"{n!r}")
    return nodes


_SUBCKT_HEAD = re.compile(r"^\s*\.subckt\s+(.*)$", re.IGNORECASE)


def library_subckts(includes: Sequence[str]) -> dict[str, Subcircuit]:
    """Heads of the ``.subckt`` definitions in included library files (names in ``models/``
    or absolute paths), as port/parameter skeletons (no elements) keyed by lower-case name, so
    that instances of library subcircuits are checked like deck-local ones (port count,
    parameter names).  Missing files are skipped here (the emitter reports them)."""
    found: dict[str, Subcircuit] = {}
    for inc in includes:
        path = library_path(inc)
        if not path.is_file():
            continue
        lines: list[str] = []
        for raw in path.read_text(errors="replace").splitlines():
            if raw.startswith("+") and lines:
                lines[-1] += " " + raw[1:]
            else:
                lines.append(raw)
        for line in lines:
            m = _SUBCKT_HEAD.match(line)
            if not m:
                continue
            head, _, params = m.group(1).partition("params:")
            name, *ports = head.split()
            names = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*=", params)
            found[name.lower()] = Subcircuit(name, tuple(ports), params=dict.fromkeys(names, 0.0),
                                             comment=f"from {path}")
    return found


def validate_deck(deck: Deck) -> None:
    """Raise :class:`ConfigError` for what would make ngspice fail or silently misbehave:
    duplicate names, unknown models/subcircuits/nodes, port-count mismatches, a deck without
    any element or analysis."""
    if not deck.elements:
        raise ConfigError(f"deck {deck.title!r} has no elements")
    if not deck.analyses:
        raise ConfigError(f"deck {deck.title!r} has no analysis (.op/.dc/.tran)")
    subckts: dict[str, Subcircuit] = library_subckts(deck.includes)
    for s in deck.subcircuits:
        if s.name.lower() in subckts:
            raise ConfigError(f"duplicate subcircuit name {s.name!r}")
        subckts[s.name.lower()] = s
    top_models = {m.name.lower() for m in deck.models}
    for s in deck.subcircuits:
        _check_scope(f"subcircuit {s.name}", s.elements,
                     top_models | {m.name.lower() for m in s.models}, subckts, s.ports)
    has_raw = any(isinstance(e, RawLine) for e in deck.elements) or bool(deck.includes)
    nodes = _check_scope("top level", deck.elements, top_models, subckts)
    for a in deck.analyses:
        if isinstance(a, Dc):
            names = {e.name.lower() for e in deck.elements}
            if a.source.lower() not in names:
                raise ConfigError(f".dc sweeps unknown source {a.source!r}")
    for node in deck.ics:
        top = node.lower()
        if "." not in top and top not in nodes and not has_raw:
            raise ConfigError(f".ic names unknown node {node!r}")
        if "." in top:
            inst = top.split(".")[0]
            if inst not in {e.name.lower() for e in deck.elements} and not has_raw:
                raise ConfigError(f".ic names node {node!r} inside unknown instance {inst!r}")
    for vec in deck.saves:
        low = vec.lower()
        if low.startswith("v(") and low.endswith(")"):
            n = low[2:-1]
            if "." not in n and "," not in n and "#" not in n and n not in nodes and not has_raw:
                raise ConfigError(f"save names unknown node {vec!r}")
