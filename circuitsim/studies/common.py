"""What every study shares: the trained model, Monte-Carlo evaluation, and writing a table
(CSV + JSON with every config) and a plot (PNG).

Every accuracy is read through the circuit network's twin
(:func:`circuitsim.network.crossbar_forward`): the same plans, tiles, converters, wires and
read noise that ngspice co-simulates."""

from __future__ import annotations

import copy
import csv
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..mapping import CAT_STUDY, MappingConfig
from ..network.evaluate import accuracy_draws, mapped_accuracy
from ..nn import Dataset, TrainConfig, accuracy, get_dataset, make_model, train

__all__ = ["StudyContext", "StudyResult", "progress_bar"]


def progress_bar(it, desc: str, show: bool | None = None):
    from tqdm.auto import tqdm

    return tqdm(it, desc=desc, disable=not (sys.stderr.isatty() if show is None else show))


@dataclass
class StudyResult:
    """Rows of a table, the settings that produced them, and a headline.  A row's ``_scenario``
    (:meth:`NonIdealityConfig.to_dict`) and ``_mapping`` are saved in the JSON only."""

    name: str
    rows: list[dict]
    meta: dict = field(default_factory=dict)
    headline: str = ""
    plot: object | None = None
    """``plot(result, path)`` writes the PNG."""

    def write(self, out_dir: str | Path) -> list[Path]:
        """``<name>.csv``, ``<name>.json`` and ``<name>.png`` in ``out_dir``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = [out / f"{self.name}.csv", out / f"{self.name}.json"]
        # keys starting with "_" (the full scenario / mapping of a row) go to the JSON only
        keys = list(dict.fromkeys(k for r in self.rows for k in r if not k.startswith("_")))
        with paths[0].open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
            w.writeheader()
            w.writerows(self.rows)
        paths[1].write_text(json.dumps({"study": self.name, "headline": self.headline,
                                        "meta": self.meta, "rows": self.rows}, indent=1,
                                       default=_jsonable) + "\n")
        if self.plot is not None:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            png = out / f"{self.name}.png"
            self.plot(self, png)
            plt.close("all")
            paths.append(png)
        return paths


def _jsonable(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if hasattr(o, "to_dict"):
        return o.to_dict()
    return repr(o)


@dataclass
class StudyContext:
    """Data set, model and training settings shared by the studies.

    ``quick`` shrinks everything for tests: 600 training / 180 test images, 15 epochs."""

    data: str = "digits"
    data_path: str | None = None
    model: str = "mlp"
    hidden: tuple = (32,)
    activation: str = "sigmoid"
    epochs: int = 40
    seed: int = 0
    quick: bool = False
    progress: bool | None = None
    mapping: MappingConfig = field(default_factory=lambda: CAT_STUDY)
    """The studies' mapping: the cat study's cited scheme (:data:`CAT_STUDY`, 0–110 µS)."""
    _dataset: Dataset | None = None
    _models: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.epochs < 1:
            raise ConfigError(f"epochs must be >= 1, got {self.epochs}")

    @property
    def dataset(self) -> Dataset:
        if self._dataset is None:
            ds = get_dataset(self.data, self.data_path)
            self._dataset = ds.subset(600, 180) if self.quick else ds
        return self._dataset

    def trained(self, weight_noise=None, key: str = "plain"):
        """The model trained with ``weight_noise`` (cached per key)."""
        if key not in self._models:
            ds = self.dataset
            m = make_model(self.model, ds.n_features, ds.n_classes, ds.image_shape,
                           self.hidden, self.activation, self.seed)
            t0 = time.perf_counter()
            train(m, ds, TrainConfig(epochs=15 if self.quick else self.epochs, seed=self.seed,
                                     progress=self.progress, weight_noise=weight_noise,
                                     device="cpu"))
            self._models[key] = (m, time.perf_counter() - t0)
        return self._models[key][0]

    def finetuned(self, weight_noise, key: str, epochs: int = 10, noise_every: int = 1,
                  lr: float = 3e-3):
        """A copy of the plain model fine-tuned ``epochs`` with ``weight_noise`` (cached)."""

        if key not in self._models:
            m = copy.deepcopy(self.trained())
            t0 = time.perf_counter()
            train(m, self.dataset, TrainConfig(epochs=2 if self.quick else epochs, lr=lr,
                                               seed=self.seed + 1, progress=self.progress,
                                               weight_noise=weight_noise,
                                               noise_every=noise_every, device="cpu"))
            self._models[key] = (m, time.perf_counter() - t0)
        return self._models[key][0]

    def baseline(self) -> dict:
        """Software and ideal-mapped test accuracy of the plainly trained model."""
        m = self.trained()
        ds = self.dataset
        return {"software_acc": accuracy(m, ds.x_test, ds.y_test),
                "mapped_ideal_acc": mapped_accuracy(m, ds.x_test, ds.y_test, self.mapping)}

    def meta(self) -> dict:
        ds = self.dataset
        return {"data": self.data, "n_train": len(ds.x_train), "n_test": len(ds.x_test),
                "model": self.model, "hidden": list(self.hidden), "activation": self.activation,
                "epochs": 15 if self.quick else self.epochs, "seed": self.seed,
                "quick": self.quick, "mapping": self.mapping.to_dict(),
                "train_seconds": {k: round(v[1], 2) for k, v in self._models.items()}}


def mc_accuracy(ni, model, ds: Dataset, draws: int, mapping: MappingConfig, **kw
                ) -> tuple[float, float, np.ndarray]:
    """Mean, std and all accuracies over ``draws`` Monte-Carlo draws of scenario ``ni`` for
    ``model`` mapped with ``mapping`` (keyword arguments go to
    :func:`~circuitsim.network.crossbar_forward`)."""
    if int(draws) < 1:
        raise ConfigError(f"draws={draws}: a study needs at least 1 Monte-Carlo draw per point")
    acc = accuracy_draws(model, ds.x_test, ds.y_test, mapping, nonideal=ni, draws=draws, **kw)
    return float(acc.mean()), float(acc.std()), acc
