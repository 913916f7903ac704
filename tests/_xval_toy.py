"""A toy stand-in for ``circuitsim.network`` used to test the harness machinery (executors,
chunk store, resume, retries) without the real network builder.  It is NOT a model of any
circuit: the real pipeline is tested in test_xval_pipeline.py / test_demo.py."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch

from circuitsim.errors import SimulationError


@dataclass
class Outputs:
    layers: list

    @property
    def logits(self):
        return self.layers[-1]


@dataclass(frozen=True)
class ToyDataset:
    x_test: np.ndarray
    y_test: np.ndarray
    name: str = "toy"


def toy_dataset(n=24, n_in=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, n_in)).astype(np.float32)
    y = (x[:, 0] > x[:, 1]).astype(np.int64)
    return ToyDataset(x, y)


def toy_model(n_in=4, seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(n_in, 3), torch.nn.Sigmoid(),
                               torch.nn.Linear(3, 2))


class ToyNet:
    def __init__(self, model, cfg):
        from circuitsim.xval.harness import software_layers

        self._sw = lambda X: software_layers(model, X)
        self.r = float(cfg.circuit.get("r_wire", 0.0))
        self.fail = cfg.circuit.get("fail")

    def behavioral_forward(self, X, ideal=False, timeout_s=None):
        layers = [0.1 * a for a in self._sw(X)]
        if not ideal:
            layers = [a * (1 - 0.01 * self.r) for a in layers]
        return Outputs(layers)

    def spice_forward(self, X, runner="batch", timeout_s=60):
        if self.fail == "always" or (self.fail == "file" and os.path.exists(
                os.environ.get("TOY_FAIL_FLAG", "/nonexistent"))):
            raise SimulationError("toy ngspice failure", deck="* toy deck\n.end\n",
                                  log="toy log: singular matrix")
        sleep = float(os.environ.get("TOY_SPICE_SLEEP", "0"))
        if sleep:
            import time
            time.sleep(sleep)
        layers = self.behavioral_forward(X, ideal=False).layers
        return Outputs([a + 1e-6 * np.sin(np.arange(a.size).reshape(a.shape)) for a in layers])


def toy_factory(model, cfg, calibration=None):
    return ToyNet(model, cfg)


def crash_factory(model, cfg, calibration=None):
    """A network whose SPICE run kills its worker process (once per flag file)."""
    net = ToyNet(model, cfg)
    flag = os.environ.get("TOY_CRASH_FLAG")

    def spice_forward(X, runner="batch", timeout_s=60):
        if flag and os.path.exists(flag):
            os.unlink(flag)
            os._exit(3)
        return ToyNet.spice_forward(net, X, runner, timeout_s)

    net.spice_forward = spice_forward
    return net
