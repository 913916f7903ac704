"""CNN layers in SPICE by unfolding: the kernel crossbar of each Conv2d is evaluated at every
output position as one sweep point of one ngspice run (tiles, wires), activation and pooling
are digital; SPICE vs twin on the 8x8 digits."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
import torch
from torch import nn

from circuitsim.cli import main as cli_main
from circuitsim.mapping import MappingConfig
from circuitsim.mapping.walk import software_layers
from circuitsim.network import CircuitConfig, build_network
from circuitsim.nn.data import load_digits
from circuitsim.nn.train import save_checkpoint

N_IMAGES = 24
REL_TOL = 1e-6


def small_cnn(digits) -> nn.Sequential:
    """1x8x8 -> conv 3x3 (6) ReLU avg-pool 2 -> conv 2x2 (8) ReLU -> linear 32 -> 10; seeded
    convolutions, least-squares output layer (a working classifier in milliseconds)."""
    torch.manual_seed(0)
    m = nn.Sequential(nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, 6, 3), nn.ReLU(),
                      nn.AvgPool2d(2), nn.Conv2d(6, 8, 2), nn.ReLU(), nn.Flatten(),
                      nn.Linear(32, 10)).double()
    with torch.no_grad():
        h = m[:7](torch.as_tensor(digits.x_train, dtype=torch.float64)).numpy()
        A = np.hstack([h, np.ones((len(h), 1))])
        sol = np.linalg.lstsq(A, np.eye(10)[digits.y_train] * 4.0 - 2.0, rcond=None)[0]
        m[7].weight.copy_(torch.as_tensor(sol[:-1].T))
        m[7].bias.copy_(torch.as_tensor(sol[-1]))
    return m.float().eval()


@pytest.fixture(scope="module")
def digits():
    return load_digits()


@pytest.fixture(scope="module")
def cnn(digits):
    return small_cnn(digits)


@pytest.fixture(scope="module")
def net(cnn, digits):
    return build_network(cnn, CircuitConfig(r_wire_row=2.0, r_wire_col=1.0, r_sense=5.0),
                         MappingConfig(tile_size=16), calibration=digits.x_train[:200])


def test_cnn_plan_unfolds_the_kernels(net, cnn, digits):
    c1, c2, fc = net.plans
    assert c1.conv["out_shape"] == (6, 6, 6) and c1.pool["kind"] == "avg"
    assert c1.conductance.shape == (1 * 9 + 1, 2 * 6)  # (k·k·c_in + 1) x 2·c_out
    assert c2.conductance.shape == (6 * 4 + 1, 2 * 8) and len(c2.row_tiles) == 2
    assert fc.conv is None and net.n_features == 64
    # the ideal twin (G·V, ideal sense) is the trained model, layer by layer
    x = digits.x_test[:10]
    ideal = net.behavioral_forward(x, ideal=True)
    sw = software_layers(cnn, x)
    for k, (a, b) in enumerate(zip(ideal.layers, sw, strict=True)):
        scale = 1.0 if k < 2 else net.circuit.v_per_unit
        np.testing.assert_allclose(a, b * scale, rtol=0, atol=1e-5 * np.abs(b).max() * scale)


@pytest.mark.ngspice
def test_cnn_spice_matches_twin(net, digits, batch_runner):
    x = digits.x_test[:N_IMAGES]
    sp = net.spice_forward(x, runner=batch_runner)
    tw = net.behavioral_forward(x)
    for p, a, b in zip(net.plans, sp.tiles, tw.tiles, strict=True):
        rel = np.abs(a - b).max() / np.abs(b).max()
        assert rel <= REL_TOL, f"layer {p.index}: tile outputs differ by {rel:.2g}"
    assert len(sp.tiles[0]) == N_IMAGES * 36  # one sweep point per image and position
    assert np.mean(sp.predict() == tw.predict()) >= 0.99
    assert np.mean(tw.predict() == digits.y_test[:N_IMAGES]) >= 0.6


@pytest.mark.ngspice
def test_netlist_command_writes_cnn_decks(cnn, tmp_path):
    ck = save_checkpoint(tmp_path / "cnn.pt", cnn, {})
    out = tmp_path / "decks"
    assert cli_main(["netlist", "--model", str(ck), "--out", str(out), "--inputs", "2",
                     "--data", "digits"]) == 0
    man = json.loads((out / "manifest.json").read_text())
    assert [layer["kind"] for layer in man["layers"]] == ["conv2d", "conv2d", "linear"]
    for deck in man["decks"]:
        proc = subprocess.run(["ngspice", "-b", str(out / deck)], capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 0 and "l1_t0_0_z0" in (out / man["decks"][0]).read_text()
