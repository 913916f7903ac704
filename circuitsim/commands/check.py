"""``circuitsim check``: is ngspice installed and working, through both runners?"""

from __future__ import annotations

NAME = "check"
HELP = "check the ngspice installation: version, KLU, OSDI, both runners"


def add_arguments(p) -> None:
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per run [default 30]")


def run(args) -> int:
    from ..circuit import Deck, Op, Resistor, VoltageSource
    from ..spice import BatchRunner, SharedRunner, find_libngspice, find_ngspice, ngspice_features
    from ..units import require_positive

    require_positive("--timeout", args.timeout, "[s] (a finite number of seconds)")
    exe = find_ngspice()
    feats = ngspice_features(exe, timeout_s=args.timeout)
    print(f"ngspice executable: {exe}")
    print(f"ngspice library:    {find_libngspice()}")
    print(f"ngspice version:    {feats['version']}")
    klu = "yes" if feats["klu"] else "NO (Sparse only: large arrays are slow; run make setup)"
    print(f"KLU solver:         {klu}")
    print(f"OSDI (Verilog-A):   {'yes' if feats['osdi'] else 'no'}")
    deck = Deck("circuitsim check: divider", elements=[
        VoltageSource("V1", "in", "0", dc=1.0), Resistor("R1", "in", "out", 1e3),
        Resistor("R2", "out", "0", 3e3)], analyses=[Op()])
    for runner in (BatchRunner(), SharedRunner()):
        with runner:
            res = runner.run(deck, timeout_s=args.timeout)
        v = float(res["v(out)"][0])
        ok = abs(v - 0.75) < 1e-12
        print(f"{runner.name:>6} runner: v(out) = {v!r} (expected 0.75) "
              f"{'ok' if ok else 'WRONG'} in {res.wall_s * 1e3:.1f} ms, solver {res.solver}, "
              f"ngspice {res.ngspice_version}")
        if not ok:
            return 1
    return 0
