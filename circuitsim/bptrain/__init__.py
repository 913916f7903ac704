"""In-situ backpropagation training circuit (Ctrl1/Ctrl2 phases) and its behavioral twin.

A 2-layer network n_in → n_hidden → n_out of VTEAM memristors (card
:data:`circuitsim.cards.memristor.VTEAM_CROSSBAR` by default: 10-100 kΩ, thresholds ±0.3 V,
α = 1) learns inside a transient ngspice simulation, one sample at a time, in the four phases
of ../shared/DESIGN.md §3 (Zhang, Wang & Friedman, TCAS-I 2018, after Hasan & Taha 2014).

Signed weights: ONE array per layer with a REFERENCE COLUMN of static conductances G_ref =
1/R(x_ref): w_ij = (G_ij − G_ref)/g_unit, computed by subtracting the reference column's
current in the TIA (z_j = r_z·(I_j − I_ref), r_z = 1/(v_read·g_unit)).  One memristor per
weight, so one update pulse per weight.  Layer 2 also has a reference ROW (G_ref from every
column) for the transposed read.  Each layer has a bias row driven at v_read.

Circuit (flat deck, :meth:`TrainingCircuit.deck`):

* Switches are smooth B-source conductances g = g_off + g_on·gate, gate ∈ [0, 1] a product of
  the control voltages / v_high (no hysteretic SW): Ctrl1 connects the inputs to layer 1 and
  layer 1's outputs to layer 2 (forward, with Dir = 0) or layer 2's rows to the layer-1 error
  sense (backward, Dir = high); Ctrl2 connects the array columns to the TIAs (forward) or the
  δ drivers to layer 2's columns (backward).  Tr2 / Tr1 connect the training drivers to the
  lines of layer 2 / layer 1.
* Phase 1 (forward, Ctrl1 = Ctrl2 = high, Dir = 0): inputs u·v_read on the layer-1 rows,
  columns at virtual ground, hidden y = σ(z1) drives the layer-2 rows (v_read scale), output
  o = σ(z2); error stage e = t − o.  Sample-and-holds (1 pF, 1 kΩ) take u, y and δ2 = e.
* Phase 2 (backward, Ctrl1 = Ctrl2 = high, Dir = high): the held v_read·δ2 drives the
  layer-2 columns; layer-2 rows are at virtual ground, their currents minus the reference row's
  are W2ᵀδ2, and δ1 = σ'(z1)·W2ᵀδ2 with σ' = y(1 − y) from the held y is sampled.
* Phases 3 / 4 (Ctrl1 = Ctrl2 = 0, layer 2 disconnected from layer 1): the training unit
  updates layer 2 / layer 1 one COLUMN per slot (outer product): the column's amplitude
  |V| = v_th·(1 + b·|δ|^(1/α)) with polarity −sign(δ) (δ > 0 → SET → G up), every row of
  the slot gets a pulse to V of width t_width_max·activation on top of a V/2 baseline, the
  selected column is at 0 V and every other line at V/2 — half-selected cells see ≤ V/2 <
  threshold (b < 1).  The amplitude and width come from the held δ and activations inside
  the circuit, so SPICE computes its own pulses.  Width = digital pulse-width modulation
  (default ``width_levels=16``): round(16·activation) ticks of a counter clock (PWL source);
  the pulse rises with a PWL edge and falls when the clock passes its level (B-source
  comparator), so every edge lies on an ngspice breakpoint and ``.tran`` may take steps of
  2·t_edge on the plateaus.  With α = 1 a pulse moves x by rate_max·|δ|·ticks·t_tick
  (+ the edges above threshold).  ``width_levels=0`` selects an analog width instead (a
  comparator on ``time``): ngspice then cannot know the pulse end in advance, needs
  tmax ≈ t_edge/4 and is ~5× slower, and its Δx error grows to ~tmax/width.
* One ngspice run per sample (chunked ``.tran``); the final states go to the next run as
  ``.ic v(xa<layer>_<row>_<col>.x)`` (and the instance's x0).

SPICE vs twin (measured; benchmarks/results/bptrain.*): phase-1/2 signals agree to 1e-5;
one update pulse matches the analytic VTEAM law to 4e-6; stepped from SPICE's own states, the
twin predicts each cell's Δx with a median error of 0.1% of the change (98-100% of the cells
within 2%; the rest are few-tick pulses where the device's threshold kink on a 20 ns edge falls
between ngspice steps).  Free-running, both runs follow each other to ~3e-5 of the G range
until a held activation rounds to a different PWM tick (SPICE's held values differ by ~1e-6),
after which they differ by up to ~1% of the G range and re-converge slowly; accuracies and
losses still agree (XOR 100%/100%, digits3 83%/83%).

Twin (:class:`TrainingTwin`): nodal solves with the same switch resistances for phases 1-2,
the exact trapezoid pulses of each slot through the array's linear network, and
``VteamTwin.dxdt`` integrated along them.  Tasks: XOR and a 3-class digits subset
(:mod:`circuitsim.bptrain.tasks`).
"""

from .circuit import TrainingCircuit, static_network_deck
from .config import PHASES, CircuitParams, NetworkShape, SampleSchedule
from .tasks import Task, digits3, get_task, xor
from .train import TrainHistory, evaluate, sample_order, spice_step, train
from .twin import SampleRecord, TrainingTwin

__all__ = [
    "PHASES", "CircuitParams", "NetworkShape", "SampleRecord", "SampleSchedule", "Task",
    "TrainHistory", "TrainingCircuit", "TrainingTwin", "digits3", "evaluate", "get_task",
    "sample_order", "spice_step", "static_network_deck", "train", "xor",
]
