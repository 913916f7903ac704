"""Executors: where chunks run.  One interface, three back-ends.

* ``local`` (default): a process pool over the machine's cores (``workers`` processes, spawned
  so that torch and ngspice state never leak between runs); ``workers=1`` runs in-process.
* ``dask``: ``dask.distributed``; ``scheduler`` is the address of a running scheduler
  (``tcp://host:8786``) or None for a :class:`distributed.LocalCluster` on this machine, so
  the same command scales from a laptop to a cluster by adding ``--scheduler``.

``Executor.imap(fn, tasks)`` yields ``(index, ok, value)`` as tasks finish, where ``value`` is
the result or the exception.  The caller decides about retries.  Leaving the ``with`` block
early (Ctrl-C, SIGTERM turned into KeyboardInterrupt) stops the workers.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

from ..errors import ConfigError

EXECUTORS = ("local", "dask")


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def single_threaded():
    """BLAS/OpenMP and torch limited to one thread while the block runs.

    Each worker evaluates one chunk on one core; letting OpenBLAS start a thread per core
    in every worker oversubscribes the machine, and the crossbar engine's many small
    factorisations then run ~100× slower (measured: 2 s instead of 10 ms for 360 images on
    a loaded 2-core machine)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - comes with scikit-learn
        threadpool_limits = None
    import torch

    n_torch = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        if threadpool_limits is None:
            yield
        else:
            with threadpool_limits(limits=1):
                yield
    finally:
        torch.set_num_threads(n_torch)


class Executor:
    """Base class: a context manager with :meth:`imap`."""

    name = "executor"

    def __init__(self, workers: int | None = None):
        workers = default_workers() if workers is None else int(workers)
        if workers < 1:
            raise ConfigError(f"--workers must be ≥ 1, got {workers}")
        self.workers = workers

    def imap(self, fn: Callable, tasks: Sequence[tuple]) -> Iterator[tuple[int, bool, object]]:
        raise NotImplementedError

    def describe(self) -> dict:
        return {"executor": self.name, "workers": self.workers}

    def close(self, force: bool = False) -> None:
        """Release the workers; ``force``: stop running tasks at once (interrupted run)."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        self.close(force=exc_type is not None)


class LocalExecutor(Executor):
    """Process pool over the local cores; ``workers=1`` runs tasks in this process."""

    name = "local"

    def __init__(self, workers: int | None = None):
        super().__init__(workers)
        self._pool: ProcessPoolExecutor | None = None

    def imap(self, fn, tasks):
        if self.workers == 1:
            for i, args in enumerate(tasks):
                try:
                    yield i, True, fn(*args)
                except Exception as exc:  # reported to the caller, which retries / records
                    yield i, False, exc
            return
        if self._pool is not None and getattr(self._pool, "_broken", False):
            self.close(force=True)  # a worker died (e.g. killed): the retry gets a new pool
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"))
        futures = {self._pool.submit(fn, *args): i for i, args in enumerate(tasks)}
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in finished:
                exc = f.exception()
                yield futures[f], exc is None, (f.result() if exc is None else exc)

    def close(self, force: bool = False) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if force or getattr(pool, "_broken", False):
            # An interrupted run must not go on in the background: stop the workers at once
            # (finished chunks are already on disk).
            for p in list(getattr(pool, "_processes", {}).values()):
                if p.is_alive():
                    p.terminate()
        pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor(Executor):
    """``dask.distributed``: a scheduler at ``scheduler`` or a LocalCluster of ``workers``.

    ``processes``: LocalCluster workers as processes (default) or threads in this process.
    """

    name = "dask"

    def __init__(self, workers: int | None = None, scheduler: str | None = None,
                 processes: bool = True):
        super().__init__(workers)
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise ConfigError("--executor dask needs dask[distributed]: "
                              "pip install 'dask[distributed]'") from exc
        self.scheduler = scheduler
        self._cluster = None
        if scheduler:
            try:
                self.client = Client(scheduler, timeout=10)
            except (OSError, TimeoutError, ValueError) as exc:  # ValueError: not an address
                raise ConfigError(f"--scheduler {scheduler}: cannot connect ({exc}); give the "
                                  "address of a running scheduler, e.g. tcp://HOST:8786 "
                                  "(`dask scheduler`), or leave --scheduler out for a local "
                                  "cluster") from None
        else:
            self._cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1,
                                         processes=processes, dashboard_address=None,
                                         silence_logs=40)
            self.client = Client(self._cluster)
        self._futures: list = []

    def describe(self) -> dict:
        n = len(self.client.scheduler_info().get("workers", {}))
        return {"executor": self.name, "workers": n,
                "scheduler": self.scheduler or "LocalCluster"}

    def imap(self, fn, tasks):
        from distributed import as_completed

        futures = [self.client.submit(fn, *args, pure=False) for args in tasks]
        self._futures = futures
        index = {f.key: i for i, f in enumerate(futures)}
        for f in as_completed(futures):
            i = index[f.key]
            if f.status == "finished":
                yield i, True, f.result()
            else:
                yield i, False, f.exception()
            f.release()

    def close(self, force: bool = False) -> None:
        if self._futures:
            self.client.cancel(self._futures)
            self._futures = []
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


def get_executor(name: str = "local", *, workers: int | None = None,
                 scheduler: str | None = None, processes: bool = True) -> Executor:
    """Build the executor named ``name`` ('local' or 'dask')."""
    if name not in EXECUTORS:
        raise ConfigError(f"--executor must be one of {', '.join(EXECUTORS)}, got {name!r}")
    if scheduler and name != "dask":
        raise ConfigError("--scheduler needs --executor dask")
    if name == "local":
        return LocalExecutor(workers)
    return DaskExecutor(workers, scheduler=scheduler, processes=processes)
