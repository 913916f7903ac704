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

from ..errors import ConfigError
from ..generators.neuron import NeuronCard
from ..generators.sense_amp import DiffSenseCard
from ..mapping import MappingConfig, map_layer
from ..mapping.converters import tile_ranges
from .config import CircuitConfig
from .network import Network
from .plan import LayerPlan

SUPPORTED = "Linear layers with Sigmoid or ReLU neurons between them, a final Linear (argmax)"


def parse_model(model) -> list[tuple[np.ndarray, np.ndarray, str | None, int]]:
    """``[(W, b, activation, module_index), ...]`` from an ``nn.Sequential``; raises
    :class:`ConfigError` naming the offending layer."""
    from torch import nn

    if not isinstance(model, nn.Sequential):
        raise ConfigError(f"the model must be a torch.nn.Sequential of {SUPPORTED}; got "
                          f"{type(model).__name__}")
    layers: list[list] = []
    for idx, m in enumerate(model):
        where = f"layer {idx} ({type(m).__name__})"
        if isinstance(m, nn.Linear):
            w = m.weight.detach().cpu().double().numpy().copy()
            b = (np.zeros(m.out_features) if m.bias is None
                 else m.bias.detach().cpu().double().numpy().copy())
            bad = ~np.isfinite(w)
            if bad.any() or not np.isfinite(b).all():
                what = "weight" if bad.any() else "bias"
                raise ConfigError(f"{where}: the {what} holds NaN or inf values; retrain or "
                                  "load a valid checkpoint")
            if layers and layers[-1][0].shape[0] != w.shape[1]:
                prev = layers[-1]
                raise ConfigError(f"{where}: takes {w.shape[1]} inputs but layer {prev[3]} "
                                  f"gives {prev[0].shape[0]} outputs; the shapes must chain")
            layers.append([w, b, None, idx])
        elif isinstance(m, nn.Sigmoid | nn.ReLU):
            act = "sigmoid" if isinstance(m, nn.Sigmoid) else "relu"
            if not layers or layers[-1][2] is not None:
                raise ConfigError(f"{where}: a neuron must follow a Linear layer")
            layers[-1][2] = act
        elif isinstance(m, nn.Flatten | nn.Identity) and not layers:
            continue
        else:
            raise ConfigError(f"{where} is not supported: the circuit network realises "
                              f"{SUPPORTED}; replace or remove it")
    if not layers:
        raise ConfigError(f"the model has no Linear layer; it must be {SUPPORTED}")
    if layers[-1][2] is not None:
        raise ConfigError(f"layer {layers[-1][3] + 1} ({layers[-1][2]}): the last Linear is "
                          "read out by argmax and must not be followed by a neuron; drop it")
    return [tuple(x) for x in layers]


def _check_mapping(mapping, circuit: CircuitConfig) -> bool:
    """Validate the mapping for a circuit; returns whether the layers get a digital periphery
    (tiles or converters)."""
    if not isinstance(mapping, MappingConfig):
        raise ConfigError(f"mapping must be a circuitsim.mapping.MappingConfig, got "
                          f"{type(mapping).__name__}")
    if mapping.g_min <= 0:
        raise ConfigError("MappingConfig.g_min must be > 0 for a circuit network: every cell is "
                          "a memristor with a finite resistance (e.g. g_min = g_max / 100)")
    digital = any(getattr(mapping, k) is not None for k in ("tile_size", "dac_bits",
                                                           "adc_bits"))
    if digital and circuit.neuron_flavour != "ideal":
        raise ConfigError("CircuitConfig.neuron_flavour must be 'ideal' with tiles or "
                          "converters (MappingConfig.tile_size / dac_bits / adc_bits): the "
                          "activation is computed digitally after the ADC, there is no analog "
                          "neuron circuit; drop the converters to simulate circuit neurons")
    if digital and circuit.neuron_v_offset != 0:
        raise ConfigError("CircuitConfig.neuron_v_offset must be 0 with tiles or converters: "
                          "the activation is digital (no analog neuron to have an offset)")
    return digital


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
    import torch

    x = torch.as_tensor(np.asarray(calibration, dtype=np.float64))
    out = []
    with torch.no_grad():
        h = x
        for m in model:
            h = m.double()(h) if hasattr(m, "double") else m(h)
            if isinstance(m, torch.nn.ReLU):
                out.append(float(h.max()) * margin if float(h.max()) > 0 else 1.0)
    return out


def _check_nonideal(nonideal) -> float | None:
    """Validate a NonIdealityConfig for the circuit; returns the sinh ``v0`` of its read I-V
    (or None)."""
    if nonideal is None:
        return None
    from ..nonideal import NonIdealityConfig

    if not isinstance(nonideal, NonIdealityConfig):
        raise ConfigError(f"nonideal must be a circuitsim.nonideal.NonIdealityConfig, got "
                          f"{type(nonideal).__name__}")
    if nonideal.ir_drop is not None and not nonideal.ir_drop.is_identity:
        raise ConfigError("nonideal.ir_drop: the circuit network has real wires; set "
                          "CircuitConfig.r_wire_row / r_wire_col instead")
    if nonideal.read_noise is not None and not nonideal.read_noise.is_identity:
        raise ConfigError("nonideal.read_noise: a DC circuit simulation has no read noise; "
                          "leave it None for the circuit network")
    return None if nonideal.iv is None else float(nonideal.iv.v0)


def plan_layers(model, circuit: CircuitConfig, mapping, calibration=None, nonideal=None,
                draw: int = 0) -> list[LayerPlan]:
    if not isinstance(circuit, CircuitConfig):
        raise ConfigError(f"circuit must be a CircuitConfig, got {type(circuit).__name__}")
    digital = _check_mapping(mapping, circuit)
    _check_nonideal(nonideal)
    parsed = parse_model(model)
    fs_relu: list[float] = []
    if calibration is not None:
        calibration = _check_calibration(calibration, parsed[0][0].shape[1])
    if calibration is not None and any(p[2] == "relu" for p in parsed):
        import copy

        fs_relu = relu_scales(copy.deepcopy(model), calibration)
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
    for (w, b, act, idx), (c, _) in zip(parsed, scales, strict=True):
        ml = map_layer(w, b * c, mapping, activation=act)
        for g in (ml.g_pos, ml.g_neg):
            _check_device_range(g, lo, hi, f"layer {idx} (Linear {w.shape[1]}->{w.shape[0]})")
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
                               tile_sense, digital, mapping.dac_bits, mapping.adc_bits, fs))
    return plans


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

    ``mapping``: a :class:`circuitsim.mapping.MappingConfig` with ``g_min > 0`` (default:
    g 1–100 µS, v_read 0.2 V).  ``calibration``: optional inputs (N, features) in [0, 1]; for
    ReLU networks it sets each layer's full scale to its largest activation (+5 %) instead of
    ``circuit.relu_full_scale``.  ``nonideal``: optional
    :class:`circuitsim.nonideal.NonIdealityConfig`; its conductance transforms (programming,
    stuck-at, drift, ...) give the programmed arrays (Monte-Carlo draw ``draw``), its ``iv``
    part the cells' sinh read nonlinearity; ``ir_drop`` and ``read_noise`` are refused (wires
    are CircuitConfig's; a DC simulation has no noise).  The device-range check applies to
    the mapped targets.  Raises :class:`ConfigError` before anything is simulated."""
    circuit = CircuitConfig() if circuit is None else circuit
    mapping = MappingConfig() if mapping is None else mapping
    plans = plan_layers(model, circuit, mapping, calibration, nonideal, draw)
    net = Network(plans, circuit, mapping, name=name, sinh_v0=_check_nonideal(nonideal),
                  nonideal=nonideal, draw=draw)
    if mapping.adc_bits is None or mapping.adc_range == "full-scale":
        return net
    if calibration is None:
        raise ConfigError("MappingConfig.adc_bits with adc_range='calibrated': pass "
                          "calibration= inputs (a training subset) to set the ADC full scales "
                          "(never the evaluated images), or use adc_range='full-scale'")
    x_cal = _check_calibration(calibration, plans[0].n_in)
    calibrated = Network(net.calibrated_plans(x_cal), circuit, mapping, name=name,
                         sinh_v0=net.sinh_v0, nonideal=nonideal, draw=draw,
                         calibration_size=len(x_cal))
    # the same arrays (only the ADC full scales changed): keep the factored tile engines
    # (~5 s each for a 128×256 1T1R tile)
    calibrated._solvers = net._solvers
    return calibrated
