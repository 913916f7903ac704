"""Run every ``benchmarks/bench_*.py`` in turn (each writes benchmarks/results/<topic>.md).

    .venv/bin/python benchmarks/run_all.py [--quick]

``--quick`` is passed to the scripts that accept it (smaller sizes).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

here = Path(__file__).resolve().parent


def main() -> int:
    quick = "--quick" in sys.argv[1:]
    failed = []
    for script in sorted(here.glob("bench_*.py")):
        args = [sys.executable, str(script)]
        if quick and "--quick" in script.read_text():
            args.append("--quick")
        print(f"=== {script.name}", flush=True)
        if subprocess.run(args).returncode != 0:
            failed.append(script.name)
    if failed:
        print("failed:", ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
