"""Training tasks small enough for transient SPICE of every pulse."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError


@dataclass(frozen=True)
class Task:
    """Inputs in [0, 1] (N, n_in), targets in [0, 1] (N, n_out), labels (N,)."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    description: str

    @property
    def n_in(self) -> int:
        return self.x_train.shape[1]

    @property
    def n_out(self) -> int:
        return self.y_train.shape[1]


def xor() -> Task:
    """The four XOR points; target 1 for exactly one input high.  Test set = training set."""
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    y = np.array([[0], [1], [1], [0]], dtype=float)
    return Task("xor", x, y, x.copy(), y.copy(), "XOR of two binary inputs (4 points)")


def digits3(classes=(0, 1, 7), n_train_per_class: int = 10, n_test_per_class: int = 10,
            seed: int = 0) -> Task:
    """A 3-class subset of scikit-learn's 8×8 digits (UCI optdigits test set, bundled with
    scikit-learn), each image 2×2-average-pooled to 4×4 = 16 inputs scaled to [0, 1]; one-hot
    targets.  Small balanced train/test subsets drawn with ``seed``."""
    from sklearn.datasets import load_digits

    classes = tuple(int(c) for c in classes)
    if len(classes) < 2 or len(set(classes)) != len(classes) or \
            any(not 0 <= c <= 9 for c in classes):
        raise ConfigError(f"digits3: classes must be distinct digits 0-9, got {classes}")
    if n_train_per_class < 1 or n_test_per_class < 1:
        raise ConfigError("digits3: need at least one train and one test image per class")
    d = load_digits()
    imgs = d.images.reshape(-1, 4, 2, 4, 2).mean(axis=(2, 4)).reshape(-1, 16) / 16.0
    rng = np.random.default_rng(seed)
    tr, te = [], []
    for c in classes:
        idx = rng.permutation(np.flatnonzero(d.target == c))
        if len(idx) < n_train_per_class + n_test_per_class:
            raise ConfigError(f"digits3: only {len(idx)} images of digit {c}")
        tr.extend(idx[:n_train_per_class])
        te.extend(idx[n_train_per_class:n_train_per_class + n_test_per_class])
    tr = rng.permutation(tr)
    lut = {c: k for k, c in enumerate(classes)}

    def onehot(idx):
        y = np.zeros((len(idx), len(classes)))
        y[np.arange(len(idx)), [lut[int(t)] for t in d.target[idx]]] = 1.0
        return y

    return Task(f"digits3{''.join(map(str, classes))}", imgs[tr], onehot(tr), imgs[te],
                onehot(np.array(te)),
                f"digits {classes} from sklearn load_digits, 2x2-pooled to 4x4 (16 inputs), "
                f"{n_train_per_class}/{n_test_per_class} train/test images per class")


def get_task(name: str, **kw) -> Task:
    if name == "xor":
        return xor()
    if name == "digits3":
        return digits3(**kw)
    raise ConfigError(f"unknown task {name!r}; choose 'xor' or 'digits3'")
