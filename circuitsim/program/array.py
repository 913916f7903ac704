"""The programmed array's devices: a base VTEAM card plus per-cell parameter values (for
device-to-device variation) — the one description of every cell that SPICE instances and the
twin read."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..cards.memristor import LinearIonDrift, Vteam
from ..errors import ConfigError

CELL_PARAMS = ("k_on", "k_off", "v_on", "v_off")
"""Card fields that may differ per cell (R_on/R_off stay common: the G window is the array's)."""


@dataclass(frozen=True, eq=False)
class CellArray:
    """(rows, cols) cells of one card; ``params`` overrides :data:`CELL_PARAMS` per cell."""

    card: Vteam | LinearIonDrift
    shape: tuple[int, int]
    params: dict | None = None

    def __post_init__(self):
        if isinstance(self.card, LinearIonDrift):
            if self.params:
                raise ConfigError(
                    "CellArray: per-cell parameters (device-to-device variation) exist for "
                    f"Vteam cards only ({CELL_PARAMS}); a LinearIonDrift array is uniform — "
                    "program it without variation")
            object.__setattr__(self, "params", {})
            return
        base = {k: np.full(self.shape, float(getattr(self.card, k))) for k in CELL_PARAMS}
        for k, v in (self.params or {}).items():
            if k not in CELL_PARAMS:
                raise ConfigError(f"CellArray: per-cell parameter {k!r} is not one of "
                                  f"{CELL_PARAMS}")
            a = np.broadcast_to(np.asarray(v, dtype=float), self.shape).copy()
            if not np.isfinite(a).all():
                raise ConfigError(f"CellArray: per-cell {k} must be finite")
            base[k] = a
        if (base["k_on"] >= 0).any() or (base["k_off"] <= 0).any() or (
                base["v_on"] >= 0).any() or (base["v_off"] <= 0).any():
            raise ConfigError("CellArray: per-cell k_on, v_on must stay < 0 and k_off, v_off "
                              "> 0; lower the variation's sigma")
        object.__setattr__(self, "params", base)

    def get(self, name: str) -> np.ndarray:
        return self.params[name]

    def with_rate_factor(self, factor) -> CellArray:
        """The same cells with k_on, k_off multiplied by ``factor`` (cycle-to-cycle draw)."""
        if isinstance(self.card, LinearIonDrift):
            raise ConfigError("cycle-to-cycle rate variation exists for Vteam cards only; "
                              "program a LinearIonDrift array with c2c_sigma = 0")
        f = np.broadcast_to(np.asarray(factor, dtype=float), self.shape)
        p = dict(self.params)
        p["k_on"] = p["k_on"] * f
        p["k_off"] = p["k_off"] * f
        return CellArray(self.card, self.shape, p)

    def spice_params(self, i: int, j: int) -> dict[str, float]:
        """Instance parameters of cell (i, j) for the card's library (without x0)."""
        d = self.card.spice_params()
        if isinstance(self.card, LinearIonDrift):
            return d
        d.update(kon=float(self.params["k_on"][i, j]), koff=float(self.params["k_off"][i, j]),
                 von=float(self.params["v_on"][i, j]), voff=float(self.params["v_off"][i, j]))
        return d


__all__ = ["CELL_PARAMS", "CellArray"]
