"""``circuitsim program``: write-verify programming of a trained network's arrays in transient
ngspice and in the twin, with the hardware hand-off files."""

from __future__ import annotations

DEVICES = ("vteam", "lid")
"""Names of the cell cards ``--device`` chooses (:func:`device_card`)."""

NAME = "program"
HELP = "write-verify programming of crossbar arrays in transient SPICE vs the twin + hand-off"


def add_arguments(p) -> None:
    p.add_argument("--out", default=None, help="output directory (program.json, handoff/, "
                   "state/ for resuming) [none: print only]")
    p.add_argument("--quick", action="store_true",
                   help="program one random 4x4 array (seconds) instead of a network")
    p.add_argument("--checkpoint", default=None,
                   help="trained MLP checkpoint (`circuitsim train`) [default: train a "
                        "64-16-10 digits MLP here]")
    p.add_argument("--hidden", type=int, default=16, help="hidden width when training [16]")
    p.add_argument("--device", default="vteam", choices=DEVICES,
                   help="cell card: 'vteam' = VTEAM_CROSSBAR (threshold), 'lid' = "
                        "LID_CROSSBAR (linear ion drift, no threshold, not fitted; needs "
                        "--v-pulse, starts at x0 0.5) [vteam]")
    p.add_argument("--scheme", default="v2", choices=("v2", "v3"), help="half-select [v2]")
    p.add_argument("--v-pulse", type=float, default=None,
                   help="pulse amplitude [V] (--step amplitude: the ladder's maximum) [0.9 of "
                        "the scheme's safe maximum]")
    p.add_argument("--step", default="width", choices=("width", "amplitude"),
                   help="what the write-verify ladder grows: the pulse width at --v-pulse, "
                        "or the amplitude (ISPP) at --w-amp from --v-start by --v-step up to "
                        "--v-pulse [width]")
    p.add_argument("--v-start", type=float, default=None,
                   help="--step amplitude: first rung [V] [1.01x the threshold]")
    p.add_argument("--v-step", type=float, default=None,
                   help="--step amplitude: increment per rung [V] [(v_pulse - v_start)/9]")
    p.add_argument("--w-amp", type=float, default=5e-6,
                   help="--step amplitude: width of every pulse [s] [5e-6]")
    p.add_argument("--reverify", action="store_true",
                   help="re-read every programmed row each iteration and pulse accepted cells "
                        "again when the neighbours' pulses moved them out of tolerance (for "
                        "--device lid)")
    p.add_argument("--tolerance", type=float, default=0.005,
                   help="verify tolerance, fraction of the G range [0.005]")
    p.add_argument("--max-pulses", type=int, default=40, help="pulse budget per cell [40]")
    p.add_argument("--sizing", default="ladder", choices=("ladder", "model", "adaptive"),
                   help="pulse widths: 'ladder' = incremental steps from the shortest width; "
                        "'model' = the same ladder, no rung longer than the device card "
                        "predicts for the read error (about half the pulses); 'adaptive' = "
                        "each pulse sized to land on the target: the rung that reaches it and "
                        "a per-column amplitude, less the voltage the cell was seen to lose "
                        "(--step width, VTEAM; 2-3 pulses a cell with --ladder 11) [ladder]")
    p.add_argument("--ladder", type=int, default=None,
                   help="ladder steps above the first rung: --step width, the longest pulse "
                        "is 50 ns x 2^N; --step amplitude, the amplitude rises to --v-pulse in "
                        "N steps [9]")
    p.add_argument("--spice-block", type=int, default=16,
                   help="program the first NxN block of layer 1 in SPICE (0 = none) [16]")
    p.add_argument("--spice-test", type=int, default=40,
                   help="test images through the ngspice read path [40]")
    p.add_argument("--seed", type=int, default=0, help="seed [0]")
    p.add_argument("--prune-table", action="store_true",
                   help="instead: prune fraction (0, 0.5, 0.75) x levels (analog, 8) -> "
                        "accuracy, programmed cells, programming energy (needs --out)")
    p.add_argument("--variability", action="store_true",
                   help="also: σ(G) after one-shot and write-verify programming of cells with "
                        "device-to-device and cycle-to-cycle variation (twin, 16x16) vs the "
                        "statistical ProgrammingNoise (Wan 2022)")
    p.add_argument("--d2d-sigma", type=float, default=0.2,
                   help="device-to-device lognormal σ of the VTEAM rates [0.2]")
    p.add_argument("--c2c-sigma", type=float, default=0.1,
                   help="cycle-to-cycle lognormal σ of the rates, per pulse [0.1]")


def device_card(name: str):
    """The card ``--device NAME`` programs: ``vteam`` = ``VTEAM_CROSSBAR``, ``lid`` =
    ``LID_CROSSBAR``."""
    from ..cards.memristor import VTEAM_CROSSBAR
    from ..errors import ConfigError
    from ..program.config import LID_CROSSBAR

    cards = {"vteam": VTEAM_CROSSBAR, "lid": LID_CROSSBAR}
    if name not in cards:
        raise ConfigError(f"--device must be one of {DEVICES}, got {name!r}")
    return cards[name]


def run(args) -> int:
    import contextlib
    import math

    from ..errors import ConfigError
    from ..program import ProgramConfig
    from ..xval.store import check_writable, out_lock

    if args.out:
        check_writable(args.out)
    if args.spice_block < 0 or args.spice_test < 0:
        raise ConfigError("--spice-block and --spice-test must be >= 0")
    if args.seed < 0:
        raise ConfigError(f"--seed {args.seed}: give an integer >= 0")
    if args.hidden < 1:
        raise ConfigError(f"--hidden {args.hidden}: give a width >= 1")
    if not (args.d2d_sigma >= 0 and args.c2c_sigma >= 0) or not all(
            map(math.isfinite, (args.d2d_sigma, args.c2c_sigma))):
        raise ConfigError("--d2d-sigma and --c2c-sigma must be finite and >= 0")
    if args.prune_table and not args.out:
        raise ConfigError("--prune-table writes DIR/prune_table.json: give --out DIR")
    cfg = ProgramConfig(device=device_card(args.device), scheme=args.scheme,
                        v_pulse=args.v_pulse, tolerance=args.tolerance,
                        max_pulses=args.max_pulses, sizing=args.sizing, step=args.step,
                        **({} if args.ladder is None else {"ladder": args.ladder}),
                        v_start=args.v_start, v_step=args.v_step, w_amp=args.w_amp,
                        reverify=args.reverify,
                        x0=1.0 if args.device == "vteam" else device_card(args.device)
                        .default_x0)
    with out_lock(args.out) if args.out else contextlib.nullcontext():
        return _run(args, cfg)


def _run(args, cfg) -> int:
    from ..program.run import run_program

    if args.prune_table:
        import json
        from pathlib import Path

        from ..program.run import prune_table

        rows = prune_table(cfg, seed=args.seed)
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "prune_table.json").write_text(json.dumps(rows, indent=1))
        keys = list(rows[0])
        lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
        lines += ["| " + " | ".join(f"{r[k]:.4g}" if isinstance(r[k], float) else str(r[k])
                                    for k in keys) + " |" for r in rows]
        (Path(args.out) / "prune_table.md").write_text("\n".join(lines) + "\n")
        print("\n".join(lines))
        return 0
    s = run_program(args.out, cfg=cfg, quick=args.quick, checkpoint=args.checkpoint,
                    hidden=args.hidden, spice_block=args.spice_block or None,
                    spice_test=args.spice_test, seed=args.seed, progress=True,
                    variability=(args.d2d_sigma, args.c2c_sigma) if args.variability
                    else None)
    print(f"programmed {s['cells']} cells ({s['cells_spice']} in SPICE): converged "
          f"{s['converged_fraction']}; SPICE vs twin max |dG| "
          f"{s['max_g_error_spice_vs_twin']} of the range; pulses/cell "
          f"{s['pulses_per_cell']}; energy {s['energy_j']} J; wall {s['wall_s']} s")
    print(f"half-select max dG (fraction of range): {s['half_select_max_dg']}")
    if s["accuracy"]:
        print(f"accuracy: {s['accuracy']}")
    if args.out:
        print(f"wrote {args.out}/program.json and {args.out}/handoff/")
    return 0
