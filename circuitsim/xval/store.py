"""Per-chunk results on disk, written atomically as chunks finish, verified when reused.

Layout under the run directory::

    run.json            the run's identity (config fingerprint); checked by --resume
    chunks/<id>.npz     one finished chunk: arrays + a JSON ``meta`` entry
    .circuitsim.lock    held (flock) while a run writes here: two runs on one --out refused

A chunk file is written to a temporary name in the same folder and renamed into place
(``os.replace``), so a file either holds a whole result or does not exist: a run killed at
any moment leaves only complete chunks behind, and ``--resume`` skips exactly those.

Every chunk carries what it is: the run fingerprint it was computed for, its chunk id and a
SHA-256 of its arrays and meta.  A chunk is reused only if all three match (a chunk copied
over another, one from a run with another configuration, one edited by hand are recomputed),
so a resumed report equals a clean run's.  Files are written with the user's umask.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..errors import ConfigError


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a plain open() would not
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process's umask (read by setting and restoring it: there is no getter)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def check_writable(out: Path, what: str = "--out") -> Path:
    """Create ``out`` if needed and prove it is writable, or raise :class:`ConfigError`."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{what} {out}: cannot write there: it is a file, not a directory; "
                          "give a directory (it is created if missing)")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=out, prefix=".write-test-", delete=True)
        probe.close()
    except OSError as exc:
        raise ConfigError(f"{what} {out}: cannot write there ({exc.strerror or exc}); "
                          "choose a directory you can write to") from None
    return out


LOCK_NAME = ".circuitsim.lock"

STALE_OUTPUTS = ("report.json", "report.md", "sweep.json", "sweep.md")
"""Report files of an earlier run in the same directory: removed when a run begins, so a
run killed midway never leaves an old report next to its own files."""


@contextlib.contextmanager
def out_lock(out: Path | str, what: str = "--out") -> Iterator[Path]:
    """Hold an exclusive lock on the run directory ``out`` (created if needed) for the
    duration; a :class:`ConfigError` if another process holds it."""
    out = check_writable(Path(out), what)
    path = out / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
            raise ConfigError(f"{what} {out}: another circuitsim run (pid {holder}) is "
                              "writing there; wait for it to finish or choose another "
                              f"{what}") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield out
    finally:
        os.close(fd)  # releases the lock


def _digest(arrays: dict, meta: dict) -> str:
    h = hashlib.sha256(json.dumps(meta, sort_keys=True).encode())
    for k in sorted(arrays):
        a = np.ascontiguousarray(arrays[k])
        h.update(f"|{k}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


class ChunkError(ConfigError):
    """A stored chunk is not the result it claims to be for this run."""


class ChunkStore:
    """Finished chunk results of one run directory.

    :meth:`begin` starts a run: ``resume=False`` starts afresh (removes earlier chunk files of
    this directory); ``resume=True`` keeps them if ``fingerprint`` matches the stored run's and
    raises :class:`ConfigError` if it does not (a different run lives there).  Either way only
    chunks stamped with this ``fingerprint``, their own id and a matching checksum are reused.
    """

    def __init__(self, run_dir: Path, fingerprint: str | None = None):
        self.run_dir = Path(run_dir)
        self.dir = self.run_dir / "chunks"
        self.fingerprint = fingerprint

    def begin(self, fingerprint: str, *, resume: bool = False) -> ChunkStore:
        check_writable(self.run_dir)
        run_json = self.run_dir / "run.json"
        if resume and run_json.exists():
            try:
                old = json.loads(run_json.read_text())["fingerprint"]
            except (ValueError, KeyError, TypeError, UnicodeDecodeError, OSError):
                raise ConfigError(f"--resume: {run_json} is damaged, so the finished chunks "
                                  "cannot be matched to this run; run without --resume to "
                                  "start afresh") from None
            if old != fingerprint:
                raise ConfigError(
                    f"--resume: {self.run_dir} holds a run with a different configuration "
                    f"(fingerprint {old} ≠ {fingerprint}); run without --resume to start "
                    "afresh or choose another --out")
        elif not resume:
            for d in (self.dir, self.run_dir / "failed"):
                if d.exists():
                    shutil.rmtree(d)
        for name in STALE_OUTPUTS:
            (self.run_dir / name).unlink(missing_ok=True)
        self.dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run_json, json.dumps({"fingerprint": fingerprint}, indent=1) + "\n")
        self.fingerprint = fingerprint
        return self

    def path(self, chunk_id: str) -> Path:
        return self.dir / f"{chunk_id}.npz"

    def done(self, chunk_id: str) -> bool:
        """True if the chunk finished (successfully) in this or an earlier run of this very
        configuration, and its file is intact."""
        p = self.path(chunk_id)
        if not p.exists():
            return False
        try:
            return self.load(chunk_id)["meta"].get("status") == "ok"
        except Exception:  # a damaged or foreign file counts as not done; it is recomputed
            return False

    def save(self, chunk_id: str, result: dict) -> None:
        """``result``: ``{"meta": json-able dict, name: ndarray, ...}``.  The stored meta is
        stamped with the run fingerprint, the chunk id and a checksum."""
        arrays = {k: np.asarray(v) for k, v in result.items() if k != "meta"}
        meta = {**result.get("meta", {}), "chunk": chunk_id, "run_fingerprint": self.fingerprint}
        meta.pop("sha256", None)
        meta["sha256"] = _digest(arrays, meta)
        buf = io.BytesIO()
        np.savez(buf, __meta__=np.array(json.dumps(meta, sort_keys=True)), **arrays)
        atomic_write_bytes(self.path(chunk_id), buf.getvalue())

    def load(self, chunk_id: str) -> dict:
        """The stored chunk, verified: a :class:`ChunkError` if it belongs to another chunk
        or run, or its checksum does not match."""
        p = self.path(chunk_id)
        with np.load(p, allow_pickle=False) as z:
            out = {k: z[k] for k in z.files if k != "__meta__"}
            meta = json.loads(str(z["__meta__"]))
        if not isinstance(meta, dict):
            raise ChunkError(f"{p}: no chunk metadata; rerun without --resume")
        want = self.fingerprint
        if meta.get("chunk") != chunk_id:
            raise ChunkError(f"{p}: holds chunk {meta.get('chunk')!r}, not {chunk_id!r}")
        if want is not None and meta.get("run_fingerprint") != want:
            raise ChunkError(f"{p}: computed for run {meta.get('run_fingerprint')!r}, not "
                             f"{want!r}")
        body = {k: v for k, v in meta.items() if k != "sha256"}
        if meta.get("sha256") != _digest(out, body):
            raise ChunkError(f"{p}: checksum mismatch (the file was altered)")
        out["meta"] = meta
        return out
