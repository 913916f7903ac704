"""CircuitConfig: everything about the circuit of a network that the mapping does not say."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ..cards.access import access_from_dict, access_to_dict
from ..cards.cell import CellLaw
from ..cards.transistor import AccessTransistor
from ..crossbar.wires import Wires
from ..devices.va_cells import cell_law_from_dict
from ..errors import ConfigError
from ..generators.neuron import DEFAULT_NEURON_OPAMP, FLAVOURS
from ..generators.opamp import CLAMP_OFFSET, OpAmpCard
from ..units import require_finite, require_positive

SENSE_OPAMP = OpAmpCard("ideal", a0=1e6)
"""Default sense-amplifier op-amp: an ideal VCVS of gain 1e6."""


@dataclass(frozen=True)
class CircuitConfig(Wires):
    """The circuit around the mapped conductances: parasitics (the keyword fields of
    :class:`~circuitsim.crossbar.wires.Wires`: ``r_wire_row``, ``r_wire_col``, ``c_wire_row``,
    ``c_wire_col``, ``r_source``, ``r_sense``, ``g_open``), access devices, sense amplifiers,
    neurons and the voltage scaling between layers.

    Voltage scaling (see :mod:`circuitsim.network`): a feature x ∈ [0, 1] drives its row at
    ``x·v_read``; the bias row sits at ``v_read``; the differential sense stage's
    transimpedance makes the neuron input ``z·v_per_unit`` for the trained pre-activation z;
    the neuron output ``v_read·a(z)/act_full_scale`` drives the next layer's rows (sigmoid:
    act_full_scale 1; ReLU: ``relu_full_scale``), so rows stay within [0, v_read]."""

    access: AccessTransistor | None = None
    """None = 1R cells; an AccessTransistor = 1T1R (word lines held at its v_wordline)."""
    cell: CellLaw | None = None
    """None = the built-in memristor read law; a :class:`~circuitsim.cards.cell.CellLaw` (e.g.
    Verilog-A cells, :class:`circuitsim.devices.va_cells.VerilogACellLaw`) in every array, in
    SPICE and in the twin; the mapped conductances must lie in its range."""
    sense_opamp: OpAmpCard = field(default_factory=lambda: SENSE_OPAMP)
    """Op-amp macro model of the sense stage (TIAs and difference amplifier)."""
    tia_swing: float = 0.5
    """Output of a column TIA for the layer's worst-case column current (every row at
    v_read) [V]; sets the column TIAs' feedback r_a (the difference amplifier adds the rest
    of the gain)."""
    diff_r1: float = 10e3
    """Difference-amplifier input resistors [ohm] (r2 follows from the gain)."""
    neuron_flavour: str = "ideal"
    """``'ideal'`` (B-source) or ``'circuit'`` (op-amp / transistor neurons)."""
    neuron_opamp: OpAmpCard = field(default_factory=lambda: DEFAULT_NEURON_OPAMP)
    """Op-amp of the circuit neurons (saturating; its rails bound the neuron outputs)."""
    neuron_v_offset: float = 0.0
    """Input-referred offset of every neuron [V] (both flavours; subtracted from the neuron
    input)."""
    v_per_unit: float = 0.25
    """Neuron input volts per unit of trained pre-activation [V]; the output layer's voltages
    are the logits times this.  0.25 V keeps pre-activations of ±10 inside ±2.5 V rails."""
    relu_full_scale: float = 4.0
    """ReLU networks: the activation that maps to a row voltage of v_read [1] (larger
    activations overdrive the next rows; ``build_network(..., calibration=X)`` measures it)."""
    t_read: float = 10e-9
    """Read time of one inference per layer [s]: the read energy is the DC read power (Σ V·I
    of the row drivers, from ngspice or the twin) times it.  10 ns is NeuroSim MLP's
    ``readPulseWidth`` (Param.cpp, next to its 0.5 V read and 15 kΩ access resistance) [U: a
    modelling default, not a measured macro]; settling of the lines is not included."""
    device_range: tuple[float, float] | None = None
    """Programmable conductance range of the device (g_lo, g_hi) [S]; None = the mapping's
    (g_min, g_max).  Every mapped conductance must lie inside it."""
    digital_periphery: bool = False
    """True: every layer gets a digital periphery even without converters (ideal DAC / ADC
    unless ``MappingConfig.dac_bits`` / ``adc_bits`` say otherwise): the analog tiles are
    co-simulated one layer at a time and the activation is computed digitally after the sense
    stage, as the studies' read path does.  False: a layer without tiles or converters is an
    all-analog crossbar → sense stage → neuron chain in one deck."""

    def __post_init__(self):
        super().__post_init__()
        if self.access is not None and not isinstance(self.access, AccessTransistor):
            raise ConfigError("CircuitConfig.access must be None or a "
                              "circuitsim.cards.AccessTransistor")
        if self.cell is not None and not isinstance(self.cell, CellLaw):
            raise ConfigError("CircuitConfig.cell must be None or a "
                              "circuitsim.cards.cell.CellLaw (e.g. "
                              "circuitsim.devices.va_cells.VerilogACellLaw)")
        if not isinstance(self.sense_opamp, OpAmpCard):
            raise ConfigError("CircuitConfig.sense_opamp must be an OpAmpCard")
        if not isinstance(self.neuron_opamp, OpAmpCard):
            raise ConfigError("CircuitConfig.neuron_opamp must be an OpAmpCard")
        if self.sense_opamp.v_offset != 0:
            # the column virtual grounds would sit at the offset: the crossbar twin senses
            # into 0 V, so SPICE and twin would differ (measured: 1 mV offset -> 3 % column
            # current and 4 mV output differences on the 8-6-3 test network)
            raise ConfigError(f"CircuitConfig.sense_opamp.v_offset must be 0, got "
                              f"{self.sense_opamp.v_offset!r} V: the behavioral twin does not "
                              "model an offset of the column virtual grounds; model offsets "
                              "with CircuitConfig.neuron_v_offset")
        if not isinstance(self.digital_periphery, bool):
            raise ConfigError(f"CircuitConfig.digital_periphery must be True or False, got "
                              f"{self.digital_periphery!r}")
        require_positive("CircuitConfig.tia_swing", self.tia_swing, "[V]")
        require_positive("CircuitConfig.diff_r1", self.diff_r1, "[ohm]")
        if self.neuron_flavour not in FLAVOURS:
            raise ConfigError(f"CircuitConfig.neuron_flavour must be one of {FLAVOURS}, got "
                              f"{self.neuron_flavour!r}")
        require_positive("CircuitConfig.v_per_unit", self.v_per_unit, "[V]")
        require_finite("CircuitConfig.neuron_v_offset", self.neuron_v_offset)
        require_positive("CircuitConfig.relu_full_scale", self.relu_full_scale)
        require_positive("CircuitConfig.t_read", self.t_read, "[s]")
        if self.device_range is not None:
            if isinstance(self.device_range, str) or len(self.device_range) != 2:
                raise ConfigError("CircuitConfig.device_range must be None or a pair "
                                  f"(g_lo, g_hi) [S], got {self.device_range!r}")
            lo = require_positive("CircuitConfig.device_range[0]", self.device_range[0], "[S]")
            hi = require_positive("CircuitConfig.device_range[1]", self.device_range[1], "[S]")
            if not hi > lo:
                raise ConfigError(f"CircuitConfig.device_range must be (g_lo, g_hi) with "
                                  f"g_hi > g_lo [S], got {self.device_range!r}")
            object.__setattr__(self, "device_range", (lo, hi))
        if self.sense_opamp.saturates:
            # column TIA outputs lie in [-tia_swing, 0]: keep them off the lower clamp diode
            limit = -self.sense_opamp.v_neg - CLAMP_OFFSET - 0.2
            if self.tia_swing >= limit:
                raise ConfigError(f"CircuitConfig.tia_swing {self.tia_swing} V must stay below "
                                  f"{limit:g} V (the sense op-amp's negative rail "
                                  f"{self.sense_opamp.v_neg} V less its clamp offset and "
                                  "0.2 V headroom), so that the columns keep a linear virtual "
                                  "ground; lower tia_swing or widen the rails")

    def replace(self, **changes) -> CircuitConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """JSON-able description (for the manifest)."""
        d = dataclasses.asdict(dataclasses.replace(self, access=None, cell=None))
        if self.access is not None:
            d["access"] = access_to_dict(self.access)
        if self.cell is not None:
            d["cell"] = self.cell.describe()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> CircuitConfig:
        """Inverse of :meth:`to_dict`: the access device comes back as the card type it was
        (level-1, BSIM4 card, characterised BSIM4 table); Verilog-A cells are re-measured in
        ngspice from their description (:func:`circuitsim.devices.va_cells.cell_law_from_dict`:
        one ``.dc``)."""
        d = dict(d)
        if d.get("access") is not None:
            d["access"] = access_from_dict(d["access"], "CircuitConfig.access")
        if d.get("cell") is not None:
            d["cell"] = cell_law_from_dict(d["cell"])
        for k in ("sense_opamp", "neuron_opamp"):
            if isinstance(d.get(k), dict):
                d[k] = OpAmpCard(**d[k])
        if d.get("device_range") is not None:
            d["device_range"] = tuple(d["device_range"])
        return cls(**d)
