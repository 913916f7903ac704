"""The cross-validation harness: one trained model, the same inputs and the same
non-idealities through four levels, compared layer by layer.

Levels (each gives every layer's outputs for every image):

* ``software``           -- the torch model in float64;
* ``behavioral_ideal``   -- the behavioral network with ideal crossbars (G·V, ideal periphery);
* ``behavioral_circuit`` -- the behavioral network with the full circuit: IR drop, wire
  parasitics, access transistors, sense-amplifier and neuron transfer;
* ``spice``              -- ngspice on the generated decks (one deck per chunk of images).

The work is split into :class:`~circuitsim.xval.chunks.Chunk` s (image batches × variants),
run on an executor, stored per chunk, and summarised by :mod:`circuitsim.xval.report`.
The network comes from ``circuitsim.network.build_network`` (the ``factory``), which the
harness never reimplements: it only calls ``spice_forward`` and ``behavioral_forward``.
"""

from __future__ import annotations

import hashlib
import io
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import cards
from ..cards.access import access_from_dict
from ..cards.transistor import AccessTransistor
from ..devices.va_cells import cell_law_from_dict
from ..errors import ConfigError, SimulationError
from ..mapping.walk import software_layers
from .chunks import Chunk, make_chunks
from .config import XvalConfig, build_section
from .executors import Executor, single_threaded
from .run import run_chunks
from .store import ChunkStore
from .tiles import chunk_tiles, run_tile_jobs, spice_from_tiles

LEVELS = ("software", "behavioral_ideal", "behavioral_circuit", "spice")


# ---------------------------------------------------------------------------- the network
def section_configs(cfg: XvalConfig) -> dict:
    """The owning packages' config objects built from ``cfg``'s sections (ConfigError on
    unknown keys or bad values): ``{"mapping": MappingConfig, "circuit": CircuitConfig}``
    and ``"nonideal"`` (a :class:`circuitsim.nonideal.NonIdealityConfig` seeded with
    ``cfg.seed``) when that section is set.

    ``circuit.access`` may be null, a preset name of :mod:`circuitsim.cards` (e.g.
    ``"ACCESS_018UM"``) or ``{"v_wordline": V, "nmos": {"kind": "level1" | "bsim4" |
    "bsim4_table", ...card fields}}`` (:mod:`circuitsim.cards.access`; no kind = level-1);
    ``circuit.cell`` may be a Verilog-A cell description (measured in ngspice when the config
    is built: :func:`circuitsim.devices.va_cells.cell_law_from_dict`); op-amp fields take
    ``{...OpAmpCard fields}``.
    """
    from ..mapping import MappingConfig
    from ..network import CircuitConfig

    out = {"mapping": build_section(MappingConfig, cfg.mapping, "mapping"),
           "circuit": build_section(CircuitConfig, _circuit_objects(cfg.circuit), "circuit")}
    if cfg.nonideal:
        from ..nonideal import NonIdealityConfig

        d = {**cfg.nonideal, "seed": cfg.seed}
        try:
            out["nonideal"] = NonIdealityConfig.from_dict(d)
        except ConfigError as exc:
            raise ConfigError(f"nonideal: {exc}") from None
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"nonideal: {exc} (parts take their dataclass fields, e.g. "
                              '{"programming": {"sigma": 2e-6}})') from None
    return out


def _circuit_objects(d: dict) -> dict:
    """JSON values of the circuit section → the card objects CircuitConfig takes."""
    d = dict(d)
    acc = d.get("access")
    if isinstance(acc, str):
        preset = getattr(cards, acc, None)
        if not isinstance(preset, AccessTransistor):
            names = [n for n in dir(cards) if isinstance(getattr(cards, n), AccessTransistor)]
            raise ConfigError(f"circuit.access: unknown preset {acc!r}; presets: "
                              f"{', '.join(names)} (or null, or a dict)")
        d["access"] = preset
    elif isinstance(acc, dict):
        d["access"] = access_from_dict(acc, "circuit.access")
    if isinstance(d.get("cell"), dict):
        d["cell"] = cell_law_from_dict(d["cell"])
    for k in ("sense_opamp", "neuron_opamp"):
        if isinstance(d.get(k), dict):
            from ..generators.opamp import OpAmpCard

            d[k] = build_section(OpAmpCard, d[k], f"circuit.{k}")
    if isinstance(d.get("device_range"), list):
        d["device_range"] = tuple(d["device_range"])
    return d


def network_from_config(model, cfg: XvalConfig, calibration=None):
    """Default network factory: :func:`circuitsim.network.build_network` with ``cfg``'s
    sections.  ``calibration``: training inputs (ReLU full scales, ADC full scales)."""
    from ..network import build_network

    secs = section_configs(cfg)
    return build_network(model, secs["circuit"], secs["mapping"], calibration=calibration,
                         nonideal=secs.get("nonideal"))


NetworkFactory = Callable[[object, XvalConfig], object]


class _NetCache:
    """Networks built in this process, by key: a worker builds each variant's network once,
    not once per chunk.  Bounded (a sweep visits variants in order)."""

    def __init__(self, size: int = 4):
        self.size = size
        self._nets: dict = {}
        self._lock = threading.Lock()

    def get(self, key: str, make: Callable[[], object]):
        with self._lock:
            if key in self._nets:
                return self._nets[key]
        net = make()
        with self._lock:
            self._nets[key] = net
            while len(self._nets) > self.size:
                self._nets.pop(next(iter(self._nets)))
        return net


_NETS = _NetCache()


def model_hash(model) -> str:
    """Hash of a torch model's architecture and parameters."""
    import torch

    h = hashlib.sha256(repr(model).encode())
    for k, v in model.state_dict().items():
        h.update(k.encode())
        buf = io.BytesIO()
        np.save(buf, v.detach().to(torch.float64).cpu().numpy())
        h.update(buf.getvalue())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------------------- one chunk
def _layers(outputs) -> list[np.ndarray]:
    return [np.asarray(a, dtype=np.float64) for a in outputs.layers]


def _power(outputs) -> list[np.ndarray]:
    """Per-layer tile read power (N, row tiles, col tiles) [W], or [] (all-analog decks)."""
    return [np.asarray(p, dtype=np.float64) for p in getattr(outputs, "power", None) or []]


def _tiles(outputs) -> list[np.ndarray]:
    return [np.asarray(t, dtype=np.float64) for t in getattr(outputs, "tiles", None) or []]


def _currents(outputs) -> list[np.ndarray]:
    cur = getattr(outputs, "currents", None) or []
    if any(c is None for c in cur):
        return []
    return [np.asarray(c, dtype=np.float64) for c in cur]


@dataclass(frozen=True)
class VariantTask:
    """What a worker needs for the chunks of one variant (pickled to the worker)."""

    key: str
    """Cache key: model hash + config fingerprint."""
    model: object
    config: XvalConfig
    factory: NetworkFactory = field(default=network_from_config)
    calibration: np.ndarray | None = None
    """Inputs for the ReLU full-scale calibration (None for sigmoid networks)."""

    def network(self):
        """This variant's network (built once per process)."""
        return _NETS.get(self.key, lambda: make_network(self.factory, self.model, self.config,
                                                        self.calibration))


def make_network(factory: NetworkFactory, model, cfg: XvalConfig, calibration=None):
    if calibration is None:
        return factory(model, cfg)
    return factory(model, cfg, calibration=calibration)


def evaluate_chunk(task: VariantTask, chunk: Chunk, X: np.ndarray, y: np.ndarray,
                   spice_tiles: dict | None = None) -> dict:
    """Run all levels on one chunk (single-threaded: one chunk per core).  Returns the stored
    record: ``meta`` (status, timings) and arrays ``y``, ``<level>_L<k>`` (layer outputs) and
    ``<level>_I<k>`` (column currents) per layer k, and with tiles ``<level>_P<k>`` (read
    power of every tile, (N, row tiles, col tiles) [W]).  An ngspice failure is returned as
    ``status: failed`` with its deck and log (the behavioral arrays are kept).
    ``spice_tiles``: the chunk's finished tile jobs (:func:`circuitsim.xval.tiles.
    chunk_tiles`): the ``spice`` level is assembled from them instead of run here; its
    ``timing_s.spice`` is then the jobs' ngspice time."""
    with single_threaded():
        return _evaluate_chunk(task, chunk, X, y, spice_tiles)


def _evaluate_chunk(task: VariantTask, chunk: Chunk, X: np.ndarray, y: np.ndarray,
                    spice_tiles: dict | None = None) -> dict:
    cfg = task.config
    rec: dict = {"y": np.asarray(y, dtype=np.int64)}
    timing: dict = {}
    meta = {"status": "ok", "chunk": chunk.id, "start": chunk.start, "stop": chunk.stop,
            "spice": chunk.spice, "timing_s": timing}
    t0 = time.perf_counter()
    net = task.network()
    timing["build"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    levels = {"software": software_layers(task.model, X)}
    currents, tiles, power = {}, {}, {}
    timing["software"] = time.perf_counter() - t0
    for name, ideal in (("behavioral_ideal", True), ("behavioral_circuit", False)):
        t0 = time.perf_counter()
        o = net.behavioral_forward(X, ideal=ideal, timeout_s=cfg.spice_timeout_s)
        timing[name] = time.perf_counter() - t0
        levels[name], currents[name], tiles[name] = _layers(o), _currents(o), _tiles(o)
        power[name] = _power(o)
    if chunk.spice:
        t0 = time.perf_counter()
        try:
            if spice_tiles is None:
                o = net.spice_forward(X, runner=cfg.spice_runner,
                                      timeout_s=cfg.spice_timeout_s)
            else:
                o = spice_from_tiles(net, X, spice_tiles)
            levels["spice"], currents["spice"], tiles["spice"] = (_layers(o), _currents(o),
                                                                  _tiles(o))
            power["spice"] = _power(o)
            run = getattr(o, "meta", None) or {}  # what the runs' SimResults reported
            meta["solver"] = run.get("solver")
            meta["ngspice_version"] = run.get("ngspice_version")
        except SimulationError as exc:
            meta.update(status="failed", error=f"{type(exc).__name__}: {exc}",
                        deck=exc.deck or "", log=exc.log or "")
        timing["spice"] = time.perf_counter() - t0
        if spice_tiles is not None:  # the ngspice work was done by the chunk's tile jobs
            timing["spice_assembly"] = timing["spice"]
            timing["spice"] = float(sum(m["timing_s"]["spice"]
                                        for m in spice_tiles.get("metas") or
                                        [spice_tiles["failed"]]))
            meta["tile_jobs"] = len(spice_tiles.get("metas") or [])
    # per level and layer: outputs (L), column currents (I), tile power (P), tile outputs (T)
    for tag, per_level in (("L", levels), ("I", currents), ("P", power), ("T", tiles)):
        for name, arrays in per_level.items():
            for k, a in enumerate(arrays):
                rec[f"{name}_{tag}{k}"] = a
    for k, p in enumerate(getattr(net, "plans", [])):
        if getattr(p, "adc_bits", None) is not None:
            rec[f"adcfs_L{k}"] = np.asarray(p.adc_full_scale, dtype=np.float64)
            meta.setdefault("adc_bits", {})[str(k)] = int(p.adc_bits)
    rec["meta"] = meta
    return rec


def calibration_inputs(cfg: XvalConfig, dataset) -> np.ndarray | None:
    """The calibration set: the first ``cfg.calibration_images`` training inputs (None: all),
    for networks that need one (ReLU full scales, calibrated ADC full scales); else None.
    Never test images."""
    adc = cfg.mapping.get("adc_bits") is not None and \
        cfg.mapping.get("adc_range", "calibrated") == "calibrated"
    relu = cfg.activation == "relu" or cfg.model in ("cnn", "cat-relu")
    if (not relu and not adc) or getattr(dataset, "x_train", None) is None:
        return None
    return np.asarray(dataset.x_train[:cfg.calibration_images])


# ---------------------------------------------------------------------------- a run
@dataclass
class Variant:
    """One configuration of a run: ``key`` (file-name safe), its config and the model
    trained for it; ``label``: what distinguishes it (e.g. ``{"circuit.r_wire_row": 2.0,
    "seed": 1}``), shown in sweep tables."""

    key: str
    config: XvalConfig
    model: object
    label: dict = field(default_factory=dict)


class XvalRun:
    """Chunks of all ``variants`` over the test images of ``dataset``, evaluated into
    ``out_dir/chunks``; each variant is split by its own config's ``n_images``,
    ``spice_images`` and ``chunk_size``.  Chunks are submitted in variant order (put the
    costliest variant first)."""

    def __init__(self, variants: list[Variant], dataset, out_dir: Path, *,
                 factory: NetworkFactory = network_from_config):
        if not variants:
            raise ConfigError("a cross-validation run needs at least one variant")
        self.variants = variants
        self.dataset = dataset
        self.out_dir = Path(out_dir)
        self.factory = factory
        self._store: ChunkStore | None = None
        n_test = len(dataset.x_test)
        self.n_images = {}
        self.chunks = []
        for v in variants:
            c = v.config
            n = n_test if c.n_images is None else min(c.n_images, n_test)
            self.n_images[v.key] = n
            self.chunks += make_chunks([v.key], n, c.chunk_size, c.spice_images)
        if len({v.key for v in variants}) != len(variants):
            raise ConfigError(f"variant keys must be unique: {[v.key for v in variants]}")
        self.tasks = {v.key: VariantTask(f"{model_hash(v.model)}-{v.config.fingerprint()}", v.model,
                                  v.config, factory, calibration_inputs(v.config, dataset))
                      for v in variants}

    def fingerprint(self) -> str:
        parts = [f"{v.key}:{self.tasks[v.key].key}" for v in self.variants]
        parts.append(f"{self.dataset.name}:{sorted(self.n_images.items())}")
        parts.extend(c.id + str(c.spice) for c in self.chunks)
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]

    def _args(self, c: Chunk, tiles: dict | None = None) -> tuple:
        x = self.dataset.x_test[c.start:c.stop]
        y = self.dataset.y_test[c.start:c.stop]
        if tiles is not None and c.id in tiles:
            return (self.tasks[c.variant], c, x, y, chunk_tiles(tiles[c.id]))
        return (self.tasks[c.variant], c, x, y)

    def run(self, executor: Executor, *, resume: bool = False, progress: bool | None = None,
            desc: str = "xval") -> dict:
        """Evaluate every chunk not done yet; returns the run statistics (see
        :func:`circuitsim.xval.run.run_chunks`) plus ``wall_s``.  Variants with
        ``tile_jobs`` first run their ngspice level as staged tile jobs
        (:func:`circuitsim.xval.tiles.run_tile_jobs`; their statistics under
        ``tile_jobs``)."""
        store = self.begin(resume=resume)
        t0 = time.perf_counter()
        tiles: dict = {}
        tile_stats = {"run": 0, "skipped": 0, "failed": [], "retried": []}
        for v in self.variants:
            if not v.config.tile_jobs:
                continue
            todo = [c for c in self.chunks if c.variant == v.key and c.spice
                    and not store.done(c.id)]
            res, s = run_tile_jobs(executor, store, v.key, self.tasks[v.key], todo,
                                   self.dataset.x_test, progress=progress,
                                   desc=f"{desc} {v.key} tiles")
            tiles.update(res)
            for k, val in s.items():
                tile_stats[k] += val
        stats = run_chunks(executor, evaluate_chunk, self.chunks,
                           lambda c: self._args(c, tiles), store, progress=progress, desc=desc)
        stats["tile_jobs"] = tile_stats
        stats["wall_s"] = time.perf_counter() - t0
        return stats

    def begin(self, *, resume: bool = False) -> ChunkStore:
        """Claim ``out_dir`` for this run (see :meth:`ChunkStore.begin`): a refused
        ``--resume`` raises here, before the caller writes anything else."""
        if self._store is None:
            self._store = ChunkStore(self.out_dir).begin(self.fingerprint(), resume=resume)
        return self._store

    def records(self, variant: str) -> list[dict]:
        """The stored records of one variant's chunks, in image order (each verified to be
        this run's)."""
        store = ChunkStore(self.out_dir, self.fingerprint())
        return [store.load(c.id) for c in self.chunks if c.variant == variant]
