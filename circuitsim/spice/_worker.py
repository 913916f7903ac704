"""The shared-library worker: ``python -m circuitsim.spice._worker LIBRARY_PATH``.

Reads pickled deck texts from stdin, answers each with a pickled
``(status, payload, log)`` on the protocol pipe (the original stdout; fd 1 is pointed at
stderr so that nothing the library prints can corrupt the protocol).  Started and killed by
:class:`circuitsim.spice.runner.SharedRunner`; never imported by the package itself.
"""

from __future__ import annotations

import os
import pickle
import struct
import sys

import numpy as np


def _send(out, obj) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(struct.pack("<Q", len(data)) + data)
    out.flush()


def _recv(inp):
    head = inp.read(8)
    if len(head) < 8:
        return None
    (n,) = struct.unpack("<Q", head)
    return pickle.loads(inp.read(n))


def main() -> None:
    lib_path = sys.argv[1]
    proto_fd = os.dup(1)
    os.dup2(2, 1)
    out = os.fdopen(proto_fd, "wb")
    inp = sys.stdin.buffer

    import logging

    logging.disable(logging.CRITICAL)  # PySpice logs every ngspice stderr line as an error
    from PySpice.Spice.NgSpice.Shared import FFI, NgSpiceShared, ffi

    from circuitsim.spice.rawfile import normalise_name

    NgSpiceShared.LIBRARY_PATH = lib_path
    ns = NgSpiceShared.new_instance()
    lib = ns._ngspice_shared  # the raw cffi library: we decide failure from return codes

    def command(cmd: str) -> int:
        return lib.ngSpice_Command(cmd.encode("utf8"))

    def load(text: str) -> int:
        # PySpice's load_circuit raises whenever "error" appears in the output; we do not grep.
        keep = [ffi.new("char[]", line.encode("utf8")) for line in text.splitlines() if line]
        keep += [ffi.new("char[]", b""), FFI.NULL]
        return lib.ngSpice_Circ(ffi.new("char *[]", keep))
    _send(out, ("ready", str(ns.ngspice_version), ""))
    loaded = False
    while True:
        text = _recv(inp)
        if text is None:
            return
        try:
            ns.clear_output()
            command("destroy all")
            if loaded:
                command("remcirc")
            rc = load(text)
            loaded = True
            if rc:
                raise RuntimeError(f"ngSpice_Circ returned {rc}")
            rc = command("run")
            if rc:
                raise RuntimeError(f"'run' returned {rc}")
            names = [n for n in ns.plot_names if n != "const"]
            plots = []
            for pname in reversed(names):  # ngspice lists the newest plot first
                p = ns.plot(None, pname)
                vecs = {normalise_name(k): np.array(v._data, copy=True) for k, v in p.items()}
                plots.append((pname, vecs))
            _send(out, ("ok", plots, ns.stdout + "\n" + ns.stderr))
        except Exception as exc:  # noqa: BLE001 - reported to the parent with the log
            try:
                log = ns.stdout + "\n" + ns.stderr
            except Exception:  # noqa: BLE001
                log = ""
            _send(out, ("error", f"{type(exc).__name__}: {exc}", log))


if __name__ == "__main__":
    main()
