"""Model files are data: no loader runs code from them (issue 12, class 1 and 8).  The
subcommands that load a model (demo, netlist, sweep) are fed a payload in test_hostile.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torch import nn

from circuitsim.errors import ConfigError
from circuitsim.nn import load_checkpoint, load_model_file, make_mlp, save_checkpoint

ROOT = Path(__file__).resolve().parents[1]


class _Payload:
    """Unpickling this object would create the marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _evil_files(tmp_path: Path) -> tuple[Path, list[Path]]:
    marker = tmp_path / "PAYLOAD-RAN"
    files = []
    for name, obj in (("bare", _Payload(marker)),
                      ("in-checkpoint", {"format": "circuitsim-checkpoint-1",
                                         "model": _Payload(marker), "state_dict": {},
                                         "config": {}}),
                      ("in-sequential", nn.Sequential(nn.Linear(64, 10), nn.Sigmoid()))):
        p = tmp_path / f"{name}.pt"
        if name == "in-sequential":
            obj[1].register_forward_hook(os.system)  # a Sequential naming a callable global
        torch.save(obj, p)
        files.append(p)
    return marker, files


def test_api_loaders_never_run_a_payload(tmp_path):
    marker, files = _evil_files(tmp_path)
    for p in files:
        for load in (load_model_file, load_checkpoint):
            with pytest.raises(ConfigError, match="refused to load.*weights_only=False"):
                load(p)
    assert not marker.exists()


def test_plain_saved_sequential_loads_safely(tmp_path):
    m = make_mlp((64, 8, 10))
    torch.save(m, tmp_path / "seq.pt")
    got, cfg = load_model_file(tmp_path / "seq.pt")
    assert cfg == {}
    x = torch.rand(3, 64)
    assert torch.equal(got(x), m.eval()(x))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)


def test_custom_module_class_is_refused_with_the_conversion(tmp_path):
    torch.save(Net(), tmp_path / "net.pt")
    with pytest.raises(ConfigError, match="circuitsim checkpoint from a Python session"):
        load_model_file(tmp_path / "net.pt")


@pytest.mark.parametrize("damage, match", [
    (lambda ck: ck.pop("state_dict"), "no state_dict"),
    (lambda ck: ck.__setitem__("model", "garbage"), "model description"),
    (lambda ck: ck.__setitem__("model", [{"type": "linear", "in": -3, "out": 2}]),
     "model description"),
    (lambda ck: ck["state_dict"].__setitem__("0.weight", torch.zeros(3, 3)), "do not fit"),
    (lambda ck: ck["state_dict"].pop("0.bias"), "do not fit"),
    (lambda ck: ck.__setitem__("config", [1]), "not a mapping"),
])
def test_damaged_checkpoint_is_a_config_error(tmp_path, damage, match):
    p = tmp_path / "m.pt"
    save_checkpoint(p, make_mlp((64, 8, 10)), {"data": "digits"})
    ck = torch.load(p, weights_only=True)
    damage(ck)
    torch.save(ck, p)
    with pytest.raises(ConfigError, match=match):
        load_checkpoint(p)
    with pytest.raises(ConfigError, match=match):
        load_model_file(p)


def test_garbage_file_is_a_config_error(tmp_path):
    p = tmp_path / "x.pt"
    p.write_bytes(os.urandom(300))
    with pytest.raises(ConfigError, match="not a readable torch checkpoint"):
        load_model_file(p)
