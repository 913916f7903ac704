"""The training circuit: one generator that derives every number of the circuit from the cards
and writes one ngspice deck per training sample (four phases, see :mod:`circuitsim.bptrain`).

The twin (:mod:`circuitsim.bptrain.twin`) reads the same :class:`TrainingCircuit` object, so
both sides use the same conductances, gains, pulse amplitudes, widths and times.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..cards.memristor import VTEAM_CROSSBAR, Vteam
from ..circuit import (
    BSource,
    Capacitor,
    Deck,
    Op,
    Pwl,
    Resistor,
    Tran,
    VoltageSource,
)
from ..devices import VteamTwin
from ..errors import ConfigError
from ..units import spice_number
from .config import CircuitParams, NetworkShape, SampleSchedule

TRAN_OPTIONS = {"method": "gear", "reltol": 1e-6, "abstol": 1e-12, "vntol": 1e-6,
                "gmin": 1e-12, "itl4": 200, "chgtol": 1e-16}
"""ngspice options of every training deck (../shared/DESIGN.md §4)."""

TRAN_SOLVER = "sparse"
"""The training decks keep ngspice's Sparse solver: with KLU (ngspice 46) and gear integration
the XOR 2-3-1 sample deck stops at 201 ns with "timestep too small" at a layer-1 row node
(pivrel, gmin and maxord did not help; method=trap converged), while Sparse converges.  The
decks are small (≤ 100 cells), so the solver costs nothing measurable here."""

PWM_TIE_OFFSET = 1e-6
"""Added before rounding an activation to PWM ticks [ticks]: larger than the sample-and-hold
error (~1e-8 of the value), far smaller than a tick."""


def _n(x: float) -> str:
    return spice_number(float(x))


@dataclass(frozen=True)
class Slot:
    """One update slot: one column of one layer's array gets its pulses.  Times are relative
    to the sample start [s]."""

    layer: int
    """1 or 2."""
    column: int
    start: float
    """Start of the half-select envelope E (rises over t_edge) [s]."""
    stop: float
    """End of the envelope E (it falls over the t_edge before) [s]."""
    pulse_start: float
    """Start of every row pulse of this slot (widths differ per row) [s]."""


class TrainingCircuit:
    """Everything both sides need: network shape, device card and twin, circuit values,
    schedule and the quantities derived from them (G_ref, gains, pulse coding).

    ``cells='memristor'`` puts VTEAM instances in the arrays; ``cells='static'`` puts
    resistors of the same conductance (a stand-in for checks of the read and pulse paths)."""

    def __init__(self, shape: NetworkShape, card: Vteam = VTEAM_CROSSBAR,
                 params: CircuitParams | None = None, schedule: SampleSchedule | None = None):
        if not isinstance(shape, NetworkShape):
            raise ConfigError(f"TrainingCircuit: shape must be a NetworkShape, got "
                              f"{type(shape).__name__}")
        if not isinstance(card, Vteam):
            raise ConfigError(f"TrainingCircuit: card must be a circuitsim.cards.Vteam, got "
                              f"{type(card).__name__}")
        self.shape = shape
        self.card = card
        self.twin = VteamTwin(card)
        self.p = p = params if params is not None else CircuitParams()
        if p.v_read >= min(card.v_off, -card.v_on):
            raise ConfigError(
                f"CircuitParams.v_read ({p.v_read} V) must be below both device thresholds "
                f"(v_off {card.v_off} V, v_on {card.v_on} V) or reads would move the states")
        if p.t_guard < p.t_ctrl_edge:
            raise ConfigError("CircuitParams.t_guard must be >= t_ctrl_edge (break before make)")
        # -- pulse coding: rate ∝ |δ| on both sides, the slower side sets the common rate
        k_off_d = card.k_off / card.d
        k_on_d = -card.k_on / card.d
        self.rate_max = min(k_off_d * p.b_max ** card.alpha_off,
                            k_on_d * p.b_max ** card.alpha_on)
        """Largest |dx/dt| of a pulse (|δ| = 1) [1/s]."""
        self.b_off = (self.rate_max / k_off_d) ** (1.0 / card.alpha_off)
        self.b_on = (self.rate_max / k_on_d) ** (1.0 / card.alpha_on)
        self.v_pulse_max = max(card.v_off * (1 + self.b_off), -card.v_on * (1 + self.b_on))
        """Largest pulse amplitude any device sees [V]."""
        if self.v_pulse_max > p.v_safe:
            raise ConfigError(
                f"pulse amplitude {self.v_pulse_max:.4g} V (threshold × (1 + b_max)) is above "
                f"the device's safe limit CircuitParams.v_safe = {p.v_safe} V; lower b_max or "
                "use a device with lower thresholds")
        # pulse area (above the edges) = dx_max / rate_max; width = area + one edge
        self.t_width_max = p.dx_max / self.rate_max + p.t_edge
        """Pulse width for an activation of 1 [s] (pulse: rise t_edge, fall t_edge)."""
        self.t_slot = (2 * p.t_edge + 2 * p.t_guard + self.t_width_max + p.t_gap)
        self.t_tick = (self.t_width_max - p.t_edge) / p.width_levels if p.width_levels else 0.0
        """PWM clock tick [s] (width_levels > 0): the full-scale pulse area is the same."""
        if p.width_levels and self.t_tick <= p.t_edge:
            raise ConfigError(f"CircuitParams.width_levels = {p.width_levels} gives clock ticks "
                              f"of {self.t_tick:g} s, not longer than t_edge ({p.t_edge:g} s); "
                              "use fewer levels or a larger dx_max")
        self.g_ref = 1.0 / float(card.resistance(p.x_ref))
        self.r_z = 1.0 / (p.v_read * p.g_unit)
        """TIA gain turning (I_col − I_ref) into a unit pre-activation [V/A]."""
        self.schedule = schedule if schedule is not None else self.default_schedule()
        self._check_schedule(self.schedule)
        self.slots = self._slots()

    @property
    def tmax(self) -> float:
        """``.tran`` largest step [s]: tmax_per_edge·t_edge, at most half a PWM tick."""
        t = self.p.t_edge * self.p.tmax_per_edge
        return min(t, 0.5 * self.t_tick) if self.t_tick else t

    # -- schedule ----------------------------------------------------------------------

    def _update_length(self, n_cols: int) -> float:
        p = self.p
        return 4 * p.t_guard + 2 * p.t_ctrl_edge + n_cols * self.t_slot

    def default_schedule(self) -> SampleSchedule:
        p, s = self.p, self.shape
        t1 = p.t_read
        t2 = 2 * p.t_read
        t3 = t2 + self._update_length(s.n_out)
        t4 = t3 + self._update_length(s.n_hidden)
        return SampleSchedule((0.0, t1), (t1, t2), (t2, t3), (t3, t4))

    def _check_schedule(self, sch: SampleSchedule) -> None:
        if not isinstance(sch, SampleSchedule):
            raise ConfigError(f"schedule must be a SampleSchedule, got {type(sch).__name__}")
        p = self.p
        need_read = p.t_sample + p.t_guard + 2 * p.t_ctrl_edge
        for name in ("forward", "backward"):
            a, b = getattr(sch, name)
            if b - a < need_read:
                raise ConfigError(f"SampleSchedule.{name} lasts {b - a:g} s; it needs >= "
                                  f"{need_read:g} s (control edge, sample window, guard)")
        if sch.backward[0] != sch.forward[1]:
            raise ConfigError("SampleSchedule: the backward phase must start when the forward "
                              "phase ends (Ctrl1/Ctrl2 stay high through both)")
        for name, n in (("update2", self.shape.n_out), ("update1", self.shape.n_hidden)):
            a, b = getattr(sch, name)
            need = self._update_length(n)
            if b - a < need - 1e-15:
                raise ConfigError(f"SampleSchedule.{name} lasts {b - a:g} s; {n} update slots "
                                  f"of {self.t_slot:g} s need {need:g} s")
        if sch.update2[0] < sch.backward[1] + 0.0:
            raise ConfigError("SampleSchedule: update2 must start after the backward phase")

    def _slots(self) -> list[Slot]:
        p, sch = self.p, self.schedule
        out = []
        for layer, (a, _b), n in ((2, sch.update2, self.shape.n_out),
                                  (1, sch.update1, self.shape.n_hidden)):
            t0 = a + 2 * p.t_guard + p.t_ctrl_edge
            for k in range(n):
                s = t0 + k * self.t_slot
                out.append(Slot(layer, k, s, s + self.t_slot - p.t_gap,
                                s + p.t_edge + p.t_guard))
        return out

    def control_waveforms(self) -> dict[str, Pwl]:
        """PWL of Ctrl1, Ctrl2, Dir, Tr2, Tr1 and the sample clocks ShF / ShB [V]."""
        p, sch, vh, e = self.p, self.schedule, self.p.v_high, self.p.t_ctrl_edge
        f0, f1 = sch.forward
        b0, b1 = sch.backward

        def window(a, b):
            pts = [(a, 0.0), (a + e, vh), (b - e, vh), (b, 0.0)]
            if a > 0:
                pts.insert(0, (0.0, 0.0))
            return Pwl(tuple(pts))

        ctrl = window(f0, b1)
        g = p.t_guard
        return {
            "ctrl1": ctrl, "ctrl2": ctrl,
            "dir": Pwl(((0.0, 0.0), (b0, 0.0), (b0 + e, vh), (b1, vh), (b1 + e, 0.0))),
            "tr2": window(sch.update2[0] + g, sch.update2[1] - g),
            "tr1": window(sch.update1[0] + g, sch.update1[1] - g),
            "shf": window(f1 - g - p.t_sample, f1 - g),
            "shb": window(b1 - e - g - p.t_sample, b1 - e - g),
        }

    def input_waveform(self, value: float) -> Pwl:
        """An input (or bias) driver: ``value`` [V] during phases 1-2, 0 otherwise."""
        e = self.p.t_ctrl_edge
        f0 = self.schedule.forward[0]
        b1 = self.schedule.backward[1]
        pts = [(f0, 0.0), (f0 + e, value), (b1, value), (b1 + e, 0.0)]
        if f0 > 0:
            pts.insert(0, (0.0, 0.0))
        return Pwl(tuple(pts))

    # -- weights <-> states ------------------------------------------------------------

    def conductance(self, x):
        return 1.0 / self.card.resistance(x)

    def weights(self, x):
        """Weight of each cell [1]: (G(x) − G_ref)/g_unit."""
        return (self.conductance(x) - self.g_ref) / self.p.g_unit

    def states_for_weights(self, w):
        """Inverse of :meth:`weights` (ConfigError outside the reachable range)."""
        g = self.g_ref + np.asarray(w, dtype=float) * self.p.g_unit
        gmin, gmax = 1 / self.card.r_off, 1 / self.card.r_on
        if np.any(g < gmin) or np.any(g > gmax):
            lo = (gmin - self.g_ref) / self.p.g_unit
            hi = (gmax - self.g_ref) / self.p.g_unit
            raise ConfigError(f"weights must lie in [{lo:.3g}, {hi:.3g}] for this card and "
                              "g_unit")
        return self.card.state_for_resistance(1.0 / g)

    def weight_range(self) -> tuple[float, float]:
        return (float(self.weights(1.0)), float(self.weights(0.0)))

    def check_states(self, x1, x2) -> tuple[np.ndarray, np.ndarray]:
        s1, s2 = self.shape.layer_shapes
        x1 = np.asarray(x1, dtype=float)
        x2 = np.asarray(x2, dtype=float)
        for name, x, s in (("x1", x1, s1), ("x2", x2, s2)):
            if x.shape != s:
                raise ConfigError(f"{name} must have shape {s} (rows incl. bias, columns), got "
                                  f"{x.shape}")
            if not np.all(np.isfinite(x)) or np.any(x < 0) or np.any(x > 1):
                raise ConfigError(f"{name}: memristor states must lie in [0, 1]")
        return x1, x2

    def check_sample(self, u, target) -> tuple[np.ndarray, np.ndarray]:
        u = np.asarray(u, dtype=float).ravel()
        t = np.asarray(target, dtype=float).ravel()
        if u.size != self.shape.n_in:
            raise ConfigError(f"sample has {u.size} features but the array has "
                              f"{self.shape.n_in} input rows")
        if t.size != self.shape.n_out:
            raise ConfigError(f"target has {t.size} values but the array has "
                              f"{self.shape.n_out} output columns")
        if np.any(u < 0) or np.any(u > 1) or np.any(t < 0) or np.any(t > 1):
            raise ConfigError("inputs and targets must lie in [0, 1]")
        return u, t

    # -- the deck ----------------------------------------------------------------------

    def deck(self, u, target, x1, x2, *, cells: str = "memristor",
             title: str = "in-situ BP training, one sample") -> Deck:
        """One sample's deck: the four phases, ``.tran`` over the schedule.  ``u`` inputs in
        [0, 1] (n_in,), ``target`` in [0, 1] (n_out,), ``x1``/``x2`` the cell states."""
        if cells not in ("memristor", "static"):
            raise ConfigError(f"cells must be 'memristor' or 'static', got {cells!r}")
        u, target = self.check_sample(u, target)
        x1, x2 = self.check_states(x1, x2)
        p, s, card = self.p, self.shape, self.card
        vr, vh = p.v_read, p.v_high
        on, off = p.g_switch_on, p.g_switch_off
        el: list = []

        def gate(expr):
            return f"max(0,min(1,{expr}))"

        def switch(name, a, b, g):
            el.append(BSource(f"BSW_{name}", a, b, f"({_n(off)}+{_n(on)}*{g})*(v({a})-v({b}))",
                              kind="I"))

        for name, w in self.control_waveforms().items():
            el.append(VoltageSource(f"V{name.upper()}", name, "0", waveform=w))
        c1 = gate(f"v(ctrl1)/{_n(vh)}")
        c2 = gate(f"v(ctrl2)/{_n(vh)}")
        dr = gate(f"v(dir)/{_n(vh)}")
        # switch gate signals in [0, 1] (the control logic), one node each
        for name, expr in (("g_in", c1), ("g_col1", c2), ("g_fwd1", f"{c1}*(1-{dr})"),
                           ("g_bwd1", f"{c1}*{dr}"), ("g_fwd2", f"{c2}*(1-{dr})"),
                           ("g_bwd2", f"{c2}*{dr}"), ("g_tr1", gate(f"v(tr1)/{_n(vh)}")),
                           ("g_tr2", gate(f"v(tr2)/{_n(vh)}"))):
            el.append(BSource(f"B{name.upper()}", name, "0", expr))
        c1, c2 = "v(g_in)", "v(g_col1)"
        fwd1, bwd1, fwd2, bwd2 = "v(g_fwd1)", "v(g_bwd1)", "v(g_fwd2)", "v(g_bwd2)"
        tr1, tr2 = "v(g_tr1)", "v(g_tr2)"

        def cell(name, a, b, x):
            if cells == "memristor":
                el.append(card.instance(f"X{name}", a, b, x0=float(x)))
            else:
                el.append(Resistor(f"R{name}", a, b, float(card.resistance(x))))

        # ---- layer 1: input drivers, array, reference column, column sense, hidden neurons
        n1r = s.n_in + 1
        for i in range(n1r):
            val = vr * (u[i] if i < s.n_in else 1.0)
            el.append(VoltageSource(f"VIN{i}", f"in{i}", "0",
                                    waveform=self.input_waveform(val),
                                    comment="bias row driver" if i == s.n_in else ""))
            switch(f"in{i}", f"in{i}", f"r1_{i}", c1)
            for j in range(s.n_hidden):
                cell(f"A1_{i}_{j}", f"r1_{i}", f"c1_{j}", x1[i, j])
            el.append(Resistor(f"RREF1_{i}", f"r1_{i}", "c1r", 1.0 / self.g_ref))
        for j in [*map(str, range(s.n_hidden)), "r"]:
            col = f"c1_{j}" if j != "r" else "c1r"
            switch(f"s1{j}", col, f"s1_{j}", c2)
            el.append(VoltageSource(f"VS1_{j}", f"s1_{j}", "0", dc=0.0))
        for j in range(s.n_hidden):
            el.append(BSource(f"BZ1_{j}", f"z1_{j}", "0",
                              f"{_n(self.r_z)}*(i(vs1_{j})-i(vs1_r))"))
            el.append(BSource(f"BY{j}", f"y{j}", "0", f"{_n(vr)}/(1+exp(-v(z1_{j})))",
                              comment="hidden neuron (sigmoid), output in v_read units"))
        # ---- layer 2: forward path through Ctrl1·!Dir, array, reference column and row
        n2r = s.n_hidden + 1
        el.append(VoltageSource("VB2", "b2", "0", waveform=self.input_waveform(vr)))
        for j in range(n2r):
            src = f"y{j}" if j < s.n_hidden else "b2"
            el.append(VoltageSource(f"VM{j}", src, f"ym{j}", dc=0.0,
                                    comment="0 V meter: current from layer 1 into layer 2"))
            switch(f"f{j}", f"ym{j}", f"r2_{j}", fwd1)
            for k in range(s.n_out):
                cell(f"A2_{j}_{k}", f"r2_{j}", f"c2_{k}", x2[j, k])
            el.append(Resistor(f"RREF2_{j}", f"r2_{j}", "c2r", 1.0 / self.g_ref))
        for k in range(s.n_out):
            el.append(Resistor(f"RREF2R_{k}", "r2r", f"c2_{k}", 1.0 / self.g_ref,
                               comment="reference row (transposed read)"))
        for k in [*map(str, range(s.n_out)), "r"]:
            col = f"c2_{k}" if k != "r" else "c2r"
            switch(f"so{k}", col, f"so_{k}", fwd2)
            el.append(VoltageSource(f"VSO_{k}", f"so_{k}", "0", dc=0.0))
        # ---- output neurons, error stage, sample-and-holds
        for k in range(s.n_out):
            el.append(BSource(f"BZ2_{k}", f"z2_{k}", "0",
                              f"{_n(self.r_z)}*(i(vso_{k})-i(vso_r))"))
            el.append(BSource(f"BO{k}", f"o{k}", "0", "1/(1+exp(-v(z2_" + str(k) + ")))",
                              comment="output neuron (sigmoid), unit volts"))
            el.append(VoltageSource(f"VT{k}", f"t{k}", "0",
                                    waveform=self.input_waveform(float(target[k]))))
            el.append(BSource(f"BE{k}", f"e{k}", "0", f"v(t{k})-v(o{k})",
                              comment="error stage: target - output"))
        shf = gate(f"v(shf)/{_n(vh)}")
        shb = gate(f"v(shb)/{_n(vh)}")

        def hold(name, src, clk):
            el.append(BSource(f"BH{name}", "0", f"h{name}",
                              f"{_n(p.g_hold)}*{clk}*(v({src})-v(h{name}))", kind="I"))
            el.append(Capacitor(f"CH{name}", f"h{name}", "0", p.c_hold))
            el.append(Resistor(f"RH{name}", f"h{name}", "0", 1e15))  # droop 1e-3 / s

        for i in range(s.n_in):
            hold(f"x{i}", f"in{i}", shf)
        for j in range(s.n_hidden):
            hold(f"y{j}", f"y{j}", shf)
        for k in range(s.n_out):
            hold(f"d2_{k}", f"e{k}", shf)
        # ---- backward path: held δ2 drives the layer-2 columns, rows read at virtual ground
        for k in range(s.n_out):
            el.append(BSource(f"BDD{k}", f"dd{k}", "0", f"{_n(vr)}*v(hd2_{k})",
                              comment="delta driver (transposed read of layer 2)"))
            switch(f"d{k}", f"dd{k}", f"c2_{k}", bwd2)
        for j in [*map(str, range(s.n_hidden)), "r"]:
            row = f"r2_{j}" if j != "r" else "r2r"
            switch(f"sb{j}", row, f"sb_{j}", bwd1)
            el.append(VoltageSource(f"VSB_{j}", f"sb_{j}", "0", dc=0.0))
        for j in range(s.n_hidden):
            el.append(BSource(f"BBS{j}", f"bs{j}", "0",
                              f"{_n(self.r_z)}*(i(vsb_{j})-i(vsb_r))"))
            el.append(BSource(f"BG{j}", f"g{j}", "0",
                              f"v(bs{j})*v(hy{j})/{_n(vr)}*(1-v(hy{j})/{_n(vr)})",
                              comment="layer-1 error: sigmoid'(z1)·(W2 δ2)"))
            hold(f"d1_{j}", f"g{j}", shb)
        # ---- training unit: one amplitude per column, one width per row, V/2 elsewhere
        for slot in self.slots:
            self._training_slot_sources(el, slot)
            n_rows = n1r if slot.layer == 1 else n2r
            for i in range(n_rows):
                self._pulse_source(el, slot, i)
        for layer, rows, cols, tr in ((1, [f"r1_{i}" for i in range(n1r)] + [],
                                       [f"c1_{j}" for j in range(s.n_hidden)] + ["c1r"], tr1),
                                      (2, [f"r2_{j}" for j in range(n2r)] + ["r2r"],
                                       [f"c2_{k}" for k in range(s.n_out)] + ["c2r"], tr2)):
            for line in rows + cols:
                expr = self._line_drive(layer, line)
                el.append(BSource(f"BTD_{line}", f"td_{line}", "0", expr))
                switch(f"t{line}", f"td_{line}", line, tr)
        tran = Tran(step=p.t_edge, stop=self.schedule.length, tmax=self.tmax)
        includes = (card.library,) if cells == "memristor" else ()
        ics = {}
        if cells == "memristor":  # the previous chunk's final states (also passed as x0)
            for layer, x in ((1, x1), (2, x2)):
                for (a, b), v in np.ndenumerate(x):
                    ics[f"xa{layer}_{a}_{b}.x"] = float(v)
        return Deck(title, elements=el, includes=includes, options=TRAN_OPTIONS, ics=ics,
                    analyses=(tran,), solver=TRAN_SOLVER)

    # -- training-unit expressions ------------------------------------------------------

    def _amp_node(self, slot: Slot) -> str:
        return f"amp{slot.layer}_{slot.column}"

    def _env_node(self, slot: Slot) -> str:
        return f"env{slot.layer}_{slot.column}"

    def _pulse_node(self, slot: Slot, row: int) -> str:
        return f"pe{slot.layer}_{row}_{slot.column}"

    def _training_slot_sources(self, el: list, slot: Slot) -> None:
        """The slot's envelope E (PWL, 0 → 1 → 0 with t_edge ramps) and the column's pulse
        amplitude (sign from δ, |V| = v_th·(1 + b·|δ|^(1/α))) from the held δ."""
        c, te = self.card, self.p.t_edge
        env = Pwl(((0.0, 0.0), (slot.start, 0.0), (slot.start + te, 1.0),
                   (slot.stop - te, 1.0), (slot.stop, 0.0)))
        el.append(VoltageSource(f"VENV{slot.layer}_{slot.column}", self._env_node(slot), "0",
                                waveform=env, comment=f"update slot: layer {slot.layer} "
                                                      f"column {slot.column}"))
        el.append(VoltageSource(f"VRISE{slot.layer}_{slot.column}",
                                f"rise{slot.layer}_{slot.column}", "0",
                                waveform=self.rise_wave(slot)))
        if self.p.width_levels:
            el.append(VoltageSource(f"VCLK{slot.layer}_{slot.column}",
                                    f"clk{slot.layer}_{slot.column}", "0",
                                    waveform=self.clock_wave(slot),
                                    comment="pulse-width counter clock"))
        d = f"v(hd{slot.layer}_{slot.column})"
        pos = (f"{_n(c.v_on)}*(1+{_n(self.b_on)}*pwr(min({d},1),{_n(1 / c.alpha_on)}))")
        neg = (f"{_n(c.v_off)}*(1+{_n(self.b_off)}*pwr(min(-({d}),1),{_n(1 / c.alpha_off)}))")
        el.append(BSource(f"BAMP{slot.layer}_{slot.column}", self._amp_node(slot), "0",
                          f"({d}>0) ? {pos} : {neg}",
                          comment="training unit: pulse amplitude (polarity = -sign(delta))"))

    def rise_wave(self, slot: Slot) -> Pwl:
        """The rising edge shared by every row pulse of a slot (0 → 1 over t_edge)."""
        te = self.p.t_edge
        return Pwl(((0.0, 0.0), (slot.pulse_start, 0.0), (slot.pulse_start + te, 1.0)))

    def clock_wave(self, slot: Slot) -> Pwl:
        """PWM counter of a slot (width_levels > 0): steps from k−1 to k over t_edge at
        pulse_start + k·t_tick, k = 1..N."""
        te, d = self.p.t_edge, self.t_tick
        pts = [(0.0, 0.0)]
        for k in range(1, self.p.width_levels + 1):
            t = slot.pulse_start + k * d
            pts += [(t, k - 1.0), (t + te, float(k))]
        return Pwl(tuple(pts))

    def pwm_level(self, act):
        """Clock ticks of a pulse for an activation (width_levels > 0): round half up, with
        PWM_TIE_OFFSET so that data sitting exactly on a half tick (e.g. pooled pixels k/64
        at 16 levels) rounds the same way in SPICE, whose held value is off by ~1e-8."""
        n = self.p.width_levels
        return np.floor(np.clip(np.asarray(act, dtype=float), 0.0, 1.0) * n + 0.5
                        + PWM_TIE_OFFSET)

    def _pulse_source(self, el: list, slot: Slot, row: int) -> None:
        """Pulse envelope of one row in one slot: rises at pulse_start (PWL), falls
        t_width_max·activation later (comparator on ``time``, t_edge ramp)."""
        te = _n(self.p.t_edge)
        act = self._row_activation_expr(slot.layer, row)
        n = self.p.width_levels
        if n:
            level = str(n) if act is None else \
                f"floor(max(0,min(1,{act}))*{n}+{_n(0.5 + PWM_TIE_OFFSET)})"
            el.append(BSource(f"BPE{slot.layer}_{row}_{slot.column}",
                              self._pulse_node(slot, row), "0",
                              f"min(v(rise{slot.layer}_{slot.column}),max(0,min(1,{level}"
                              f"-v(clk{slot.layer}_{slot.column}))))"))
            return
        width = _n(self.t_width_max) if act is None else \
            f"{_n(self.t_width_max)}*max(0,min(1,{act}))"
        fall = f"max(0,min(1,({_n(slot.pulse_start)}+{width}-time)/{te}))"
        el.append(BSource(f"BPE{slot.layer}_{row}_{slot.column}", self._pulse_node(slot, row),
                          "0", f"min(v(rise{slot.layer}_{slot.column}),{fall})"))

    def _row_activation_expr(self, layer: int, row: int) -> str | None:
        """Held activation (0..1) of a row, or None for the bias row (activation 1)."""
        s = self.shape
        if layer == 1:
            return None if row == s.n_in else f"v(hx{row})/{_n(self.p.v_read)}"
        return None if row == s.n_hidden else f"v(hy{row})/{_n(self.p.v_read)}"

    def _line_drive(self, layer: int, line: str) -> str:
        """Training-driver voltage of one array line as a sum over the layer's slots: V/2·E
        on every line but the selected column (0 V), plus V/2·pulse on the rows."""
        terms = []
        for slot in self.slots:
            if slot.layer != layer:
                continue
            amp = f"v({self._amp_node(slot)})"
            env = f"v({self._env_node(slot)})"
            kind, _, idx = line.partition("_")
            if kind.startswith("c"):
                if idx != str(slot.column):
                    terms.append(f"0.5*{amp}*{env}")
            elif line == "r2r":
                terms.append(f"0.5*{amp}*{env}")
            else:
                pe = f"v({self._pulse_node(slot, int(idx))})"
                terms.append(f"0.5*{amp}*({env}+{pe})")
        return "+".join(terms) if terms else "0"

    # -- reading results ---------------------------------------------------------------

    def state_vectors(self) -> tuple[list[list[str]], list[list[str]]]:
        """Names of the state vectors ``v(xa1_i_j.x)`` of both arrays."""
        (r1, c1), (r2, c2) = self.shape.layer_shapes
        return ([[f"v(xa1_{i}_{j}.x)" for j in range(c1)] for i in range(r1)],
                [[f"v(xa2_{j}_{k}.x)" for k in range(c2)] for j in range(r2)])

    def describe(self) -> dict:
        """The derived numbers (for result.json)."""
        lo, hi = self.weight_range()
        return {"g_ref_S": self.g_ref, "r_z_ohm": self.r_z, "rate_max_per_s": self.rate_max,
                "b_off": self.b_off, "b_on": self.b_on, "v_pulse_max_V": self.v_pulse_max,
                "t_width_max_s": self.t_width_max, "t_slot_s": self.t_slot,
                "t_sample_length_s": self.schedule.length, "weight_range": [lo, hi],
                "n_cells": self.shape.n_cells}


def static_network_deck(circuit: TrainingCircuit, u, x1, x2) -> Deck:
    """The same network without switches, control or training unit: resistors of the cells'
    conductances, inputs on the rows, ideal virtual grounds on the columns, the same TIA and
    sigmoid B-sources; ``.op``.  The reference for the phase-1 outputs."""

    u, _ = circuit.check_sample(u, np.zeros(circuit.shape.n_out))
    x1, x2 = circuit.check_states(x1, x2)
    s, vr, rz = circuit.shape, circuit.p.v_read, circuit.r_z
    el: list = []
    for i in range(s.n_in + 1):
        el.append(VoltageSource(f"VIN{i}", f"r1_{i}", "0",
                                dc=vr * (u[i] if i < s.n_in else 1.0)))
        for j in range(s.n_hidden):
            el.append(Resistor(f"RA1_{i}_{j}", f"r1_{i}", f"c1_{j}",
                               float(circuit.card.resistance(x1[i, j]))))
        el.append(Resistor(f"RREF1_{i}", f"r1_{i}", "c1_r", 1.0 / circuit.g_ref))
    for j in [*map(str, range(s.n_hidden)), "r"]:
        el.append(VoltageSource(f"VS1_{j}", f"c1_{j}", "0", dc=0.0))
    for j in range(s.n_hidden):
        el.append(BSource(f"BY{j}", f"r2_{j}", "0",
                          f"{_n(vr)}/(1+exp(-{_n(rz)}*(i(vs1_{j})-i(vs1_r))))"))
    el.append(VoltageSource("VB2", f"r2_{s.n_hidden}", "0", dc=vr))
    for j in range(s.n_hidden + 1):
        for k in range(s.n_out):
            el.append(Resistor(f"RA2_{j}_{k}", f"r2_{j}", f"c2_{k}",
                               float(circuit.card.resistance(x2[j, k]))))
        el.append(Resistor(f"RREF2_{j}", f"r2_{j}", "c2_r", 1.0 / circuit.g_ref))
    for k in [*map(str, range(s.n_out)), "r"]:
        el.append(VoltageSource(f"VSO_{k}", f"c2_{k}", "0", dc=0.0))
    for k in range(s.n_out):
        el.append(BSource(f"BO{k}", f"o{k}", "0",
                          f"1/(1+exp(-{_n(rz)}*(i(vso_{k})-i(vso_r))))"))
    return Deck("static reference network (no switches)", elements=el, analyses=(Op(),))
