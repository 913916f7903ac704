"""Single-device test decks: one memristor driven by one voltage source (pulse train, sine).

Used by the twin-vs-ngspice tests and to write the golden decks in ``netlists/devices/``
(:func:`write_golden_decks`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..cards.memristor import HP_BIOLEK, HP_JOGLEKAR, VTEAM_CROSSBAR, VTEAM_MEMTORCH
from ..circuit import Deck, Tran, VoltageSource
from ..circuit.elements import Pulse, Pwl, Sin
from ..circuit.library import library_dir
from ..emit import emit_deck
from . import twin

DEVICE_OPTIONS = {"method": "gear", "reltol": 1e-4, "abstol": 1e-12, "vntol": 1e-6}
"""ngspice options of the device decks (../shared/DESIGN.md §4): gear integration, reltol 1e-4
and vntol 1e-6 V (the state node's error tolerance; 1 V = the full switching range).

Measured on :func:`standard_runs`: none of these is needed for convergence (every run also
converges with ngspice's defaults); accuracy is set by the ``.tran`` tmax.  Gear is kept because
it is the robust choice for the stiff state equations of larger circuits and is 4x more accurate
on the MemTorch VTEAM pulse train (state error 2.7e-5 vs 1.2e-4 with trapezoidal); on the sines
trapezoidal is about 2x more accurate (2.3e-4 vs 4.8e-4), both far inside the tests'
tolerance."""

INSTANCE = "xm"
"""Name of the device instance in these decks: its state is ``v(xm.x)``."""

GOLDEN_DIR = Path(__file__).resolve().parents[2] / "netlists" / "devices"


def device_deck(card, waveform: Pulse | Pwl | Sin, *, stop: float, step: float,
                x0: float | None = None, tmax: float | None = None, title: str = "",
                options: dict | None = None) -> Deck:
    """One device between node ``in`` and ground, driven by ``V1`` with ``waveform``.

    Vectors: ``v(in)``, ``v(xm.x)`` (state), ``i(v1)`` (= −device current).  ``tmax``
    defaults to ``step``; keep it ≤ 1/10 of the shortest edge.  The state is also set with
    ``.ic v(xm.x)=x0`` (redundant with the library's own x0 tie, kept so that the golden
    decks say explicitly where the state starts)."""
    src = VoltageSource("V1", "in", "0", 0.0, waveform)
    inst = card.instance("Xm", "in", "0", x0=x0)
    name = title or f"{type(card).__name__} single device"
    return Deck(title=name, elements=(src, inst), includes=(card.library,),
                options=DEVICE_OPTIONS if options is None else options,
                ics={f"{INSTANCE}.x": inst.params["x0"]},
                analyses=(Tran(step, stop, 0.0, step if tmax is None else tmax),),
                saves=("v(in)", f"v({INSTANCE}.x)", "i(v1)"))


@dataclass(frozen=True)
class DeviceRun:
    """One device, one stimulus: what both ngspice and the twin are given."""

    name: str
    card: object
    """A dynamic memristor card (``Vteam``, ``LinearIonDrift``)."""
    waveform: Pulse | Sin
    x0: float
    """Initial state [1]."""
    periods: int
    """Number of stimulus periods simulated."""
    tmax: float
    """Largest ngspice time step [s]."""
    twin_max_step: float
    """Largest time step of the twin's integrator [s] (≤ the shortest edge, so no edge is
    stepped over; accuracy comes from its error control)."""

    @property
    def period(self) -> float:
        w = self.waveform
        return 1.0 / w.freq if isinstance(w, Sin) else w.period

    @property
    def stop(self) -> float:
        return self.periods * self.period

    def deck(self) -> Deck:
        """Output every period/400 (the internal step is limited by ``tmax``)."""
        return device_deck(self.card, self.waveform, stop=self.stop, step=self.period / 400,
                           x0=self.x0, tmax=self.tmax,
                           title=f"{self.name}: {type(self.card).__name__} single device")

    def twin_response(self, t) -> tuple[np.ndarray, np.ndarray]:
        """The twin's ``(x, i)`` at times ``t`` (e.g. ngspice's own time points)."""

        return twin(self.card).simulate(t, self.waveform.value, self.x0,
                                         max_step=self.twin_max_step)


def _sine(name, card, amplitude, freq, x0, periods=4):
    return DeviceRun(name, card, Sin(0.0, amplitude, freq), x0, periods, 1.0 / freq / 1000,
                     1.0 / freq / 1000)


def _pulses(name, card, v_low, v_high, edge, width, period, x0, periods):
    w = Pulse(v_low, v_high, 0.0, edge, edge, width, period)
    return DeviceRun(name, card, w, x0, periods, edge / 10, edge)


def standard_runs() -> dict[str, DeviceRun]:
    """The device/stimulus pairs of the twin tests and golden decks, keyed by name.

    Sines: zero offset, started at x0 = 0.5, amplitudes chosen so the state swings widely but
    the Joglekar device does not reach a bound (where its window sticks: f = 0 at x = 1, and
    the escape time from x = 1 − ε depends on the numerical ε, so SPICE and any twin disagree
    there by design); without a window the state is unbounded, so that sine is small too.
    Pulse trains: bipolar (v_low < 0 < v_high, both beyond the thresholds), so the state moves
    both ways and drifts net."""
    runs = [
        _sine("vteam_crossbar_sine", VTEAM_CROSSBAR, 1.0, 20e3, 0.5),
        _sine("vteam_memtorch_sine", VTEAM_MEMTORCH, 0.25, 5e6, 0.5),
        _sine("hp_joglekar_sine", HP_JOGLEKAR, 0.5, 1.0, 0.5),
        _sine("hp_biolek_sine", HP_BIOLEK, 1.0, 1.0, 0.5),
        _sine("hp_nowindow_sine", replace(HP_JOGLEKAR, window="none"), 0.3, 1.0, 0.5),
        _sine("vteam_crossbar_exp_sine", replace(VTEAM_CROSSBAR, resistance_law="exponential"),
              1.0, 20e3, 0.5),
        _pulses("vteam_crossbar_pulses", VTEAM_CROSSBAR, -0.8, 1.0, 10e-9, 1e-6, 2e-6, 0.3, 10),
        _pulses("vteam_memtorch_pulses", VTEAM_MEMTORCH, -0.21, 0.1, 1e-9, 50e-9, 100e-9, 0.3,
                10),
        _pulses("hp_joglekar_pulses", HP_JOGLEKAR, -1.0, 1.0, 1e-3, 0.1, 0.25, 0.5, 8),
        _pulses("hp_biolek_pulses", HP_BIOLEK, -1.0, 1.0, 1e-3, 0.1, 0.25, 0.5, 8),
    ]
    return {r.name: r for r in runs}


GOLDEN = ("vteam_crossbar_sine", "vteam_crossbar_pulses", "hp_biolek_sine", "hp_biolek_pulses")
"""The runs written to ``netlists/devices/`` as golden decks."""


def golden_text(deck: Deck, deck_dir: Path = GOLDEN_DIR) -> str:
    """Deck text with the ``.include`` of the device libraries written relative to
    ``deck_dir``, so the file is the same in every checkout (and runs with ngspice from
    ``deck_dir``)."""
    lib = library_dir()
    rel = Path(os.path.relpath(lib, deck_dir)).as_posix()
    return emit_deck(deck).replace(f".include {lib}/", f".include {rel}/")


def write_golden_decks(out_dir: Path | str = GOLDEN_DIR) -> list[Path]:
    """Write the golden single-device decks (``<run name>.cir``); returns their paths.
    Regenerating gives byte-identical files."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    runs = standard_runs()
    paths = []
    for name in GOLDEN:
        path = out_dir / f"{name}.cir"
        path.write_bytes(golden_text(runs[name].deck(), GOLDEN_DIR).encode())
        paths.append(path)
    return paths
