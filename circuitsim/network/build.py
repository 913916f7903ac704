"""From a trained ``torch.nn.Sequential`` to a planned circuit network.

:func:`build_network` checks the model, maps every ``Linear`` with the project's mapping
(:func:`circuitsim.mapping.map_layer`), chooses the voltage scaling and the sense-stage gains
from the mapping, and returns a :class:`~circuitsim.network.network.Network` that writes the
ngspice deck and runs the behavioral twin.

Voltage scaling, per layer l (inputs a_i, weights W, bias b, pre-activation z = W a + b):

* rows: ``v_i = a_i · c_l · v_read`` with ``c_0 = 1`` (features in [0, 1]), ``c_l = 1`` after
  a sigmoid and ``1 / relu_full_scale`` after a ReLU; the bias row is driven at ``v_read``;
* mapping: the layer is mapped as ``[W | c_l · b]`` so that the differential column current
  is ``I+ - I- = c_l · v_read · z / w_per_siemens`` exactly (ideal array);
* sense stage: transimpedance ``R_t = v_per_unit · w_per_siemens / (c_l · v_read)`` [V/A], so
  the neuron input is ``z · v_per_unit`` [V]; the column TIAs get ``r_a = tia_swing / I_max``
  (I_max: the largest column current with every row at v_read) and the difference amplifier
  ``r2 / r1 = R_t / r_a``;
* neuron: output ``v_read · a(z) / act_full_scale`` (act_full_scale 1 for sigmoid,
  ``relu_full_scale`` for ReLU) drives the next layer's rows: within [0, v_read].
"""

from __future__ import annotations

import numpy as np

from ..crossbar.wires import Wires, wire_fields
from ..errors import ConfigError
from ..generators.neuron import NeuronCard
from ..generators.sense_amp import DiffSenseCard
from ..mapping import MappingConfig, map_layer
from ..mapping.converters import tile_ranges
from ..mapping.walk import LayerSpec, software_layers, walk_sequential
from .config import CircuitConfig
from .network import Network
from .plan import LayerPlan

SUPPORTED = ("Linear / Conv2d layers with Sigmoid or ReLU neurons (and MaxPool2d / AvgPool2d "
             "after a Conv2d), a final Linear (argmax)")


def parse_model(model) -> list[LayerSpec]:
    """The crossbar layers of an ``nn.Sequential`` (:func:`circuitsim.mapping.walk.
    walk_sequential`) that the circuit can realise; raises :class:`ConfigError` naming the
    offending layer."""
    from torch import nn

    if not isinstance(model, nn.Sequential):
        raise ConfigError(f"the model must be a torch.nn.Sequential of {SUPPORTED}; got "
                          f"{type(model).__name__}")
    specs = walk_sequential(model)
    for k, s in enumerate(specs):
        if s.activation not in (None, "sigmoid", "relu"):
            idx = s.last_index if s.pool is None else s.last_index - 1
            raise ConfigError(f"layer {idx} ({type(model[idx]).__name__}) is not supported: "
                              f"the circuit network realises {SUPPORTED}; replace or remove it")
        if k and specs[k - 1].out_features != s.weight.shape[1] and s.kind == "linear":
            raise ConfigError(f"layer {s.module_index} (Linear): takes {s.weight.shape[1]} "
                              f"inputs but layer {specs[k - 1].module_index} gives "
                              f"{specs[k - 1].out_features}; the shapes must chain")
    last = specs[-1]
    if last.activation is not None or last.kind != "linear":
        raise ConfigError(f"layer {last.last_index + 1} ({last.activation or last.kind}): the "
                          "last Linear is read out by argmax and must not be followed by a "
                          "neuron; drop it")
    return specs


def _check_mapping(mapping, circuit: CircuitConfig) -> bool:
    """Validate the mapping for a circuit; returns whether the layers get a digital periphery
    (tiles, converters or ``circuit.digital_periphery``).  ``g_min = 0`` (unprogrammed cells
    hold the zero weights) is a circuit whose 0 S cells are open: ``circuit.g_open`` in both
    worlds (:meth:`~circuitsim.crossbar.wires.Wires.open_cells`)."""
    if not isinstance(mapping, MappingConfig):
        raise ConfigError(f"mapping must be a circuitsim.mapping.MappingConfig, got "
                          f"{type(mapping).__name__}")
    digital = circuit.digital_periphery or any(
        getattr(mapping, k) is not None for k in ("tile_size", "dac_bits", "adc_bits"))
    if digital and circuit.neuron_flavour != "ideal":
        raise ConfigError("CircuitConfig.neuron_flavour must be 'ideal' with tiles or "
                          "converters (MappingConfig.tile_size / dac_bits / adc_bits, "
                          "CircuitConfig.digital_periphery): a tiled layer's partial sums are "
                          "added digitally after the ADC, so its activation is digital too and "
                          "there is no analog node for a neuron circuit; drop the tiles and "
                          "converters (and digital_periphery) to simulate circuit neurons")
    if digital and circuit.neuron_v_offset != 0:
        raise ConfigError("CircuitConfig.neuron_v_offset must be 0 with tiles or converters "
                          "(or digital_periphery): the activation is computed digitally, there "
                          "is no analog neuron to have an offset; drop the tiles and "
                          "converters to simulate a neuron offset")
    return digital


def _circuit_wires(circuit: CircuitConfig, nonideal) -> CircuitConfig:
    """One source of truth for the wires: ``nonideal.ir_drop`` (an
    :class:`~circuitsim.nonideal.IRDrop`, itself a :class:`~circuitsim.crossbar.wires.Wires`)
    becomes the circuit's wires; refused only when the circuit already has other wires.  A
    default ``IRDrop()`` (ideal wires, the identity) says nothing and leaves the circuit's."""
    ir = getattr(nonideal, "ir_drop", None)
    if not isinstance(ir, Wires) or ir.wires in (circuit.wires, Wires()):
        return circuit
    if circuit.wires != Wires():
        raise ConfigError(f"nonideal.ir_drop ({ir.wires}) and the CircuitConfig's wires "
                          f"({circuit.wires}) differ: the circuit has one set of wires; give "
                          "them once (CircuitConfig r_wire_row / r_wire_col / r_source / "
                          "r_sense / c_wire_* / g_open, or nonideal.ir_drop), or make them "
                          "equal")
    return circuit.replace(**wire_fields(ir))


def _check_device_range(plan_g: np.ndarray, lo: float, hi: float, where: str) -> None:
    tol = 1e-9 * hi
    bad = (plan_g < lo - tol) | (plan_g > hi + tol) | ~np.isfinite(plan_g)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise ConfigError(f"{where}: {int(bad.sum())} conductance(s) lie outside the device "
                          f"range [{lo:g}, {hi:g}] S, e.g. row {r}, column {c}: "
                          f"{plan_g[r, c]:g} S; narrow MappingConfig.g_min/g_max to the "
                          "device or widen CircuitConfig.device_range")


def _check_calibration(calibration, n_in: int) -> np.ndarray:
    """Calibration inputs as (N, n_in) float64 in [0, 1], or :class:`ConfigError`."""
    try:
        x = np.array(calibration, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"calibration must be an array of inputs (N, {n_in}): {exc}") from None
    if x.ndim != 2 or x.shape[1] != n_in or x.shape[0] < 1:
        raise ConfigError(f"calibration must have shape (N, {n_in}) (one row per input, as the "
                          f"first Linear takes), got {x.shape}")
    if not np.isfinite(x).all() or x.min() < 0 or x.max() > 1:
        raise ConfigError("calibration inputs must be finite features in [0, 1], like the "
                          "network's inputs; rescale the data")
    return x


def relu_scales(model, calibration, margin: float = 1.05) -> list[float]:
    """Largest activation of every ReLU layer over the calibration inputs, times ``margin``."""
    specs = walk_sequential(model)
    outs = software_layers(model, calibration)
    return [float(o.max()) * margin if float(o.max()) > 0 else 1.0
            for s, o in zip(specs, outs, strict=True) if s.activation == "relu"]


def _check_nonideal(nonideal) -> float | None:
    """Validate a NonIdealityConfig for the circuit; returns the sinh ``v0`` of its read I-V
    (or None).  ``ir_drop`` is the circuit's wires (:func:`_circuit_wires`); read noise
    enters at the ADC input of a digital periphery, or as current sources at the sense
    inputs of an all-analog network (the same seeded sample in both worlds)."""
    if nonideal is None:
        return None
    from ..nonideal import NonIdealityConfig

    if not isinstance(nonideal, NonIdealityConfig):
        raise ConfigError(f"nonideal must be a circuitsim.nonideal.NonIdealityConfig, got "
                          f"{type(nonideal).__name__}")
    return None if nonideal.iv is None else float(nonideal.iv.v0)


def plan_layers(model, circuit: CircuitConfig, mapping, calibration=None, nonideal=None,
                draw: int = 0) -> list[LayerPlan]:
    if not isinstance(circuit, CircuitConfig):
        raise ConfigError(f"circuit must be a CircuitConfig, got {type(circuit).__name__}")
    circuit = _circuit_wires(circuit, nonideal)
    digital = _check_mapping(mapping, circuit)
    specs = parse_model(model)
    if any(s.kind == "conv2d" for s in specs):
        if circuit.neuron_flavour != "ideal" or circuit.neuron_v_offset != 0:
            raise ConfigError("a CNN is co-simulated with digital activations (each conv "
                              "layer's outputs are re-arranged into the next layer's patches "
                              "in Python): set CircuitConfig.neuron_flavour='ideal' and "
                              "neuron_v_offset=0")
        digital = True
    _check_nonideal(nonideal)
    parsed = [(s.weight, s.bias, s.activation, s.module_index) for s in specs]
    fs_relu: list[float] = []
    if calibration is not None:
        calibration = _check_calibration(calibration, _n_features(specs[0]))
    if calibration is not None and any(p[2] == "relu" for p in parsed):
        fs_relu = relu_scales(model, calibration)
    lo, hi = circuit.device_range or (mapping.g_min, mapping.g_max)
    v_read = mapping.v_read
    # input scale of every layer and the activation full scale of its neuron
    scales, c, relu_k = [], 1.0, 0
    for _, _, act, _ in parsed:
        afs = 1.0
        if act == "relu":
            afs = fs_relu[relu_k] if fs_relu else circuit.relu_full_scale
            relu_k += 1
        scales.append((c, afs))
        c = 1.0 / afs
    mapped = []
    for (w, b, act, idx), (c, _), sp in zip(parsed, scales, specs, strict=True):
        ml = map_layer(w, b * c, mapping, activation=act, kind=sp.kind, conv=sp.conv)
        kind = "Linear" if sp.kind == "linear" else "Conv2d"
        for g in (ml.g_pos, ml.g_neg):
            _check_device_range(g, lo, hi, f"layer {idx} ({kind} {w.shape[1]}->{w.shape[0]})")
        mapped.append(ml)
    programmed = nonideal.apply(mapped, draw) if nonideal is not None else mapped
    plans: list[LayerPlan] = []
    for n, ((w, b, act, _), (c, afs), ml, pl) in enumerate(
            zip(parsed, scales, mapped, programmed, strict=True), start=1):
        g = np.empty((ml.g_pos.shape[0], 2 * ml.g_pos.shape[1]))
        g[:, 0::2], g[:, 1::2] = pl.g_pos, pl.g_neg
        g = circuit.open_cells(g)
        wps = np.broadcast_to(np.asarray(ml.w_per_siemens, dtype=float), (w.shape[0],))
        r_t = circuit.v_per_unit * wps / (c * v_read)
        t = mapping.tile_size
        row_t, col_t = tile_ranges(g.shape[0], t), tile_ranges(w.shape[0], t)
        tile_sense = tuple(tuple(_sense_cards(circuit, g[r0:r1, 2 * c0:2 * c1], v_read,
                                              r_t[c0:c1])
                                 for c0, c1 in col_t) for r0, r1 in row_t)
        sense = (tile_sense[0][0] if len(row_t) == len(col_t) == 1
                 else _sense_cards(circuit, g, v_read, r_t))
        neuron = None
        if act is not None and not digital:
            neuron = NeuronCard(act, circuit.neuron_flavour, v_per_unit=circuit.v_per_unit,
                                v_full_scale=v_read, act_full_scale=afs,
                                v_offset=circuit.neuron_v_offset, opamp=circuit.neuron_opamp)
        fs = None
        if mapping.adc_bits is not None and mapping.adc_range == "full-scale":
            # the worst case: every row of the tile at v_read, every cell at g_max - g_min
            fs = np.array([float(r_t.max()) * v_read * (r1 - r0) * (mapping.g_max - mapping.g_min)
                           for r0, r1 in row_t])
        plans.append(LayerPlan(n, w, b, act, ml, c, g, sense, neuron, afs, row_t, col_t,
                               tile_sense, digital, mapping.dac_bits, mapping.adc_bits, fs,
                               conv=specs[n - 1].conv, pool=specs[n - 1].pool))
    return plans


def _n_features(spec: LayerSpec) -> int:
    """Network inputs of a first layer (conv: C·H·W of the image)."""
    return int(np.prod(spec.conv["in_shape"])) if spec.conv is not None else \
        int(spec.weight.shape[1])


def _sense_cards(circuit: CircuitConfig, g: np.ndarray, v_read: float, r_t) -> tuple:
    """The differential sense stage of every output of one tile: column TIAs sized so that
    the tile's largest column current (every row at v_read) gives ``tia_swing``, the
    difference amplifier for the total transimpedance ``r_t`` of each output."""
    r_a = circuit.tia_swing / (v_read * float(g.sum(axis=0).max()))
    return tuple(DiffSenseCard(r_a=r_a, r1=circuit.diff_r1, r2=circuit.diff_r1 * rt / r_a,
                               opamp=circuit.sense_opamp) for rt in r_t)


def build_network(model, circuit: CircuitConfig | None = None, mapping=None, *,
                  calibration=None, nonideal=None, draw: int = 0, name: str = "network"):
    """Plan the circuit of a trained ``nn.Sequential`` (Linear + Sigmoid/ReLU, final Linear).

    ``mapping``: a :class:`circuitsim.mapping.MappingConfig` (default: g 1–100 µS, v_read
    0.2 V; ``g_min = 0`` cells are open, ``circuit.g_open``).  ``calibration``: optional
    inputs (N, features) in [0, 1]; for ReLU networks it sets each layer's full scale to its
    largest activation (+5 %) instead of ``circuit.relu_full_scale``.  ``nonideal``: optional
    :class:`circuitsim.nonideal.NonIdealityConfig`; its conductance transforms (programming,
    stuck-at, drift, ...) give the programmed arrays (Monte-Carlo draw ``draw``), its ``iv``
    part the cells' sinh read nonlinearity, its ``ir_drop`` the circuit's wires (refused if
    ``circuit`` has other wires), its ``read_noise`` a seeded sample at the ADC input (digital
    periphery) or at the sense inputs (all-analog).  The device-range check applies to
    the mapped targets.  Raises :class:`ConfigError` before anything is simulated."""
    circuit = CircuitConfig() if circuit is None else circuit
    mapping = MappingConfig() if mapping is None else mapping
    if isinstance(circuit, CircuitConfig):
        circuit = _circuit_wires(circuit, nonideal)
    plans = plan_layers(model, circuit, mapping, calibration, nonideal, draw)
    net = Network(plans, circuit, mapping, name=name, sinh_v0=_check_nonideal(nonideal),
                  nonideal=nonideal, draw=draw)
    if mapping.adc_bits is None or mapping.adc_range == "full-scale":
        return net
    if calibration is None:
        raise ConfigError("MappingConfig.adc_bits with adc_range='calibrated': pass "
                          "calibration= inputs (a training subset) to set the ADC full scales "
                          "(never the evaluated images), or use adc_range='full-scale'")
    x_cal = _check_calibration(calibration, net.n_features)
    calibrated = Network(net.calibrated_plans(x_cal), circuit, mapping, name=name,
                         sinh_v0=net.sinh_v0, nonideal=nonideal, draw=draw,
                         calibration_size=len(x_cal))
    # the same arrays (only the ADC full scales changed): keep the factored tile engines
    # (~5 s each for a 128×256 1T1R tile)
    calibrated._solvers = net._solvers
    return calibrated
