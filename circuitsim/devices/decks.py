"""Single-device test decks: one memristor driven by one voltage source (pulse train, sine...).

Used by the twin-vs-ngspice tests and to write the golden decks in ``netlists/devices/``.
"""

from __future__ import annotations

from pathlib import Path

from ..circuit import Deck, Tran, VoltageSource
from ..circuit.elements import Pulse, Pwl, Sin
from ..emit import emit_deck

DEVICE_OPTIONS = {"method": "gear", "reltol": 1e-4, "abstol": 1e-12, "vntol": 1e-6,
                  "chgtol": 1e-16}
"""ngspice options of the device decks: gear integration and reltol 1e-4 (DESIGN.md §4);
vntol 1e-6 V bounds the error of the state node (1 V = full switching range); chgtol is
lowered because the state capacitor is 1 F."""

INSTANCE = "xm"
"""Name of the device instance in these decks: its state is ``v(xm.x)``."""


def device_deck(card, waveform: Pulse | Pwl | Sin, *, stop: float, step: float,
                x0: float | None = None, tmax: float | None = None, title: str = "",
                options: dict | None = None) -> Deck:
    """One device between node ``in`` and ground, driven by ``V1`` with ``waveform``.

    Vectors: ``v(in)``, ``v(xm.x)`` (state), ``i(v1)`` (= −device current).  ``tmax``
    defaults to ``step``; keep it ≤ 1/10 of the shortest edge."""
    src = VoltageSource("V1", "in", "0", 0.0, waveform)
    inst = card.instance("Xm", "in", "0", x0=x0)
    name = title or f"{type(card).__name__} single device"
    return Deck(title=name, elements=(src, inst), includes=(card.library,),
                options=DEVICE_OPTIONS if options is None else options,
                analyses=(Tran(step, stop, 0.0, step if tmax is None else tmax),),
                saves=("v(in)", f"v({INSTANCE}.x)", "i(v1)"))


def write_deck(deck: Deck, path: Path) -> Path:
    """Write a deck as text (byte-identical for the same deck)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(emit_deck(deck).encode())
    return path
