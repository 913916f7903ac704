"""Data, model and network for a run: load the data set, train (or load a cached
checkpoint), validate every section of the config before any long work."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np

from ..data import DEMO_CHECKPOINT, MACRO_CHECKPOINT, data_path
from ..errors import ConfigError
from .config import XvalConfig, build_section


def load_dataset(cfg: XvalConfig):
    from ..nn.data import get_dataset

    return get_dataset(cfg.dataset, cfg.dataset_path)


def model_key(cfg: XvalConfig, dataset) -> str:
    """Hash of what decides the trained weights: data, architecture, seeds, training."""
    d = {"dataset": dataset.name, "n_train": int(len(dataset.x_train)),
         "sizes": model_sizes(cfg, dataset), "activation": cfg.activation,
         **({} if cfg.model == "mlp" else {"model": cfg.model}),
         "model_seed": cfg.model_seed, "train": cfg.train}
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]


def model_sizes(cfg: XvalConfig, dataset) -> list[int]:
    return [int(dataset.n_features), *cfg.hidden, int(dataset.n_classes)]


def train_config(cfg: XvalConfig):
    from ..nn.train import TrainConfig

    return build_section(TrainConfig, cfg.train, "train", device="cpu")


def load_given_model(model_path: str | Path) -> tuple:
    """``(model, path)`` from a checkpoint the user named; ConfigError if it is not one."""
    from ..nn.train import load_model_file

    p = Path(model_path)
    model, _ = load_model_file(p, "--model")
    return model, p


def get_model(cfg: XvalConfig, dataset, cache_dir: Path, *, given: tuple | None = None,
              progress: bool | None = None):
    """``(model, info)``: the ``given`` ``(model, path)`` (see :func:`load_given_model`), or
    the cached checkpoint for ``cfg`` in ``cache_dir``, or a freshly trained one (cached).

    ``info``: checkpoint path, whether it was trained now, architecture, test accuracy of the
    torch model (float32, as trained).
    """
    from ..nn.models import make_model
    from ..nn.train import accuracy, load_checkpoint, save_checkpoint, train

    if given is not None:
        model, model_path = given
        _check_fits(model, dataset, model_path)
        info = {"checkpoint": str(model_path), "trained_now": False, "source": "--model"}
    else:
        path = Path(cache_dir) / f"model-{model_key(cfg, dataset)}.pt"
        tcfg = train_config(cfg)
        repo = repo_checkpoint(cfg, dataset)
        cached = _cached_model(path, cfg, dataset, tcfg)
        if cached is not None:
            model = cached
            info = {"checkpoint": str(path), "trained_now": False, "source": "cache"}
        elif repo is not None:
            model, _ = load_checkpoint(repo)
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(repo, path)
            info = {"checkpoint": str(path), "trained_now": False,
                    "source": f"repository checkpoint circuitsim/data/{repo.name}"}
        else:
            model = make_model(cfg.model, dataset.n_features, dataset.n_classes,
                               getattr(dataset, "image_shape", None), cfg.hidden,
                               cfg.activation, cfg.model_seed)
            if progress is not None:
                tcfg = build_section(type(tcfg), {**cfg.train, "progress": progress}, "train",
                                     device="cpu")
            hist = train(model, dataset, tcfg)
            meta = {"dataset": dataset.name, "sizes": model_sizes(cfg, dataset),
                    "activation": cfg.activation, "model_seed": cfg.model_seed,
                    "model": cfg.model,
                    "train": tcfg.to_dict(),
                    "final_test_acc": hist["test_acc"][-1] if hist["test_acc"] else None}
            save_checkpoint(path, model, meta)
            info = {"checkpoint": str(path), "trained_now": True, "source": "trained"}
    model = model.cpu().eval()
    info["architecture"] = describe(model)
    info["test_accuracy_torch"] = float(accuracy(model, dataset.x_test, dataset.y_test))
    return model, info


def _cached_model(path: Path, cfg: XvalConfig, dataset, tcfg):
    """The model cached at ``path`` if the file is a readable checkpoint recording exactly
    this run's data set, sizes, activation, seed and training; else None (retrained and
    overwritten): a cache file copied from another run is never used."""
    from ..nn.train import load_checkpoint

    if not path.is_file():
        return None
    try:
        model, meta = load_checkpoint(path)
    except ConfigError:
        return None
    def norm(d: dict) -> dict:  # as JSON (tuples = lists); progress bars change no figure
        d = json.loads(json.dumps(d, default=str))
        if isinstance(d.get("train"), dict):
            d["train"].pop("progress", None)
        return d

    want = {"dataset": dataset.name, "sizes": model_sizes(cfg, dataset),
            "activation": cfg.activation, "model_seed": cfg.model_seed,
            "train": tcfg.to_dict(), **({} if cfg.model == "mlp" else {"model": cfg.model})}
    return model if norm({k: meta.get(k) for k in want}) == norm(want) else None


REPO_CHECKPOINT = f"circuitsim/data/{DEMO_CHECKPOINT}"
"""The demo model shipped as package data (written by netlists/write_netlists.py: digits,
64-16-10 sigmoid, seed 0, 40 epochs of Adam); used instead of training when the config asks
for exactly that model.  The macro variant's 64-256-256-10 ReLU model is shipped too
(:data:`circuitsim.data.MACRO_CHECKPOINT`)."""

REPO_CHECKPOINTS = (DEMO_CHECKPOINT, MACRO_CHECKPOINT)


def repo_checkpoint(cfg: XvalConfig, dataset) -> Path | None:
    """The packaged checkpoint (:data:`REPO_CHECKPOINTS`) whose recorded settings are
    ``cfg``'s, else None."""
    for name in REPO_CHECKPOINTS:
        p = _repo_checkpoint(cfg, dataset, data_path(name))
        if p is not None:
            return p
    return None


def _repo_checkpoint(cfg: XvalConfig, dataset, p: Path) -> Path | None:
    from ..nn.train import load_checkpoint

    if not p.is_file() or dataset.name != "digits" or set(cfg.train) - {"epochs", "seed"} \
            or cfg.model != "mlp":
        return None
    try:
        _, meta = load_checkpoint(p)
        tcfg = train_config(cfg)
        m, t = meta.get("model", {}), meta.get("train", {})
        same = (meta.get("data") == "digits" and m.get("hidden") == list(cfg.hidden)
                and m.get("activation") == cfg.activation and m.get("seed") == cfg.model_seed
                and t.get("epochs") == tcfg.epochs and t.get("seed") == tcfg.seed)
    except (ConfigError, AttributeError, TypeError):
        return None
    return p if same else None


def describe(model) -> str:
    """``Linear(64→16) · Sigmoid · Linear(16→10)``."""
    import torch

    parts = []
    for m in model:
        if isinstance(m, torch.nn.Linear):
            parts.append(f"Linear({m.in_features}→{m.out_features})")
        elif isinstance(m, torch.nn.Conv2d):
            parts.append(f"Conv2d({m.in_channels}→{m.out_channels}, "
                         f"{'x'.join(map(str, m.kernel_size))})")
        else:
            parts.append(type(m).__name__)
    return " · ".join(parts)


def _check_fits(model, dataset, path) -> None:
    from ..mapping.walk import walk_sequential

    try:
        specs = walk_sequential(model)
    except ConfigError as exc:
        raise ConfigError(f"--model {path}: {exc}") from None
    first = specs[0]
    n_in = (int(np.prod(first.conv["in_shape"])) if first.conv is not None
            else first.weight.shape[1])
    n_out = specs[-1].weight.shape[0]
    want_out = (1, 2) if dataset.n_classes == 2 else (dataset.n_classes,)
    if n_in != dataset.n_features or n_out not in want_out:
        raise ConfigError(f"--model {path}: a {n_in}-input, {n_out}-output model does not fit "
                          f"data set {dataset.name} ({dataset.n_features} features, "
                          f"{dataset.n_classes} classes); train one for it")
