"""Tile-parallel co-simulation: every (layer, tile, image chunk) is its own ngspice job.

A tiled network (digital periphery: DAC, analog tiles, ADC, partial sums in Python) is
co-simulated layer by layer, and layer l+1 needs layer l's digital outputs.  The serial path
(:meth:`circuitsim.network.Network.spice_forward`) runs one deck per layer and image chunk
holding every tile of the layer.  The tiles share no node but the word-line source, so each
tile can be its own deck, and the jobs of one layer are independent:

* stage l: for every spice chunk of the variant and every tile of layer l, one job
  (:class:`TileJob`) on the run's executor; a worker replays the digital steps of the layers
  before l from the stored tile results of that chunk (the network's own
  :meth:`~circuitsim.network.Network.forward_with_tiles`, so the row voltages are exactly those
  of the serial path), then runs its one tile in ngspice (:meth:`Network.spice_tile`);
* stage l+1 starts when every job of stage l is stored.

Each job is written as it finishes into the run's chunk store (``chunks/<id>.npz``), stamped
like a chunk (run fingerprint, job id, SHA-256, checked on reuse) and with ``upstream``: the
digest of the stored results it was computed from.  A job is reused only when all of these
match, so a run killed at any point resumes without recomputing finished jobs and never
reuses one computed from other inputs.  Failed jobs are retried once, as chunks are
(:func:`circuitsim.xval.run.run_chunks`); a chunk whose job failed for good reports that job's
error, deck and log.  The chunk records (all levels, the report's input) are then evaluated as
usual, the ``spice`` level assembled from the jobs (:func:`spice_from_tiles`) with the row
voltages checked against the ones each job saw.

Enabled per variant by ``XvalConfig.tile_jobs``.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, SimulationError
from ..spice import get_runner
from .chunks import Chunk
from .executors import Executor, single_threaded
from .run import run_chunks
from .store import ChunkError, ChunkStore

ARRAYS = ("out", "cur", "power")
"""Arrays of one job's record: the tile's sense outputs (N, outputs) [V], column currents
(N, 2·outputs) [A] and read power (N,) [W]."""


@dataclass(frozen=True)
class TileJob:
    """One ngspice job: tile ``tile`` = (row tile, column tile) of layer ``layer`` (the
    plan's index, from 1) for the images ``start..stop-1`` of chunk ``chunk``.
    ``upstream``: digest of the stored results of the earlier layers it depends on."""

    variant: str
    layer: int
    tile: tuple[int, int]
    start: int
    stop: int
    upstream: str = ""
    spice: bool = True

    @property
    def id(self) -> str:
        ri, ci = self.tile
        return f"{self.variant}-L{self.layer}-t{ri}_{ci}-i{self.start:05d}-{self.stop:05d}"

    @property
    def chunk(self) -> str:
        return Chunk(self.variant, self.start, self.stop, True).id


def _sha(a: np.ndarray) -> str:
    a = np.ascontiguousarray(a, dtype=np.float64)
    return hashlib.sha256(f"{a.shape}|".encode() + a.tobytes()).hexdigest()


def layer_tiles(task) -> list[tuple[int, list[tuple[int, int]]]]:
    """``[(layer index, [(ri, ci), ...]), ...]`` of ``task``'s network (a worker job: it
    builds the network where the tile jobs will run).  ConfigError if it has no tiles."""
    with single_threaded():
        net = task.network()
    if not getattr(net, "digital", False):
        raise ConfigError("tile_jobs needs a network with tiles / converters (set "
                          "mapping.tile_size or mapping.adc_bits), or set tile_jobs false")
    return [(p.index, [(ri, ci) for ri, ci, _, _ in p.tiles()]) for p in net.plans]


def assemble(plan, n_rows: int, records: dict) -> tuple:
    """``(out, currents, power)`` of a whole layer (the shapes of
    :meth:`Network._tiles_spice`) from the job records ``{(ri, ci): record}``."""
    out = np.full((n_rows, len(plan.row_tiles), plan.n_out), np.nan)
    cur = np.full((n_rows, len(plan.row_tiles), 2 * plan.n_out), np.nan)
    pw = np.full((n_rows, len(plan.row_tiles), len(plan.col_tiles)), np.nan)
    for ri, ci, _, (c0, c1) in plan.tiles():
        r = records.get((ri, ci))
        if r is None:
            raise ChunkError(f"layer {plan.index}: no result of tile ({ri}, {ci})")
        if np.shape(r["out"]) != (n_rows, c1 - c0):
            raise ChunkError(f"layer {plan.index} tile ({ri}, {ci}): {np.shape(r['out'])} "
                             f"outputs stored, {(n_rows, c1 - c0)} expected")
        out[:, ri, c0:c1] = r["out"]
        cur[:, ri, 2 * c0:2 * c1] = r["cur"]
        pw[:, ri, ci] = r["power"]
    return out, cur, pw


class _Reached(Exception):
    """Raised by the replay's tile function at the layer whose row voltages are wanted."""

    def __init__(self, V):
        super().__init__("layer reached")
        self.V = V


def layer_inputs(net, X, layer: int, earlier: dict) -> np.ndarray:
    """Row voltages (N·positions, in + 1) [V] of layer ``layer`` for inputs ``X``: the
    network's digital forward over the stored tile results ``earlier`` = ``{layer index:
    {(ri, ci): record}}`` of every layer before it (ngspice's, so exactly the serial path's
    rows)."""

    def tiles_of(p, V):
        if p.index == layer:
            raise _Reached(V)
        if p.index not in earlier:
            raise ChunkError(f"layer {layer} needs the tile results of layer {p.index}")
        return assemble(p, len(V), earlier[p.index])

    try:
        net.forward_with_tiles(X, tiles_of)
    except _Reached as r:
        return np.asarray(r.V, dtype=np.float64)
    raise ConfigError(f"the network has no layer {layer}")


def evaluate_tile(task, job: TileJob, X: np.ndarray, earlier: dict) -> dict:
    """Run one tile job (single-threaded, in a worker): the stored record ``{"meta": ...,
    "out", "cur", "power"}``; an ngspice failure is returned as ``status: failed`` with its
    deck and log."""
    with single_threaded():
        net = task.network()
        cfg = task.config
        plan = next(p for p in net.plans if p.index == job.layer)
        V = layer_inputs(net, X, job.layer, earlier)
        meta = {"status": "ok", "chunk": job.id, "start": job.start, "stop": job.stop,
                "spice": True, "layer": job.layer, "tile": list(job.tile),
                "upstream": job.upstream, "input_sha256": _sha(V)}
        t0 = time.perf_counter()
        runner = get_runner(cfg.spice_runner)
        try:
            out, cur, pw, res = net.spice_tile(plan, job.tile, V, runner,
                                               timeout_s=cfg.spice_timeout_s)
        except SimulationError as exc:
            meta.update(status="failed", error=f"{type(exc).__name__}: {exc}",
                        deck=exc.deck or "", log=exc.log or "",
                        timing_s={"spice": time.perf_counter() - t0})
            return {"meta": meta}
        finally:
            runner.close()
        meta.update(solver=res.solver, ngspice_version=res.ngspice_version,
                    timing_s={"spice": time.perf_counter() - t0})
        return {"meta": meta, "out": out, "cur": cur, "power": pw}


def _upstream(records: dict) -> str:
    """Digest of the results (arrays, not timings) of the stored job records ``{layer:
    {tile: record}}`` a job depends on: a recomputed earlier job that gives the same numbers
    leaves the later jobs valid, one that gives other numbers does not."""
    h = hashlib.sha256(b"tile-jobs/1")
    for layer in sorted(records):
        for tile in sorted(records[layer]):
            h.update(f"|{layer}|{tile}|".encode())
            for k in ARRAYS:
                h.update(_sha(records[layer][tile][k]).encode())
    return h.hexdigest()[:32]


def run_tile_jobs(executor: Executor, store: ChunkStore, variant: str, task, chunks: list,
                  x_test: np.ndarray, *, progress: bool | None = None,
                  desc: str = "tiles") -> tuple[dict, dict]:
    """Every stage of ``variant``'s tile jobs over its spice ``chunks``; returns ``(per
    chunk id: {"layers": {layer: {tile: record}}, "failed": meta | None}, stats)``."""
    spice = [c for c in chunks if c.spice]
    results = {c.id: {"layers": {}, "failed": None} for c in spice}
    stats = {"run": 0, "skipped": 0, "failed": [], "retried": []}
    if not spice:
        return results, stats
    geometry = None
    for attempt in range(2):  # a worker that died is replaced on the second try
        for _, ok, value in executor.imap(layer_tiles, [(task,)]):
            if ok:
                geometry = value
            elif attempt or isinstance(value, ConfigError):
                raise value
        if geometry is not None:
            break
    for layer, tiles in geometry:
        live = [c for c in spice if results[c.id]["failed"] is None]
        jobs = [TileJob(variant, layer, t, c.start, c.stop, _upstream(results[c.id]["layers"]))
                for c in live for t in tiles]
        if not jobs:
            break
        by_chunk = {c.id: c for c in live}

        def args_for(j: TileJob, by_chunk=by_chunk):
            c = by_chunk[j.chunk]
            return (task, j, x_test[c.start:c.stop], _arrays(results[c.id]["layers"]))

        def done(j: TileJob) -> bool:
            if not store.done(j.id):
                return False
            try:
                return store.load(j.id)["meta"].get("upstream") == j.upstream
            except (ChunkError, OSError, ValueError):
                return False

        s = run_chunks(executor, evaluate_tile, jobs, args_for, store, progress=progress,
                       desc=f"{desc} layer {layer}", done=done)
        for k in ("run", "skipped"):
            stats[k] += s[k]
        stats["failed"] += s["failed"]
        stats["retried"] += s["retried"]
        for j in jobs:
            rec = store.load(j.id)
            slot = results[j.chunk]
            if rec["meta"].get("status") != "ok":
                slot["failed"] = slot["failed"] or rec["meta"]
                continue
            slot["layers"].setdefault(layer, {})[j.tile] = rec
    return results, stats


def _arrays(layers: dict) -> dict:
    """The job records without their meta (what a worker needs to replay the layers)."""
    return {layer: {t: {k: r[k] for k in ARRAYS} for t, r in tiles.items()}
            for layer, tiles in layers.items()}


def chunk_tiles(result: dict) -> dict:
    """What :func:`spice_from_tiles` needs of one chunk's job results (pickled to the
    worker that evaluates the chunk)."""
    if result["failed"] is not None:
        return {"failed": result["failed"]}
    metas = [r["meta"] for tiles in result["layers"].values() for r in tiles.values()]
    layers = {layer: {t: {**{k: r[k] for k in ARRAYS}, "input_sha256":
                          r["meta"]["input_sha256"]} for t, r in tiles.items()}
              for layer, tiles in result["layers"].items()}
    return {"failed": None, "layers": layers, "metas": metas}


def spice_from_tiles(net, X: np.ndarray, tiles: dict):
    """The ``spice`` level of one chunk from its tile jobs (``chunk_tiles``): the network's
    digital forward over the stored tile results, each checked to have been computed from
    exactly these row voltages.  A job that failed raises its :class:`SimulationError`."""
    if tiles["failed"] is not None:
        m = tiles["failed"]
        raise SimulationError(f"tile job {m.get('chunk')} failed: {m.get('error')}",
                              deck=m.get("deck") or "", log=m.get("log") or "")

    def tiles_of(p, V):
        recs = tiles["layers"].get(p.index)
        if recs is None:
            raise ChunkError(f"no tile results of layer {p.index}")
        sha = _sha(V)
        for t, r in recs.items():
            if r["input_sha256"] != sha:
                raise ChunkError(f"layer {p.index} tile {t}: its stored result was computed "
                                 "from other row voltages; rerun without --resume")
        return assemble(p, len(V), recs)

    o = net.forward_with_tiles(X, tiles_of)
    metas = tiles["metas"]
    o.meta["runs"] = len(metas)
    o.meta["solver"] = sorted({m.get("solver") for m in metas})
    o.meta["ngspice_version"] = sorted({m.get("ngspice_version") for m in metas})
    o.meta["spice_s"] = float(sum(m["timing_s"]["spice"] for m in metas))
    return o
