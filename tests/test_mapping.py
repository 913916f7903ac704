"""Weight mapping: exact round trip, the published schemes, and mapped == software accuracy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from circuitsim.errors import ConfigError
from circuitsim.mapping import (
    MappingConfig,
    conductance_levels,
    map_layer,
    map_model,
    quantize_uniform,
)
from circuitsim.network import crossbar_forward, mapped_accuracy
from circuitsim.nn import TrainConfig, accuracy, load_digits, make_model, train

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def digits():
    return load_digits()


@pytest.fixture(scope="module")
def trained(digits):
    """The four digits models, trained once (short) for this module."""
    out = {}
    for name, kind, act in (("mlp-sigmoid", "mlp", "sigmoid"), ("mlp-relu", "mlp", "relu"),
                            ("logistic", "logistic", "sigmoid"), ("cnn", "cnn", "relu")):
        m = make_model(kind, 64, 10, digits.image_shape, activation=act)
        train(m, digits, TrainConfig(epochs=8, progress=False))
        out[name] = m
    return out


def test_round_trip_and_cat_scheme():
    rng = np.random.default_rng(0)
    w, b = rng.normal(size=(5, 7)), rng.normal(size=5)
    cfg = MappingConfig(g_min=0.0, g_max=110e-6)
    ml = map_layer(w, b, cfg)
    assert ml.g_pos.shape == (8, 5) and ml.n_in == 7 and ml.n_out == 5
    w2, b2 = ml.weights()
    np.testing.assert_allclose(w2, w, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(b2, b, rtol=1e-14, atol=1e-15)
    # G = w·G_max/max|w| on the device of the weight's sign, 0 S (unprogrammed) on the other
    wb = np.vstack([w.T, b])
    expect = np.abs(wb) * 110e-6 / np.abs(wb).max()
    np.testing.assert_allclose(np.where(wb > 0, ml.g_pos, ml.g_neg), expect, rtol=1e-14)
    assert np.all(np.where(wb > 0, ml.g_neg, ml.g_pos) == 0.0)
    assert ml.g_pos.max() <= 110e-6


def test_gmin_offset_and_column_scaling():
    rng = np.random.default_rng(1)
    w = rng.normal(size=(4, 6))
    cfg = MappingConfig.from_on_off(100e-6, 10.0, scaling="column")
    assert cfg.g_min == pytest.approx(10e-6) and cfg.on_off_ratio == pytest.approx(10.0)
    ml = map_layer(w, None, cfg)
    assert ml.g_pos.min() >= 10e-6 and ml.g_neg.min() >= 10e-6
    assert np.asarray(ml.w_per_siemens).shape == (4,)
    # every column reaches g_max on its largest weight
    np.testing.assert_allclose(np.maximum(ml.g_pos, ml.g_neg).max(axis=0), 100e-6, rtol=1e-12)
    w2, b2 = ml.weights()
    np.testing.assert_allclose(w2, w, rtol=1e-12, atol=1e-14)
    assert np.all(b2 == 0)


def test_quantised_levels():
    cfg = MappingConfig(g_min=1e-6, g_max=101e-6, levels=5)
    lv = conductance_levels(cfg)
    np.testing.assert_allclose(lv, [1e-6, 26e-6, 51e-6, 76e-6, 101e-6])
    ml = map_layer(np.linspace(-1, 1, 9)[None, :], None, cfg)
    assert set(np.round(np.unique(np.r_[ml.g_pos.ravel(), ml.g_neg.ravel()]) * 1e6, 6)) <= \
        set(np.round(lv * 1e6, 6))
    np.testing.assert_allclose(ml.weights()[0], [[-1, -0.75, -0.5, -0.25, 0, 0.25, 0.5, 0.75, 1]],
                               atol=1e-12)
    log = MappingConfig(g_min=1e-6, g_max=100e-6, levels=3, level_spacing="log")
    np.testing.assert_allclose(conductance_levels(log), [1e-6, 10e-6, 100e-6])


def test_quantize_uniform_grid():
    x = np.linspace(0, 1, 101)
    q = quantize_uniform(x, 2, 1.0, signed=False)
    assert set(np.round(q, 12)) == {0.0, round(1 / 3, 12), round(2 / 3, 12), 1.0}
    s = quantize_uniform(np.array([-2.0, -0.4, 0.1, 0.3, 5.0]), 3, 1.0, signed=True)
    np.testing.assert_allclose(s, [-1, -1 / 3, 0, 1 / 3, 1])


@pytest.mark.parametrize("bad", [dict(g_min=1e-4, g_max=1e-4), dict(g_min=-1e-6),
                                 dict(levels=1), dict(adc_bits=0), dict(dac_bits=0),
                                 dict(tile_size=0), dict(scaling="row"), dict(v_read=0),
                                 dict(level_spacing="log", g_min=0.0)])
def test_bad_mapping_config(bad):
    with pytest.raises(ConfigError):
        MappingConfig(**bad)


@pytest.mark.parametrize("name", ["mlp-sigmoid", "mlp-relu", "logistic", "cnn"])
def test_mapped_ideal_accuracy_equals_software(trained, digits, name):
    m = trained[name]
    sw = accuracy(m, digits.x_test, digits.y_test)
    assert sw > 0.85
    assert mapped_accuracy(m, digits.x_test, digits.y_test, MappingConfig()) == sw
    with torch.no_grad():
        ref = m.double()(torch.as_tensor(digits.x_test, dtype=torch.float64)).numpy()
        m.float()
    np.testing.assert_allclose(crossbar_forward(m, digits.x_test, MappingConfig()), ref,
                               rtol=0, atol=1e-10 * np.abs(ref).max())


def test_tiling_without_converters_is_exact(trained, digits):
    m = trained["mlp-relu"]
    ref = crossbar_forward(m, digits.x_test, MappingConfig())
    tiled = crossbar_forward(m, digits.x_test, MappingConfig(tile_size=16))
    np.testing.assert_allclose(tiled, ref, rtol=1e-12, atol=1e-12)


def test_converters_cost_accuracy_monotonically(trained, digits):
    m = trained["mlp-sigmoid"]
    sw = accuracy(m, digits.x_test, digits.y_test)
    cal = digits.x_train[:200]
    acc = {b: mapped_accuracy(m, digits.x_test, digits.y_test,
                              MappingConfig(adc_bits=b, dac_bits=b, tile_size=32),
                              calibration=cal) for b in (2, 8)}
    assert acc[8] >= sw - 0.02  # 8-bit converters lose at most a couple of images
    assert acc[2] < acc[8]


def test_adc_calibrated_on_calibration_data_is_batch_independent(trained, digits):
    """ADC full scales come from the calibration inputs, never from the evaluated batch: the
    first images give the same logits alone and inside the whole test set; without
    calibration inputs a calibrated ADC is refused."""
    m = trained["mlp-relu"]
    cfg = MappingConfig(adc_bits=5, dac_bits=6, tile_size=16)
    cal = digits.x_train[:200]
    whole = crossbar_forward(m, digits.x_test, cfg, calibration=cal)
    alone = crossbar_forward(m, digits.x_test[:3], cfg, calibration=cal)
    np.testing.assert_array_equal(alone, whole[:3])
    with pytest.raises(ConfigError, match="calibration"):
        crossbar_forward(m, digits.x_test, cfg)


def test_conv_unfolding_with_padding_and_stride_matches_torch():
    from torch import nn

    torch.manual_seed(0)
    m = nn.Sequential(nn.Unflatten(1, (2, 7, 6)), nn.Conv2d(2, 3, (3, 2), stride=(2, 1),
                                                            padding=(1, 0)),
                      nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4 * 5, 4)).double()
    x = torch.rand(5, 84, dtype=torch.float64)
    layers = map_model(m, MappingConfig())
    assert layers[0].kind == "conv2d" and layers[0].g_pos.shape == (2 * 3 * 2 + 1, 3)
    with torch.no_grad():
        np.testing.assert_allclose(crossbar_forward(m, x.numpy(), MappingConfig()),
                                   m(x).numpy(), rtol=1e-10, atol=1e-12)


def test_binary_detectors_map_exactly(digits):
    from circuitsim.nn import make_cat_relu
    from circuitsim.nn.data import Dataset

    tr, te = digits.y_train < 2, digits.y_test < 2
    ds = Dataset(digits.x_train[tr], digits.y_train[tr], digits.x_test[te], digits.y_test[te],
                 "digits-0v1", ("0", "1"))
    for m in (make_model("logistic", 64, 2), make_cat_relu(64, hidden=7)):
        train(m, ds, TrainConfig(epochs=2, progress=False))
        layers = map_model(m, MappingConfig())
        assert layers[-1].n_out == 1
        assert mapped_accuracy(m, ds.x_test, ds.y_test, MappingConfig()) == \
            accuracy(m, ds.x_test, ds.y_test)
