"""Access devices as JSON-able dicts and back: the one text of that conversion, used by
:meth:`circuitsim.network.CircuitConfig.to_dict` / ``from_dict`` and by the cross-validation
config's ``circuit.access`` section.

``{"v_wordline": V, "nmos": {"kind": KIND, ...fields}}`` with KIND

* ``"level1"``: the fields of :class:`~circuitsim.cards.transistor.Nmos1Card` (the default
  when ``kind`` is absent: manifests written before BSIM4 cards existed);
* ``"bsim4"``: a :class:`~circuitsim.cards.bsim4.Bsim4Nmos` (``card_file``, ``w``, ``l``),
  SPICE only;
* ``"bsim4_table"``: a characterised :class:`~circuitsim.cards.bsim4.Bsim4Table`: the card
  plus its measured grid and drain-current table (``vgs``, ``vds``, ``id_table``), so the
  behavioral twin comes back without running ngspice.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import ConfigError
from .bsim4 import Bsim4Nmos, Bsim4Table
from .transistor import AccessTransistor, Nmos1Card


def nmos_to_dict(nmos) -> dict:
    """The ``nmos`` part (see the module docstring)."""
    if isinstance(nmos, Nmos1Card):
        return {"kind": "level1", **dataclasses.asdict(nmos)}
    if isinstance(nmos, Bsim4Nmos):
        return {"kind": "bsim4", **dataclasses.asdict(nmos)}
    if isinstance(nmos, Bsim4Table):
        return {"kind": "bsim4_table", **dataclasses.asdict(nmos.card),
                "vgs": np.asarray(nmos.vgs).tolist(), "vds": np.asarray(nmos.vds).tolist(),
                "id_table": np.asarray(nmos.id_table).tolist()}
    raise ConfigError(f"no dict form for an access transistor of type {type(nmos).__name__}")


def nmos_from_dict(d: dict, where: str = "access.nmos"):
    """Inverse of :func:`nmos_to_dict`."""
    if not isinstance(d, dict):
        raise ConfigError(f"{where}: expected a dict of card fields, got {d!r}")
    d = dict(d)
    kind = d.pop("kind", "level1")
    try:
        if kind == "level1":
            return Nmos1Card(**d)
        if kind == "bsim4":
            return Bsim4Nmos(**d)
        if kind == "bsim4_table":
            grids = {k: np.asarray(d.pop(k), dtype=float) for k in ("vgs", "vds", "id_table")}
            return Bsim4Table(Bsim4Nmos(**d), grids["vgs"], grids["vds"], grids["id_table"])
    except KeyError as exc:
        raise ConfigError(f"{where}: missing {exc} (a bsim4_table needs vgs, vds and "
                          "id_table)") from None
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    raise ConfigError(f"{where}: kind must be 'level1', 'bsim4' or 'bsim4_table', got "
                      f"{kind!r}")


def access_to_dict(access: AccessTransistor) -> dict:
    return {"v_wordline": access.v_wordline, "nmos": nmos_to_dict(access.nmos)}


def access_from_dict(d: dict, where: str = "access") -> AccessTransistor:
    if not isinstance(d, dict) or "v_wordline" not in d:
        raise ConfigError(f"{where}: expected {{'v_wordline': V, 'nmos': {{'kind': ..., card "
                          f"fields}}}}, got {d!r}")
    unknown = sorted(set(d) - {"v_wordline", "nmos"})
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; valid: v_wordline, "
                          "nmos")
    return AccessTransistor(nmos_from_dict(d.get("nmos", {}), f"{where}.nmos"),
                            d["v_wordline"])


__all__ = ["access_from_dict", "access_to_dict", "nmos_from_dict", "nmos_to_dict"]
