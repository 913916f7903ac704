"""Seeded training (CPU; CUDA when present), evaluation and checkpoints.

Hardware-aware training: ``TrainConfig.weight_noise`` is an object with
``layer_noise(weight (out, in), bias (out,) or None, generator) -> (dW, db)`` (the additive
error of one whole layer, as the mapping sees it: conv weights flattened per filter) or, simpler,
``sample(w, generator) -> dw`` (per tensor) — e.g. :class:`circuitsim.nonideal.WeightNoise`
(drawn from the device-variability model) or :class:`circuitsim.nonideal.IRDropAware` with
``gradient="straight-through"`` (the deterministic error of the IR-drop solve).  At every step the
error is added to the weights and biases of each ``Linear`` / ``Conv2d`` for the forward and
backward pass, then removed before the optimiser step, so the clean weights learn to be robust
to it.  A hook whose ``replaces_forward`` is true (:class:`circuitsim.nonideal.IRDropAware`, the
default ``gradient="exact"``) instead gives ``layer_forward(module, x) -> output``, used in place
of each ``Linear`` / ``Conv2d`` forward during the training steps (the exact IR-drop solve, whose
backward pass is the solver's adjoint); evaluation (``train_acc``, ``test_acc``) stays software.
"""

from __future__ import annotations

import contextlib
import json
import pickle
import re
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError
from ..readout import predict_labels
from .data import Dataset
from .models import build_model, describe_model

__all__ = ["TrainConfig", "accuracy", "load_checkpoint", "load_model_file", "pick_device",
           "predict", "save_checkpoint", "train", "CHECKPOINT_FORMAT"]

CHECKPOINT_FORMAT = "circuitsim-checkpoint-1"


@dataclass(frozen=True)
class TrainConfig:
    """How to train one model."""

    epochs: int = 40
    """Passes over the training set."""
    batch_size: int = 32
    """Examples per step."""
    lr: float = 1e-2
    """Adam learning rate."""
    weight_decay: float = 0.0
    """Adam L2 weight decay."""
    seed: int = 0
    """Seeds the shuffling and the weight noise (initial weights are seeded by the model maker)."""
    device: str | None = None
    """``cpu``, ``cuda`` or None (CUDA when available)."""
    progress: bool | None = None
    """tqdm progress bar; None = only on a terminal."""
    weight_noise: object | None = field(default=None, compare=False)
    """Noise injected into the weights at each step (see the module doc), or None."""
    noise_every: int = 1
    """Draw a new weight error every this many steps, reuse it in between (for costly
    deterministic errors such as the IR-drop solve)."""

    def __post_init__(self):
        if int(self.noise_every) < 1:
            raise ConfigError(f"TrainConfig.noise_every must be >= 1, got {self.noise_every}")
        if int(self.epochs) < 0 or int(self.batch_size) < 1:
            raise ConfigError(f"TrainConfig: epochs must be >= 0 and batch_size >= 1, got "
                              f"{self.epochs}, {self.batch_size}")
        if not self.lr > 0 or self.weight_decay < 0:
            raise ConfigError(f"TrainConfig: lr must be > 0 and weight_decay >= 0, got "
                              f"{self.lr}, {self.weight_decay}")
        wn = self.weight_noise
        if wn is not None and not (hasattr(wn, "sample") or hasattr(wn, "layer_noise")
                                   or _replaces_forward(wn)):
            raise ConfigError("TrainConfig.weight_noise must have a layer_noise(w, b, generator) "
                              "or a sample(w, generator) method, or replaces_forward = True "
                              "and a layer_forward(module, x) method")
        pick_device(self.device)

    def to_dict(self) -> dict:
        d = asdict(self)
        wn = self.weight_noise
        d["weight_noise"] = (wn.to_dict() if hasattr(wn, "to_dict")
                             else None if wn is None else repr(wn))
        return d


def pick_device(device: str | None) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda") and not str(device).startswith("cuda:"):
        raise ConfigError(f"device must be 'cpu', 'cuda' or None, got {device!r}")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' asked for but torch sees no CUDA device; use 'cpu'")
    return torch.device(device)


def _replaces_forward(hook) -> bool:
    return bool(getattr(hook, "replaces_forward", False)) and hasattr(hook, "layer_forward")


@contextlib.contextmanager
def _forward_replaced(hook, modules):
    """Within the block each module's output is ``hook.layer_forward(module, input)``."""
    handles = [m.register_forward_hook(lambda mod, args, out: hook.layer_forward(mod, args[0]))
               for m in modules] if hook is not None else []
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def _mapped_modules(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]


@torch.no_grad()
def _draw_noise(hook, modules, gen) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(parameter, additive error) pairs for every weight and bias."""
    out = []
    for m in modules:
        w = m.weight.detach().cpu()
        b = None if m.bias is None else m.bias.detach().cpu()
        if hasattr(hook, "layer_noise"):
            dw, db = hook.layer_noise(w.reshape(w.shape[0], -1), b, gen)
            out.append((m.weight, torch.as_tensor(dw).reshape(w.shape)))
            if b is not None:
                out.append((m.bias, torch.as_tensor(db)))
        else:
            out.append((m.weight, hook.sample(w, gen)))
            if b is not None:
                out.append((m.bias, hook.sample(b, gen)))
    return [(p, n.to(p)) for p, n in out]


def _loss_fn(n_out: int):
    if n_out == 1:
        bce = nn.BCEWithLogitsLoss()
        return lambda logits, y: bce(logits[:, 0], y.to(logits.dtype))
    return nn.CrossEntropyLoss()


def _labels(logits: torch.Tensor) -> np.ndarray:
    return predict_labels(logits.cpu().numpy())


@torch.no_grad()
def predict(model: nn.Module, x, batch_size: int = 4096) -> np.ndarray:
    """Predicted labels (one output → logit > 0; more → argmax) as an int64 numpy array."""
    model.eval()
    p = next(model.parameters())
    xt = torch.as_tensor(np.asarray(x), dtype=p.dtype, device=p.device)
    out = [_labels(model(xt[i:i + batch_size])) for i in range(0, len(xt), batch_size)]
    return np.concatenate(out).astype(np.int64)


def accuracy(model: nn.Module, x, y) -> float:
    return float(np.mean(predict(model, x) == np.asarray(y)))


def train(model: nn.Module, dataset: Dataset, config: TrainConfig = TrainConfig()) -> dict:
    """Train ``model`` in place on ``dataset``; returns the history (per epoch: ``loss``,
    ``train_acc``, ``test_acc``)."""
    from tqdm.auto import tqdm

    dev = pick_device(config.device)
    model.to(dev)
    dtype = next(model.parameters()).dtype
    x = torch.as_tensor(dataset.x_train, dtype=dtype, device=dev)
    y = torch.as_tensor(dataset.y_train, device=dev)
    n_out = model(x[:1]).shape[1]
    if n_out == 1 and dataset.n_classes != 2:
        raise ConfigError(f"a 1-output model needs a 2-class data set, {dataset.name} has "
                          f"{dataset.n_classes}")
    loss_fn = _loss_fn(n_out)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    gen = torch.Generator(device="cpu").manual_seed(config.seed)
    noise_gen = torch.Generator(device="cpu").manual_seed(config.seed + 1)
    modules = _mapped_modules(model)
    hist = {"loss": [], "train_acc": [], "test_acc": []}
    show = sys.stderr.isatty() if config.progress is None else config.progress
    bar = tqdm(range(config.epochs), desc=f"train {dataset.name}", disable=not show)
    step = 0
    noise = None
    replace = config.weight_noise if _replaces_forward(config.weight_noise) else None
    for _ in bar:
        model.train()
        perm = torch.randperm(len(x), generator=gen).to(dev)
        total = 0.0
        for i in range(0, len(x), config.batch_size):
            idx = perm[i:i + config.batch_size]
            if config.weight_noise is not None and replace is None:
                if step % config.noise_every == 0:
                    noise = _draw_noise(config.weight_noise, modules, noise_gen)
                with torch.no_grad():
                    for p, n in noise:
                        p.add_(n)
            with _forward_replaced(replace, modules):
                loss = loss_fn(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            if noise is not None:
                with torch.no_grad():
                    for p, n in noise:
                        p.sub_(n)
            opt.step()
            step += 1
            total += float(loss.detach()) * len(idx)
        hist["loss"].append(total / len(x))
        hist["train_acc"].append(accuracy(model, dataset.x_train, dataset.y_train))
        hist["test_acc"].append(accuracy(model, dataset.x_test, dataset.y_test))
        bar.set_postfix(loss=f"{hist['loss'][-1]:.3f}", test=f"{hist['test_acc'][-1]:.3f}")
    model.eval()
    return hist


def save_checkpoint(path: str | Path, model: nn.Module, config: dict) -> Path:
    """Save architecture, weights (CPU) and a JSON-able ``config`` dict (data set, training and
    model settings, results...) in one file."""
    path = Path(path)
    try:
        json.dumps(config)
    except TypeError as exc:
        raise ConfigError(f"checkpoint config must be JSON-able: {exc}") from exc
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"format": CHECKPOINT_FORMAT, "model": describe_model(model),
                "state_dict": state, "config": config}, path)
    return path


SAFE_LAYERS = (nn.Sequential, nn.Linear, nn.Conv2d, nn.Flatten, nn.Unflatten, nn.Identity,
               nn.Sigmoid, nn.ReLU, nn.Tanh)
"""Module classes a model file may name.  Files are read with ``torch.load(weights_only=True)``,
which runs no code from the file; these classes (plain containers of tensors) are the only
Python objects beyond tensors and dicts it may rebuild, so a plain ``torch.save``d
``nn.Sequential`` of them loads safely."""

CONVERT_HINT = ("re-save it as a circuitsim checkpoint from a Python session you trust: python -c "
                "\"import torch, circuitsim.nn as c; c.save_checkpoint('OUT.pt', "
                "torch.load('IN.pt', weights_only=False), {})\"")


def _safe_torch_load(path: Path, what: str):
    """``torch.load`` that never executes code from the file; one-line ConfigErrors."""
    import collections

    try:
        with torch.serialization.safe_globals([*SAFE_LAYERS, collections.OrderedDict]):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        m = re.search(r"GLOBAL ([\w.]+)", str(exc))
        if m is None:
            raise ConfigError(f"{what} {path}: not a readable torch checkpoint (damaged pickle); "
                              "give a checkpoint written by `circuitsim train`") from None
        needs = f" (it asks for the Python object {m.group(1)})"
        raise ConfigError(f"{what} {path}: refused to load — the file holds pickled Python "
                          f"objects beyond tensors and the layers {_layer_names()}{needs}, and "
                          f"loading them could run code; {CONVERT_HINT}") from None
    except Exception as exc:  # torch raises many types for files that are not torch files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{what} {path}: not a readable torch checkpoint ({first}); give a "
                          "checkpoint written by `circuitsim train`") from None


def _layer_names() -> str:
    return ", ".join(c.__name__ for c in SAFE_LAYERS)


def load_checkpoint(path: str | Path, device: str | None = "cpu", *, what: str = "checkpoint"
                    ) -> tuple[nn.Sequential, dict]:
    """(model in eval mode, config dict) from :func:`save_checkpoint`.  The file is read
    without running any code from it; a damaged checkpoint is a :class:`ConfigError`."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{what} not found: {path} (write one with `circuitsim train`)")
    ck = _safe_torch_load(path, what)
    return _from_checkpoint(ck, path, what, device)


def _from_checkpoint(ck, path: Path, what: str, device) -> tuple[nn.Sequential, dict]:
    if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
        raise ConfigError(f"{what} {path}: not a circuitsim checkpoint (expected format "
                          f"{CHECKPOINT_FORMAT!r})")
    bad = f"{what} {path}: damaged circuitsim checkpoint"
    missing = [k for k in ("model", "state_dict", "config") if k not in ck]
    if missing:
        raise ConfigError(f"{bad} (no {', '.join(missing)} entry); write it again with "
                          "`circuitsim train`")
    if not isinstance(ck["config"], dict) or not isinstance(ck["state_dict"], dict):
        raise ConfigError(f"{bad} (config or state_dict is not a mapping); write it again "
                          "with `circuitsim train`")
    try:
        model = build_model(ck["model"])
    except ConfigError as exc:
        raise ConfigError(f"{bad}: {exc}") from None
    except (TypeError, KeyError, ValueError, AttributeError, RuntimeError) as exc:
        raise ConfigError(f"{bad} (its model description is not valid: "
                          f"{type(exc).__name__}: {exc}); write it again with "
                          "`circuitsim train`") from None
    try:
        model.load_state_dict(ck["state_dict"])
    except (RuntimeError, TypeError, KeyError, AttributeError) as exc:
        first = str(exc).strip().splitlines()
        detail = " ".join(x.strip() for x in first[:3]) if first else type(exc).__name__
        raise ConfigError(f"{bad} (its weights do not fit its model description: "
                          f"{detail}); write it again with `circuitsim train`") from None
    model.to(pick_device(device)).eval()
    return model, ck["config"]


def load_model_file(path: str | Path, what: str = "--model") -> tuple[nn.Sequential, dict]:
    """(model, checkpoint config or ``{}``) from a circuitsim checkpoint or a plain
    ``torch.save``d ``nn.Sequential`` of :data:`SAFE_LAYERS`.  Runs no code from the file:
    anything else is refused with a :class:`ConfigError` that says how to convert it."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{what} {path}: no such file")
    obj = _safe_torch_load(path, what)
    if isinstance(obj, nn.Module):
        if not isinstance(obj, nn.Sequential):
            raise ConfigError(f"{what} {path}: a {type(obj).__name__}, not an nn.Sequential; "
                              f"{CONVERT_HINT}")
        try:
            describe_model(obj)
        except ConfigError as exc:
            raise ConfigError(f"{what} {path}: {exc}") from None
        return obj.cpu().eval(), {}
    return _from_checkpoint(obj, path, what, "cpu")
