"""Models, seeded training and checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from circuitsim.errors import ConfigError
from circuitsim.nn import (
    TrainConfig,
    accuracy,
    build_model,
    describe_model,
    load_checkpoint,
    load_digits,
    make_cnn,
    make_mlp,
    make_model,
    predict,
    save_checkpoint,
    train,
)

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def test_make_mlp_layout():
    m = make_mlp((64, 32, 10), "relu")
    assert [type(x).__name__ for x in m] == ["Linear", "ReLU", "Linear"]
    assert m[0].weight.shape == (32, 64)
    with pytest.raises(ConfigError):
        make_mlp((64,))
    with pytest.raises(ConfigError):
        make_mlp((64, 10), "swish")


def test_describe_build_round_trip():
    m = make_cnn((1, 8, 8), 10)
    m2 = build_model(describe_model(m))
    m2.load_state_dict(m.state_dict())
    x = torch.rand(3, 64)
    torch.testing.assert_close(m(x), m2(x))
    assert m(x).shape == (3, 10)


def test_training_is_seeded_and_learns(digits):
    small = digits.subset(400, 120)
    cfg = TrainConfig(epochs=6, progress=False, seed=3)
    m1 = make_mlp(seed=1)
    h = train(m1, small, cfg)
    m2 = make_mlp(seed=1)
    train(m2, small, cfg)
    for a, b in zip(m1.parameters(), m2.parameters(), strict=True):
        assert torch.equal(a, b)
    assert h["loss"][-1] < h["loss"][0]
    assert h["test_acc"][-1] > 0.8  # chance is 0.1
    m3 = make_mlp(seed=1)
    train(m3, small, TrainConfig(epochs=6, progress=False, seed=4))
    assert not torch.equal(m1[0].weight, m3[0].weight)


def test_binary_model_and_noise_hook(digits):
    # two-class subset (0 vs 1) with a logistic detector; the noise hook is called each step
    keep_tr = digits.y_train < 2
    keep_te = digits.y_test < 2
    from circuitsim.nn.data import Dataset

    ds = Dataset(digits.x_train[keep_tr], digits.y_train[keep_tr], digits.x_test[keep_te],
                 digits.y_test[keep_te], "digits01", ("0", "1"))

    class Counting:
        calls = 0

        def sample(self, w, gen):
            Counting.calls += 1
            return torch.zeros_like(w)

    m = make_model("logistic", 64, 2)
    assert m[-1].out_features == 1
    train(m, ds, TrainConfig(epochs=2, progress=False, weight_noise=Counting()))
    assert Counting.calls > 0
    assert accuracy(m, ds.x_test, ds.y_test) > 0.95
    assert set(np.unique(predict(m, ds.x_test))) <= {0, 1}
    with pytest.raises(ConfigError, match="2-class"):
        train(make_model("logistic", 64, 2), digits, TrainConfig(epochs=1, progress=False))


def test_checkpoint_round_trip(tmp_path, digits):
    m = make_model("cnn", 64, 10, (1, 8, 8))
    p = save_checkpoint(tmp_path / "c.pt", m, {"data": "digits", "epochs": 0})
    m2, cfg = load_checkpoint(p)
    assert cfg == {"data": "digits", "epochs": 0}
    np.testing.assert_array_equal(predict(m, digits.x_test), predict(m2, digits.x_test))
    with pytest.raises(ConfigError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ConfigError, match="checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")
    with pytest.raises(ConfigError, match="JSON"):
        save_checkpoint(tmp_path / "d.pt", m, {"bad": object()})


def test_train_config_validation():
    with pytest.raises(ConfigError):
        TrainConfig(lr=0)
    with pytest.raises(ConfigError):
        TrainConfig(batch_size=0)
    with pytest.raises(ConfigError):
        TrainConfig(weight_noise=object())
