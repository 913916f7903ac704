"""Cross-validation harness: the demo's timing table and scaling with workers.

    .venv/bin/python benchmarks/bench_xval.py [--images N] [--quick]

For each executor setting (local 1 worker, local 2 workers, dask LocalCluster 2 workers) the
demo pipeline runs on the first N test images (default all 360; ``--quick``: 40) with the
same cached checkpoint, and the table lists the harness wall time, the ngspice time summed
over chunks, the behavioral-circuit time for the same images in one batch, the speed-up, and
the accuracies / agreement (identical across settings: the check that executors do not
change results).  Writes benchmarks/results/xval.md and .json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _table import write_table  # noqa: E402

from circuitsim.xval.demo import DEMO_CONFIG, run_demo  # noqa: E402
from circuitsim.xval.report import comparable  # noqa: E402

SETTINGS = [("local", 1), ("local", 2), ("dask", 2)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--images", type=int, default=None, help="test images [default: all]")
    ap.add_argument("--quick", action="store_true", help="40 images")
    args = ap.parse_args()
    n = 40 if args.quick else args.images
    cfg = DEMO_CONFIG.replace(n_images=n)
    rows, reports = [], []
    with tempfile.TemporaryDirectory(prefix="bench-xval-") as tmp:
        model = None
        for executor, workers in SETTINGS:
            out = Path(tmp) / f"{executor}-{workers}"
            r = run_demo(out, config=cfg, executor=executor, workers=workers,
                         model_path=model, progress=False, log=lambda *a: None,
                         full_spice_images=0)
            model = model or r["config"]["model"]["checkpoint"]
            if model and not Path(model).is_file():
                model = None
            reports.append(comparable(r))
            t, acc, ag = r["timing_s"], r["accuracy"], r["agreement"]
            rows.append({
                "executor": executor, "workers": workers, "images": r["n_test"],
                "chunks": r["run"]["chunks"],
                "harness wall [s]": t["harness_wall"],
                "ngspice sum [s]": t["spice"],
                "ngspice / image [ms]": 1e3 * t["spice_per_image"],
                "behavioral (batch) [ms]": 1e3 * t["behavioral"],
                "speed-up": t["speedup_behavioral_vs_spice"],
                "acc sw / ideal / circuit / spice [%]": " / ".join(
                    f"{100 * acc[k]:.2f}" for k in ("software", "behavioral_ideal",
                                                    "behavioral_circuit", "spice")),
                "argmax agree [%]": 100 * ag["argmax_spice_vs_behavioral"],
                "max abs dV [mV]": 1e3 * ag["max_abs_output_diff_V"],
            })
    same = all(rep == reports[0] for rep in reports[1:])
    notes = ("Reports identical across executors (timings and run info aside): "
             f"{'yes' if same else 'NO'}. ngspice sum = serial ngspice seconds over all "
             "chunks; speed-up = ngspice time per image / behavioral-circuit time per image "
             "(all images in one batch, first call). Machine: 2 cores shared with other jobs "
             "(load average 3-8 while measuring): ngspice is single-threaded, so a second "
             "worker only helps when a core is free; on this machine it often was not.")
    write_table("xval", rows, title="Cross-validation harness: demo timings and worker "
                "scaling", notes=notes)
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
