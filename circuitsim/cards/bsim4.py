"""BSIM4 access transistors (ngspice level 54) from a published predictive model card, and
their twin: a drain-current table I_d(v_gs, v_ds) measured in ngspice on the same card.

* :class:`Bsim4Nmos` -- the card (``circuitsim/models/<card_file>``, parameter values read
  from the published text) plus W and L.  It writes the ``.model`` line and the netlist uses it
  like :class:`~circuitsim.cards.transistor.Nmos1Card` (``CrossbarSpec(access=...)`` in 1T1R
  crossbars and networks in SPICE).  It has no equations of its own.
* :func:`characterise_nmos` -- one ngspice ``.dc`` run of the card (drain and gate swept, bulk
  tied to source as in the crossbar) -> :class:`Bsim4Table`, a bicubic spline with the
  derivatives gm and gds (:class:`circuitsim.tables.Bicubic`), which the behavioral crossbar
  solvers call through the same ``drain_current(vgs, vds)`` / ``level1(vgs, vds, xp)``
  interface as the level-1 card: one text of the evaluation for numpy and torch.

What the table leaves out: the gate tunnelling current of the card (igcmod = igbmod = 1).  The
crossbar solvers treat the transistor as a two-terminal series element, so the current from the
word line into the channel (measured 6.6e-11 A at v_gs = 1 V, v_ds = 0 for W/L 180/45 nm, i.e.
3e-5 of a 2 µA cell current) reaches the column in ngspice but not in the twin.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ..circuit import Dc, Deck, Mosfet, VoltageSource
from ..circuit.elements import Model
from ..circuit.library import library_dir
from ..errors import ConfigError
from ..spice.runner import simulate
from ..tables import Bicubic
from ..units import require_finite, require_positive
from .transistor import AccessTransistor

_PAIR = re.compile(r"([A-Za-z_]\w*)\s*=\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)")


def card_params(card_file: str) -> dict[str, float]:
    """The ``name = value`` pairs of the ``.model`` in ``circuitsim/models/<card_file>``, in
    order (comments skipped)."""
    path = library_dir() / card_file
    if not path.is_file():
        raise ConfigError(f"BSIM4 card {card_file!r} not found in circuitsim/models")
    params: dict[str, float] = {}
    for line in path.read_text().splitlines():
        line = line.split("$")[0]
        if line.lstrip().startswith("*"):
            continue
        for k, v in _PAIR.findall(line):
            params[k.lower()] = float(v)
    if params.get("level") != 54:
        raise ConfigError(f"{card_file}: not a BSIM4 card (level = {params.get('level')}, "
                          "want 54)")
    return params


@dataclass(frozen=True)
class Bsim4Nmos:
    """A BSIM4 NMOS: a published card plus the device size."""

    card_file: str = "ptm_45nm_hp_nmos.pm"
    """Card in ``circuitsim/models`` (the published text)."""
    w: float = 180e-9
    """Channel width [m]."""
    l: float = 45e-9
    """Channel length [m]."""

    def __post_init__(self):
        require_positive("Bsim4Nmos.w", self.w, "[m]")
        require_positive("Bsim4Nmos.l", self.l, "[m]")

    def params(self) -> dict[str, float]:
        return card_params(self.card_file)

    def model(self, name: str = "nacc") -> Model:
        """The ``.model`` card (kind nmos, level 54, every value of the published card)."""
        return Model(name, "nmos", self.params())

    @property
    def vto(self) -> float:
        """vth0 of the card [V] (only a starting guess for the solvers)."""
        return float(self.params()["vth0"])

    @property
    def beta(self) -> float:
        """u0·ε_ox/toxe·W/L [A/V²]: a rough long-channel value, only a starting guess for the
        solvers' internal-node iteration (the currents come from the table)."""
        p = self.params()
        return p["u0"] * p.get("epsrox", 3.9) * 8.854e-12 / p["toxe"] * self.w / self.l

    def drain_current(self, vgs, vds):
        raise ConfigError("Bsim4Nmos has no equations of its own: characterise it in ngspice "
                          "(circuitsim.cards.bsim4.characterise_access) and give the "
                          "behavioral solver the characterised AccessTransistor")


@dataclass(frozen=True, eq=False)
class Bsim4Table:
    """A :class:`Bsim4Nmos` with its drain-current table (from :func:`characterise_nmos`):
    writes the same ``.model`` as the card and evaluates I_d by bicubic spline."""

    card: Bsim4Nmos
    vgs: np.ndarray
    """Gate-source grid [V]."""
    vds: np.ndarray
    """Drain-source grid [V]."""
    id_table: np.ndarray
    """I_d[vgs, vds] into the drain, bulk = source [A]."""
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        t = np.asarray(self.id_table, float)
        if t.shape != (len(self.vgs), len(self.vds)) or not np.all(np.isfinite(t)):
            raise ConfigError("Bsim4Table.id_table must be finite with shape (len(vgs), "
                              "len(vds))")
        object.__setattr__(self, "_s", Bicubic(self.vgs, self.vds, t))

    w = property(lambda self: self.card.w)
    l = property(lambda self: self.card.l)
    vto = property(lambda self: self.card.vto)
    beta = property(lambda self: self.card.beta)

    def model(self, name: str = "nacc") -> Model:
        return self.card.model(name)

    def drain_current(self, vgs, vds):
        """``(id, gm, gds)`` [A, S, S] like :meth:`Nmos1Card.drain_current` (numpy)."""
        vgs, vds = np.broadcast_arrays(np.asarray(vgs, dtype=float),
                                       np.asarray(vds, dtype=float))
        return self.level1(vgs, vds, np)

    def level1(self, vgs, vds, xp):
        """The table on same-shape arrays of ``xp`` (numpy or torch), the interface of
        :meth:`Nmos1Card.level1`; outside the grid a :class:`ConfigError` (no
        extrapolation)."""
        if not self._s.contains(vgs, vds):
            raise ConfigError(f"Bsim4Table: bias outside the characterised grid (vgs "
                              f"[{float(vgs.min()):.3g}, {float(vgs.max()):.3g}] V, vds "
                              f"[{float(vds.min()):.3g}, {float(vds.max()):.3g}] V; grid vgs "
                              f"[{self.vgs[0]}, {self.vgs[-1]}], vds [{self.vds[0]}, "
                              f"{self.vds[-1]}]); characterise_access with a wider range")
        return self._s(vgs, vds)


def characterise_nmos(card: Bsim4Nmos, vgs_range, vds_range, *, vgs_step: float = 0.01,
                      vds_step: float = 0.005, runner="batch") -> Bsim4Table:
    """I_d on the grid, one ngspice ``.dc`` (drain swept inside gate), bulk tied to source."""

    g0, g1 = (require_finite("vgs_range", v) for v in vgs_range)
    d0, d1 = (require_finite("vds_range", v) for v in vds_range)
    ng = int(round((g1 - g0) / vgs_step)) + 1
    nd = int(round((d1 - d0) / vds_step)) + 1
    if ng < 4 or nd < 4:
        raise ConfigError("characterise_nmos: need >= 4 points in each of vgs and vds")
    vgs = np.linspace(g0, g1, ng)
    els = [VoltageSource("Vd", "d", "0", 0.0)]
    for k, vg in enumerate(vgs):  # one transistor per gate voltage, each with its ammeter
        els += [VoltageSource(f"Vg{k}", f"g{k}", "0", float(vg)),
                VoltageSource(f"Va{k}", "d", f"d{k}", 0.0),
                Mosfet(f"M{k}", f"d{k}", f"g{k}", "0", "0", "nacc", card.w, card.l)]
    deck = Deck(title=f"BSIM4 {card.card_file} I_d(vgs, vds) table", elements=tuple(els),
                models=(card.model("nacc"),),
                options={"reltol": 1e-9, "abstol": 1e-18, "vntol": 1e-12},
                analyses=(Dc("Vd", d0, d1, vds_step),),
                saves=tuple(f"i(va{k})" for k in range(ng)))
    res = simulate(deck, runner=runner)
    table = np.stack([np.asarray(res[f"i(va{k})"]) for k in range(ng)])  # into the drain
    if table.shape != (ng, nd):
        raise ConfigError(f"characterise_nmos: ngspice returned {table.shape} points, "
                          f"expected ({ng}, {nd})")
    return Bsim4Table(card, vgs, np.linspace(d0, d1, nd), table,
                      {"ngspice_s": res.wall_s, "points": int(table.size)})


def characterise_access(access: AccessTransistor, *, v_cell_max: float = 0.5,
                        v_col_max: float = 0.25, **kw) -> AccessTransistor:
    """The same access device with its BSIM4 card characterised (:func:`characterise_nmos`)
    over the biases a 1T1R cell sees: v_ds within ±``v_cell_max`` [V], column (source) node
    within ±``v_col_max`` [V] of ground (v_gs = v_wordline ∓ v_col_max)."""
    if not isinstance(access.nmos, Bsim4Nmos):
        raise ConfigError("characterise_access needs an AccessTransistor whose nmos is a "
                          "Bsim4Nmos")
    vwl = access.v_wordline
    table = characterise_nmos(access.nmos, (vwl - v_col_max, vwl + v_col_max),
                              (-v_cell_max, v_cell_max), **kw)
    return AccessTransistor(table, vwl)


ACCESS_BSIM4_PTM45HP = AccessTransistor(Bsim4Nmos("ptm_45nm_hp_nmos.pm", 180e-9, 45e-9), 1.0)
"""PTM 45 nm high-performance NMOS (BSIM4, Zhao & Cao, IEEE TED 53 (2006) 2816; card text in
``circuitsim/models/ptm_45nm_hp_nmos.pm``), W/L 180/45 nm, word line at the card's nominal
V_DD = 1.0 V.  SPICE only until characterised (:func:`characterise_access`)."""

__all__ = ["ACCESS_BSIM4_PTM45HP", "Bsim4Nmos", "Bsim4Table", "card_params",
           "characterise_access", "characterise_nmos"]
