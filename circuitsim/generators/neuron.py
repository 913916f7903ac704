"""Neurons: sigmoid and ReLU, each as an ideal behavioural source and as a circuit, with a
Python transfer twin.

Scaling (one card, :class:`NeuronCard`, for every kind): the input voltage is the trained
pre-activation ``z`` times ``v_per_unit`` [V]; the output voltage is the activation ``a(z)``
mapped so that ``a = act_full_scale`` gives ``v_full_scale`` [V]::

    v_out = v_full_scale / act_full_scale * a((v_in - v_offset) / v_per_unit)

In a network ``v_full_scale`` is the read voltage, so the next crossbar's rows stay in
[0, v_read] as long as the activation stays within ``act_full_scale`` (always, for sigmoid).

Circuits (``flavour='circuit'``):

* ReLU: a non-inverting precision rectifier ("super-diode"): a saturating op-amp drives a diode
  whose cathode is the rectified node, ``r_load`` to ground keeps that node at 0 V when the
  diode is off; gain ``k = v_full_scale / (act_full_scale · v_per_unit)`` from the feedback
  divider (k ≥ 1) or an input divider (k < 1); a unity-gain op-amp buffer drives the output,
  so that a crossbar row hanging on it cannot lift the "off" level (without it, the column
  wires' few-mV IR drop reaches back through the cells and lifts an off row through
  ``r_load``).  The output clips at ``v_pos`` minus a diode drop.
* Sigmoid: a bipolar differential pair (exact ``tanh``: ``i_c1 = α·i_tail·σ(v_d / V_T)``), its
  input divided down so that ``v_d = z·V_T``; a TIA turns ``i_c1`` into ``v_out`` with
  ``r_f = v_full_scale / (α·i_tail)``.  Base currents and the finite ``bf`` bend the curve a
  little: that is what the circuit flavour is for.

The circuit twins are a lookup table: :func:`characterise_neuron` runs one ngspice ``.dc`` sweep
of the unloaded neuron (1 mV steps over the op-amp rails or ±8 units of pre-activation,
whichever is wider) and the twin interpolates it linearly (cached per card), extrapolating
along the end slopes.  Both circuits drive their output from an op-amp inside a feedback loop
(low output impedance), so the unloaded curve is also the loaded one: a crossbar row on the
output does not change it (checked in the network tests to ~1e-8 V).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from ..circuit import (
    BSource,
    CurrentSource,
    Dc,
    Deck,
    Instance,
    Model,
    RawLine,
    Resistor,
    Subcircuit,
    VoltageSource,
)
from ..errors import ConfigError
from ..readout import relu, sigmoid
from ..spice import simulate
from ..units import require_finite, require_positive, spice_number
from .opamp import PRECISE_DC, OpAmpCard, opamp_elements, opamp_models

ACTIVATIONS = ("sigmoid", "relu")
FLAVOURS = ("ideal", "circuit")

THERMAL_VOLTAGE_27C = 1.380649e-23 * 300.15 / 1.602176634e-19
"""kT/q at ngspice's default 27 °C [V] (≈ 25.865 mV)."""

DEFAULT_NEURON_OPAMP = OpAmpCard("saturating", a0=1e5, v_pos=2.5, v_neg=-2.5)
"""Op-amp of the circuit neurons: gain 1e5, rails ±2.5 V (a 5 V supply)."""


@dataclass(frozen=True)
class NeuronCard:
    """A neuron: activation, flavour, input/output scaling and (circuit flavour) devices."""

    activation: str = "sigmoid"
    """``'sigmoid'`` or ``'relu'``."""
    flavour: str = "ideal"
    """``'ideal'`` (one B-source) or ``'circuit'`` (op-amp / transistor circuit)."""
    v_per_unit: float = 1.0
    """Input volts per unit of pre-activation [V]."""
    v_full_scale: float = 0.2
    """Output voltage for an activation of ``act_full_scale`` [V] (the read voltage)."""
    act_full_scale: float = 1.0
    """Activation value mapped to ``v_full_scale`` [1] (ReLU: the clip level of the rows)."""
    v_offset: float = 0.0
    """Input-referred offset [V] (subtracted from the input voltage)."""
    opamp: OpAmpCard = field(default_factory=lambda: DEFAULT_NEURON_OPAMP)
    """Op-amp of the circuit flavour (keep it ``saturating``: a circuit has rails)."""
    i_tail: float = 100e-6
    """Sigmoid circuit: differential-pair tail current [A]."""
    bjt_bf: float = 200.0
    """Sigmoid circuit: forward current gain of the pair's NPN transistors [1]."""
    bjt_is: float = 1e-16
    """Sigmoid circuit: NPN saturation current [A]."""
    r_divider: float = 1e3
    """Sigmoid circuit: total resistance of the input divider [ohm] (and the base resistance
    mirrored on the reference side)."""
    diode_is: float = 1e-14
    """ReLU circuit: rectifier diode saturation current [A]."""
    r_load: float = 100e3
    """ReLU circuit: output pull-down [ohm] (sets the output while the diode is off)."""
    r_fb: float = 10e3
    """ReLU circuit: feedback / divider resistor scale [ohm]."""

    def __post_init__(self):
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f"NeuronCard.activation must be one of {ACTIVATIONS}, got "
                              f"{self.activation!r}")
        if self.flavour not in FLAVOURS:
            raise ConfigError(f"NeuronCard.flavour must be one of {FLAVOURS}, got "
                              f"{self.flavour!r}")
        require_positive("NeuronCard.v_per_unit", self.v_per_unit, "[V]")
        require_positive("NeuronCard.v_full_scale", self.v_full_scale, "[V]")
        require_positive("NeuronCard.act_full_scale", self.act_full_scale)
        require_finite("NeuronCard.v_offset", self.v_offset)
        for k, unit in (("i_tail", "[A]"), ("bjt_bf", ""), ("bjt_is", "[A]"),
                        ("r_divider", "[ohm]"), ("diode_is", "[A]"), ("r_load", "[ohm]"),
                        ("r_fb", "[ohm]")):
            require_positive(f"NeuronCard.{k}", getattr(self, k), unit)
        if self.flavour == "circuit":
            if not self.opamp.saturates:
                raise ConfigError("NeuronCard(flavour='circuit') needs a saturating op-amp "
                                  "(OpAmpCard(kind='saturating', ...)): a circuit has rails")
            if self.v_full_scale >= self.opamp.v_pos - 0.8:
                raise ConfigError(f"NeuronCard: v_full_scale {self.v_full_scale} V does not fit "
                                  f"under the op-amp rail {self.opamp.v_pos} V minus a diode "
                                  "drop; raise opamp.v_pos or lower v_full_scale")

    @property
    def gain(self) -> float:
        """Small-signal ReLU gain v_out / v_in above zero [V/V]."""
        return self.v_full_scale / (self.act_full_scale * self.v_per_unit)

    def ideal_transfer(self, v_in):
        """What the neuron is meant to compute [V] (the ideal flavour's exact transfer)."""
        x = (np.asarray(v_in, dtype=float) - self.v_offset) / self.v_per_unit
        if self.activation == "sigmoid":
            a = sigmoid(x)
        else:
            a = relu(x)
        return self.v_full_scale / self.act_full_scale * a

    def activation_of(self, z):
        """The trained activation a(z) of a pre-activation ``z`` (no scaling) [1]."""
        z = np.asarray(z, dtype=float)
        return sigmoid(z) if self.activation == "sigmoid" else relu(z)


def neuron_subckt(card: NeuronCard, name: str | None = None) -> Subcircuit:
    """Ports ``(inp, out)``, both referred to ground."""
    name = name or f"neuron_{card.activation}_{card.flavour}"
    if card.flavour == "ideal":
        return _ideal(card, name)
    return _relu_circuit(card, name) if card.activation == "relu" else _sigmoid_circuit(card,
                                                                                       name)


def _ideal(card: NeuronCard, name: str) -> Subcircuit:
    sn = spice_number
    x = "v(inp)" if card.v_offset == 0 else f"(v(inp)-{sn(card.v_offset)})"
    k = card.v_full_scale / card.act_full_scale
    if card.activation == "sigmoid":
        expr = f"{sn(k)}/(1+exp(-{x}/{sn(card.v_per_unit)}))"
    else:
        expr = f"{sn(card.gain)}*max({x},0)"
    return Subcircuit(name, ("inp", "out"), [BSource("Bact", "out", "0", expr)],
                      comment=f"ideal {card.activation} neuron: v_out = {k:g} V * "
                              f"{card.activation}(v_in / {card.v_per_unit:g} V)")


def _offset_input(card: NeuronCard) -> tuple[list, str]:
    if card.v_offset == 0:
        return [], "inp"
    return [VoltageSource("Vos", "inp", "inx", dc=card.v_offset,
                          comment=f"input offset {card.v_offset:g} V")], "inx"


def _relu_circuit(card: NeuronCard, name: str) -> Subcircuit:
    els, x = _offset_input(card)
    k = card.gain
    if k < 1:
        els += [Resistor("Rin1", x, "a", card.r_fb * (1 - k), comment=f"input divider {k:g}"),
                Resistor("Rin2", "a", "0", card.r_fb * k)]
        x = "a"
    fb = "rect"
    if k > 1:
        els += [Resistor("Rg2", "rect", "fb", card.r_fb * (k - 1), comment=f"gain {k:g}"),
                Resistor("Rg1", "fb", "0", card.r_fb)]
        fb = "fb"
    els += opamp_elements(card.opamp, "oa", x, fb, "oa_out")  # fb: divider from rect
    els += [RawLine("D1", "D1 oa_out rect drect", ("oa_out", "rect"),
                    comment="super-diode: the loop removes the diode drop while it conducts"),
            Resistor("Rload", "rect", "0", card.r_load)]
    els += opamp_elements(card.opamp, "ob", "rect", "out", "out")
    return Subcircuit(name, ("inp", "out"), els,
                      models=(Model("drect", "d", {"is": card.diode_is, "n": 1.0}),
                              *opamp_models(card.opamp)),
                      comment=f"ReLU neuron, precision rectifier: v_out = {k:g} * max(v_in, 0), "
                              f"op-amp rails {card.opamp.v_neg:g}..{card.opamp.v_pos:g} V")


def _sigmoid_circuit(card: NeuronCard, name: str) -> Subcircuit:
    els, x = _offset_input(card)
    vt = THERMAL_VOLTAGE_27C
    att = vt / card.v_per_unit
    if not att < 1:
        raise ConfigError(f"NeuronCard.v_per_unit must exceed V_T = {vt:g} V for the "
                          "differential-pair sigmoid")
    alpha = card.bjt_bf / (card.bjt_bf + 1.0)
    r_f = card.v_full_scale / card.act_full_scale / (alpha * card.i_tail)
    r_top, r_bot = card.r_divider * (1 - att), card.r_divider * att
    r_th = r_top * r_bot / card.r_divider
    els += [Resistor("Rdiv1", x, "b1", r_top, comment=f"input divider: v_d = v_in * {att:g}"),
            Resistor("Rdiv2", "b1", "0", r_bot),
            Resistor("Rb2", "b2", "0", r_th, comment="matches the base resistance of Q1"),
            RawLine("Q1", "Q1 c1 b1 e qpair", ("c1", "b1", "e"),
                    comment="differential pair: i_c1 = alpha * i_tail * sigmoid(v_d / V_T)"),
            RawLine("Q2", "Q2 0 b2 e qpair", ("b2", "e")),
            CurrentSource("Itail", "e", "vee", dc=card.i_tail),
            VoltageSource("Vee", "vee", "0", dc=card.opamp.v_neg, comment="negative supply"),
            Resistor("Rf", "c1", "out", r_f, comment="TIA: v_out = r_f * i_c1")]
    els += opamp_elements(card.opamp, "oa", "0", "c1", "out")
    return Subcircuit(name, ("inp", "out"), els,
                      models=(Model("qpair", "npn", {"is": card.bjt_is, "bf": card.bjt_bf}),
                              *opamp_models(card.opamp)),
                      comment=f"sigmoid neuron, bipolar differential pair + TIA: v_out = "
                              f"{card.v_full_scale / card.act_full_scale:g} V * "
                              f"sigmoid(v_in / {card.v_per_unit:g} V)")


# ------------------------------------------------------------------------------ twins


def characterisation_deck(card: NeuronCard, step: float = 1e-3) -> Deck:
    """The unloaded neuron swept over its input range (see :func:`characterise_neuron`) in
    ``step`` [V]."""
    sub = neuron_subckt(card, "neuron")
    lo, hi = _sweep_range(card)
    return Deck(f"DC transfer of a {card.activation} {card.flavour} neuron",
                elements=[VoltageSource("Vin", "in", "0", dc=0.0),
                          Instance("Xn", "neuron", ("in", "out"))],
                subcircuits=[sub], analyses=[Dc("Vin", lo, hi, step)], options=PRECISE_DC)


def _sweep_range(card: NeuronCard) -> tuple[float, float]:
    """The rails, widened to ±8 units of pre-activation (a sense stage may drive further)."""
    span = 8.0 * card.v_per_unit + abs(card.v_offset)
    return min(float(card.opamp.v_neg), -span), max(float(card.opamp.v_pos), span)


CHARACTERISATION_TIMEOUT_S = 60.0
"""Default ngspice timeout [s] of a neuron characterisation (callers pass the user's)."""


@functools.lru_cache(maxsize=64)
def characterise_neuron(card: NeuronCard, step: float = 1e-3, runner: str = "batch",
                        timeout_s: float = CHARACTERISATION_TIMEOUT_S
                        ) -> tuple[np.ndarray, np.ndarray]:
    """One ngspice ``.dc`` sweep of the neuron: ``(v_in, v_out)`` arrays [V] (cached);
    ``timeout_s`` [s] for the ngspice run."""

    res = simulate(characterisation_deck(card, step), runner=runner, timeout_s=timeout_s)
    v_in = np.asarray(res.axis, dtype=float)
    v_out = np.asarray(res["v(out)"], dtype=float)
    v_in.setflags(write=False)
    v_out.setflags(write=False)
    return v_in, v_out


def neuron_transfer(card: NeuronCard, v_in, timeout_s: float | None = None):
    """The neuron's DC transfer [V]: exact for ``ideal``; for ``circuit`` linear interpolation
    in the ngspice characterisation (run with ``timeout_s`` [s], default
    :data:`CHARACTERISATION_TIMEOUT_S`), extrapolated beyond it along the end slopes."""
    if card.flavour == "ideal":
        return card.ideal_transfer(v_in)
    grid, out = characterise_neuron(
        card, timeout_s=CHARACTERISATION_TIMEOUT_S if timeout_s is None else timeout_s)
    v = np.asarray(v_in, dtype=float)
    y = np.interp(v, grid, out)
    lo_slope = (out[1] - out[0]) / (grid[1] - grid[0])
    hi_slope = (out[-1] - out[-2]) / (grid[-1] - grid[-2])
    y = np.where(v < grid[0], out[0] + lo_slope * (v - grid[0]), y)
    return np.where(v > grid[-1], out[-1] + hi_slope * (v - grid[-1]), y)


