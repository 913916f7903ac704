"""SPICE raw-file parser (binary and ASCII, real and complex, several plots per file).

Vectors come back as float64 (complex128 for complex plots) numpy arrays under normalised
names: node voltages ``v(node)``, branch currents ``i(element)``, axes ``time`` / ``v-sweep``
etc., all lower case.  :func:`normalise_name` also maps PySpice-style names (``out``,
``v1#branch``) to the same scheme so both runners agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import SimulationError


@dataclass
class Plot:
    """One analysis result: named vectors plus the name of the axis (``time``, the swept
    source, or ``None`` for an operating point)."""

    name: str
    vectors: dict[str, np.ndarray]
    axis: str | None = None
    title: str = ""
    meta: dict = field(default_factory=dict)

    def __getitem__(self, key: str) -> np.ndarray:
        k = normalise_name(key)
        try:
            return self.vectors[k]
        except KeyError:
            raise KeyError(f"no vector {key!r} in plot {self.name!r}; have "
                           f"{sorted(self.vectors)[:20]}") from None

    def __contains__(self, key: str) -> bool:
        return normalise_name(key) in self.vectors


_AXES = {"time", "frequency", "v-sweep", "i-sweep", "temp-sweep", "res-sweep", "sweep"}


def normalise_name(name: str) -> str:
    n = name.strip().lower()
    m = re.fullmatch(r"[vi]\((.+)\)", n)
    if m and m.group(1) in _AXES:  # the batch raw file writes the dc axis as v(v-sweep)
        return m.group(1)
    if n in _AXES:
        return n
    m = re.fullmatch(r"(.+)#branch", n)
    if m:
        return f"i({m.group(1)})"
    if re.fullmatch(r"[vi]\(.+\)", n) or n.startswith("@"):
        return n
    return f"v({n})"


class _Truncated(Exception):
    pass


def parse_raw(path: str | Path, *, strict: bool = True) -> list[Plot]:
    """Parse every plot in a raw file written by ``ngspice -r`` (binary or ASCII).

    A plot cut short (ngspice aborted while writing it) raises :class:`SimulationError` when
    ``strict``; otherwise the complete plots before it are returned."""
    data = Path(path).read_bytes()
    plots: list[Plot] = []
    try:
        _parse_into(data, plots, path)
    except _Truncated as exc:
        if strict:
            raise SimulationError(f"raw file {path} is truncated: {exc}") from None
    return plots


def _parse_into(data: bytes, plots: list, path) -> None:
    pos = 0
    while pos < len(data):
        while pos < len(data) and data[pos : pos + 1] in (b"\n", b"\r", b" "):
            pos += 1
        if pos >= len(data):
            break
        header: dict[str, str] = {}
        names: list[str] = []
        while True:
            end = data.find(b"\n", pos)
            if end < 0:
                raise _Truncated("ends inside a header")
            line = data[pos:end].decode("latin-1").rstrip("\r")
            pos = end + 1
            if line.startswith("Variables:"):
                nvar = int(header["No. Variables"])
                for _ in range(nvar):
                    end = data.find(b"\n", pos)
                    if end < 0:
                        raise _Truncated("ends inside the variable list")
                    parts = data[pos:end].decode("latin-1").split()
                    pos = end + 1
                    if len(parts) < 2:
                        raise _Truncated(f"bad variable line {parts}")
                    names.append(parts[1])
                continue
            if line.startswith("Binary:") or line.startswith("Values:"):
                kind = line.split(":")[0]
                break
            if ":" in line:
                k, v = line.split(":", 1)
                header[k.strip()] = v.strip()
        try:
            nvar = int(header["No. Variables"])
            npts = int(header["No. Points"])
        except (KeyError, ValueError) as exc:
            raise SimulationError(f"raw file {path}: header lacks variable/point counts") from exc
        flags = header.get("Flags", "real").lower()
        cplx = "complex" in flags
        if kind == "Binary":
            width = 2 if cplx else 1
            count = npts * nvar * width
            if pos + count * 8 > len(data):
                raise _Truncated(f"expected {npts} points of {nvar} values")
            arr = np.frombuffer(data, dtype="<f8", count=count, offset=pos)
            pos += count * 8
            arr = arr.reshape(npts, nvar * width)
            if cplx:
                arr = arr[:, 0::2] + 1j * arr[:, 1::2]
            cols = arr.T.copy()
        else:
            cols, pos = _parse_ascii_values(data, pos, npts, nvar, cplx, path)
        vectors = {}
        for i, nm in enumerate(names):
            vectors[normalise_name(nm)] = np.asarray(cols[i])
        axis = normalise_name(names[0]) if names else None
        if axis not in _AXES:
            axis = None
        plots.append(Plot(name=header.get("Plotname", ""), vectors=vectors, axis=axis,
                          title=header.get("Title", ""), meta=header))


def _parse_ascii_values(data: bytes, pos: int, npts: int, nvar: int, cplx: bool, path):
    dtype = complex if cplx else float
    cols = np.zeros((nvar, npts), dtype=dtype)
    text_end = pos
    tokens: list[str] = []
    needed = npts * (nvar + 1)  # each point: index + nvar values
    # read lines until we have enough tokens
    while len(tokens) < needed and text_end < len(data):
        end = data.find(b"\n", text_end)
        if end < 0:
            end = len(data)
        line = data[text_end:end].decode("latin-1")
        text_end = end + 1
        if line.strip():
            tokens.extend(line.split())
    if len(tokens) < needed:
        raise _Truncated(f"expected {npts} points of {nvar} values")
    k = 0
    for p in range(npts):
        k += 1  # point index
        for v in range(nvar):
            tok = tokens[k]
            k += 1
            if cplx:
                re_, im_ = tok.split(",")
                cols[v, p] = complex(float(re_), float(im_))
            else:
                cols[v, p] = float(tok)
    return cols, text_end
