"""The Python around the programming decks (issue 15, per-deck cost): a block deck written
from the wiring and static rows' text (emit_deck_reusing) is byte for byte the plain
emit_deck text, refuses what the plain path refuses, and the runner's exit wait returns the
child's status and still times out."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from circuitsim.circuit import Deck, Instance, Resistor, Tran, VoltageSource
from circuitsim.emit import NgspiceEmitter, emit_deck, emit_deck_reusing, emit_elements
from circuitsim.errors import ConfigError, NetlistError
from circuitsim.program import CellArray, CellPulse, ProgramConfig, build_iteration
from circuitsim.program.spice import DeckParts, iteration_deck, read_deck
from circuitsim.spice.runner import _expected_plots, run_in_group
from circuitsim.units import spice_number


@pytest.fixture(scope="module")
def block():
    cfg = ProgramConfig()
    shape = (5, 4)
    cells = CellArray(cfg.device, shape)
    rng = np.random.default_rng(4)
    x = rng.uniform(0.2, 0.9, shape)
    pulses = [CellPulse(i, j, int(rng.choice([-1, 1])), float(cfg.widths[rng.integers(0, 4)]))
              for i in (1, 3) for j in range(4)]
    it = build_iteration(cfg, shape, pulses, [1, 3])
    return cfg, cells, x, it


def _window(it, row):
    phs = [ph for ph in it.phases if ph.row == row]
    return it.window(min(p.t0 for p in phs), max(p.t1 for p in phs))


@pytest.mark.parametrize("c_wire", [None, 0.0])
def test_reusing_text_is_the_plain_text(block, c_wire):
    """Every block deck of an iteration, with the rows updated between them as run_iteration
    does, written from DeckParts.emitted(): the plain emit_deck text, byte for byte (with and
    without wire capacitors)."""
    cfg, cells, x, it = block
    if c_wire is not None:
        cfg = ProgramConfig(c_wire=c_wire)
    x = x.copy()
    parts = DeckParts(cfg, cells, x)
    for row in (1, 3):
        deck = iteration_deck(cfg, cells, x, _window(it, row), parts=parts, dynamic_rows=[row])
        fast = emit_deck_reusing(deck, parts.emitted())
        assert fast == emit_deck(deck)
        assert f"Rm{row}_0 " not in fast and f"Xm{row}_0 " in fast
        x[row] = np.clip(x[row] + 0.05, 0, 1)
        parts.update(x, [row])
        assert f"Rm{row}_0 r{row}_0 c{row}_0 " \
            f"{spice_number(cells.card.resistance(x[row, 0]))}" in parts.emitted()[row + 1].text


def test_stale_text_is_not_reused(block):
    """Text whose element objects are not the deck's (a row rebuilt after it was written) is
    not spliced in: the deck's own elements are written."""
    cfg, cells, x, it = block
    parts = DeckParts(cfg, cells, x)
    old = parts.emitted()
    parts.update(np.clip(x + 0.1, 0, 1), [0])
    deck = iteration_deck(cfg, cells, x, _window(it, 1), parts=parts, dynamic_rows=[1])
    assert emit_deck_reusing(deck, old) == emit_deck(deck)
    assert old[1].text not in emit_deck_reusing(deck, old)  # row 0 as it was written


def _small():
    r1 = Resistor("R1", "a", "b", 1e3)
    r2 = Resistor("R2", "b", "0", 2e3)
    return r1, r2, emit_elements((r1, r2))


def test_refused_by_the_short_check_falls_back_to_the_full_one():
    """A save of a node only the reused elements have: the short check (the other elements)
    does not see it, the full check accepts it, so does the reusing path."""
    r1, r2, em = _small()
    deck = Deck("t", (VoltageSource("V1", "a", "0", 1.0), r1, r2), analyses=(Tran(1e-9, 1e-8),),
                saves=("v(b)",))
    assert emit_deck_reusing(deck, [em]) == emit_deck(deck)


def test_duplicate_name_across_reused_text_is_refused():
    r1, r2, em = _small()
    deck = Deck("t", (VoltageSource("V1", "a", "0", 1.0), r1, r2, Resistor("r2", "a", "0", 5.0)),
                analyses=(Tran(1e-9, 1e-8),))
    with pytest.raises(ConfigError, match="duplicate element name"):
        emit_deck(deck)
    with pytest.raises(ConfigError, match="duplicate element name"):
        emit_deck_reusing(deck, [em])


def test_emit_elements_takes_context_free_elements_only():
    with pytest.raises(NetlistError, match="leave it in the deck"):
        emit_elements((Instance("X1", "vteam", ("a", "b"), {}),))
    with pytest.raises(ConfigError, match="duplicate"):
        emit_elements((Resistor("R1", "a", "b", 1.0), Resistor("r1", "b", "0", 1.0)))


def test_text_of_another_emitter_is_not_reused():
    class Other(NgspiceEmitter):
        def element(self, el):
            return super().element(el).upper()

    r1, r2, em = _small()
    deck = Deck("t", (VoltageSource("V1", "a", "0", 1.0), r1, r2), analyses=(Tran(1e-9, 1e-8),))
    assert Other().deck_reusing(deck, [em]) == Other().deck(deck)
    assert "R1 A B 1000" in Other().deck(deck)


def test_run_in_group_wait_returns_status_and_times_out():
    assert run_in_group(["sh", "-c", "exit 3"], 10.0).returncode == 3
    with pytest.raises(subprocess.TimeoutExpired):
        run_in_group(["sleep", "5"], 0.2)


@pytest.mark.parametrize("text, n", [
    ("  \n\n .TRAN 1 2\n.op\n* .dc\n.dcx\n\t.ac lin 1 1 2\n", 3), (".tran 1 2", 1), ("", 0),
    ("\r\n.tran 1n 1u\n.end\n", 1), ("* title\nR1 a 0 1\n.dc v1 0 1 1\n.op\n.end\n", 2)])
def test_expected_plots_counts_analysis_lines(text, n):
    """The runner's count of analyses (a deck's plots must all come back): first line, blank
    lines, indentation, case, comments and look-alikes."""
    assert _expected_plots(text) == n


def test_read_deck_with_the_wiring_text_is_the_plain_text(block):
    """The verify-read deck from DeckParts' wiring and its text: the plain deck's text."""
    cfg, cells, x, _ = block
    parts = DeckParts(cfg, cells, x)
    rows = [0, 2, 3]
    plain = emit_deck(read_deck(cfg, cells, x, rows))
    deck = read_deck(cfg, cells, x, rows, wiring=parts.wiring)
    assert emit_deck_reusing(deck, [parts.emitted_wiring()]) == plain
    assert parts.emitted_wiring().text in plain


def test_block_deck_takes_the_reusing_path(block):
    """A block deck passes the short check (no fall-back to the full emit): an emitter whose
    plain deck() refuses still writes it, and writes every reused run as its text."""
    class NoPlain(NgspiceEmitter):
        def deck(self, deck, *, validate=True):
            raise AssertionError("fell back to the plain path")

    cfg, cells, x, it = block
    parts = DeckParts(cfg, cells, x)
    deck = iteration_deck(cfg, cells, x, _window(it, 3), parts=parts, dynamic_rows=[3])
    emitted = [NoPlain().emit_elements(g.elements) for g in parts.emitted()]
    assert NoPlain().deck_reusing(deck, emitted) == emit_deck(deck)
