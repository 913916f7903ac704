"""Where the macro variant's ngspice time goes: one 128×256 1T1R tile of the demo's ``macro``
network (layer 2, tile (0, 0): 128 rows × 128 outputs, G+/G− columns) as one tile job.

    .venv/bin/python benchmarks/bench_macro_tile.py [--images 3]

Measured, each a real ngspice run (KLU, ``.options acct`` for ngspice's own counts):

* the tile job (:meth:`Network.spice_tile`, one ``.dc`` sweep) for 1 and for K images: the
  difference gives the cost of one more image (sweep point) and the rest the fixed set-up
  (parse, matrix set-up, ordering, the first operating point);
* one image as a standalone ``.op`` deck of the same tile, from ngspice's own start and with
  ``.nodeset`` of every row and column node at the twin's solution (a warm start): whether a
  better initial guess cuts the Newton iterations and the time.

Row voltages come from the twin's layer-1 outputs of the first test images (the tile's cost
does not depend on where its inputs came from).  Writes benchmarks/results/macro_tile.md/.json.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _table import write_table  # noqa: E402

from circuitsim.behavioral import CrossbarSolver  # noqa: E402
from circuitsim.circuit import RawLine  # noqa: E402
from circuitsim.crossbar.netlist import col_node, crossbar_deck, row_node  # noqa: E402
from circuitsim.data import MACRO_CHECKPOINT, data_path  # noqa: E402
from circuitsim.errors import SimulationError  # noqa: E402
from circuitsim.nn.data import load_digits  # noqa: E402
from circuitsim.nn.train import load_checkpoint  # noqa: E402
from circuitsim.spice import get_runner  # noqa: E402
from circuitsim.xval.demo import MACRO_CONFIG  # noqa: E402
from circuitsim.xval.harness import network_from_config  # noqa: E402

ACCT = ("Netlist loading time", "Subckt and Param expansion time", "Netlist parsing time",
        "Total iterations", "Total analysis time", "Matrix load time", "Matrix reorder time",
        "Matrix factor time", "Matrix solve time")


def acct(log: str) -> dict:
    """ngspice's ``.options acct`` lines that matter here, as numbers."""
    out = dict.fromkeys(ACCT)
    for key in ACCT:
        m = re.search(re.escape(key) + r"[^=\n]*=\s*([0-9.eE+-]+)", log or "")
        if m:
            out[key] = float(m.group(1))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--images", type=int, nargs="+", default=[1, 3, 20],
                    help="images per .dc sweep of the tile job (one run each)")
    ap.add_argument("--no-nodeset", action="store_true", help="skip the .op / .nodeset runs")
    ap.add_argument("--op-timeout", type=float, default=180.0,
                    help="timeout of each standalone .op run [s]")
    args = ap.parse_args()
    ds = load_digits()
    model, _ = load_checkpoint(data_path(MACRO_CHECKPOINT))
    t0 = time.perf_counter()
    net = network_from_config(model, MACRO_CONFIG,
                              calibration=ds.x_train[:MACRO_CONFIG.calibration_images])
    print(f"network built in {time.perf_counter() - t0:.1f} s", flush=True)
    X = ds.x_test[:max(args.images)]
    rows_of = {}

    def twin(p, V):
        rows_of[p.index] = V
        return net._tiles_twin(p, V, ideal=False, power=False)

    net.forward_with_tiles(X, twin, "behavioral_circuit")
    plan = net.plans[1]
    tile = (0, 0)
    V = rows_of[plan.index]
    r0, r1 = plan.row_tiles[0]
    spec = net.tile_spec(plan, *tile)
    print(f"layer {plan.index} tile {tile}: {spec.rows}x{spec.cols} cells", flush=True)
    runner = get_runner("batch")
    rows = []
    try:
        for k in sorted(set(args.images)):
            deck = net.layer_deck(plan, V[:k], tiles=[tile])
            deck = deck.replace(options={**deck.options, "acct": True})
            t = time.perf_counter()
            res = runner.run(deck, timeout_s=3600)
            rows.append({"run": f"tile job, .dc sweep of {k} image(s)", "images": k,
                         "wall s": time.perf_counter() - t, "solver": res.solver,
                         **acct(res.log)})
            print(rows[-1], flush=True)
        if args.no_nodeset:
            return write(rows)
        v = V[0, r0:r1]
        solver = CrossbarSolver(net.tile_spec(plan, *tile,
                                              extra_r_sense=plan.tile_sense[0][0][0].r_in))
        vr, vc = solver.node_voltages(v)
        base = crossbar_deck(spec, v)
        base = base.replace(options={**base.options, "acct": True})
        R, C = spec.shape
        guess = {}
        for i in range(R):
            for j in range(C):
                for node, val in ((row_node(spec, i, j), vr[i, j]), (col_node(spec, i, j),
                                                                     vc[i, j])):
                    if not (node.startswith("in") or node.startswith("out")):
                        guess[f"xxbar.{node}"] = float(val)
        items = [f"v({n})={val:.9g}" for n, val in guess.items()]
        lines = [RawLine(f"nodeset{k}", ".nodeset " + " ".join(items[k:k + 100]))
                 for k in range(0, len(items), 100)]
        warm = base.replace(elements=(*base.elements, *lines))
        for name, deck in (("standalone .op, 1 image", base),
                           (f"same, .nodeset of {len(guess)} row/column nodes from the twin",
                            warm)):
            t = time.perf_counter()
            try:
                res = runner.run(deck, timeout_s=args.op_timeout)
            except SimulationError as exc:  # the warm start that is slower than none
                rows.append({"run": f"{name}: stopped ({type(exc).__name__} after "
                                    f"{args.op_timeout:g} s)", "images": 1,
                             "wall s": time.perf_counter() - t, "solver": None,
                             **acct("")})
            else:
                rows.append({"run": name, "images": 1, "wall s": time.perf_counter() - t,
                             "solver": res.solver, **acct(res.log)})
            print(rows[-1], flush=True)
    finally:
        runner.close()
    write(rows)


def write(rows: list[dict]) -> None:
    write_table("macro_tile", rows,
                title="One 128×256 1T1R tile of the macro variant in ngspice (layer 2, tile "
                      "(0, 0))",
                notes="ngspice 46 batch runner, KLU; the counts and times after 'solver' are "
                      "ngspice's own (.options acct) [s].  The standalone .op deck is the tile "
                      "alone (crossbar_deck, ideal 0 V column sources instead of the sense "
                      "stage).  Wall times on the shared 2-core machine, load average "
                      f"{os.getloadavg()[0]:.1f} when the table was written.")

if __name__ == "__main__":
    main()
