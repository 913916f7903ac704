"""``circuitsim devices``: list runs, write golden decks, compare one run with ngspice."""

from __future__ import annotations

import pytest

from circuitsim.cli import main
from circuitsim.devices.decks import GOLDEN_DIR


def test_list_and_write_golden(tmp_path, capsys):
    assert main(["devices", "--list"]) == 0
    assert "vteam_crossbar_pulses" in capsys.readouterr().out
    assert main(["devices", "--write-golden", str(tmp_path)]) == 0
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted(p.name for p in GOLDEN_DIR.glob("*.cir"))
    for name in written:
        assert (tmp_path / name).read_bytes() == (GOLDEN_DIR / name).read_bytes()


@pytest.mark.ngspice
def test_compare_one_run(capsys):
    assert main(["devices", "--runs", "hp_joglekar_sine"]) == 0
    line = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("hp_joglekar")]
    max_dx = float(line[0].split()[2])
    assert max_dx < 1e-3


def test_unknown_run_is_reported(capsys):
    assert main(["devices", "--runs", "nope"]) == 1  # the CLI turns the ConfigError into this
    assert "unknown runs ['nope']" in capsys.readouterr().err
