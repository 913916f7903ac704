"""One object describes a whole non-ideality scenario: :class:`NonIdealityConfig`.

Conductance transforms run in the order of a device's life: pulse programming (nonlinear
response) → programming variability (one-shot or write-verify) → endurance (window clip) →
stuck-at faults → retention drift.  The read path adds the cell I–V, IR drop and read noise:
the circuit network realises them (:func:`circuitsim.network.build_network`; the studies read
through its twin, :func:`circuitsim.network.crossbar_forward`).
Every transform draws from its own stream ``default_rng([seed, draw, transform, layer, side])``
so that a draw is reproducible and adding one transform does not change another's draws.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..mapping.layer import MappedLayer
from .device import Drift, Endurance, PulseNonlinearity, StuckAt
from .programming import ProgrammingNoise
from .read import IRDrop, IVNonlinearity, ReadNoise

__all__ = ["NonIdealityConfig"]

_PARTS = {"pulse": PulseNonlinearity, "programming": ProgrammingNoise, "endurance": Endurance,
          "stuck_at": StuckAt, "drift": Drift, "iv": IVNonlinearity, "ir_drop": IRDrop,
          "read_noise": ReadNoise}
_G_ORDER = ("pulse", "programming", "endurance", "stuck_at", "drift")


@dataclass(frozen=True)
class NonIdealityConfig:
    """A non-ideality scenario; every part None = the ideal crossbar."""

    pulse: PulseNonlinearity | None = None
    """Open-loop pulse programming on a nonlinear device."""
    programming: ProgrammingNoise | None = None
    """Programming variability."""
    endurance: Endurance | None = None
    """On/off window closed by write cycling."""
    stuck_at: StuckAt | None = None
    """Stuck-at-LRS / HRS faults."""
    drift: Drift | None = None
    """Retention drift."""
    iv: IVNonlinearity | None = None
    """Nonlinear cell I–V at read."""
    ir_drop: IRDrop | None = None
    """Wire resistance, exact solve per tile."""
    read_noise: ReadNoise | None = None
    """Read noise."""
    seed: int = 0
    """Base seed of every draw."""

    def __post_init__(self):
        for name, cls in _PARTS.items():
            v = getattr(self, name)
            if v is not None and not isinstance(v, cls):
                raise ConfigError(f"NonIdealityConfig.{name} must be a {cls.__name__} or None, "
                                  f"got {type(v).__name__}")
        try:
            ok = int(self.seed) == self.seed and self.seed >= 0 and not isinstance(self.seed, bool)
        except (TypeError, ValueError):
            ok = False
        if not ok:  # numpy's SeedSequence takes only integers >= 0
            raise ConfigError(f"NonIdealityConfig.seed must be an integer >= 0, got "
                              f"{self.seed!r}")
        object.__setattr__(self, "seed", int(self.seed))

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict:
        out: dict = {"seed": int(self.seed)}
        for name in _PARTS:
            v = getattr(self, name)
            out[name] = None if v is None else asdict(v)
        return out

    @classmethod
    def from_dict(cls, d: dict) -> NonIdealityConfig:
        unknown = set(d) - set(_PARTS) - {"seed"}
        if unknown:
            raise ConfigError(f"NonIdealityConfig: unknown keys {sorted(unknown)}")
        kw = {name: (None if d.get(name) is None else _PARTS[name](**d[name]))
              for name in _PARTS}
        return cls(seed=d.get("seed", 0), **kw)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path

    def describe(self) -> str:
        parts = [f"{n}={getattr(self, n)}" for n in _PARTS if getattr(self, n) is not None]
        return ", ".join(parts) or "ideal"

    # ------------------------------------------------------------------ application
    def _rng(self, draw: int, *where: int) -> np.random.Generator:
        return np.random.default_rng([int(self.seed), int(draw), *where])

    def apply(self, layers: list[MappedLayer], draw: int = 0) -> list[MappedLayer]:
        """The conductances actually in the arrays (programming → ... → drift), for draw
        number ``draw`` (Monte-Carlo index)."""
        out = []
        for li, layer in enumerate(layers):
            cfg = layer.config
            gs = []
            for side, g in enumerate((layer.g_pos, layer.g_neg)):
                for ti, name in enumerate(_G_ORDER):
                    t = getattr(self, name)
                    if t is None or t.is_identity:
                        continue
                    rng = self._rng(draw, ti, li, side)
                    if name == "programming":
                        g = t.apply(g, cfg.g_max, rng)
                    else:
                        g = t.apply(g, cfg.g_min, cfg.g_max, rng)
                gs.append(g)
            out.append(layer.replace(g_pos=gs[0], g_neg=gs[1]))
        return out
