"""The wheel carries what a non-editable install needs to run a deck: the device libraries
and the demo checkpoint (package data, found with importlib.resources)."""

from __future__ import annotations

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
                 f"circuitsim/data/{DEMO_CHECKPOINT}", "circuitsim/circuit/library.py"):
        assert need in names, f"{need} missing from {whl.name}"
