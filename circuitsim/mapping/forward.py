"""Forward pass of a mapped network through its crossbars (numpy, float64, batched).

Per layer: inputs are scaled so the largest row voltage is ``v_read`` (inputs in [0, 1] are
not rescaled; larger ones, e.g. ReLU activations, are divided by their batch maximum — the
bias row's value 1 too, so it is then driven below v_read — and the output multiplied back),
optionally DAC-quantised and driven on the rows; the column currents of each T×T tile are
computed (ideal ``V @ G`` or a hook, e.g. the IR-drop solve), read noise is added, each row
tile's differential current is ADC-quantised, the row tiles are summed digitally, and
``y = I·w_per_siemens·x_scale / v_read`` goes through the neuron.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..readout import ACTIVATION_FUNCS, predict_labels
from .layer import MappedLayer

__all__ = ["ACTIVATION_FUNCS", "crossbar_forward", "mapped_accuracy", "predict_labels",
           "quantize_uniform", "unfold_patches"]



def quantize_uniform(x: np.ndarray, bits: int, full_scale: float | np.ndarray,
                     signed: bool) -> np.ndarray:
    """Round to a uniform grid: unsigned, ``2**bits`` codes on [0, fs]; signed, the
    ``2**bits − 1`` codes k·fs/(2**(bits−1) − 1) symmetric about 0 (1 bit signed: ±fs, the sign);
    values outside the range clip."""
    fs = np.asarray(full_scale, dtype=float)
    fs = np.where(fs > 0, fs, 1.0)
    if signed:
        m = 2 ** (bits - 1) - 1
        if m == 0:
            return np.where(x >= 0, fs, -fs) * np.ones_like(x)
        return np.clip(np.round(x / fs * m), -m, m) * fs / m
    m = 2**bits - 1
    return np.clip(np.round(x / fs * m), 0, m) * fs / m


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
                     return_layers: bool = False):
    """Logits (N, n_out) of the mapped network for inputs ``x`` (N, features) in [0, 1].

    ``mvm(v (M, r), g (r, c), key) -> i (M, c)``: column currents of one tile [A]; default the
    ideal ``v @ g``; ``key = (layer, row_tile, col_tile, 'pos'|'neg')`` lets a hook cache one
    factorisation per tile.  ``read_noise(i, v, g, rng) -> i`` adds read noise to one tile's
    currents.  With ``return_layers`` also the list of every layer's post-activation output.
    """
    mvm = mvm or _ideal_mvm
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
        peak = float(np.max(np.abs(xin))) if xin.size else 0.0
        x_scale = peak if peak > 1.0 else 1.0
        # the bias row is an input of value 1, scaled like the others
        xs = np.concatenate([xin, np.ones((len(xin), 1))], axis=1) / x_scale
        signed = bool(np.any(xs < 0))
        if cfg.dac_bits is not None:
            xs = quantize_uniform(xs, cfg.dac_bits, 1.0, signed)
        v = xs * cfg.v_read
        rows, cols = layer.g_pos.shape
        t = cfg.tile_size or max(rows, cols)
        total = np.zeros((len(v), cols))
        for ri, r0 in enumerate(range(0, rows, t)):
            r1 = min(r0 + t, rows)
            vr = v[:, r0:r1]
            part = np.empty((len(v), cols))
            for ci, c0 in enumerate(range(0, cols, t)):
                c1 = min(c0 + t, cols)
                cur = []
                for sign, g in (("pos", layer.g_pos), ("neg", layer.g_neg)):
                    gt = g[r0:r1, c0:c1]
                    i = mvm(vr, gt, (li, ri, ci, sign))
                    if read_noise is not None:
                        i = read_noise(i, vr, gt, rng)
                    cur.append(i)
                part[:, c0:c1] = cur[0] - cur[1]
            if cfg.adc_bits is not None:
                if cfg.adc_range == "batch":
                    fs = float(np.max(np.abs(part))) if part.size else 1.0
                else:
                    fs = cfg.v_read * (r1 - r0) * (cfg.g_max - cfg.g_min)
                part = quantize_uniform(part, cfg.adc_bits, fs, signed=True)
            total += part
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
