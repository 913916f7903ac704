"""Accuracy vs wire resistance per segment with the exact IR-drop solve (behavioral crossbar
engine), with and without hardware-aware (IR-drop-aware) training."""

from __future__ import annotations

import numpy as np

from ..network.evaluate import crossbar_forward
from ..nonideal import IRDrop, IRDropAware, NonIdealityConfig
from ..readout import predict_labels
from .common import StudyContext, StudyResult, progress_bar
from .device import _plot_xy

__all__ = ["ir_drop"]


def ir_drop(ctx: StudyContext, r_wires=(0.0, 0.5, 1.0, 2.0, 5.0, 10.0), r_source: float = 0.0,
            r_sense: float = 0.0, aware: bool = True, aware_epochs: int = 10) -> StudyResult:
    """Test accuracy with wire resistance ``r`` per segment on rows and columns (each layer one
    (in + 1) × 2·out crossbar, G+ and G− columns of an output side by side, or tiles of T rows ×
    T outputs if the mapping says so: the circuit network's layout, solved by its twin); with
    ``aware``
    also the plain model fine-tuned IR-drop-aware at each ``r`` for ``aware_epochs`` epochs
    (:class:`IRDropAware`: the exact IR-drop solve in every training step, adjoint gradient)."""

    ds = ctx.dataset
    rows = []
    for r in progress_bar(r_wires, "ir-drop", ctx.progress):
        ir = IRDrop(r_wire_row=r, r_wire_col=r, r_source=r_source, r_sense=r_sense)
        models = [("plain", ctx.trained())]
        if aware:  # control: the same fine-tuning without IR drop
            models.append(("plain-finetuned", ctx.finetuned(None, "ft-plain", aware_epochs)))
        if aware and r > 0:
            steps = -(-len(ds.x_train) // 32)  # one refresh per epoch
            models.append(("ir-drop-aware", ctx.finetuned(IRDropAware(ir, ctx.mapping),
                                                           f"ir{r}", aware_epochs,
                                                           noise_every=steps)))
        ni = NonIdealityConfig(ir_drop=ir)
        for label, m in models:
            ideal = crossbar_forward(m, ds.x_test, ctx.mapping)
            out = ideal if ir.is_identity else crossbar_forward(m, ds.x_test, ctx.mapping,
                                                                nonideal=ni)
            acc = float(np.mean(predict_labels(out) == ds.y_test))
            rel = float(np.max(np.abs(out - ideal)) / np.max(np.abs(ideal)))
            rows.append({"r_wire": r, "training": label, "mean_acc": acc,
                         "ideal_crossbar_acc": float(np.mean(predict_labels(ideal)
                                                             == ds.y_test)),
                         "max_logit_error_rel": rel,
                         "_scenario": ni.to_dict()})
        if aware and r == 0:  # no IR drop: the aware fine-tuning is the plain one
            rows.append({**rows[-1], "training": "ir-drop-aware"})
    base = ctx.baseline()
    last = [x for x in rows if x["r_wire"] == max(r_wires)]
    head = (f"software {base['software_acc']:.4f}; " + ", ".join(
        f"{x['r_wire']:g} ohm {x['training']} {x['mean_acc']:.4f}"
        for x in rows if x["r_wire"] in (1.0, max(r_wires))) if last else "")

    return StudyResult("ir_drop", rows, {**ctx.meta(), **base, "r_source": r_source,
                                         "r_sense": r_sense}, head,
                       _plot_xy("r_wire", "wire resistance per segment [Ω]", group="training"))
