"""The cross-validation run's one config object, validated before any long work starts.

A run is described by :class:`XvalConfig`: the data set and model, the training settings,
the mapping, non-ideality and circuit settings (each a dict of overrides for the dataclass of
the package that owns it: :class:`circuitsim.mapping.MappingConfig`,
:class:`circuitsim.nonideal.NonIdealityConfig`, :class:`circuitsim.network.CircuitConfig`,
:class:`circuitsim.nn.train.TrainConfig`), and how to split and run the work.

Configs come from a JSON or TOML file (``--config``) and from ``--set section.field=value``;
any unknown key, at the top or inside a section, is a :class:`ConfigError` naming the valid
keys.  Sweeps address fields the same way: ``circuit.r_wire_row``, ``mapping.g_max``, ``seed``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..devices.va_cells import cell_source_digest
from ..errors import ConfigError
from ..names import MODEL_KINDS

DEFAULT_MAPPING = {"g_min": 1e-6, "g_max": 100e-6, "v_read": 0.2}
"""The fields of :data:`circuitsim.mapping.DEFAULT_MAPPING` (device window 1–100 µS read at
0.2 V) written out, so that a run's config file states them; a test checks they agree."""

SECTIONS = ("train", "mapping", "nonideal", "circuit")
"""Dict-valued fields: overrides of another package's config dataclass."""


@dataclass(frozen=True)
class XvalConfig:
    """Everything that decides the figures of one cross-validation run."""

    dataset: str = "digits"
    """Data set name for :func:`circuitsim.nn.data.get_dataset` (``digits`` is embedded)."""
    dataset_path: str | None = None
    """File or folder for data sets that are read from disk (IDX, HDF5); None for digits."""
    model: str = "mlp"
    """Model kind (:data:`circuitsim.names.MODEL_KINDS`, as ``circuitsim train --model``):
    ``mlp``, ``logistic``, ``cat-relu`` or ``cnn`` (images only; conv layers by unfolding)."""
    hidden: tuple[int, ...] = (16,)
    """Hidden layer widths of the MLP [neurons]; inputs and outputs follow from the data."""
    activation: str = "sigmoid"
    """Hidden-layer neuron: ``sigmoid`` or ``relu``."""
    model_seed: int = 0
    """Seed of the initial weights."""
    train: dict = field(default_factory=dict)
    """Overrides of :class:`circuitsim.nn.train.TrainConfig` (epochs, lr, seed...)."""
    mapping: dict = field(default_factory=lambda: dict(DEFAULT_MAPPING))
    """Fields of :class:`circuitsim.mapping.MappingConfig` (g_min, g_max [S], v_read [V]...);
    default :data:`DEFAULT_MAPPING`."""
    nonideal: dict = field(default_factory=dict)
    """Overrides of the non-ideality config (variability σ, faults...); empty: ideal devices."""
    circuit: dict = field(default_factory=dict)
    """Overrides of :class:`circuitsim.network.CircuitConfig` (wire R [Ω], TIA, neurons...)."""
    seed: int = 0
    """Seed of the random non-idealities drawn in mapping (one draw per seed)."""
    calibration_images: int | None = None
    """Training images of the calibration set (ReLU full scales, ADC full scales): the first n
    of the training set; None: all.  Never test images."""
    n_images: int | None = None
    """Test images to evaluate (the first n of the test set); None: all."""
    spice_images: int | None = None
    """Of those, how many also go through ngspice; None: all (0: behavioral only)."""
    chunk_size: int = 20
    """Images per chunk (one ngspice run per chunk) [images]."""
    spice_runner: str = "batch"
    """ngspice runner: ``batch`` (subprocess) or ``shared`` (libngspice)."""
    spice_timeout_s: float = 600.0
    """Timeout of one chunk's ngspice run [s] (with ``tile_jobs``: of one tile job)."""
    tile_jobs: bool = False
    """Tiled networks only: ngspice as one job per (layer, tile, image chunk), staged layer by
    layer over the executor (:mod:`circuitsim.xval.tiles`), instead of one deck per layer and
    chunk holding every tile.  Same figures; more parallelism for big tiles."""

    def __post_init__(self):
        if not isinstance(self.dataset, str) or not self.dataset:
            raise ConfigError(f"dataset must be a data set name, got {self.dataset!r}")
        if self.model not in MODEL_KINDS:
            raise ConfigError(f"model must be one of {', '.join(MODEL_KINDS)}, got "
                              f"{self.model!r}")
        hidden = self.hidden
        if isinstance(hidden, int):
            hidden = (hidden,)
        try:
            hidden = tuple(int(h) for h in hidden)
        except (TypeError, ValueError):
            raise ConfigError(f"hidden must be a list of layer widths, got {self.hidden!r}") \
                from None
        if any(h < 1 for h in hidden):
            raise ConfigError(f"hidden widths must be ≥ 1, got {hidden}")
        object.__setattr__(self, "hidden", hidden)
        if self.activation not in ("sigmoid", "relu"):
            raise ConfigError(f"activation must be 'sigmoid' or 'relu', got {self.activation!r}")
        for name in SECTIONS:
            val = getattr(self, name)
            if not isinstance(val, dict):
                raise ConfigError(f"{name} must be a table/dict of overrides, got {val!r}")
            object.__setattr__(self, name, dict(val))
        for name in ("seed", "model_seed"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ConfigError(f"{name} must be an integer ≥ 0, got {v!r}")
        for name in ("n_images", "spice_images", "calibration_images"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int)
                                  or v < (0 if name == "spice_images" else 1)):
                raise ConfigError(f"{name} must be a positive integer or null, got {v!r}")
        if not isinstance(self.chunk_size, int) or self.chunk_size < 1:
            raise ConfigError(f"chunk_size must be an integer ≥ 1, got {self.chunk_size!r}")
        if self.spice_runner not in ("batch", "shared"):
            raise ConfigError(f"spice_runner must be 'batch' or 'shared', got "
                              f"{self.spice_runner!r}")
        if not isinstance(self.tile_jobs, bool):
            raise ConfigError(f"tile_jobs must be true or false, got {self.tile_jobs!r}")
        t = self.spice_timeout_s
        if (isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t)
                or not t > 0):
            raise ConfigError(f"spice_timeout_s must be a finite number of seconds > 0, got "
                              f"{t!r}")

    # ------------------------------------------------------------------ conversion
    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d: dict, *, where: str = "config") -> XvalConfig:
        if not isinstance(d, dict):
            raise ConfigError(f"{where}: expected a table of settings, got {type(d).__name__}")
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(d) - set(names))
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; valid keys: "
                              f"{', '.join(names)}")
        return cls(**d)

    @classmethod
    def from_file(cls, path: str | Path) -> XvalConfig:
        """Read a JSON (``.json``) or TOML (``.toml``) config file."""
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"--config {p}: no such file")
        try:
            if p.suffix == ".toml":
                import tomllib

                d = tomllib.loads(p.read_text())
            else:
                d = json.loads(p.read_text())
        except ValueError as exc:
            raise ConfigError(f"--config {p}: cannot parse ({exc}); write JSON or TOML") \
                from None
        return cls.from_dict(d, where=f"--config {p}")

    def replace(self, **changes) -> XvalConfig:
        return dataclasses.replace(self, **changes)

    def with_value(self, key: str, value: Any) -> XvalConfig:
        """A copy with ``key`` (``seed``, ``circuit.r_wire_row``...) set to ``value``."""
        head, _, tail = key.partition(".")
        names = [f.name for f in dataclasses.fields(self)]
        if head not in names:
            raise ConfigError(f"unknown config field {key!r}; fields: {', '.join(names)} "
                              f"(sections {', '.join(SECTIONS)} take section.field)")
        if tail:
            if head not in SECTIONS:
                raise ConfigError(f"{head} is not a section; use {head}=VALUE")
            return self.replace(**{head: _set_path(getattr(self, head), tail.split("."), value)})
        if head in SECTIONS:
            raise ConfigError(f"{head} is a section; set one of its fields: {head}.FIELD")
        return self.replace(**{head: value})

    def fingerprint(self) -> str:
        """Short hash of every setting that changes the figures (not the chunking)."""
        d = self.to_dict()
        cell = d["circuit"].get("cell")
        if isinstance(cell, dict):  # a Verilog-A cell: its text decides the figures too
            d["circuit"]["cell"] = {**cell, "source_sha256": cell_source_digest(cell)}
        blob = json.dumps(d, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _set_path(d: dict, path: list[str], value: Any) -> dict:
    """Copy of ``d`` with ``d[path[0]][path[1]]... = value`` (sub-dicts created as needed)."""
    out = dict(d)
    if len(path) == 1:
        out[path[0]] = value
        return out
    sub = out.get(path[0])
    out[path[0]] = _set_path(sub if isinstance(sub, dict) else {}, path[1:], value)
    return out


def parse_value(text: str) -> Any:
    """A command-line value: JSON when it parses (numbers, true/false/null, lists), else the
    string itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_assignments(items: list[str] | None) -> list[tuple[str, Any]]:
    """``["circuit.r_wire_row=2.5", ...]`` → ``[("circuit.r_wire_row", 2.5), ...]``."""
    out = []
    for item in items or []:
        key, eq, val = item.partition("=")
        if not eq or not key:
            raise ConfigError(f"--set {item!r}: expected FIELD=VALUE, e.g. circuit.r_wire_row=2")
        out.append((key.strip(), parse_value(val.strip())))
    return out


def build_section(cls, overrides: dict, section: str, **fixed):
    """``cls(**fixed, **overrides)`` with unknown keys and bad values as ConfigError."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ConfigError(f"{section}: unknown key(s) {', '.join(unknown)}; valid keys of "
                          f"{cls.__name__}: {', '.join(sorted(names))}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key, value in overrides.items():
        check_type(f"{section}.{key}", fields[key].type, value)
    try:
        return cls(**{**fixed, **overrides})
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{section}: {exc}") from None


_SCALARS = {"float", "int", "str", "bool", "None"}


def check_type(name: str, annotation, value) -> None:
    """Refuse ``value`` for a field annotated with scalar types (``float``, ``int | None``,
    ``str``, ``bool``...): a string where a number belongs, a bool where a number belongs, a
    non-finite number.  Other annotations (cards, tuples) are left to the dataclass."""
    tokens = {t.strip() for t in str(getattr(annotation, "__name__", annotation)).split("|")}
    if not tokens <= _SCALARS:
        return
    if value is None:
        if "None" in tokens:
            return
        raise ConfigError(f"{name}: a value is required, got null")
    if "bool" in tokens and isinstance(value, bool):
        return
    number = not isinstance(value, bool) and isinstance(value, (int, float))
    if number and ("float" in tokens or ("int" in tokens and isinstance(value, int))):
        if not math.isfinite(value):
            raise ConfigError(f"{name}: must be a finite number, got {value!r}")
        return
    if "str" in tokens and isinstance(value, str):
        return
    want = " or ".join(sorted(t if t != "None" else "null" for t in tokens))
    raise ConfigError(f"{name}: expected {want}, got {type(value).__name__} {value!r}"
                      + ("; write numbers without quotes, e.g. --set mapping.v_read=0.2"
                         if isinstance(value, str) else ""))
