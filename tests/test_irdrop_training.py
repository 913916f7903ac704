"""IR-drop-aware training with the exact solver (issue 13): the training forward of
:class:`IRDropAware` (``gradient="exact"``) equals the mapped crossbars' IR-drop forward, its
gradient (the PCG adjoint) equals finite differences, and ``train`` uses it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from circuitsim.errors import ConfigError
from circuitsim.mapping import MappingConfig, map_layer
from circuitsim.nn import Dataset, TrainConfig, train
from circuitsim.nn.models import make_cnn, make_mlp
from circuitsim.nonideal import IRDrop, IRDropAware


def _through_hook(model, hook, x):
    """model(x) with every Linear / Conv2d output replaced by hook.layer_forward."""
    mods = [m for m in model.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))]
    hs = [m.register_forward_hook(lambda mod, a, out: hook.layer_forward(mod, a[0]))
          for m in mods]
    try:
        return model(x)
    finally:
        for h in hs:
            h.remove()


def _effective(model, ir, cfg):
    """A copy of ``model`` whose Linear / Conv2d weights are those its crossbars realise with
    IR drop (IRDrop.effective_layer: transfer maps by block elimination, independent of the
    PCG)."""
    import copy

    m = copy.deepcopy(model)
    for mod in m.modules():
        if isinstance(mod, (torch.nn.Linear, torch.nn.Conv2d)):
            w = mod.weight.detach().numpy()
            layer = map_layer(w.reshape(w.shape[0], -1), mod.bias.detach().numpy(), cfg)
            we, be = ir.effective_layer(layer).weights()
            with torch.no_grad():
                mod.weight.copy_(torch.tensor(we.reshape(w.shape)))
                mod.bias.copy_(torch.tensor(be))
    return m


WIRES = [
    IRDrop(r_wire_row=2.0, r_wire_col=2.0),
    IRDrop(r_wire_row=0.0, r_wire_col=5.0, r_source=1.0),  # merged rows
    IRDrop(r_wire_row=3.0, r_wire_col=0.0, r_sense=2.0),  # merged columns
    IRDrop(),  # no resistance: the ideal crossbar
]


@pytest.mark.parametrize("ir", WIRES, ids=["rc", "col+src", "row+sense", "none"])
@pytest.mark.parametrize("cfg", [MappingConfig(tile_size=4),
                                 MappingConfig(g_min=0.0, scaling="column")],
                         ids=["tiles", "gmin0-column"])
def test_exact_forward_equals_the_effective_layers(ir, cfg):
    model = make_mlp((9, 7, 4), activation="relu", seed=3).double()
    x = torch.tensor(np.random.default_rng(1).random((12, 9)))
    want = _effective(model, ir, cfg)(x).detach().numpy()
    got = _through_hook(model, IRDropAware(ir, cfg), x).detach().numpy()
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10 * np.abs(want).max())
    if ir.has_wire_resistance:  # the IR drop is really there
        ideal = model(x).detach().numpy()
        assert np.abs(want - ideal).max() > 1e-4 * np.abs(ideal).max()


def test_exact_forward_with_levels_quantises_like_the_mapping():
    """levels: the programmed (quantised) conductances forward; with no wire resistance the
    output is the quantised layer's, which differs from the unquantised one."""
    model = make_mlp((9, 4), seed=2).double()
    x = torch.tensor(np.random.default_rng(3).random((5, 9)))
    cfg = MappingConfig(levels=8, tile_size=5)
    w, b = model[0].weight.detach().numpy(), model[0].bias.detach().numpy()
    wq, bq = map_layer(w, b, cfg).weights()
    got = _through_hook(model, IRDropAware(IRDrop(), cfg), x).detach().numpy()
    np.testing.assert_allclose(got, x.numpy() @ wq.T + bq, rtol=0, atol=1e-12)
    assert np.abs(got - model(x).detach().numpy()).max() > 1e-3


def test_exact_forward_of_a_conv_network():
    model = make_cnn((1, 6, 6), n_classes=3, channels=(2, 3), seed=0).double()
    x = torch.tensor(np.random.default_rng(2).random((3, 36)))
    ir, cfg = IRDrop(r_wire_row=4.0, r_wire_col=4.0), MappingConfig(tile_size=8)
    want = _effective(model, ir, cfg)(x).detach().numpy()
    got = _through_hook(model, IRDropAware(ir, cfg), x).detach().numpy()
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10 * np.abs(want).max())


@pytest.mark.parametrize("cfg", [MappingConfig(tile_size=3), MappingConfig(scaling="column")],
                         ids=["tiles", "column"])
def test_exact_gradient_equals_finite_differences(cfg):
    """Weights, bias and inputs (including the max|w| of the mapping) against central
    differences of the exact IR-drop forward."""
    r = np.random.default_rng(4)
    sign = r.choice([-1.0, 1.0], (3, 5))
    W = torch.tensor(sign * r.uniform(0.2, 1.0, (3, 5)), requires_grad=True)  # off the kink
    b = torch.tensor(r.uniform(-0.5, 0.5, 3), requires_grad=True)
    x = torch.tensor(r.uniform(0.1, 1.0, (4, 5)), requires_grad=True)
    hook = IRDropAware(IRDrop(r_wire_row=20.0, r_wire_col=20.0), cfg)
    lin = torch.nn.Linear(5, 3).double()

    def f(W, b, x):
        with torch.no_grad():
            lin.weight.copy_(W)
            lin.bias.copy_(b)
        return hook._crossbar(W, b, x)

    assert torch.autograd.gradcheck(f, (W, b, x), eps=1e-6, atol=1e-7, rtol=1e-5)
    # the IR drop changes the gradient: it is not the ideal layer's
    c = torch.tensor(r.normal(size=(4, 3)))
    (f(W, b, x) * c).sum().backward()
    ideal = c.T @ x.detach()
    assert float((W.grad - ideal).abs().max()) > 1e-3 * float(ideal.abs().max())


def _toy_dataset(n_features=8, n_classes=3, seed=0):
    r = np.random.default_rng(seed)
    teacher = r.normal(size=(n_features, n_classes))
    x = r.random((160, n_features)).astype(np.float32)
    y = np.argmax((x - 0.5) @ teacher, axis=1).astype(np.int64)
    return Dataset(x[:120], y[:120], x[120:], y[120:], "toy", tuple("abc"[:n_classes]))


def test_train_uses_the_exact_forward():
    """One epoch with the exact hook equals one epoch of plain Adam steps whose loss is
    computed through the exact IR-drop forward (so train really puts it in the loop), and
    differs from the straight-through and the ideal training."""
    ds = _toy_dataset()
    ir, cfg = IRDrop(r_wire_row=10.0, r_wire_col=10.0), MappingConfig()
    hook = IRDropAware(ir, cfg)
    runs = {}
    for name, wn in (("exact", hook), ("st", IRDropAware(ir, cfg, "straight-through")),
                     ("ideal", None)):
        m = make_mlp((8, 3), seed=1).double()
        h = train(m, ds, TrainConfig(epochs=1, batch_size=40, lr=0.05, weight_noise=wn,
                                     device="cpu", progress=False))
        assert np.isfinite(h["loss"]).all()
        runs[name] = m[0].weight.detach().clone()
    # the same steps by hand
    m = make_mlp((8, 3), seed=1).double()
    opt = torch.optim.Adam(m.parameters(), lr=0.05)
    gen = torch.Generator().manual_seed(0)
    X, Y = torch.tensor(ds.x_train, dtype=torch.float64), torch.tensor(ds.y_train)
    perm = torch.randperm(len(X), generator=gen)
    for i in range(0, len(X), 40):
        idx = perm[i:i + 40]
        loss = torch.nn.functional.cross_entropy(_through_hook(m, hook, X[idx]), Y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    torch.testing.assert_close(runs["exact"], m[0].weight.detach(), rtol=0, atol=1e-12)
    assert float((runs["exact"] - runs["st"]).abs().max()) > 1e-6
    assert float((runs["exact"] - runs["ideal"]).abs().max()) > 1e-6


def test_bad_settings():
    with pytest.raises(ConfigError, match="gradient must be one of"):
        IRDropAware(IRDrop(), MappingConfig(), "unrolled")
    hook = IRDropAware(IRDrop(r_wire_row=1.0), MappingConfig())
    with pytest.raises(ConfigError, match="maps nn.Linear and nn.Conv2d"):
        hook.layer_forward(torch.nn.ReLU(), torch.zeros(2, 2))
    with pytest.raises(ConfigError, match="groups"):
        hook.layer_forward(torch.nn.Conv2d(2, 2, 3, groups=2).double(),
                           torch.zeros(1, 2, 5, 5, dtype=torch.float64))
