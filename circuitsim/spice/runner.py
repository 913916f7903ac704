"""Runners: push a deck through ngspice and return a :class:`SimResult`, or raise.

Two runners behind one interface:

* :class:`BatchRunner` -- ``ngspice -b deck.cir -r out.raw`` as a subprocess in a run
  directory; the raw file is parsed into float64 arrays.
* :class:`SharedRunner` -- ngspice's shared library through PySpice ``NgSpiceShared``, kept
  in a worker process so that a crash or a hung simulation cannot take the caller down.  The
  worker is reused between runs (no library reload) and restarted after a crash or timeout.

Failure is decided from the exit status and from the parsed output (fewer plots than
analyses, or a plot with no points), never by grepping the log for "error".  The log is only
read to *classify* a failure as :class:`ConvergenceError` and is attached to every error.
"""

from __future__ import annotations

import ctypes.util
import math
import os
import pickle
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from ..circuit.subckt import Deck
from ..emit import emit_deck
from ..errors import (
    ConfigError,
    ConvergenceError,
    NgspiceNotFoundError,
    SimulationError,
    SimulationTimeoutError,
)
from ..units import require_positive
from .rawfile import Plot, parse_raw
from .result import SimResult

DEFAULT_TIMEOUT_S = 120.0

CONVERGENCE_OPTIONS = {
    "method": "gear",
    "reltol": 1e-4,
    "abstol": 1e-12,
    "vntol": 1e-6,
    "gmin": 1e-12,
    "itl1": 500,
    "itl4": 200,
}
"""Options tried once more when a run fails to converge and ``retry_convergence`` is set
(see ../shared/DESIGN.md §4: gear integration, looser reltol, more iterations)."""

_CONVERGENCE_PATTERNS = re.compile(
    r"timestep too small|singular matrix|gmin stepping failed|source stepping failed|"
    r"no convergence|iteration limit reached|too many iterations", re.IGNORECASE)

_SOLVER_LINE = re.compile(r"Using (KLU|SPARSE)[^\n]* as Direct Linear Solver", re.IGNORECASE)
_VERSION_LINE = re.compile(r"ngspice-(\d+(?:\.\d+)?)")


class SolverFallbackWarning(UserWarning):
    """A deck asked for KLU and ngspice used Sparse (an ngspice built without KLU)."""


def solver_used(log: str) -> str:
    """The linear solver ngspice says it used (``"klu"`` or ``"sparse"``), from its own
    "Using ... as Direct Linear Solver" line.  ngspice builds that print no such line (39.3)
    have only Sparse."""
    m = _SOLVER_LINE.search(log or "")
    return m.group(1).lower() if m else "sparse"


def _output_in_group(cmd: list[str], timeout_s: float, cwd=None) -> str:
    """stdout + stderr of a short command run with :func:`run_in_group` (its whole process
    group is killed on timeout)."""
    with tempfile.TemporaryFile(mode="w+") as out:
        run_in_group(cmd, timeout_s, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                     stdin=subprocess.DEVNULL)
        out.seek(0)
        return out.read()


def _probe(exe: str, args: list[str], timeout_s: float, cwd=None) -> str:
    try:
        return _output_in_group([exe, *args], timeout_s, cwd=cwd)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SimulationError(f"could not run {exe} {' '.join(args)} ({exc}); check the "
                              "installation with `circuitsim check`") from None


def _version_in(text: str) -> str:
    """The version in an ngspice banner or raw-file ``Command:`` line (``ngspice-46`` → ``"46"``),
    or ``"unknown"``."""
    m = _VERSION_LINE.search(text or "")
    return m.group(1) if m else "unknown"


def ngspice_version(exe: str | None = None, *, timeout_s: float = 30.0) -> str:
    """The version of the ngspice executable (``"46"``, ``"39.3"``…), from ``ngspice -v``."""
    return _version_in(_probe(exe or find_ngspice(), ["-v"], timeout_s))


def ngspice_features(exe: str | None = None, *, timeout_s: float = 30.0) -> dict:
    """``{"version", "klu", "osdi"}`` of the ngspice executable: KLU from ``ngspice -v``'s
    "Compiled with KLU" line, OSDI from whether ``pre_osdi`` is a command it knows (it answers
    "no such command" when built without OSDI)."""
    exe = exe or find_ngspice()
    out = _probe(exe, ["-v"], timeout_s)
    with tempfile.TemporaryDirectory(prefix="circuitsim-probe-") as tmp:
        (Path(tmp) / "probe.cir").write_text(
            "osdi probe\n.control\npre_osdi no-such-file.osdi\n.endc\n.end\n")
        probe = _probe(exe, ["-b", "probe.cir"], timeout_s, cwd=tmp)
    return {"version": _version_in(out),
            "klu": "klu" in out.lower(),
            "osdi": "no such command" not in probe.lower()}


def _check_solver(text: str, log: str, runner: Runner) -> str:
    used = solver_used(log)
    if re.search(r"^\s*\.options\b[^\n]*\bklu\b", text, re.I | re.M) and used != "klu" \
            and not runner._warned_fallback:
        runner._warned_fallback = True
        warnings.warn("the deck asks for KLU but this ngspice used Sparse (built without KLU); "
                      "results are the same but large arrays are much slower — install ngspice "
                      ">= 44 with KLU (`make setup`, or scripts/install-ngspice.sh)",
                      SolverFallbackWarning, stacklevel=4)
    return used


_ANALYSIS_LINE = re.compile(r"\n[^\S\n]*\.(op|dc|tran|ac|noise|tf|sens|pz|disto)\b", re.I)
"""An analysis line, after a newline (:func:`_expected_plots` puts one before the text): the
literal first character lets the regex engine jump from newline to newline (a 280 kB
65x32 deck in 0.45 ms; ``^\\s*`` under ``re.M`` tried every position, 2.6 ms)."""


def find_ngspice() -> str:
    """Path of the ngspice executable, or :class:`NgspiceNotFoundError`."""
    exe = os.environ.get("CIRCUITSIM_NGSPICE") or shutil.which("ngspice")
    if not exe or not os.access(exe, os.X_OK):
        raise NgspiceNotFoundError("the ngspice executable")
    return exe


def find_libngspice() -> str:
    """Path of ``libngspice.so.0`` (Debian ships no unversioned .so), or
    :class:`NgspiceNotFoundError`."""
    env = os.environ.get("NGSPICE_LIBRARY_PATH")
    if env and Path(env).exists():
        return env
    for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64",
              "/usr/lib", "/usr/local/lib"):
        for name in ("libngspice.so.0", "libngspice.so"):
            p = Path(d) / name
            if p.exists():
                return str(p)
    found = ctypes.util.find_library("ngspice")
    if found:
        return found
    raise NgspiceNotFoundError("the ngspice shared library libngspice.so.0")


def _deck_text(deck: Deck | str) -> str:
    return deck if isinstance(deck, str) else emit_deck(deck)


def _expected_plots(text: str) -> int:
    return len(_ANALYSIS_LINE.findall("\n" + text))


def _fail(message: str, text: str, run_dir, log: str, *, timed_out: bool = False):
    if timed_out:
        return SimulationTimeoutError(message, deck=text, run_dir=run_dir, log=log)
    if _CONVERGENCE_PATTERNS.search(log):
        return ConvergenceError(
            message + " (did not converge: try Tran tmax ≤ 1/10 of the shortest edge, or "
            "retry_convergence=True for method=gear, reltol=1e-4, larger itl4)",
            deck=text, run_dir=run_dir, log=log)
    return SimulationError(message, deck=text, run_dir=run_dir, log=log)


def _check_plots(plots: list[Plot], text: str, run_dir, log: str) -> None:
    want = _expected_plots(text)
    complete = [p for p in plots if any(v.size for v in p.vectors.values())]
    if len(complete) < max(want, 1):
        raise _fail(f"ngspice produced {len(complete)} of {max(want, 1)} analysis results",
                    text, run_dir, log)


class Runner:
    """Interface: ``run(deck, timeout_s=..., retry_convergence=False) -> SimResult``."""

    name = "runner"
    _warned_fallback = False
    ngspice_version = "unknown"
    """The version of the ngspice behind the last run (from its raw file or library)."""

    def run(self, deck: Deck | str, *, timeout_s: float = DEFAULT_TIMEOUT_S,
            retry_convergence: bool = False, **kw) -> SimResult:
        require_positive("timeout_s", timeout_s, "[s] (every run needs a finite timeout)")
        text = _deck_text(deck)
        try:
            return self._run_text(text, timeout_s=timeout_s, **kw)
        except ConvergenceError:
            if not retry_convergence or isinstance(deck, str):
                raise
            opts = {**CONVERGENCE_OPTIONS, **deck.options}
            return self._run_text(emit_deck(deck.replace(options=opts)), timeout_s=timeout_s,
                                  **kw)

    def _run_text(self, text: str, *, timeout_s: float, **kw) -> SimResult:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class BatchRunner(Runner):
    """``ngspice -b deck.cir -r out.raw`` in a run directory.

    ``run_dir``: where to write (kept); default a temporary directory removed after a
    successful run and kept (named in the error) after a failed one.
    ``ascii``: ask ngspice for an ASCII raw file (slower, for debugging / the parser test).
    """

    name = "batch"

    def __init__(self, *, ascii: bool = False, keep: bool = False):
        self.ascii = ascii
        self.keep = keep
        self.exe = find_ngspice()

    def _run_text(self, text: str, *, timeout_s: float, run_dir: str | Path | None = None,
                  **kw) -> SimResult:
        tmp = run_dir is None
        rdir = Path(tempfile.mkdtemp(prefix="circuitsim-")) if tmp else Path(run_dir)
        rdir.mkdir(parents=True, exist_ok=True)
        deck_path, raw_path, log_path = rdir / "deck.cir", rdir / "out.raw", rdir / "ngspice.log"
        deck_path.write_text(text)
        env = dict(os.environ)
        if self.ascii:
            env["SPICE_ASCIIRAWFILE"] = "1"
        else:
            env.pop("SPICE_ASCIIRAWFILE", None)
        t0 = time.perf_counter()
        with open(log_path, "w") as log_f:
            try:
                proc = run_in_group([self.exe, "-b", "-r", raw_path.name, deck_path.name],
                                    timeout_s, cwd=rdir, stdout=log_f,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
            except subprocess.TimeoutExpired:
                log = log_path.read_text(errors="replace")
                raise _fail(f"ngspice ran past its {timeout_s:g} s timeout and was killed",
                            text, rdir, log, timed_out=True) from None
        wall = time.perf_counter() - t0
        log = log_path.read_text(errors="replace")
        if proc.returncode != 0:
            raise _fail(f"ngspice exited with status {proc.returncode}", text, rdir, log)
        if not raw_path.exists():
            raise _fail("ngspice wrote no raw file", text, rdir, log)
        plots = parse_raw(raw_path, strict=False)
        _check_plots(plots, text, rdir, log)
        # the raw file names the ngspice that wrote it ("Command: ngspice-46, Build ...")
        self.ngspice_version = _version_in(plots[0].meta.get("Command", ""))
        result = SimResult(plots=plots, deck=text, log=log, run_dir=None if tmp else rdir,
                           wall_s=wall, runner=self.name,
                           solver=_check_solver(text, log, self),
                           ngspice_version=self.ngspice_version)
        if tmp and not self.keep:
            shutil.rmtree(rdir, ignore_errors=True)
        elif tmp:
            result.run_dir = rdir
        return result


def run_in_group(cmd: list[str], timeout_s: float, **popen) -> subprocess.CompletedProcess:
    """``subprocess.run`` in a new session: on timeout, Ctrl-C or any error the whole process
    group is killed (a wrapper script's children too), then ``TimeoutExpired`` re-raised."""
    proc = subprocess.Popen(cmd, start_new_session=True, **popen)
    try:
        code = _wait(proc, timeout_s)
    except BaseException:
        _kill_group(proc)
        raise
    return subprocess.CompletedProcess(cmd, code)


def _wait(proc: subprocess.Popen, timeout_s: float) -> int:
    """``proc.wait(timeout_s)`` woken by the exit itself: ``Popen.wait`` with a timeout polls
    in sleeps growing to 50 ms, which left every ngspice run ~25 ms (up to 50) late
    (measured with ``sleep 1``: 13-35 ms; a 65x32 programming run has ~900 decks).  A pidfd
    (Linux >= 5.3) becomes readable when the child exits; elsewhere the polling wait."""
    try:
        fd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        return proc.wait(timeout=timeout_s)
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        deadline = time.monotonic() + timeout_s
        while not poller.poll(min(max(math.ceil((deadline - time.monotonic()) * 1000), 0),
                                  2**31 - 1)):
            if time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(proc.args, timeout_s)
    finally:
        os.close(fd)
    return proc.wait()


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the process group led by ``proc`` (started with ``start_new_session``) and
    reap ``proc``.  Nothing is signalled once ``proc`` has been reaped (its id may be reused)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        pass


# ------------------------------------------------------------------ shared-library runner

_PLOT_KIND = {"op": "Operating Point", "tran": "Transient Analysis", "dc": "DC transfer "
              "characteristic", "ac": "AC Analysis"}


class SharedRunner(Runner):
    """ngspice's shared library via PySpice ``NgSpiceShared``, isolated in a reusable worker
    process (``python -m circuitsim.spice._worker``).  A crash or a run past ``timeout_s``
    kills only the worker; the next run starts a fresh one."""

    name = "shared"

    def __init__(self, *, start_timeout_s: float = 60.0):
        find_ngspice()
        self.lib_path = find_libngspice()
        self.start_timeout_s = start_timeout_s
        self._proc: subprocess.Popen | None = None

    def _start(self):
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "circuitsim.spice._worker", self.lib_path],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            start_new_session=True)
        try:
            status = self._recv(self.start_timeout_s)
        except (EOFError, OSError, pickle.UnpicklingError):  # the worker died while starting
            status = None
        if status is None or status[0] != "ready":
            self._kill()
            raise SimulationError("the PySpice/ngspice worker failed to start (is PySpice "
                                  f"installed and {self.lib_path} loadable?)")
        self.ngspice_version = str(status[1] or "unknown")

    def _recv(self, timeout_s: float):
        fd = self._proc.stdout.fileno()
        deadline = time.monotonic() + timeout_s
        buf = b""
        need = 8
        size = None
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                return None
            chunk = os.read(fd, max(need - len(buf), 1 << 16) if size else need - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
            if size is None and len(buf) >= 8:
                (size,) = struct.unpack("<Q", buf[:8])
                buf = buf[8:]
                need = size
            if size is not None and len(buf) >= size:
                return pickle.loads(buf[:size])

    def _kill(self):
        if self._proc is not None:
            _kill_group(self._proc)
        self._proc = None

    def close(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            try:
                self._proc.stdin.close()
                self._proc.wait(2)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._kill()

    def __del__(self):
        try:
            self._kill()
        except Exception:  # noqa: BLE001
            pass

    def _run_text(self, text: str, *, timeout_s: float, **kw) -> SimResult:
        if self._proc is None or self._proc.poll() is not None:
            self._start()
        t0 = time.perf_counter()
        data = pickle.dumps(text)
        try:
            self._proc.stdin.write(struct.pack("<Q", len(data)) + data)
            self._proc.stdin.flush()
            reply = self._recv(timeout_s)
        except (BrokenPipeError, EOFError, OSError):
            code = self._proc.poll()
            self._kill()
            raise _fail(f"the ngspice worker process crashed (exit code {code})", text, None,
                        "") from None
        if reply is None:
            self._kill()
            raise _fail(f"ngspice (shared) ran past its {timeout_s:g} s timeout; the worker "
                        "was killed", text, None, "", timed_out=True)
        wall = time.perf_counter() - t0
        status, payload, log = reply
        if status != "ok":
            raise _fail(f"ngspice (shared) failed: {payload}", text, None, log)
        plots = []
        for pname, vecs in payload:
            kind = _PLOT_KIND.get(re.sub(r"\d+$", "", pname), pname)
            axis = next((k for k in vecs if k in ("time", "v-sweep", "i-sweep", "frequency")),
                        None)
            plots.append(Plot(name=kind, vectors=vecs, axis=axis))
        _check_plots(plots, text, None, log)
        return SimResult(plots=plots, deck=text, log=log, wall_s=wall, runner=self.name,
                         solver=_check_solver(text, log, self),
                         ngspice_version=self.ngspice_version)


def get_runner(name: str = "batch", **kw) -> Runner:
    if name == "batch":
        return BatchRunner(**kw)
    if name == "shared":
        return SharedRunner(**kw)

    raise ConfigError(f"unknown runner {name!r}; use 'batch' or 'shared'")


def simulate(deck: Deck | str, *, runner: str | Runner = "batch",
             timeout_s: float = DEFAULT_TIMEOUT_S, **kw) -> SimResult:
    """Run one deck and return its :class:`SimResult` (one-shot convenience)."""
    if isinstance(runner, Runner):
        return runner.run(deck, timeout_s=timeout_s, **kw)
    r = get_runner(runner)
    try:
        return r.run(deck, timeout_s=timeout_s, **kw)
    finally:
        r.close()
