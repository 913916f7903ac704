"""The published memristor-network studies, reproduced on offline data (digits by default).

Each study is a function ``study(ctx: StudyContext, **settings) -> StudyResult``;
``result.write(out_dir)`` writes ``<name>.csv``, ``<name>.json`` (rows, headline, every
setting and the non-ideality scenario) and ``<name>.png``.  ``circuitsim study NAME`` runs one.
"""

from __future__ import annotations

from ..errors import ConfigError
from .common import StudyContext, StudyResult
from .device import endurance, noise_training, retention, scenario, stuck_at, variability
from .irdrop import ir_drop
from .nonlinearity import nonlinearity
from .readpath import tiles_adc, vmax

STUDIES = {
    "variability": variability,
    "tiles-adc": tiles_adc,
    "vmax": vmax,
    "stuck-at": stuck_at,
    "retention": retention,
    "endurance": endurance,
    "noise-training": noise_training,
    "ir-drop": ir_drop,
    "scenario": scenario,
    "nonlinearity": nonlinearity,
}
"""Study name → function."""

# tiny settings for tests and `--quick`
QUICK = {
    "variability": {"sigmas_us": (2, 40), "draws": 3},
    "tiles-adc": {"tiles": (16, 64), "bits": (2, 8)},
    "vmax": {"v_reads": (0.01, 0.2, 1.0), "draws": 2},
    "stuck-at": {"probs": (0.0, 0.1), "draws": 3},
    "retention": {"times_s": (1, 1e8), "draws": 2},
    "endurance": {"cycles": (1e5, 1e10), "draws": 2},
    "noise-training": {"sigmas_us": (20,), "draws": 3},
    "ir-drop": {"r_wires": (0.0, 10.0)},
    "scenario": {"draws": 2},
    "nonlinearity": {"nls": (0, 6), "modes": ("potentiation", "both"), "epochs": 3},
}


def run_study(name: str, ctx: StudyContext, out_dir=None, **settings) -> StudyResult:
    """Run study ``name`` (quick settings when ``ctx.quick``, overridden by ``settings``) and
    write its files to ``out_dir`` (if given)."""
    if name not in STUDIES:
        raise ConfigError(f"unknown study {name!r}; choose one of {sorted(STUDIES)}")
    kw = {**(QUICK[name] if ctx.quick else {}), **settings}
    res = STUDIES[name](ctx, **kw)
    if out_dir is not None:
        res.meta["files"] = [str(p) for p in res.write(out_dir)]
    return res


__all__ = ["QUICK", "STUDIES", "StudyContext", "StudyResult", "endurance", "ir_drop",
           "noise_training", "nonlinearity", "retention", "run_study", "scenario", "stuck_at",
           "tiles_adc", "variability", "vmax"]
