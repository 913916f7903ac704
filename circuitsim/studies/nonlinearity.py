"""Pulse-level in-situ training with nonlinear potentiation / depression (the CNN seed's NL
study): accuracy vs NL on the digits, and the SPICE subcircuit of the same P/D curve checked
pulse by pulse against the device twin.

Every weight (and bias) of a 64-H-10 sigmoid MLP is one :class:`~circuitsim.program.
pulse_device.PulseDevice`, w = w_max·(G − G_mid)/(span/2).  SGD computes Δw = −lr·∇w
(numpy backprop, softmax cross-entropy), turns it into a whole number of pulses assuming a
linear device (Δw per pulse = 2·w_max/Pmax, stochastic rounding, at most ``max_pulses`` per
step) and applies them to the nonlinear device: potentiation for Δw > 0, depression for < 0.
"""

from __future__ import annotations

import numpy as np

from ..circuit import Deck, Instance, Tran, VoltageSource
from ..program.pulse_device import PulseDevice, pulse_train
from ..readout import predict_labels, sigmoid
from ..spice import BatchRunner
from .common import StudyContext, StudyResult, progress_bar

__all__ = ["nonlinearity", "pulse_sgd", "spice_curve_check"]


def pulse_sgd(ds, device: PulseDevice, *, hidden: int = 16, epochs: int = 10,
              batch: int = 32, lr: float = 0.1, w_max: float = 2.0, max_pulses: int = 4,
              seed: int = 0) -> dict:
    """Train with pulse updates; returns test accuracy, pulses applied and the weights."""
    rng = np.random.default_rng(seed)
    sizes = [ds.n_features, hidden, ds.n_classes]
    mid = 0.5 * (device.g_min + device.g_max)
    half = 0.5 * device.span
    gs = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        w0 = rng.uniform(-1, 1, (a + 1, b)) / np.sqrt(a) / w_max
        gs.append(mid + half * w0)
    dw_pulse = 2.0 * w_max / device.p_max
    n_pulses = 0
    x, y = np.asarray(ds.x_train, float), np.asarray(ds.y_train)
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for s in range(0, len(x), batch):
            idx = order[s:s + batch]
            xb, yb = x[idx], y[idx]
            ws = [w_max * (g - mid) / half for g in gs]
            a0 = np.hstack([xb, np.ones((len(xb), 1))])
            h = sigmoid(a0 @ ws[0])
            a1 = np.hstack([h, np.ones((len(xb), 1))])
            z = a1 @ ws[1]
            p = np.exp(z - z.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            d2 = p
            d2[np.arange(len(yb)), yb] -= 1.0
            d2 /= len(yb)
            g1 = a1.T @ d2
            d1 = (d2 @ ws[1][:-1].T) * h * (1 - h)
            g0 = a0.T @ d1
            for k, grad in enumerate((g0, g1)):
                want = -lr * grad / dw_pulse
                n = np.floor(want) + (rng.random(want.shape) < (want - np.floor(want)))
                n = np.clip(n, -max_pulses, max_pulses)
                n_pulses += int(np.abs(n).sum())
                gs[k] = device.apply(gs[k], n)
    ws = [w_max * (g - mid) / half for g in gs]
    xt = np.hstack([ds.x_test, np.ones((len(ds.x_test), 1))])
    ht = np.hstack([sigmoid(xt @ ws[0]), np.ones((len(xt), 1))])
    acc = float(np.mean(predict_labels(ht @ ws[1]) == ds.y_test))
    return {"acc": acc, "pulses": n_pulses, "g": gs}


def spice_curve_check(devices: list[PulseDevice], runner=None) -> list[float]:
    """Each device's subcircuit in one deck, driven from g_min by Pmax potentiation then Pmax
    depression pulses; the largest |G_spice − G_twin| after any pulse [fraction of the range],
    per device."""

    p_max = devices[0].p_max
    signs = [1] * p_max + [-1] * p_max
    w, ts, stop = pulse_train(devices[0], signs)
    els = [VoltageSource("Vc", "ctrl", "0", 0.0, w), VoltageSource("Vr", "in", "0", 0.1)]
    subs, ics = [], {}
    for k, d in enumerate(devices):
        subs.append(d.subckt(f"pnl{k}"))
        els.append(Instance(f"Xd{k}", f"pnl{k}", ("in", "0", "ctrl")))
        ics[f"xd{k}.g"] = d.g_min
    tp = devices[0].t_pulse
    deck = Deck("pulse-response devices: P/D curves", elements=tuple(els),
                subcircuits=tuple(subs), ics=ics,
                options={"method": "gear", "reltol": 1e-6, "abstol": 1e-15, "vntol": 1e-12},
                analyses=(Tran(tp / 50, stop, 0.0, tp / 50),),
                saves=tuple(f"v(xd{k}.g)" for k in range(len(devices))))
    r = runner or BatchRunner()
    res = r.run(deck)
    out = []
    for k, d in enumerate(devices):
        gsp = np.interp(ts, res.axis, res[f"v(xd{k}.g)"])
        g, tw = d.g_min, []
        for s in signs:
            g = float(d.apply(g, s))
            tw.append(g)
        out.append(float(np.max(np.abs(gsp - np.array(tw))) / d.span))
    return out


def nonlinearity(ctx: StudyContext, nls=(0, 1, 2, 3, 4, 6), modes=("potentiation",
                 "depression", "both"), p_max: int = 128, hidden: int = 16,
                 epochs: int = 15, lr: float = 1.0, w_max: float = 4.0,
                 spice: bool = True) -> StudyResult:
    """Test accuracy of pulse-trained MLPs vs NL (potentiation only, depression only, both),
    plus the SPICE subcircuit vs twin deviation of each NL's P/D curve."""
    ds = ctx.dataset
    rows = []
    for mode in progress_bar(modes, "nonlinearity", ctx.progress):
        for nl in nls:
            dev = PulseDevice(nl_p=nl if mode in ("potentiation", "both") else 0,
                              nl_d=nl if mode in ("depression", "both") else 0, p_max=p_max)
            r = pulse_sgd(ds, dev, hidden=hidden, epochs=epochs, lr=lr, w_max=w_max,
                          seed=ctx.seed)
            rows.append({"mode": mode, "nl": nl, "mean_acc": r["acc"], "pulses": r["pulses"],
                         "nl_p": dev.nl_p, "nl_d": dev.nl_d})
    check = {}
    if spice:
        devs = [PulseDevice(nl_p=nl, nl_d=nl, p_max=min(p_max, 32)) for nl in nls]
        check = dict(zip([str(n) for n in nls], spice_curve_check(devs), strict=True))
        for row in rows:
            row["spice_vs_twin_max_dg"] = check[str(row["nl"])]
    lin = [r["mean_acc"] for r in rows if r["nl"] == 0]
    worst = min(rows, key=lambda r: r["mean_acc"])
    head = (f"software (Adam, float) {ctx.baseline()['software_acc']:.3f}; pulse SGD on a "
            f"linear device {lin[0]:.3f}; worst {worst['mode']} NL {worst['nl']} "
            f"{worst['mean_acc']:.3f}" + (f"; SPICE P/D curve vs twin max "
                                         f"{max(check.values()):.1e} of the range"
                                         if check else ""))
    meta = {**ctx.meta(), "p_max": p_max, "hidden": hidden, "epochs": epochs, "lr": lr,
            "w_max": w_max, "spice_check": check,
            "software_acc": ctx.baseline()["software_acc"]}

    def plot(res, path):
        import matplotlib.pyplot as plt

        fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
        for nl in nls:
            d = PulseDevice(nl_p=nl, nl_d=nl, p_max=p_max)
            g, gp = d.g_min, [d.g_min]
            for _ in range(p_max):
                g = float(d.potentiate(g, 1))
                gp.append(g)
            for _ in range(p_max):
                g = float(d.depress(g, 1))
                gp.append(g)
            a.plot(np.array(gp) * 1e6, label=f"NL {nl}")
        a.set_xlabel("pulse number (potentiation, then depression)")
        a.set_ylabel("G [µS]")
        a.legend(fontsize=7)
        for mode in modes:
            r = [x for x in res.rows if x["mode"] == mode]
            b.plot([x["nl"] for x in r], [x["mean_acc"] for x in r], marker="o", label=mode)
        b.axhline(res.meta["software_acc"], color="k", ls=":", label="software (float)")
        b.set_xlabel("nonlinearity NL")
        b.set_ylabel("test accuracy (digits)")
        b.legend()
        fig.tight_layout()
        fig.savefig(path, dpi=120)

    return StudyResult("nonlinearity", rows, meta, head, plot)
