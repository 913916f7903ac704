"""Every command that writes a run directory takes the --out lock: a second run on the same
directory is refused in one line before any work, the first run's files untouched."""

from __future__ import annotations

import pytest

from circuitsim.cli import main
from circuitsim.xval.store import out_lock


@pytest.mark.parametrize("argv", [
    ["study", "vmax", "--quick"],
    ["program", "--quick"],
    ["demo", "--quick"],
    ["sweep", "--param", "circuit.r_wire_row", "--values", "1"],
    ["train-circuit", "--task", "xor", "--epochs", "1"],
])
def test_second_run_on_one_out_is_refused(tmp_path, capsys, argv):
    (tmp_path / "keep.txt").write_text("first run's file")
    with out_lock(tmp_path):
        assert main([*argv, "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "another circuitsim run" in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [".circuitsim.lock", "keep.txt"]
