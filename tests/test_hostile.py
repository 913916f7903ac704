"""Every subcommand, fed bad values as a hostile but realistic user would (issue 12): each ends
with a non-zero exit, one ``circuitsim CMD: error: ...`` line, no traceback, and no payload
run.  The command lines run in child processes (tests/_hostile_driver.py forks one per line
after importing the package once, so the whole walk takes seconds)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from circuitsim.cli import build_parser
from circuitsim.nn import make_mlp, save_checkpoint

TESTS = Path(__file__).parent
LIBM = "/lib/x86_64-linux-gnu/libm.so.6"


class _Payload:
    def __reduce__(self):
        return (os.system, ("touch PAYLOAD-RAN",))


def _cases() -> dict[str, list[list[str] | tuple[list[str], dict]]]:
    """Per subcommand: argv lists (or (argv, env)) that must each fail cleanly.  Paths are
    relative to the fixture directory (see :func:`world`)."""
    nl = ["netlist", "--model", "m.pt", "--out", "nl"]
    demo = ["demo", "--quick", "--no-progress", "--out", "d"]
    sweep = ["sweep", "--out", "sw", "--no-progress", "--param", "circuit.r_wire_row"]
    tc = ["train-circuit", "--out", "tc"]
    return {
        "check": [["check", "--timeout", "-1"], ["check", "--timeout", "inf"],
                  (["check"], {"NGSPICE_LIBRARY_PATH": LIBM}),
                  (["check"], {"CIRCUITSIM_NGSPICE": "/nonexistent/ngspice"})],
        "demo": [[*demo[:-1], "afile"], [*demo, "--model", "evil.pt"],
                 [*demo, "--model", "damaged.pt"], [*demo, "--model", "garbage.pt"],
                 [*demo, "--set", 'mapping.v_read="0.2"'],
                 [*demo, "--set", "spice_timeout_s=Infinity"],
                 [*demo, "--set", "mapping.v_read=100"], [*demo, "--set", "mapping.g_max=NaN"],
                 [*demo, "--set", "nosuch=1"], [*demo, "--set", "noequals"],
                 [*demo, "--config", "bin.json"], [*demo, "--full-spice-images", "-1"],
                 [*demo, "--executor", "dask", "--scheduler", "notanaddress"],
                 ["demo", "--out", "damaged-run", "--resume", "--quick", "--no-progress"]],
        "devices": [["devices", "--write-golden", "afile"], ["devices", "--runs", "nosuch"],
                    ["devices", "--timeout", "-1"], ["devices", "--verilog-a", "nosuch.va"],
                    ["devices", "--verilog-a", "bin.json", "--out", "va"],
                    ["devices", "--verilog-a", "bin.json", "--param", "x", "--out", "va"]],
        "netlist": [[*nl[:-1], "afile"], [*nl[:-1], "/proc/x/y"], [*nl, "--name", "a/b"],
                    [*nl, "--name", "../../x"], [*nl, "--name", ""], [*nl, "--name", ".hid"],
                    ["netlist", "--model", "evil.pt", "--out", "nl"],
                    ["netlist", "--model", "damaged.pt", "--out", "nl"],
                    ["netlist", "--model", "shape.pt", "--out", "nl"],
                    ["netlist", "--model", "nosuch.pt", "--out", "nl"],
                    [*nl, "--access", "--v-wordline", "0"], [*nl, "--v-wordline", "-1"],
                    [*nl, "--access", "--v-wordline", "1e6"], [*nl, "--v-read", "100"],
                    [*nl, "--inputs", "0"], [*nl, "--g-min", "-1"], [*nl, "--wire-r", "nan"],
                    [*nl, "--check", "--check-timeout", "0"],
                    ([*nl, "--check", "--check-timeout", "1"], {"CIRCUITSIM_NGSPICE": "./hang"})],
        "program": [["program", "--out", "afile"], ["program", "--quick", "--max-pulses", "0"],
                    ["program", "--quick", "--tolerance", "nan"],
                    ["program", "--quick", "--v-pulse", "0.7"],
                    ["program", "--quick", "--v-pulse", "inf"],
                    ["program", "--quick", "--seed", "-1"],
                    ["program", "--checkpoint", "evil.pt", "--spice-block", "0"],
                    ["program", "--checkpoint", "garbage.pt", "--spice-block", "0"],
                    ["program", "--spice-block", "-1"], ["program", "--prune-table"],
                    ["program", "--quick", "--variability", "--d2d-sigma", "-1"],
                    ["program", "--quick", "--device", "lid"],
                    ["program", "--quick", "--step", "amplitude", "--v-pulse", "0.62"],
                    ["program", "--quick", "--step", "amplitude", "--v-start", "0.6"],
                    ["program", "--quick", "--w-amp", "nan"]],
        "study": [["study", "scenario", "--scenario", "bin.json", "--out", "st", "--quick"],
                  ["study", "scenario", "--out", "st", "--quick"],
                  ["study", "variability", "--out", "st", "--seed", "-1"],
                  ["study", "variability", "--out", "st", "--hidden", ""],
                  ["study", "variability", "--out", "afile"],
                  ["study", "variability", "--out", "st", "--draws", "0"],
                  ["study", "variability", "--out", "st", "--v-read", "100"]],
        "sweep": [[*sweep, "--values", "1", "--model", "evil.pt"],
                  [*sweep, "--values", '"1"'], [*sweep, "--values", "Infinity"],
                  ["sweep", "--out", "sw", "--param", "nosuch", "--values", "1"],
                  [*sweep[:2], "afile", *sweep[3:], "--values", "1"],
                  [*sweep, "--values", "1", "--spice-images", "-1"]],
        "train": [["train", "--out", "."], ["train", "--out", "m2.pt", "--hidden", ""],
                  ["train", "--out", "m2.pt", "--hidden", "8,x"],
                  ["train", "--out", "m2.pt", "--activation", "tanh"],
                  ["train", "--out", "m2.pt", "--epochs", "0"],
                  ["train", "--out", "m2.pt", "--lr", "-1"],
                  ["train", "--out", "m2.pt", "--g-max", "-1"],
                  ["train", "--out", "m2.pt", "--prune", "1.5"],
                  ["train", "--out", "m2.pt", "--qat-levels", "1"],
                  ["train", "--out", "afile/m.pt"],
                  ["train", "--out", "m2.pt", "--data", "mnist", "--data-path", "nosuch"]],
        "train-circuit": [[*tc, "--seed=-1"], [*tc, "--epochs", "0"], [*tc, "--hidden", "0"],
                          ["train-circuit", "--out", "afile"], [*tc, "--timeout", "0"],
                          [*tc, "--dx-max", "-1"], [*tc, "--t-edge", "0"]],
    }


def _subcommands() -> list[str]:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return sorted(sub.choices)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    w = tmp_path_factory.mktemp("hostile")
    save_checkpoint(w / "m.pt", make_mlp((64, 8, 10)), {})
    torch.save(_Payload(), w / "evil.pt")
    ck = torch.load(w / "m.pt", weights_only=True)
    torch.save({**ck, "model": "garbage"}, w / "damaged.pt")
    ck["state_dict"]["0.weight"] = torch.zeros(3, 3)
    torch.save(ck, w / "shape.pt")
    (w / "garbage.pt").write_bytes(os.urandom(256))
    (w / "afile").write_text("a file, not a directory")
    (w / "hang").write_text("#!/bin/sh\nsleep 1000 &\nexec sleep 1000\n")  # a hung ngspice
    (w / "hang").chmod(0o755)
    (w / "bin.json").write_bytes(os.urandom(256))
    (w / "damaged-run").mkdir()
    (w / "damaged-run" / "run.json").write_bytes(b"\x00{not json")
    return w


@pytest.fixture(scope="module")
def results(world):
    cases = []
    for cmd in _subcommands():
        for c in [*_cases().get(cmd, []), [cmd, "--no-such-option"]]:
            argv, env = c if isinstance(c, tuple) else (c, {})
            cases.append({"argv": argv, "env": env, "cwd": str(world)})
    spec = world / "cases.json"
    spec.write_text(json.dumps(cases))
    env = {**os.environ, "PYTHONPATH": str(TESTS.parent)}
    proc = subprocess.run([sys.executable, str(TESTS / "_hostile_driver.py"), str(spec)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return list(zip(cases, json.loads(proc.stdout), strict=True))


def test_every_subcommand_has_hostile_cases():
    missing = [c for c in _subcommands() if c not in _cases()]
    assert not missing, f"add bad-input cases for {missing} to tests/test_hostile.py"


def test_every_bad_input_ends_in_one_error_line(results, world):
    bad = []
    for case, r in results:
        err = r["stderr"]
        lines = [x for x in err.splitlines() if ": error: " in x]
        cmd = case["argv"][0]
        ok = (r["rc"] not in (0, 98, 99) and "Traceback" not in err and len(lines) == 1
              and lines[0].startswith(f"circuitsim {cmd}: error: "))
        if not ok:
            bad.append(f"{case['argv']} {case['env'] or ''}: rc {r['rc']}, stderr:\n{err[-1500:]}")
    assert not bad, "\n\n".join(bad)
    assert not (world / "PAYLOAD-RAN").exists()
    evil = [r["stderr"] for c, r in results if "evil.pt" in c["argv"]]
    assert len(evil) == 4 and all("refused to load" in e for e in evil)


def test_bad_input_fails_before_any_work(results):
    for c, r in sorted(results, key=lambda cr: -cr[1]["wall_s"])[:12]:
        print(f"{r['wall_s']:6.2f} s  {c['argv']}")
    slow = [(c["argv"], round(r["wall_s"], 1)) for c, r in results if r["wall_s"] > 20]
    assert not slow, f"these took long to refuse (work started?): {slow}"
