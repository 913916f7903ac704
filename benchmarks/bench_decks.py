"""Generated crossbar decks vs a minimal hand-written deck of the same circuit, KLU ngspice.

    .venv/bin/python benchmarks/bench_decks.py [--sizes 64 128 256] [--repeat 2]

The minimal deck is flat (no subcircuit), short node names, one element per resistor /
transistor, written here as plain text independently of the emitter; both decks are run with
``ngspice -b`` and ``.options klu`` and the column currents compared.  Target (issue 14):
generated ≤ 1.5× the minimal deck's time, 1R and 1T1R.  Writes benchmarks/results/decks.md/.json.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _table import write_table  # noqa: E402

from circuitsim.cards import ACCESS_018UM  # noqa: E402
from circuitsim.crossbar import CrossbarSpec  # noqa: E402
from circuitsim.crossbar.netlist import crossbar_deck  # noqa: E402
from circuitsim.emit import emit_deck  # noqa: E402
from circuitsim.spice import find_ngspice, ngspice_version, parse_raw  # noqa: E402


def minimal_deck(spec: CrossbarSpec, v: np.ndarray) -> str:
    """The same circuit as crossbar_deck, flat, by hand."""
    R, C = spec.shape
    G = spec.conductance
    out = ["minimal crossbar", ".options klu"]
    if spec.access is not None:
        n = spec.access.nmos
        out.append(f".model nacc nmos(level=1 vto={n.vto!r} kp={n.kp!r} lambda={n.lambda_!r} "
                   f"is=0)")
        out.append(f"vwl wl 0 {spec.access.v_wordline!r}")
    for i in range(R):
        out.append(f"vi{i} i{i} 0 {float(v[i])!r}")
        out.append(f"rs{i} i{i} a{i}_0 {spec.r_source!r}")
        for j in range(C - 1):
            out.append(f"rr{i}_{j} a{i}_{j} a{i}_{j + 1} {spec.r_wire_row!r}")
    for j in range(C):
        for i in range(R - 1):
            out.append(f"rc{i}_{j} b{i}_{j} b{i + 1}_{j} {spec.r_wire_col!r}")
        out.append(f"rk{j} b{R - 1}_{j} o{j} {spec.r_sense!r}")
        out.append(f"vo{j} o{j} 0 0")
    for i in range(R):
        for j in range(C):
            r = 1.0 / float(G[i, j])
            if spec.access is None:
                out.append(f"rm{i}_{j} a{i}_{j} b{i}_{j} {r!r}")
            else:
                n = spec.access.nmos
                out.append(f"rm{i}_{j} a{i}_{j} m{i}_{j} {r!r}")
                out.append(f"mt{i}_{j} m{i}_{j} wl b{i}_{j} b{i}_{j} nacc w={n.w!r} l={n.l!r}")
    out.append(".save " + " ".join(f"i(vo{j})" for j in range(C)))
    out += [".op", ".end"]
    return "\n".join(out) + "\n"


def run(exe: str, text: str, repeat: int) -> tuple[float, np.ndarray]:
    best, cur = float("inf"), None
    with tempfile.TemporaryDirectory() as tmp:
        deck = Path(tmp) / "d.cir"
        deck.write_text(text)
        for _ in range(repeat):
            t0 = time.perf_counter()
            subprocess.run([exe, "-b", "-r", "o.raw", "d.cir"], cwd=tmp, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            best = min(best, time.perf_counter() - t0)
        plot = parse_raw(Path(tmp) / "o.raw")[-1]
        names = sorted((k for k in plot.vectors if k.startswith("i(")),
                       key=lambda k: int("".join(c for c in k if c.isdigit())))
        cur = np.array([plot.vectors[k][0] for k in names])
    return best, cur


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    exe = find_ngspice()
    rows = []
    for kind in ("1R", "1T1R"):
        for n in args.sizes:
            rng = np.random.default_rng(n)
            spec = CrossbarSpec(rng.uniform(1e-6, 1e-4, (n, n)), r_wire_row=1.0,
                                r_wire_col=1.0, r_source=1.0, r_sense=1.0,
                                access=ACCESS_018UM if kind == "1T1R" else None)
            v = rng.uniform(0, 0.2, n)
            gen = emit_deck(crossbar_deck(spec, v))
            t_gen, i_gen = run(exe, gen, args.repeat)
            t_min, i_min = run(exe, minimal_deck(spec, v), args.repeat)
            rows.append({"array": f"{n}x{n} {kind}", "generated_s": t_gen, "minimal_s": t_min,
                         "ratio": t_gen / t_min,
                         "max_rel_diff": float(np.max(np.abs(i_gen - i_min))
                                               / np.max(np.abs(i_min)))})
            print(rows[-1], flush=True)
    write_table("decks", rows, title=f"Generated vs minimal crossbar deck, ngspice "
                f"{ngspice_version(exe)} with KLU (.op, best of {args.repeat})",
                notes="`python benchmarks/bench_decks.py`. ratio = generated / minimal; "
                      "target ≤ 1.5×. max_rel_diff: column currents, generated vs minimal.")


if __name__ == "__main__":
    main()
