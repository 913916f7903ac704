"""Per-chunk results on disk, written atomically as chunks finish.

Layout under the run directory::

    run.json            the run's identity (config fingerprint); checked by --resume
    chunks/<id>.npz     one finished chunk: arrays + a JSON ``meta`` entry

A chunk file is written to a temporary name in the same folder and renamed into place
(``os.replace``), so a file either holds a whole result or does not exist: a run killed at
any moment leaves only complete chunks behind, and ``--resume`` skips exactly those.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from ..errors import ConfigError


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def check_writable(out: Path, what: str = "--out") -> Path:
    """Create ``out`` if needed and prove it is writable, or raise :class:`ConfigError`."""
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=out, prefix=".write-test-", delete=True)
        probe.close()
    except OSError as exc:
        raise ConfigError(f"{what} {out}: cannot write there ({exc.strerror or exc}); "
                          "choose a directory you can write to") from None
    return out


class ChunkStore:
    """Finished chunk results of one run directory.

    :meth:`begin` starts a run: ``resume=False`` starts afresh (removes earlier chunk files of
    this directory); ``resume=True`` keeps them if ``fingerprint`` matches the stored run's and
    raises :class:`ConfigError` if it does not (a different run lives there).
    """

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.dir = self.run_dir / "chunks"

    def begin(self, fingerprint: str, *, resume: bool = False) -> ChunkStore:
        check_writable(self.run_dir)
        run_json = self.run_dir / "run.json"
        if resume and run_json.exists():
            old = json.loads(run_json.read_text()).get("fingerprint")
            if old != fingerprint:
                raise ConfigError(
                    f"--resume: {self.run_dir} holds a run with a different configuration "
                    f"(fingerprint {old} ≠ {fingerprint}); run without --resume to start "
                    "afresh or choose another --out")
        elif not resume:
            for d in (self.dir, self.run_dir / "failed"):
                if d.exists():
                    shutil.rmtree(d)
        self.dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run_json, json.dumps({"fingerprint": fingerprint}, indent=1) + "\n")
        return self

    def path(self, chunk_id: str) -> Path:
        return self.dir / f"{chunk_id}.npz"

    def done(self, chunk_id: str) -> bool:
        """True if the chunk finished (successfully) in this or an earlier run."""
        p = self.path(chunk_id)
        if not p.exists():
            return False
        try:
            return self.load(chunk_id)["meta"].get("status") == "ok"
        except Exception:  # a damaged file counts as not done; it is recomputed
            return False

    def save(self, chunk_id: str, result: dict) -> None:
        """``result``: ``{"meta": json-able dict, name: ndarray, ...}``."""
        arrays = {k: np.asarray(v) for k, v in result.items() if k != "meta"}
        meta = json.dumps(result.get("meta", {}), sort_keys=True)
        buf = io.BytesIO()
        np.savez(buf, __meta__=np.array(meta), **arrays)
        atomic_write_bytes(self.path(chunk_id), buf.getvalue())

    def load(self, chunk_id: str) -> dict:
        with np.load(self.path(chunk_id), allow_pickle=False) as z:
            out = {k: z[k] for k in z.files if k != "__meta__"}
            out["meta"] = json.loads(str(z["__meta__"]))
        return out
