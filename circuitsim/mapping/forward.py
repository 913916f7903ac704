"""Forward pass of a mapped network through its crossbars (numpy, float64, batched).

Per layer: inputs are scaled so the largest row voltage is ``v_read`` (inputs in [0, 1] are
not rescaled; larger ones, e.g. ReLU activations, are divided by their batch maximum — the
bias row's value 1 too, so it is then driven below v_read — and the output multiplied back),
optionally DAC-quantised and driven on the rows; the column currents of each T×T tile are
computed (ideal ``V @ G`` or a hook, e.g. the IR-drop solve), read noise is added, each row
tile's differential current is ADC-quantised (full scale from calibration inputs), the row
tiles are summed digitally (:mod:`circuitsim.mapping.converters`, shared with the circuit
network), and
``y = I·w_per_siemens·x_scale / v_read`` goes through the neuron.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..readout import ACTIVATION_FUNCS, predict_labels
from .converters import adc, dac, quantize_uniform, tile_ranges
from .layer import MappedLayer

__all__ = ["ACTIVATION_FUNCS", "crossbar_forward", "mapped_accuracy", "predict_labels",
           "quantize_uniform", "unfold_patches"]



def unfold_patches(x: np.ndarray, conv: dict) -> np.ndarray:
    """Flat (N, C·H·W) images → (N·H'·W', C·kh·kw) patches in torch's ``unfold`` order."""
    c, h, w = conv["in_shape"]
    kh, kw = conv["kernel"]
    sh, sw = conv["stride"]
    ph, pw = conv["padding"]
    _, ho, wo = conv["out_shape"]
    x4 = x.reshape(len(x), c, h, w)
    if ph or pw:
        x4 = np.pad(x4, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    win = np.lib.stride_tricks.sliding_window_view(x4, (kh, kw), axis=(2, 3))
    win = win[:, :, ::sh, ::sw][:, :, :ho, :wo]  # (N, C, H', W', kh, kw)
    return win.transpose(0, 2, 3, 1, 4, 5).reshape(len(x) * ho * wo, c * kh * kw)


def _ideal_mvm(v: np.ndarray, g: np.ndarray, key) -> np.ndarray:
    return v @ g


def crossbar_forward(layers: list[MappedLayer], x, *, mvm=None, read_noise=None, rng=None,
                     return_layers: bool = False, calibration=None):
    """Logits (N, n_out) of the mapped network for inputs ``x`` (N, features) in [0, 1].

    ``mvm(v (M, r), g (r, c), key) -> i (M, c)``: column currents of one tile [A]; default the
    ideal ``v @ g``; ``key = (layer, row_tile, col_tile, 'pos'|'neg')`` lets a hook cache one
    factorisation per tile.  ``read_noise(i, v, g, rng) -> i`` adds read noise to one tile's
    currents.  With ``return_layers`` also the list of every layer's post-activation output.

    ``calibration``: inputs (M, features) that set, per layer, the input scale (ReLU
    activations above 1) and the ADC full scale of each row tile (``adc_range='calibrated'``,
    the default: the largest |partial sum| over the calibration inputs); an image's result then
    does not depend on the other images of ``x``.  Needed when the mapping has ADCs with
    ``adc_range='calibrated'``; without it the input scale is taken from ``x`` itself.
    """
    scales = None
    if calibration is not None:
        scales = []
        _forward(layers, calibration, _ideal_mvm if mvm is None else mvm, None, None,
                 record=scales)
    elif any(la.config.adc_bits is not None and la.config.adc_range == "calibrated"
             for la in layers):
        raise ConfigError("MappingConfig.adc_range='calibrated': pass calibration= inputs "
                          "(a training subset) to set the ADC full scales, or use "
                          "adc_range='full-scale'")
    return _forward(layers, x, mvm or _ideal_mvm, read_noise, rng, scales=scales,
                    return_layers=return_layers)


def _forward(layers, x, mvm, read_noise, rng, *, scales=None, record=None,
             return_layers=False):
    h = np.asarray(x, dtype=float)
    if h.ndim != 2:
        raise ConfigError(f"inputs must be 2-D (N, features), got shape {h.shape}")
    outs = []
    for li, layer in enumerate(layers):
        cfg = layer.config
        n = len(h)
        xin = unfold_patches(h, layer.conv) if layer.kind == "conv2d" else h
        if xin.shape[1] != layer.n_in:
            raise ConfigError(f"layer {li}: {xin.shape[1]} inputs for a crossbar of "
                              f"{layer.n_in} input rows")
        if scales is not None:
            x_scale, fs_tiles = scales[li]
        else:
            peak = float(np.max(np.abs(xin))) if xin.size else 0.0
            x_scale, fs_tiles = (peak if peak > 1.0 else 1.0), None
        # the bias row is an input of value 1, scaled like the others
        xs = np.concatenate([xin, np.ones((len(xin), 1))], axis=1) / x_scale
        signed = bool(np.any(xs < 0))
        v = dac(xs, cfg.dac_bits, signed) * cfg.v_read
        rows, cols = layer.g_pos.shape
        t = cfg.tile_size
        total = np.zeros((len(v), cols))
        fs_rec = []
        for ri, (r0, r1) in enumerate(tile_ranges(rows, t)):
            vr = v[:, r0:r1]
            part = np.empty((len(v), cols))
            for ci, (c0, c1) in enumerate(tile_ranges(cols, t)):
                cur = []
                for sign, g in (("pos", layer.g_pos), ("neg", layer.g_neg)):
                    gt = g[r0:r1, c0:c1]
                    i = mvm(vr, gt, (li, ri, ci, sign))
                    if read_noise is not None:
                        i = read_noise(i, vr, gt, rng)
                    cur.append(i)
                part[:, c0:c1] = cur[0] - cur[1]
            if cfg.adc_bits is not None:
                if cfg.adc_range == "full-scale":
                    fs = cfg.v_read * (r1 - r0) * (cfg.g_max - cfg.g_min)
                elif fs_tiles is not None:
                    fs = fs_tiles[ri]
                else:  # calibrating: this batch is the calibration set
                    fs = float(np.max(np.abs(part))) if part.size else 1.0
                fs_rec.append(fs)
                part = adc(part, cfg.adc_bits, fs)
            total += part
        if record is not None:
            record.append((x_scale, fs_rec))
        z = total * (layer.w_per_siemens * (x_scale / cfg.v_read))
        if layer.kind == "conv2d":
            co, ho, wo = layer.conv["out_shape"]
            z = z.reshape(n, ho, wo, co).transpose(0, 3, 1, 2).reshape(n, co * ho * wo)
        h = ACTIVATION_FUNCS[layer.activation](z)
        outs.append(h)
    return (h, outs) if return_layers else h


def mapped_accuracy(layers: list[MappedLayer], x, y, **kw) -> float:
    """Accuracy of the mapped network (keyword arguments go to :func:`crossbar_forward`)."""
    return float(np.mean(predict_labels(crossbar_forward(layers, x, **kw)) == np.asarray(y)))
