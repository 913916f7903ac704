"""Behavioral twin of the training circuit: the same schedule, the same pulse shapes, the same
device equations (:class:`circuitsim.devices.VteamTwin`), in numpy.

What it computes, per sample:

* phases 1-2: a DC nodal solve of each array with its switch on-resistances (1/g_switch_on) in
  series with every driver and sense node; open switches are g_switch_off to ground (their far
  side is within a fraction of a volt of ground, an error of ~g_off/G_cell ≈ 1e-7).  The
  sample-and-holds are taken as exact (droop time constant c_hold·1e15 Ω = 1000 s).
* phases 3-4: the cell voltages of each update slot are linear in the driver waveforms (the
  arrays are resistive below threshold), so they are the baseline V/2 pattern times the slot
  envelope plus each row's pulse pattern times that row's pulse envelope — the exact
  trapezoids the circuit's sources produce (the same PWL clock and rise objects, the same
  quantisation of the width).  dx/dt = VteamTwin.dxdt(v, x) is integrated
  along them (Heun, 16 steps per piece between breakpoints).  Simplification: the node
  voltages of a slot are solved with the states at the start of that slot (a state change
  during one pulse shifts the cell voltages by less than g_cell/g_switch_on ≈ 1e-4 of the
  change).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..readout import sigmoid
from .circuit import Slot, TrainingCircuit

_sigmoid = sigmoid


@dataclass
class SampleRecord:
    """What one sample did (either side): held signals and states after the sample."""

    output: np.ndarray
    """Network output o (n_out,) [1] at the end of phase 1."""
    hidden: np.ndarray
    """Hidden activations y (n_hidden,) [1]."""
    delta2: np.ndarray
    """Output error t − o (n_out,)."""
    delta1: np.ndarray
    """Layer-1 error σ'(z1)·W2ᵀδ2 (n_hidden,)."""
    x1: np.ndarray
    x2: np.ndarray


class TrainingTwin:
    """Pulse-by-pulse behavioral model of :class:`TrainingCircuit`."""

    def __init__(self, circuit: TrainingCircuit, substeps: int = 16):
        self.c = circuit
        self.substeps = int(substeps)

    # -- arrays --------------------------------------------------------------------------

    def _g1(self, x1):
        """Layer-1 conductances incl. the reference column: (n_in+1, n_hidden+1)."""
        g = self.c.conductance(x1)
        return np.hstack([g, np.full((g.shape[0], 1), self.c.g_ref)])

    def _g2(self, x2):
        """Layer-2 conductances incl. reference column and reference row:
        (n_hidden+2, n_out+1); the ref-row × ref-column corner has no cell."""
        g = self.c.conductance(x2)
        g = np.hstack([g, np.full((g.shape[0], 1), self.c.g_ref)])
        ref_row = np.full((1, g.shape[1]), self.c.g_ref)
        ref_row[0, -1] = 0.0
        return np.vstack([g, ref_row])

    @staticmethod
    def _solve(G, g_rows, v_rows, g_cols, v_cols):
        """Node voltages of an array: cell conductances G (R, C); every row/column node tied
        to an ideal voltage through a conductance.  v_rows/v_cols may be (R,)/(C,) or have a
        trailing batch axis.  Returns (v_row, v_col)."""
        R, C = G.shape
        A = np.zeros((R + C, R + C))
        A[:R, :R] = np.diag(G.sum(1) + g_rows)
        A[R:, R:] = np.diag(G.sum(0) + g_cols)
        A[:R, R:] = -G
        A[R:, :R] = -G.T
        vr = np.asarray(v_rows, dtype=float)
        vc = np.asarray(v_cols, dtype=float)
        gr = g_rows.reshape((R,) + (1,) * (vr.ndim - 1))
        gc = g_cols.reshape((C,) + (1,) * (vc.ndim - 1))
        rhs = np.concatenate([gr * vr, gc * vc])
        v = np.linalg.solve(A, rhs)
        return v[:R], v[R:]

    # -- phases 1-2 ----------------------------------------------------------------------

    def forward_backward(self, u, target, x1, x2):
        """Held signals at the end of phases 1 and 2: (o, y, δ2, δ1) in unit scale."""
        c = self.c
        p, s = c.p, c.shape
        on, off = p.g_switch_on, 2 * p.g_switch_off
        vr = p.v_read
        # layer 1: rows driven (Ctrl1), columns at virtual ground (Ctrl2)
        G1 = self._g1(x1)
        v_in = vr * np.append(u, 1.0)
        _, vc = self._solve(G1, np.full(G1.shape[0], on + off), v_in,
                            np.full(G1.shape[1], on + off), np.zeros(G1.shape[1]))
        i_col = on * vc
        z1 = c.r_z * (i_col[:-1] - i_col[-1])
        y = _sigmoid(z1)
        # layer 2 forward: rows driven by y (and bias), ref row only through open switches
        G2 = self._g2(x2)
        R2, C2 = G2.shape
        g_rows = np.full(R2, on + off)
        g_rows[-1] = off + p.g_switch_off  # ref row: backward sense and training switch open
        v_rows = np.append(vr * np.append(y, 1.0), 0.0)
        _, vc = self._solve(G2, g_rows, v_rows, np.full(C2, on + off), np.zeros(C2))
        i_col = on * vc
        z2 = c.r_z * (i_col[:-1] - i_col[-1])
        o = _sigmoid(z2)
        d2 = np.asarray(target, dtype=float) - o
        # layer 2 transposed: columns driven by v_read·δ2, rows (hidden + ref) at virtual
        # ground; bias row and reference column float (open switches)
        g_rows = np.full(R2, on + off)
        g_rows[s.n_hidden] = off + p.g_switch_off
        g_cols = np.full(C2, on + off)
        g_cols[-1] = off + p.g_switch_off
        v_cols = np.append(vr * d2, 0.0)
        vrow, _ = self._solve(G2, g_rows, np.zeros(R2), g_cols, v_cols)
        i_row = on * vrow
        bs = c.r_z * (i_row[:s.n_hidden] - i_row[-1])
        d1 = bs * y * (1 - y)
        return o, y, d2, d1

    # -- phases 3-4 ----------------------------------------------------------------------

    def pulse_amplitude(self, d):
        """Pulse amplitude [V] of a column with held error d (sign: d > 0 → SET, v < v_on)."""
        c = self.c
        card = c.card
        d = np.asarray(d, dtype=float)
        pos = card.v_on * (1 + c.b_on * np.minimum(np.abs(d), 1) ** (1 / card.alpha_on))
        neg = card.v_off * (1 + c.b_off * np.minimum(np.abs(d), 1) ** (1 / card.alpha_off))
        return np.where(d > 0, pos, neg)

    def _envelope(self, t, a, b):
        te = self.c.p.t_edge
        return np.clip(np.minimum((t - a) / te, (b - t) / te), 0.0, 1.0)

    def slot_waveforms(self, slot: Slot, amp: float, act: np.ndarray, G: np.ndarray,
                       t=None):
        """Times and the voltage of every cell (rows, cols incl. reference lines) during one
        slot.  ``act`` the row activations (incl. bias 1, excl. reference row)."""
        c = self.c
        p = c.p
        te = p.t_edge
        widths = c.t_width_max * np.clip(act, 0.0, 1.0)
        pwm = p.width_levels > 0
        if pwm:
            levels = c.pwm_level(act)
            clock = c.clock_wave(slot)
            rise = c.rise_wave(slot)
        R, C = G.shape
        if t is None:
            bps = {slot.start, slot.start + te, slot.stop - te, slot.stop,
                   slot.pulse_start, slot.pulse_start + te}
            if pwm:
                top = slot.pulse_start + (levels.max() + 1) * c.t_tick + te
                bps.update(tp for tp, _ in clock.points if tp <= top)
                bps.update(slot.pulse_start + (lv * c.t_tick + te) / 2 for lv in levels
                           if 0 < lv * c.t_tick < te)
            else:
                for w in widths:
                    if w >= 2 * te:
                        bps.update({slot.pulse_start + w - te, slot.pulse_start + w})
                    elif w > 0:
                        bps.update({slot.pulse_start + w / 2, slot.pulse_start + w})
            bps = np.array(sorted(bps))
        n_rows_act = len(act)

        def envelopes(tt):
            out = np.empty((1 + n_rows_act, tt.size))
            out[0] = self._envelope(tt, slot.start, slot.stop)
            if pwm:
                r_t, k_t = rise.value(tt), clock.value(tt)
            for i in range(n_rows_act):
                if pwm:
                    out[1 + i] = np.minimum(r_t, np.clip(levels[i] - k_t, 0.0, 1.0))
                else:
                    out[1 + i] = self._envelope(tt, slot.pulse_start,
                                                slot.pulse_start + widths[i])
            return out

        if t is None:
            # every waveform is linear between breakpoints: pieces where nothing changes get
            # a few steps (only the window functions act there), ramps get `substeps`
            e_b = envelopes(bps)
            flat = np.all(e_b[:, 1:] == e_b[:, :-1], axis=0)
            t = np.unique(np.concatenate(
                [np.linspace(a, b, (max(2, self.substeps // 4) if f else self.substeps) + 1)
                 for a, b, f in zip(bps[:-1], bps[1:], flat, strict=True)]))
        drive_rows = np.full(R, 0.5)  # baseline: every row at V/2 ...
        drive_cols = np.full(C, 0.5)
        drive_cols[slot.column] = 0.0  # ... but the selected column at 0 V
        g_rows = np.full(R, p.g_switch_on + 2 * p.g_switch_off)
        g_cols = np.full(C, p.g_switch_on + 2 * p.g_switch_off)
        # basis: baseline (column 0) and one pulse pattern per row (columns 1..)
        vr_b = np.zeros((R, 1 + n_rows_act))
        vc_b = np.zeros((C, 1 + n_rows_act))
        vr_b[:, 0] = drive_rows
        vc_b[:, 0] = drive_cols
        for i in range(n_rows_act):
            vr_b[i, 1 + i] = 0.5
        vrow, vcol = self._solve(G, g_rows, vr_b, g_cols, vc_b)
        cell_basis = vrow[:, None, :] - vcol[None, :, :]  # (R, C, 1 + rows)
        env = envelopes(t)
        v_cells = amp * np.einsum("rcb,bt->rct", cell_basis, env)
        return t, v_cells

    def apply_slot(self, slot: Slot, amp: float, act: np.ndarray, x: np.ndarray,
                   G_full: np.ndarray) -> np.ndarray:
        """States of the trainable cells (rows, cols) after one slot (Heun integration)."""
        t, v = self.slot_waveforms(slot, amp, act, G_full)
        r, k = x.shape
        v = v[:r, :k]
        f = self.c.twin.dxdt
        xx = x.copy()
        for n in range(t.size - 1):
            h = t[n + 1] - t[n]
            k1 = f(v[:, :, n], xx)
            k2 = f(v[:, :, n + 1], xx + h * k1)
            xx = xx + 0.5 * h * (k1 + k2)
        return xx

    def step(self, u, target, x1, x2) -> SampleRecord:
        """One training sample: the four phases."""
        c = self.c
        u, target = c.check_sample(u, target)
        x1, x2 = c.check_states(x1, x2)
        o, y, d2, d1 = self.forward_backward(u, target, x1, x2)
        x1n, x2n = x1.copy(), x2.copy()
        for slot in c.slots:
            if slot.layer == 2:
                amp = float(self.pulse_amplitude(d2[slot.column]))
                act = np.append(y, 1.0)
                x2n = self.apply_slot(slot, amp, act, x2n, self._g2(x2n))
            else:
                amp = float(self.pulse_amplitude(d1[slot.column]))
                act = np.append(u, 1.0)
                x1n = self.apply_slot(slot, amp, act, x1n, self._g1(x1n))
        return SampleRecord(o, y, d2, d1, x1n, x2n)

    def predict(self, X, x1, x2) -> np.ndarray:
        """Network outputs (N, n_out) for inputs X (N, n_in) — the phase-1 read."""
        zeros = np.zeros(self.c.shape.n_out)
        return np.array([self.forward_backward(np.asarray(u, float), zeros, x1, x2)[0]
                         for u in X])
