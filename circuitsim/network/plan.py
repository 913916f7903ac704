"""LayerPlan: everything both worlds need for one layer of a circuit network.

A plan holds the programmed conductances, the tile layout (which rows and outputs each tile
holds; tile boundaries cut the wires), the sense stage of every tile, the neuron, and the
digital periphery (DAC / ADC resolution and the calibrated ADC full scales).  The ngspice deck
and the behavioral twin read the same plan, and both apply its digital steps through
:func:`rows_from_activations` and :func:`digital_step` — one text, so a difference between them
is always analog.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..generators.neuron import NeuronCard
from ..mapping.converters import adc, dac
from ..mapping.walk import pool_forward, unfold_patches
from ..readout import activate

__all__ = ["LayerPlan", "digital_step", "layer_outputs", "layer_rows", "rows_from_activations"]


@dataclass(frozen=True, eq=False)
class LayerPlan:
    """One layer of the circuit network (index ``l`` from 1; names ``l{index}_...``)."""

    index: int
    weight: np.ndarray
    """Trained weights (out, in)."""
    bias: np.ndarray
    """Trained bias (out,)."""
    activation: str | None
    """``'sigmoid'``, ``'relu'`` or None (the output layer)."""
    mapped: object
    """The :class:`circuitsim.mapping.MappedLayer` of ``[W | in_scale · b]`` (the targets,
    before any non-ideality)."""
    in_scale: float
    """c_l: a row carries ``activation · c_l · v_read`` [1]."""
    conductance: np.ndarray
    """(in + 1, 2·out) programmed conductances [S]: column 2j = G+ of output j, 2j+1 = G-;
    last row = bias."""
    sense: tuple
    """One :class:`DiffSenseCard` per output of the untiled layer (= ``tile_sense[0][0]``)."""
    neuron: NeuronCard | None
    """The analog neuron after the sense stage (None for the output layer and for layers with
    a digital periphery, whose activation is computed digitally)."""
    act_full_scale: float
    """Activation that maps to v_read at this layer's neuron output [1]."""
    row_tiles: tuple = ()
    """``((r0, r1), ...)``: the rows (inputs, then the bias row) of each row tile."""
    col_tiles: tuple = ()
    """``((c0, c1), ...)``: the outputs of each column tile (2·(c1 − c0) physical columns)."""
    tile_sense: tuple = ()
    """``tile_sense[ri][ci]``: one DiffSenseCard per output of tile (ri, ci)."""
    digital: bool = False
    """True: tiles and converters (co-simulation: analog tiles, digital partial sums and
    activation); False: one analog crossbar, analog sense stage and neurons."""
    dac_bits: int | None = None
    """Input DAC resolution [bits] (None: ideal drivers)."""
    adc_bits: int | None = None
    """Column ADC resolution [bits] (None: the tile outputs are summed unquantised)."""
    adc_full_scale: np.ndarray | None = None
    """(row tiles,) signed ADC full scale of each row tile's sense outputs [V], calibrated on
    calibration inputs (or the worst case, ``adc_range='full-scale'``)."""
    conv: dict | None = None
    """Conv2d geometry (``in_shape``, ``out_shape``, ``kernel``, ``stride``, ``padding``): the
    kernel crossbar is evaluated at every output position (each a row vector of the
    unfolded input patch); None for a Linear layer."""
    pool: dict | None = None
    """Digital pooling after the activation (``kind`` max/avg, ``kernel``, ``stride``)."""

    def __post_init__(self):
        if not self.row_tiles:
            object.__setattr__(self, "row_tiles", ((0, self.n_in + 1),))
        if not self.col_tiles:
            object.__setattr__(self, "col_tiles", ((0, self.n_out),))
        if not self.tile_sense:
            object.__setattr__(self, "tile_sense", ((tuple(self.sense),),))

    @property
    def n_in(self) -> int:
        return int(self.weight.shape[1])

    @property
    def n_out(self) -> int:
        return int(self.weight.shape[0])

    @property
    def n_features(self) -> int:
        """Features this layer takes from the layer before (conv: C·H·W)."""
        return int(np.prod(self.conv["in_shape"])) if self.conv is not None else self.n_in

    @property
    def transimpedance(self) -> np.ndarray:
        """(out,) total sense transimpedance [V/A]."""
        return np.array([s.transimpedance for s in self.sense])

    def tiles(self):
        """``(ri, ci, (r0, r1), (c0, c1))`` for every tile, row tiles outer."""
        for ri, rows in enumerate(self.row_tiles):
            for ci, cols in enumerate(self.col_tiles):
                yield ri, ci, rows, cols

    def tile_conductance(self, ri: int, ci: int) -> np.ndarray:
        """(rows, 2·outputs) conductances of tile (ri, ci) [S], columns interleaved."""
        (r0, r1), (c0, c1) = self.row_tiles[ri], self.col_tiles[ci]
        return self.conductance[r0:r1, 2 * c0:2 * c1]


def rows_from_activations(plan: LayerPlan, a: np.ndarray, v_read: float) -> np.ndarray:
    """Row voltages (N, in + 1) [V] of a digital-periphery layer for activations ``a`` (N, in)
    of the layer before (features for the first layer): ``a·in_scale`` through the input DAC
    (unsigned, full scale 1 = v_read: values above it clip), times v_read; the bias row is the
    DAC's full-scale code."""
    x = dac(np.asarray(a, dtype=float) * plan.in_scale, plan.dac_bits)
    return np.concatenate([x, np.ones((len(x), 1))], axis=1) * v_read


def layer_rows(plan: LayerPlan, a: np.ndarray, v_read: float) -> np.ndarray:
    """Row voltages of a digital-periphery layer for the flat activations ``a`` (N, features)
    of the layer before: conv layers unfold them into (N·positions, k·k·c) patches first."""
    if plan.conv is not None:
        a = unfold_patches(np.asarray(a, dtype=float), plan.conv)
    return rows_from_activations(plan, a, v_read)


def layer_outputs(plan: LayerPlan, tile_out: np.ndarray, v_per_unit: float, n: int):
    """:func:`digital_step`, then (conv) the outputs of every position back into flat (N, C·H·W)
    features in torch's order and the digital pooling: ``(pre [V], activation)`` of N
    inputs."""
    pre, a = digital_step(plan, tile_out, v_per_unit)
    if plan.conv is not None:
        co, ho, wo = plan.conv["out_shape"]
        pre, a = (x.reshape(n, ho, wo, co).transpose(0, 3, 1, 2).reshape(n, -1)
                  for x in (pre, a))
    if plan.pool is not None:
        a = pool_forward(a, plan.pool)
    return pre, a


def digital_step(plan: LayerPlan, tile_out: np.ndarray, v_per_unit: float):
    """The digital periphery after the analog tiles: ``tile_out`` (N, row tiles, out) sense
    outputs [V] → ADC (signed, per row tile full scale) → partial sums over the row tiles →
    ``(pre (N, out) [V] = z·v_per_unit, activation a(z) (N, out))``."""
    q = tile_out if plan.adc_bits is None else adc(
        tile_out, plan.adc_bits, np.asarray(plan.adc_full_scale)[None, :, None])
    pre = q.sum(axis=1)
    return pre, activate(plan.activation, pre / v_per_unit)
