"""Pruning + QAT before programming: masks, grid, unprogrammed cells, CLI errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from circuitsim.errors import ConfigError
from circuitsim.nn import get_dataset, make_mlp
from circuitsim.nn.prune import magnitude_masks, prune_retrain


@pytest.fixture(scope="module")
def small():
    ds = get_dataset("digits").subset(200, 50)
    return ds, make_mlp((ds.n_features, 8, ds.n_classes), "sigmoid", 0)


def test_prune_and_qat_keep_zeros_and_grid(small):
    ds, model = small
    masks = magnitude_masks(model, 0.5)
    assert all(abs(float((m == 0).float().mean()) - 0.5) < 0.01 for m in masks)
    out = prune_retrain(model, ds, prune=0.5, levels=5, epochs=1)
    assert out["pruned_fraction"] == pytest.approx(0.5, abs=0.01)
    for lin, m in zip([mm for mm in model if isinstance(mm, torch.nn.Linear)], out["masks"],
                      strict=True):
        w = lin.weight.detach()
        assert torch.all(w[m == 0] == 0)
        step = w.abs().max() / 4
        assert torch.allclose(w / step, torch.round(w / step), atol=1e-5)
    with pytest.raises(ConfigError):
        magnitude_masks(model, 1.0)
    with pytest.raises(ConfigError):
        prune_retrain(model, ds, levels=1)


def test_pruned_weights_leave_both_devices_unprogrammed(small):
    from circuitsim.mapping import MappingConfig
    from circuitsim.network import build_network
    from circuitsim.program.run import pruned_targets

    ds, _ = small
    model = make_mlp((ds.n_features, 8, ds.n_classes), "sigmoid", 1)
    prune_retrain(model, ds, prune=0.3, epochs=0)
    net = build_network(model, mapping=MappingConfig(g_min=10.45e-6, g_max=99.55e-6))
    p = net.plans[0]
    t = pruned_targets(p)
    zero = p.weight == 0
    assert zero.any()
    j, i = np.argwhere(zero)[0]
    assert np.isnan(t[i, 2 * j]) and np.isnan(t[i, 2 * j + 1])
    assert np.isfinite(t[-1]).all()  # bias row
    assert int(np.isnan(t).sum()) == 2 * int(zero.sum())


def test_train_cli_refuses_bad_prune(tmp_path, capsys):
    from circuitsim.cli import main

    assert main(["train", "--prune", "1.5", "--epochs", "1", "--out",
                 str(tmp_path / "m.pt")]) == 1
    assert "--prune" in capsys.readouterr().err
    assert not (tmp_path / "m.pt").exists()
