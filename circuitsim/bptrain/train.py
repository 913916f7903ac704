"""Training loops: the same sample order through ngspice (one deck per sample, the states of
one chunk passed to the next as ``.ic``/x0) and through the twin."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import numpy as np

from .. import readout
from ..circuit import Tran
from ..errors import ConfigError
from ..spice import BatchRunner
from .circuit import TrainingCircuit
from .twin import SampleRecord, TrainingTwin


@dataclass
class TrainHistory:
    """Everything a training run produced (either side)."""

    backend: str
    x1: list = field(default_factory=list)
    """States of layer 1 before the first and after every sample."""
    x2: list = field(default_factory=list)
    loss: list = field(default_factory=list)
    """Mean cross-entropy per epoch of the phase-1 outputs seen while training."""
    accuracy_online: list = field(default_factory=list)
    records: list = field(default_factory=list)
    wall_s: float = 0.0
    sim_s: float = 0.0
    """Simulated circuit time [s]."""
    clipped: float = 0.0
    """Largest amount a state was clipped into [0, 1] between chunks."""

    def as_arrays(self):
        return np.array(self.x1), np.array(self.x2)


def cross_entropy(o, t) -> float:
    o = np.clip(np.asarray(o, float), 1e-12, 1 - 1e-12)
    t = np.asarray(t, float)
    return float(np.mean(-(t * np.log(o) + (1 - t) * np.log(1 - o))))


def predict_labels(outputs) -> np.ndarray:
    """Class per row of sigmoid outputs (the package's one rule, boundary 0.5)."""
    return readout.predict_labels(outputs, boundary=0.5)


def spice_step(circuit: TrainingCircuit, u, target, x1, x2, *, runner=None,
               timeout_s: float = 300.0, run_dir=None, stop: str | None = None):
    """One sample through ngspice.  Returns (SampleRecord, SimResult).  ``stop='forward'``
    simulates phase 1 only (a read)."""

    runner = runner or BatchRunner()
    deck = circuit.deck(u, target, x1, x2)
    if stop == "forward":
        a = deck.analyses[0]
        deck = deck.replace(analyses=(Tran(step=a.step, stop=circuit.schedule.forward[1],
                                           tmax=a.tmax),))
    kw = {"run_dir": run_dir} if run_dir is not None else {}
    res = runner.run(deck, timeout_s=timeout_s, **kw)
    s = circuit.shape
    vr = circuit.p.v_read
    t = res.axis
    f1 = circuit.schedule.forward[1]
    i_f = int(np.searchsorted(t, f1 - circuit.p.t_guard)) - 1
    o = np.array([res[f"v(o{k})"][i_f] for k in range(s.n_out)])
    y = np.array([res[f"v(hy{j})"][-1] / vr for j in range(s.n_hidden)])
    d2 = np.array([res[f"v(hd2_{k})"][-1] for k in range(s.n_out)])
    d1 = np.array([res[f"v(hd1_{j})"][-1] for j in range(s.n_hidden)])
    if stop == "forward":
        return SampleRecord(o, y, d2, d1, np.asarray(x1), np.asarray(x2)), res
    n1, n2 = circuit.state_vectors()
    x1n = np.array([[res[n][-1] for n in row] for row in n1])
    x2n = np.array([[res[n][-1] for n in row] for row in n2])
    return SampleRecord(o, y, d2, d1, x1n, x2n), res


def sample_order(n: int, epochs: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.permutation(n) for _ in range(epochs)]


def train(circuit: TrainingCircuit, X, Y, x1, x2, *, epochs: int, order=None, backend="twin",
          seed: int = 0, runner=None, timeout_s: float = 300.0, progress: bool = True,
          max_samples: int | None = None) -> TrainHistory:
    """Train on (X, Y) for ``epochs`` (one sample at a time, four phases each).

    ``backend='spice'`` runs one ngspice deck per sample; ``'twin'`` the behavioral model.
    ``order`` (list of index arrays, one per epoch) fixes the sample order; both sides of a
    comparison must use the same one."""
    if backend not in ("spice", "twin"):
        raise ConfigError(f"backend must be 'spice' or 'twin', got {backend!r}")
    X = np.asarray(X, float)
    Y = np.asarray(Y, float)
    if X.ndim != 2 or X.shape[1] != circuit.shape.n_in:
        raise ConfigError(f"task has {X.shape[-1]} features; the layer-1 array has "
                          f"{circuit.shape.n_in} input rows")
    if Y.ndim != 2 or Y.shape[1] != circuit.shape.n_out:
        raise ConfigError(f"task has {Y.shape[-1]} target columns; the layer-2 array has "
                          f"{circuit.shape.n_out} output columns")
    if not isinstance(epochs, int) or epochs < 1:
        raise ConfigError(f"epochs must be a positive integer, got {epochs!r}")
    x1, x2 = circuit.check_states(x1, x2)
    order = order if order is not None else sample_order(len(X), epochs, seed)
    twin = TrainingTwin(circuit)
    h = TrainHistory(backend, [x1.copy()], [x2.copy()])
    total = sum(len(o) for o in order)
    if max_samples is not None:
        total = min(total, max_samples)
    bar = None
    if progress and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=total, desc=f"train ({backend})", leave=False)
    t0 = time.perf_counter()
    done = 0
    for idx in order:
        outs, tgts = [], []
        for i in idx:
            if max_samples is not None and done >= max_samples:
                break
            if backend == "twin":
                rec = twin.step(X[i], Y[i], x1, x2)
            else:
                rec, _ = spice_step(circuit, X[i], Y[i], x1, x2, runner=runner,
                                    timeout_s=timeout_s)
            over = max(float(np.max(np.abs(np.clip(r, 0, 1) - r)))
                       for r in (rec.x1, rec.x2))
            h.clipped = max(h.clipped, over)
            x1, x2 = np.clip(rec.x1, 0, 1), np.clip(rec.x2, 0, 1)
            rec.x1, rec.x2 = x1, x2
            h.records.append(rec)
            h.x1.append(x1.copy())
            h.x2.append(x2.copy())
            outs.append(rec.output)
            tgts.append(Y[i])
            h.sim_s += circuit.schedule.length
            done += 1
            if bar is not None:
                bar.update(1)
        if outs:
            h.loss.append(cross_entropy(outs, tgts))
            h.accuracy_online.append(float(np.mean(
                predict_labels(np.array(outs)) == predict_labels(np.array(tgts)))))
    if bar is not None:
        bar.close()
    h.wall_s = time.perf_counter() - t0
    return h


def evaluate(circuit: TrainingCircuit, X, Y, x1, x2, *, backend="twin", runner=None,
             timeout_s: float = 120.0) -> tuple[float, np.ndarray]:
    """Accuracy and outputs of the read (phase 1) with the given states."""
    X = np.asarray(X, float)
    Y = np.asarray(Y, float)
    if backend == "twin":
        out = TrainingTwin(circuit).predict(X, x1, x2)
    else:
        out = np.array([spice_step(circuit, u, t, x1, x2, runner=runner, timeout_s=timeout_s,
                                   stop="forward")[0].output for u, t in zip(X, Y, strict=True)])
    acc = float(np.mean(predict_labels(out) == predict_labels(Y)))
    return acc, out
