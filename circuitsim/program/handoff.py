"""The hardware hand-off of a programming run: ``program.json`` and ``handoff/``.

``handoff/devices.csv``   one row per physical device: array, row, column, target_s,
                          g_twin_s, g_spice_s, pulses_twin, pulses_spice, converged_twin,
                          converged_spice (empty g_spice_s / pulses_spice where SPICE did not
                          program that array; target_s empty = unprogrammed cell)
``handoff/pulses.csv``    every write pulse in time order: world, array, row, column,
                          time_s (start of the rising edge, from the run's start), amplitude_v
                          (|voltage| across the selected cell with ideal wires), width_s (flat
                          top), polarity (+1 RESET: +V row-to-column; -1 SET), verify_s (the
                          wiring-corrected verify read after the pulse)
``handoff/test_vectors.csv``  inputs x0..x{n-1} in [0, 1] and the expected outputs y0.. of
                          the programmed network (twin read path), with the label
``handoff/README.md``     this format in words
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from ..errors import ConfigError

DEVICE_COLUMNS = ("array", "row", "column", "target_s", "g_twin_s", "g_spice_s",
                  "pulses_twin", "pulses_spice", "converged_twin", "converged_spice")
PULSE_COLUMNS = ("world", "array", "row", "column", "time_s", "amplitude_v", "width_s",
                 "polarity", "verify_s")

README = """# Programming hand-off

Written by `circuitsim program --out DIR`; loaders: `circuitsim.program.handoff`
(`load_devices`, `load_pulses`, `load_test_vectors`, `load_program_json`).

* `devices.csv`: one row per physical device. `array` names the crossbar (e.g. `l1`, the
  first layer's (in+1) x (2*out) array: column 2k = G+ of output k, 2k+1 = G-, last row =
  bias), `row`, `column` its position, `target_s` the mapped conductance [S] (empty: the cell
  is left unprogrammed), `g_twin_s` / `g_spice_s` the conductance each world programmed [S],
  `pulses_*` the write pulses used, `converged_*` 1 if the verify read came within tolerance.
* `pulses.csv`: every write pulse in time order, per world. `time_s` is the start of the
  pulse's rising edge from the start of programming [s]; `amplitude_v` the voltage across the
  selected cell (row minus column, ideal wires) [V]; `width_s` the flat top [s] (edges as in
  program.json `config.edge`); `polarity` +1 = RESET (conductance down), -1 = SET (up);
  `verify_s` the verify read after the pulse [S], corrected for the wiring.
* `test_vectors.csv`: network inputs `x*` (in [0, 1], scaled by `v_read` on the rows), the
  expected network outputs `y*` with the programmed conductances (twin read path) and the
  data set's `label`.
* Biasing during a pulse: see program.json `config.scheme` (v2: unselected lines at V/2; v3:
  unselected rows at V/3, columns at 2V/3 for RESET, mirrored for SET), V = the phase's
  amplitude.  With `config.sizing` "adaptive" the lines keep the scheme's levels of
  `config.v_pulse` and each selected column sits at the selected row's level minus (RESET) or
  plus (SET) its own pulse's `amplitude_v`, so one phase pulses a row's cells at their own
  amplitudes.
"""


def _num(v) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return ""
    if isinstance(v, float | np.floating):
        return repr(float(v))
    return str(v)


def write_handoff(out: Path | str, arrays: dict, *, test_x=None, test_y=None,
                  test_labels=None) -> list[Path]:
    """``arrays``: name -> {"twin": ProgramResult, "spice": ProgramResult | None}."""
    d = Path(out) / "handoff"
    d.mkdir(parents=True, exist_ok=True)
    paths = []
    p = d / "devices.csv"
    with open(p, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(DEVICE_COLUMNS)
        for name, res in arrays.items():
            tw, sp = res["twin"], res.get("spice")
            R, C = tw.targets.shape
            for i in range(R):
                for j in range(C):
                    t = tw.targets[i, j]
                    w.writerow([name, i, j, _num(float(t)), _num(float(tw.g[i, j])),
                                _num(float(sp.g[i, j])) if sp is not None else "",
                                int(tw.pulses[i, j]),
                                int(sp.pulses[i, j]) if sp is not None else "",
                                int(tw.converged[i, j]),
                                int(sp.converged[i, j]) if sp is not None else ""])
    paths.append(p)
    p = d / "pulses.csv"
    with open(p, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(PULSE_COLUMNS)
        for name, res in arrays.items():
            for world in ("spice", "twin"):
                r = res.get(world)
                if r is None:
                    continue
                for row in r.log:
                    w.writerow([world, name, int(row[0]), int(row[1]), _num(row[2]),
                                _num(row[3]), _num(row[4]), int(row[5]), _num(row[6])])
    paths.append(p)
    if test_x is not None:
        p = d / "test_vectors.csv"
        x, y = np.asarray(test_x, float), np.asarray(test_y, float)
        with open(p, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow([f"x{k}" for k in range(x.shape[1])] + [f"y{k}" for k in
                                                               range(y.shape[1])] + ["label"])
            for k in range(len(x)):
                lab = "" if test_labels is None else int(test_labels[k])
                w.writerow([_num(v) for v in x[k]] + [_num(v) for v in y[k]] + [lab])
        paths.append(p)
    p = d / "README.md"
    p.write_text(README)
    paths.append(p)
    return paths


def _rows(path: Path, columns) -> list[dict]:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path} does not exist; write it with `circuitsim program --out`")
    with open(path, newline="") as f:
        r = csv.DictReader(f)
        if tuple(r.fieldnames or ()) [:len(columns)] != tuple(columns):
            raise ConfigError(f"{path}: header {r.fieldnames} is not {list(columns)}; not a "
                              "circuitsim hand-off file (or an older format)")
        return list(r)


def _f(s: str) -> float:
    return float(s) if s != "" else float("nan")


def load_devices(path) -> dict[str, dict[str, np.ndarray]]:
    """``devices.csv`` -> array name -> {"target", "g_twin", "g_spice", "pulses_twin",
    "pulses_spice", "converged_twin", "converged_spice"} as (rows, cols) arrays (NaN / -1
    where empty)."""
    rows = _rows(path, DEVICE_COLUMNS)
    out: dict = {}
    shapes: dict = {}
    for r in rows:
        a = r["array"]
        i, j = int(r["row"]), int(r["column"])
        R, C = shapes.get(a, (0, 0))
        shapes[a] = (max(R, i + 1), max(C, j + 1))
    for a, shape in shapes.items():
        out[a] = {k: np.full(shape, np.nan) for k in ("target", "g_twin", "g_spice")}
        for k in ("pulses_twin", "pulses_spice", "converged_twin", "converged_spice"):
            out[a][k] = np.full(shape, -1, int)
    for r in rows:
        o = out[r["array"]]
        i, j = int(r["row"]), int(r["column"])
        o["target"][i, j] = _f(r["target_s"])
        o["g_twin"][i, j] = _f(r["g_twin_s"])
        o["g_spice"][i, j] = _f(r["g_spice_s"])
        for k in ("pulses_twin", "pulses_spice", "converged_twin", "converged_spice"):
            o[k][i, j] = int(r[k]) if r[k] != "" else -1
    return out


def load_pulses(path) -> list[dict]:
    """``pulses.csv`` -> list of dicts with typed values."""
    out = []
    for r in _rows(path, PULSE_COLUMNS):
        out.append({"world": r["world"], "array": r["array"], "row": int(r["row"]),
                    "column": int(r["column"]), "time_s": float(r["time_s"]),
                    "amplitude_v": float(r["amplitude_v"]), "width_s": float(r["width_s"]),
                    "polarity": int(r["polarity"]), "verify_s": float(r["verify_s"])})
    return out


def load_test_vectors(path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``test_vectors.csv`` -> (x (N, n_in), y (N, n_out), labels (N,))."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path} does not exist; write it with `circuitsim program --out`")
    with open(path, newline="") as f:
        r = csv.reader(f)
        head = next(r)
        data = [row for row in r]
    xi = [k for k, h in enumerate(head) if h.startswith("x")]
    yi = [k for k, h in enumerate(head) if h.startswith("y")]
    if not xi or not yi or head[-1] != "label":
        raise ConfigError(f"{path}: header must be x0.. y0.. label, got {head[:3]}...")
    a = np.array([[_f(v) for v in row[:-1]] for row in data], dtype=float)
    labels = np.array([int(row[-1]) if row[-1] != "" else -1 for row in data])
    return a[:, xi], a[:, yi], labels


def load_program_json(path) -> dict:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path} does not exist; write it with `circuitsim program --out`")
    return json.loads(path.read_text())


__all__ = ["DEVICE_COLUMNS", "PULSE_COLUMNS", "load_devices", "load_program_json",
           "load_pulses", "load_test_vectors", "write_handoff"]
