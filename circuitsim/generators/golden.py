"""The standard blocks as small standalone decks: the golden decks in ``netlists/golden/`` and
the blocks the tests simulate against their twins.  Every deck runs in plain ``ngspice -b``.
"""

from __future__ import annotations

from ..cards import ACCESS_018UM
from ..circuit import CurrentSource, Dc, Deck, Instance, RawLine
from ..crossbar import CrossbarSpec, crossbar_deck
from ..emit import emit_deck
from .neuron import NeuronCard, characterisation_deck
from .opamp import PRECISE_DC, OpAmpCard
from .sense_amp import DiffSenseCard, TiaCard, diff_sense_subckt, tia_subckt

OPAMPS = {
    "ideal": OpAmpCard("ideal", a0=1e4),
    "single_pole": OpAmpCard("single_pole", a0=1e4, gbw=1e6),
    "saturating": OpAmpCard("saturating", a0=1e4, v_pos=1.0, v_neg=-1.2, v_offset=2e-3),
}
"""One op-amp card per kind for the block decks (rails narrow enough that the sweeps reach
them; a 2 mV offset so that the offset path is exercised)."""

NEURONS = {
    f"{act}_{flavour}": NeuronCard(act, flavour, v_per_unit=1.0, v_full_scale=0.2,
                                   act_full_scale=1.0 if act == "sigmoid" else 2.0,
                                   v_offset=0.0 if flavour == "ideal" else 1e-3)
    for act in ("sigmoid", "relu") for flavour in ("ideal", "circuit")
}
"""One neuron card per activation and flavour (the circuits with a 1 mV input offset)."""


def with_print(deck: Deck, *vectors: str) -> Deck:
    """Add a ``.print`` line for the deck's (first) analysis so that plain ``ngspice -b
    deck.cir`` simulates and prints (without one it runs nothing; with ``-r`` it is ignored)."""
    kind = type(deck.analyses[0]).__name__.lower()
    line = RawLine("print", f".print {kind} " + " ".join(vectors))
    return deck.replace(elements=(*deck.elements, line))


def tia_deck(card: TiaCard, i_max: float = 2e-4, step: float = 1e-5) -> Deck:
    """The TIA driven by a current source swept over ±``i_max`` [A]."""
    return with_print(Deck(f"TIA ({card.opamp.kind} op-amp) DC sweep",
                elements=[CurrentSource("Iin", "0", "n", dc=0.0),
                          Instance("Xtia", "tia", ("n", "out"))],
                subcircuits=[tia_subckt(card)], options=PRECISE_DC,
                analyses=[Dc("Iin", -i_max, i_max, step)]), "v(out)", "v(n)")


def diff_sense_deck(card: DiffSenseCard, i_n: float = 5e-5, i_max: float = 2e-4,
                    step: float = 1e-5) -> Deck:
    """The differential stage: ``i_p`` swept over ±``i_max`` [A], ``i_n`` held [A]."""
    return with_print(Deck(f"differential sense stage ({card.opamp.kind} op-amps) DC sweep",
                elements=[CurrentSource("Ip", "0", "p", dc=0.0),
                          CurrentSource("In", "0", "m", dc=i_n),
                          Instance("Xds", "diffsense", ("p", "m", "out"))],
                subcircuits=[diff_sense_subckt(card)], options=PRECISE_DC,
                analyses=[Dc("Ip", -i_max, i_max, step)]), "v(out)")


CROSSBAR_2X2_G = ((60e-6, 5e-6, 20e-6, 80e-6),
                  (10e-6, 45e-6, 95e-6, 1e-6))
"""Conductances [S] of the golden 2x2 differential crossbar: 2 rows, 2 outputs as G+/G- column
pairs (columns 0/1 and 2/3)."""

CROSSBAR_2X2_V = (0.2, 0.07)
"""Row voltages of the golden 2x2 crossbar deck [V]."""


def crossbar_2x2_spec():
    """The golden 2x2 differential 1T1R crossbar: wire 2 ohm/segment, 10 ohm driver and sense
    resistances, access NMOS at V_WL 1.8 V."""
    return CrossbarSpec(CROSSBAR_2X2_G, r_wire_row=2.0, r_wire_col=2.0, r_source=10.0,
                        r_sense=10.0, access=ACCESS_018UM)


def block_decks() -> dict[str, Deck]:
    """Name -> deck for every standard block (the golden set), in a fixed order."""
    decks: dict[str, Deck] = {}
    decks["crossbar_2x2_diff_1t1r"] = crossbar_deck(crossbar_2x2_spec(), CROSSBAR_2X2_V)
    for kind, oa in OPAMPS.items():
        decks[f"tia_{kind}"] = tia_deck(TiaCard(r_f=1e4, opamp=oa))
    for kind, oa in OPAMPS.items():
        decks[f"diffsense_{kind}"] = diff_sense_deck(DiffSenseCard(2e3, 1e4, 3e4, oa))
    for name, card in NEURONS.items():
        decks[f"neuron_{name}"] = with_print(characterisation_deck(card, step=0.01), "v(out)")
    return decks


def write_golden(out_dir) -> list:
    """Write every block deck as ``<name>.cir`` into ``out_dir``; returns the paths."""
    from pathlib import Path


    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, deck in block_decks().items():
        p = out / f"{name}.cir"
        p.write_text(emit_deck(deck))
        paths.append(p)
    return paths
