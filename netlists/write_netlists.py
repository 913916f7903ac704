"""Regenerate the decks in ``netlists/``:

* ``golden/``: the standard blocks (2x2 differential 1T1R crossbar, TIA and differential sense
  stage per op-amp kind, each neuron); byte-deterministic, compared by the tests;
* ``demo/``: the demo network, a digits MLP 64-16-10 (sigmoid) trained here with a fixed seed
  (package data ``circuitsim/data/digits_mlp.pt``), written by ``circuitsim netlist`` as ``demo/ideal/`` (no
  parasitics, ideal neurons) and ``demo/parasitic/`` (wire 1 ohm per segment, 10 ohm drivers
  and sense resistors, 1T1R cells, circuit neurons), each with its first 10 test images.

Run from the repository root:  ``.venv/bin/python netlists/write_netlists.py [--check]``
(``--check`` runs every written deck in plain ``ngspice -b``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEMO_SIZES = (64, 16, 10)


def train_demo_model():
    """The demo MLP: digits, 64-16-10 sigmoid, seed 0, 40 epochs of Adam on CPU."""
    from circuitsim.nn import TrainConfig, load_digits, make_mlp, train

    model = make_mlp(DEMO_SIZES, "sigmoid", seed=0)
    train(model, load_digits(), TrainConfig(epochs=40, seed=0, device="cpu", progress=False))
    return model.cpu().eval()


def write_demo() -> list[Path]:
    from circuitsim.cli import main as cli
    from circuitsim.nn import accuracy, load_digits
    from circuitsim.nn.train import save_checkpoint

    ck = HERE.parent / "circuitsim" / "data" / "digits_mlp.pt"
    if not ck.exists():
        model = train_demo_model()
        ds = load_digits()
        save_checkpoint(ck, model, {
            "data": "digits", "model": {"kind": "mlp", "hidden": [16],
                                        "activation": "sigmoid", "seed": 0},
            "train": {"epochs": 40, "seed": 0},
            "results": {"test_acc": accuracy(model, ds.x_test, ds.y_test)}})
    paths = [ck]
    for sub, extra in (("ideal", []),
                       ("parasitic", ["--wire-r", "1", "--r-source", "10", "--r-sense", "10",
                                      "--access", "--neuron", "circuit"])):
        out = HERE / "demo" / sub
        if cli(["netlist", "--model", str(ck), "--out", str(out), "--inputs", "10",
                *extra]) != 0:
            raise SystemExit(f"circuitsim netlist failed for {sub}")
        paths += sorted(out.iterdir())
    return paths


def check(paths) -> int:
    from circuitsim.spice import find_ngspice

    bad = 0
    for p in paths:
        if p.suffix != ".cir":
            continue
        r = subprocess.run([find_ngspice(), "-b", p.name], cwd=p.parent, capture_output=True,
                           text=True, timeout=600)
        print(f"ngspice -b {p.relative_to(HERE.parent)}: exit {r.returncode}")
        bad += r.returncode != 0
    return 1 if bad else 0


def main(argv) -> int:
    from circuitsim.generators.golden import write_golden

    paths = write_golden(HERE / "golden") + write_demo()
    for p in paths:
        print(p.relative_to(HERE.parent))
    return check(paths) if "--check" in argv else 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))
    sys.exit(main(sys.argv[1:]))
