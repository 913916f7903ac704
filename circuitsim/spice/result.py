"""SimResult: what every runner returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import SimulationError
from .rawfile import Plot


@dataclass
class SimResult:
    """The plots of one ngspice run, with the deck and log that made them.

    Plots come in the order ngspice runs the analyses, which is its own fixed order (``.dc``
    before ``.op`` before ``.tran``), not the deck's; :meth:`analysis` finds one by kind.

    ``result["v(out)"]`` reads a vector of the last plot; ``result.plots[i]`` gives each
    analysis; ``result.axis`` is the last plot's axis vector (time, swept value) or ``None``.
    """

    plots: list[Plot]
    deck: str
    log: str = ""
    run_dir: Path | None = None
    wall_s: float = 0.0
    runner: str = ""
    meta: dict = field(default_factory=dict)
    solver: str = ""
    """The linear solver ngspice reports it used: ``"klu"`` or ``"sparse"``."""
    ngspice_version: str = ""
    """The version of the ngspice that ran (executable or shared library)."""

    @property
    def plot(self) -> Plot:
        return self.plots[-1]

    @property
    def vectors(self) -> dict[str, np.ndarray]:
        return self.plot.vectors

    @property
    def axis(self) -> np.ndarray | None:
        p = self.plot
        return p.vectors[p.axis] if p.axis else None

    def analysis(self, kind: str) -> Plot:
        """The plot of one analysis kind: ``'op'``, ``'dc'``, ``'tran'`` or ``'ac'``."""
        prefix = {"op": "operating point", "dc": "dc transfer", "tran": "transient",
                  "ac": "ac analysis"}.get(kind.lower(), kind.lower())
        for p in self.plots:
            if p.name.lower().startswith(prefix):
                return p
        raise KeyError(f"no {kind!r} plot; have {[p.name for p in self.plots]}")

    def __getitem__(self, key: str) -> np.ndarray:
        return self.plot[key]

    def __contains__(self, key: str) -> bool:
        return key in self.plot

    def names(self) -> list[str]:
        return sorted(self.plot.vectors)

    def per_point(self, name: str, n: int, slot_s: float | None = None, *,
                  fix: str = "") -> np.ndarray:
        """Vector ``name`` of a run over ``n`` inputs, one value per input: the ``.dc``
        sweep's points, or with ``slot_s`` [s] the ``.tran`` value at the end of each slot
        (where an ADC samples).  :class:`SimulationError` if ngspice returned another number
        of points (``fix``: what the caller can do instead, appended to the message)."""
        a = np.atleast_1d(np.asarray(self[name], dtype=float))
        if slot_s is not None:
            a = np.interp((np.arange(n) + 1.0) * slot_s, np.asarray(self.axis), a)
        if a.shape != (n,):
            raise SimulationError(f"ngspice returned {a.shape} values of {name} for {n} "
                                  "inputs (a sweep point missing?)" + (f"; {fix}" if fix else ""),
                                  deck=self.deck, run_dir=self.run_dir, log=self.log)
        return a
