"""The wheel carries what a non-editable install needs to run a deck: the device libraries
and the demo checkpoint (package data, found with importlib.resources)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from circuitsim.circuit.library import library_dir, library_path
from circuitsim.data import DEMO_CHECKPOINT, data_path

ROOT = Path(__file__).resolve().parents[1]


def test_package_data_found_through_importlib_resources():
    assert library_dir().name == "models" and library_dir().parent.name == "circuitsim"
    assert library_path("vteam.lib").is_file()
    assert library_path("linear_ion_drift.lib").is_file()
    assert data_path(DEMO_CHECKPOINT).is_file()


def test_wheel_contains_libraries_and_checkpoint(tmp_path):
    src = tmp_path / "src"  # a copy: building writes build/ and *.egg-info next to setup.cfg
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", "__pycache__", "benchmarks", "netlists",
        "tests", ".pytest_cache"))
    out = tmp_path / "wheel"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(out), str(src)], check=True, capture_output=True,
                   timeout=300)
    (whl,) = out.glob("circuitsim-*.whl")
    names = set(zipfile.ZipFile(whl).namelist())
    for need in ("circuitsim/models/vteam.lib", "circuitsim/models/linear_ion_drift.lib",
                 "circuitsim/models/vteam.va", "circuitsim/models/ptm_45nm_hp_nmos.pm",
                 f"circuitsim/data/{DEMO_CHECKPOINT}", "circuitsim/circuit/library.py"):
        assert need in names, f"{need} missing from {whl.name}"
    # installed from the wheel alone (not this checkout): a deck that includes a device
    # library runs in ngspice, and the demo checkpoint is found
    site = tmp_path / "site"
    zipfile.ZipFile(whl).extractall(site)
    code = (
        "import circuitsim\n"
        "from circuitsim.cards.memristor import VTEAM_MEMTORCH\n"
        "from circuitsim.circuit import Deck, Op, VoltageSource\n"
        "from circuitsim.data import DEMO_CHECKPOINT, data_path\n"
        "from circuitsim.spice import simulate\n"
        "deck = Deck('t', (VoltageSource('V1', 'a', '0', 0.1),\n"
        "                  VTEAM_MEMTORCH.instance('Xm', 'a', '0', x0=0.5)),\n"
        "            includes=(VTEAM_MEMTORCH.library,), analyses=(Op(),))\n"
        "res = simulate(deck)\n"
        "assert abs(float(res['i(v1)'][0])) > 0\n"
        "assert data_path(DEMO_CHECKPOINT).is_file()\n"
        "print(circuitsim.__file__)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(site)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().startswith(str(site))
