"""Runs ``circuitsim`` command lines for tests/test_hostile.py: imports the package once, then
forks one child per command line (its own process: exit status, stderr, no shared state) and
prints a JSON list of ``{"rc", "stderr", "wall_s"}``.  Usage: python _hostile_driver.py CASES."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import traceback


def _child(argv: list[str], env: dict, cwd: str, err_path: str) -> None:
    fd = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 2)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.chdir(cwd)
    os.environ.update(env)
    rc = 99
    try:
        from circuitsim.cli import main

        rc = main(argv)
    except SystemExit as exc:  # argparse
        rc = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - what the test looks for
        traceback.print_exc()
        rc = 98
    sys.stderr.flush()
    os._exit(int(rc))


def main() -> None:
    import importlib

    for mod in ("torch", "circuitsim.cli", "circuitsim.xval.demo", "circuitsim.xval.sweep",
                "circuitsim.network", "circuitsim.nn", "circuitsim.studies",
                "circuitsim.devices.decks", "circuitsim.bptrain.report", "circuitsim.spice",
                "distributed"):
        importlib.import_module(mod)  # once, before the forks: each child starts warm

    cases = json.loads(open(sys.argv[1]).read())
    out = []
    errs = tempfile.mkdtemp(prefix="hostile-")
    for i, case in enumerate(cases):
        err = os.path.join(errs, f"{i}.err")
        t0 = time.monotonic()
        pid = os.fork()
        if pid == 0:
            _child(case["argv"], case.get("env", {}), case["cwd"], err)
        _, status = os.waitpid(pid, 0)
        with open(err, errors="replace") as f:
            text = f.read()
        os.unlink(err)
        out.append({"rc": os.waitstatus_to_exitcode(status), "stderr": text,
                    "wall_s": time.monotonic() - t0})
    os.rmdir(errs)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
