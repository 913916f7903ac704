"""Run chunks on an executor: skip finished ones, store each as it finishes, retry once.

The task function returns ``{"meta": {"status": "ok" | "failed", ...}, arrays...}``; a task
that raises counts as failed too.  A failed chunk is submitted once more; if it fails again
its record (error, and the deck and ngspice log when SPICE failed) is stored and reported —
never dropped.  ``--resume`` tries failed chunks again.
"""

from __future__ import annotations

import shutil
import traceback
from collections.abc import Callable
from pathlib import Path

from tqdm.auto import tqdm

from .chunks import Chunk
from .executors import Executor
from .store import ChunkStore, atomic_write_text


def failure_record(chunk: Chunk, exc: BaseException) -> dict:
    """The stored record of a chunk whose task raised ``exc``."""
    meta = {"status": "failed", "chunk": chunk.id, "start": chunk.start, "stop": chunk.stop,
            "spice": chunk.spice, "error": f"{type(exc).__name__}: {exc}",
            "traceback": "".join(traceback.format_exception(exc))[-4000:]}
    deck = getattr(exc, "deck", "") or ""
    log = getattr(exc, "log", "") or ""
    if deck or log:
        meta.update(deck=deck, log=log)
    return {"meta": meta}


def run_chunks(executor: Executor, fn: Callable, chunks: list[Chunk],
               args_for: Callable[[Chunk], tuple], store: ChunkStore, *,
               retries: int = 1, progress: bool | None = None, desc: str = "chunks",
               done: Callable[[Chunk], bool] | None = None) -> dict:
    """Evaluate every chunk not yet done in ``store``; return ``{"run": n, "skipped": n,
    "failed": [ids], "retried": [ids]}``.  ``chunks``: anything with the fields of a
    :class:`Chunk` (``id``, ``start``, ``stop``, ``spice``), e.g. the tile jobs of
    :mod:`circuitsim.xval.tiles`; ``done(chunk)`` replaces ``store.done(chunk.id)`` (a job
    that must also match its inputs)."""
    done = done or (lambda c: store.done(c.id))
    todo = [c for c in chunks if not done(c)]
    stats = {"run": len(todo), "skipped": len(chunks) - len(todo), "failed": [],
             "retried": []}
    tries = dict.fromkeys((c.id for c in todo), 0)
    bar = tqdm(total=len(chunks), initial=stats["skipped"], desc=desc, unit="chunk",
               disable=(None if progress is None else not progress), leave=False)
    try:
        pending = todo
        while pending:
            again = []
            for i, ok, value in executor.imap(fn, [args_for(c) for c in pending]):
                c = pending[i]
                result = value if ok else failure_record(c, value)
                if result["meta"].get("status") != "ok" and tries[c.id] < retries:
                    tries[c.id] += 1
                    stats["retried"].append(c.id)
                    again.append(c)
                    continue
                if result["meta"].get("status") != "ok":
                    stats["failed"].append(c.id)
                    _keep_failure(store.run_dir, c.id, result["meta"])
                else:  # a failure record of an earlier try never sits next to a success
                    shutil.rmtree(Path(store.run_dir) / "failed" / c.id, ignore_errors=True)
                store.save(c.id, result)
                bar.update(1)
            pending = again
    finally:
        bar.close()
    return stats


def _keep_failure(run_dir: Path, chunk_id: str, meta: dict) -> None:
    d = Path(run_dir) / "failed" / chunk_id
    atomic_write_text(d / "error.txt", meta.get("traceback") or meta.get("error", ""))
    if meta.get("deck"):
        atomic_write_text(d / "deck.cir", meta["deck"])
        meta["deck_path"] = str(d / "deck.cir")
    if meta.get("log"):
        atomic_write_text(d / "ngspice.log", meta["log"])
        meta["log_path"] = str(d / "ngspice.log")
