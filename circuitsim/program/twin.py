"""The twin of a programming iteration: the same line waveforms (:mod:`.schedule`) on the
same wiring, solved as a resistive network, with each cell's VTEAM state integrated exactly
over the piecewise-linear voltage it sees.

Per phase (and for the read block) the network is factored once with the states at its start;
node voltages at every waveform corner follow (the network is linear at fixed states, so a
cell's voltage is linear between corners).  With α the VTEAM exponent,
∫max(v/v_th − 1, 0)^α dt over a linear segment has a closed form, and the window is applied
exactly by the device twin (:meth:`circuitsim.devices.VteamTwin.pulse_dx`: the state equation
is separable, dx/f(x) = rate(v(t))·dt).  What the twin leaves out, stated: the wire
capacitance (ps time constants against ns edges) and the change of the IR drop while a phase
moves the states (the cells' R moves by a few % per pulse; the drop across 10 Ω drivers and
1 Ω segments it changes is µV).  The energy follows the moving states to first order
(:meth:`TwinProgrammer._pulses`): one 25.6 µs SET pulse from R_off (G +23 %) agrees with
ngspice to 0.4 %, where power at the start states alone was 6.6 % low.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from ..devices import LinearIonDriftTwin, VteamTwin
from ..errors import ConfigError
from .array import CellArray
from .config import ProgramConfig
from .schedule import Iteration


def segment_integral(u0, u1, dt, alpha):
    """∫ max(u(t), 0)^α dt for u linear from u0 to u1 over dt (exact)."""
    u0, u1 = np.broadcast_arrays(np.asarray(u0, dtype=float), np.asarray(u1, dtype=float))
    dt = np.broadcast_to(np.asarray(dt, dtype=float), u0.shape)
    out = np.zeros(u0.shape)
    on = (u0 > 0) | (u1 > 0)  # only segments above threshold somewhere (few cells, few segments)
    a0, a1, h = u0[on], u1[on], dt[on]
    U0, U1 = np.maximum(a0, 0.0), np.maximum(a1, 0.0)
    du = a1 - a0
    flat = np.abs(du) < 1e-12
    with np.errstate(divide="ignore", invalid="ignore"):
        ramp = h * (U1 ** (alpha + 1) - U0 ** (alpha + 1)) / ((alpha + 1) * du)
    out[on] = np.where(flat, h * U0 ** alpha, ramp)
    return out


class ArrayNetwork:
    """Nodal model of the programming array: row nodes (i, j) -> i·C + j, column nodes
    -> R·C + i·C + j; row drivers at (i, 0), column drivers at column node (R−1, j)."""

    def __init__(self, cfg: ProgramConfig, shape):
        R, C = shape
        self.R, self.C, self.cfg = R, C, cfg
        n = R * C
        self.n = 2 * n
        rr = lambda i, j: i * C + j  # noqa: E731
        cc = lambda i, j: n + i * C + j  # noqa: E731
        rows, cols, vals = [], [], []

        def g(a, b, gv):
            rows.extend([a, b, a, b])
            cols.extend([a, b, b, a])
            vals.extend([gv, gv, -gv, -gv])

        for i in range(R):
            for j in range(C - 1):
                g(rr(i, j), rr(i, j + 1), 1.0 / cfg.r_wire_row)
        for i in range(R - 1):
            for j in range(C):
                g(cc(i, j), cc(i + 1, j), 1.0 / cfg.r_wire_col)
        self.gd = 1.0 / cfg.r_driver
        self.row_port = np.array([rr(i, 0) for i in range(R)])
        self.col_port = np.array([cc(R - 1, j) for j in range(C)])
        for p in np.concatenate([self.row_port, self.col_port]):
            rows.append(p)
            cols.append(p)
            vals.append(self.gd)
        self.fixed = (np.array(rows), np.array(cols), np.array(vals))
        ri = np.arange(n)
        ci = n + np.arange(n)
        self.cell_r, self.cell_c = ri, ci
        self.cell_idx = (np.concatenate([ri, ci, ri, ci]), np.concatenate([ri, ci, ci, ri]))

    def factor(self, g_cells: np.ndarray):
        fr, fc, fv = self.fixed
        g = np.asarray(g_cells, dtype=float).ravel()
        r = np.concatenate([fr, self.cell_idx[0]])
        c = np.concatenate([fc, self.cell_idx[1]])
        v = np.concatenate([fv, g, g, -g, -g])
        return splu(sp.csc_matrix((v, (r, c)), shape=(self.n, self.n)),
                    permc_spec="MMD_AT_PLUS_A")

    def transfer(self, lu, lines=None) -> np.ndarray:
        """Node voltages per volt on each line: (n, len(lines)) (all R + C lines by default).
        Solved one right-hand side at a time (measured 5x faster than SuperLU's blocked
        multi-RHS solve here)."""
        ports = np.concatenate([self.row_port, self.col_port])
        lines = range(len(ports)) if lines is None else lines
        out = np.empty((self.n, len(lines)))
        b = np.zeros(self.n)
        for k, ln in enumerate(lines):
            b[ports[ln]] = self.gd
            out[:, k] = lu.solve(b)
            b[ports[ln]] = 0.0
        return out

    def solve(self, lu, drive: np.ndarray):
        """Node voltages (K, n) for drive (K, R + C) [V] (the network is linear: a sum of
        the lines' unit responses)."""
        drive = np.atleast_2d(drive)
        return drive @ self.transfer(lu).T

    def cell_voltage(self, v_nodes):
        return v_nodes[:, self.cell_r] - v_nodes[:, self.cell_c]

    def line_power(self, v_nodes, drive):
        """Power delivered by all drivers (K,) [W]."""
        ports = np.concatenate([self.row_port, self.col_port])
        i = self.gd * (drive - v_nodes[:, ports])
        return (drive * i).sum(axis=1)


ENERGY_NODES = 12
"""Gauss-Legendre points per segment of the moving-G energy term (:meth:`TwinProgrammer.
_pulses`): on a flat top that takes a linear-R cell all the way from R_off to R_on (G =
1/(a + b·t), 10x) the rule's relative error is 2e-7 (8 points: 4e-5; 16: 1e-9)."""

_GAUSS = ((np.polynomial.legendre.leggauss(ENERGY_NODES)[0] + 1) / 2,
          np.polynomial.legendre.leggauss(ENERGY_NODES)[1] / 2)
"""Gauss-Legendre nodes and weights on [0, 1]."""


class TwinProgrammer:
    """Applies iterations to twin states: ``x`` (rows, cols) in place of ngspice."""

    def __init__(self, cfg: ProgramConfig, cells: CellArray):
        self.cfg, self.cells = cfg, cells
        self.net = ArrayNetwork(cfg, cells.shape)
        self.twin = VteamTwin(cells.card) if cfg.has_threshold else \
            LinearIonDriftTwin(cells.card)
        self._params = None

    def conductance(self, x):
        return 1.0 / self.cells.card.resistance(x)

    def _free_drift(self, vc, ts, *, per_segment: bool = False, cols=None):
        """Window-free drift ∫rate dt towards R_off (>= 0) and R_on (<= 0) per cell over
        corners ``ts`` with cell voltages ``vc`` (K, cells); ``per_segment``: (K − 1, cells)
        per segment instead of the sums; ``cols``: the (flat) cells the columns of ``vc``
        are (default all)."""
        card = self.cells.card
        p = self.params if cols is None else {k: v[cols] for k, v in self.params.items()}
        dts = np.diff(ts)[:, None]
        u_off = vc / p["v_off"] - 1.0
        u_on = vc / p["v_on"] - 1.0
        f_off = p["k_off"] / card.d * segment_integral(u_off[:-1], u_off[1:], dts,
                                                       card.alpha_off)
        f_on = p["k_on"] / card.d * segment_integral(u_on[:-1], u_on[1:], dts, card.alpha_on)
        return (f_off, f_on) if per_segment else (f_off.sum(0), f_on.sum(0))

    def _apply(self, x, f_off, f_on):
        """States after free drifts, through the device twin's exact window integral (fed as
        an equivalent rectangular pulse at 2·v_th, where the rate is k/D whatever α)."""
        card = self.cells.card
        xf = x.ravel().copy()
        for free, v_eq, rate in ((f_off, 2 * card.v_off, card.k_off / card.d),
                                 (f_on, 2 * card.v_on, card.k_on / card.d)):
            m = free != 0
            if m.any():
                xf[m] = xf[m] + self.twin.pulse_dx(v_eq, free[m] / rate, xf[m])
        return xf.reshape(x.shape)

    def _pulses(self, lu, it: Iteration, spans, x):
        """Energy [J] and end states of the pulse phases with corners ``spans``, the network
        factored (``lu``) at the states ``x`` of their start.

        The power of a linear network under linearly moving line voltages is quadratic in
        time between corners, so Simpson's rule on corners and midpoints integrates it
        exactly.  A pulsed cell's G moves during its pulse (a long SET pulse from R_off: up to
        10x); to first order in the network that adds v_c²·(G(t) − G_start) to the power,
        with G(t) = 1/R(x(t)) the card's exact conductance along x(t) = x_start + (x_end −
        x_start)·F(t), F the fraction of the cell's drift done by t (from the same segment
        integrals as the states), taken linear in t within a segment (exact on a flat top)
        and integrated by Gauss-Legendre (:data:`ENERGY_NODES` points a segment; G(t) is
        1/(a + b·t) on a flat top of a linear-R card, so a G linear in F, as before,
        overstated a 100 µs SET pulse from R_off by 25 %)."""
        R, C = self.cells.shape
        net = self.net
        tr = net.transfer(lu)
        ports = np.concatenate([net.row_port, net.col_port])
        kc = (tr[net.cell_r] - tr[net.cell_c]).T
        kp = tr[ports].T

        # every span's corners and midpoints in one product with the unit responses (one
        # matmul per iteration, not two per phase: small products are slow in threaded BLAS)
        n_c = [len(ts) for ts in spans]
        mids = [0.5 * (ts[1:] + ts[:-1]) for ts in spans]
        t_all = np.concatenate(list(spans) + mids)
        d = it.drive(t_all, R, C)
        vc_all = d @ kc
        pw_all = (d * (net.gd * (d - d @ kp))).sum(axis=1)
        n_corner = sum(n_c)
        ends = np.cumsum(n_c)
        mends = n_corner + np.cumsum([n - 1 for n in n_c])
        # span k's corners and midpoints in t_all / vc_all / pw_all
        corner = [slice(e - n, e) for e, n in zip(ends, n_c, strict=True)]
        mid = [slice(m - (n - 1), m) for m, n in zip(mends, n_c, strict=True)]
        ts_all = t_all[:n_corner]
        p = self.params
        n = R * C
        f_off = np.zeros(n)
        f_on = np.zeros(n)
        total = np.zeros(n)
        energy = 0.0
        pieces = []
        for k in range(len(spans)):
            c, m = corner[k], mid[k]
            vc = vc_all[c]
            pw, pwm = pw_all[c], pw_all[m]
            dt = np.diff(ts_all[c])
            energy += float(np.sum(dt / 6 * (pw[:-1] + 4 * pwm + pw[1:])))
            # a segment drifts only where a corner is beyond a threshold (the rate is zero
            # between them and u is linear along a segment): the phase's own cells, mostly
            act = np.flatnonzero(((vc > p["v_off"]) | (vc < p["v_on"])).any(axis=0))
            if not act.size:
                continue
            a, b = self._free_drift(vc[:, act], ts_all[c], per_segment=True, cols=act)
            f_off[act] += a.sum(0)
            f_on[act] += b.sum(0)
            seg = np.abs(a) + np.abs(b)
            total[act] += seg.sum(0)
            pieces.append((k, act, seg, vc[:, act], vc_all[m][:, act], dt))
        x_end = self._apply(x, f_off, f_on)
        moved = np.flatnonzero(total > 0)
        extra = 0.0
        if moved.size:
            xs, xe = x.ravel()[moved], x_end.ravel()[moved]
            g0 = self.conductance(xs)

            def dg(frac, cols):
                """G(F) − G_start [S] of the moved cells ``cols`` (positions in ``moved``)
                at drift fractions ``frac`` (..., len(cols))."""
                return self.conductance(xs[cols] + (xe[cols] - xs[cols]) * frac) - g0[cols]

            # ∫ v_c² dt per span of every moved cell (Simpson, exact for linear v_c): the
            # power correction of a span where the cell does not drift is dg(F) times it
            e2 = np.empty((len(spans), moved.size))
            for k in range(len(spans)):
                v2 = vc_all[corner[k]][:, moved] ** 2
                vm2 = vc_all[mid[k]][:, moved] ** 2
                dt = np.diff(ts_all[corner[k]])[:, None]
                e2[k] = (dt / 6 * (v2[:-1] + 4 * vm2 + v2[1:])).sum(0)
            scale = np.zeros(n)
            scale[moved] = 1.0 / total[moved]
            done = np.zeros(n)
            by_span = {pc[0]: pc for pc in pieces}
            every = np.arange(moved.size)
            tau, wq = _GAUSS
            for k in range(len(spans)):
                if k not in by_span:
                    extra += float(np.dot(dg(done[moved] * scale[moved], every), e2[k]))
                    continue
                _, act, seg, vc, _vcm, dt = by_span[k]
                keep = total[act] > 0
                idx = np.searchsorted(moved, act[keep])
                still = np.setdiff1d(every, idx, assume_unique=True)
                extra += float(np.dot(dg(done[moved[still]] * scale[moved[still]], still),
                                      e2[k, still]))
                act, seg, vc = act[keep], seg[:, keep], vc[:, keep]
                cum = done[act] + np.cumsum(seg, axis=0)
                f1 = cum * scale[act]
                f0 = np.vstack([done[act][None, :], cum[:-1]]) * scale[act]
                # (node, segment, cell): v_c linear between corners, F linear in a segment
                v = vc[:-1] + (vc[1:] - vc[:-1]) * tau[:, None, None]
                f = f0 + (f1 - f0) * tau[:, None, None]
                extra += float(np.einsum("q,s,qsc->", wq, dt, v ** 2 * dg(f, idx)))
                done[act] = cum[-1]
        return energy + extra, x_end

    @property
    def params(self):
        if self._params is None:
            self._params = {k: self.cells.get(k).ravel() for k in
                            ("k_on", "k_off", "v_on", "v_off")}
        return self._params

    def run(self, x: np.ndarray, it: Iteration, *, refactor: str = "iteration") -> dict:
        """States after the iteration, verify reads (apparent G = I_col/v_read) and energy
        (same keys as the SPICE reader).

        ``refactor='iteration'``: the network is factored once with the states at the
        iteration's start for all its pulse phases (a phase of row i changes only row i's
        cells, whose effect on another row's cell voltages is through µV of IR drop);
        ``'phase'``: re-factored before every phase (exact sequencing; the tests show both
        agree to 1e-4 of a pulse's Δx)."""
        if refactor not in ("iteration", "phase"):
            raise ConfigError(f"refactor must be 'iteration' or 'phase', got {refactor!r}")
        if not self.cfg.has_threshold:
            return self._run_drift(x, it)
        R, C = self.cells.shape
        x = np.asarray(x, dtype=float).copy()
        energy = 0.0
        if it.phases:
            spans = [it.breakpoints(ph.t0, ph.t1) for ph in it.phases]
            lu = self.net.factor(self.conductance(x))
            groups = [spans] if refactor == "iteration" else [[ts] for ts in spans]
            for n, group in enumerate(groups):
                if n:
                    lu = self.net.factor(self.conductance(x))
                e, x = self._pulses(lu, it, group, x)
                energy += e
        reads = {}
        if it.reads:
            lu = self.net.factor(self.conductance(x))
            ts = it.breakpoints(it.read_start, it.stop)
            drive = it.drive(ts, R, C)
            d = it.drive([t for _, t in it.reads], R, C)
            # only the read rows are driven: their unit responses are all the solve needs
            live = np.flatnonzero(np.any(drive != 0, axis=0) | np.any(d != 0, axis=0))
            tr = self.net.transfer(lu, live)
            pw = self.net.line_power(drive[:, live] @ tr.T, drive)
            dm = it.drive(0.5 * (ts[1:] + ts[:-1]), R, C)
            pm = self.net.line_power(dm[:, live] @ tr.T, dm)
            energy += float(np.sum(np.diff(ts) / 6 * (pw[:-1] + 4 * pm + pw[1:])))
            vn = d[:, live] @ tr.T
            icol = self.net.gd * (vn[:, self.net.col_port] - d[:, R:])
            for k, (row, _) in enumerate(it.reads):
                reads[row] = icol[k] / self.cfg.v_read
        return {"x": x, "reads": reads, "energy": energy}

    DX_STEP = 0.01
    """Largest state change (at the segment's start rates) of any cell per RK4 substep in
    :meth:`_run_drift` [1]."""

    def _run_drift(self, x: np.ndarray, it: Iteration) -> dict:
        """The iteration for a card without threshold (linear ion drift), every cell dynamic
        through every segment — pulses and verify reads alike (a read pulse writes its row's
        cells, and a read samples the states at its time, as ngspice's transient does).

        Per segment between waveform corners (and read instants) the network is factored
        at the states of the segment's start (once more at its end, for the energy); every
        cell's voltage is then linear in time, and dx/dt = k·i·f(x, i) of the device twin
        (:class:`~circuitsim.devices.LinearIonDriftTwin`, the equations of
        ``linear_ion_drift.lib``) is integrated by RK4 in substeps of at most
        :data:`DX_STEP` in x.  Left out, stated: the change of the wires' IR drop while a
        segment moves the states (µV across 1 Ω segments and 10 Ω drivers) and the wire
        capacitance.  Energy: Simpson's rule in time on the mean of the powers at the
        segment's start and end states (one 5 µs pulse on 3x3: within 2 % of ngspice).  End
        states are clipped to [0, 1], as :func:`~circuitsim.program.spice.iteration_deck`
        clips the next deck's x0."""
        R, C = self.cells.shape
        net, card = self.net, self.cells.card
        read_at = {round(t / 1e-15): row for row, t in it.reads}
        ts = np.unique(np.concatenate([it.breakpoints(0.0, it.stop),
                                       [t for _, t in it.reads]]))
        xf = np.asarray(x, dtype=float).ravel().copy()
        energy = 0.0
        reads: dict = {}
        rmin = min(card.r_on, card.r_off)
        lu = net.factor(self.conductance(xf))
        for a, b in zip(ts[:-1], ts[1:], strict=True):
            d = it.drive([a, 0.5 * (a + b), b], R, C)
            live = np.flatnonzero(np.any(d != 0, axis=0))
            row = read_at.get(round(a / 1e-15))
            if not live.size:
                continue
            tr = net.transfer(lu, live)
            vn = d[:, live] @ tr.T  # (3, n)
            vc = net.cell_voltage(vn)
            if row is not None:
                icol = net.gd * (vn[0, net.col_port] - d[0, R:])
                reads[row] = icol / self.cfg.v_read
            dt = b - a
            v0, dv = vc[0], (vc[2] - vc[0]) / dt
            f = self.twin.dxdt
            step = dt * max(float(np.max(np.abs(f(v0, xf)))), float(np.max(np.abs(f(vc[2], xf)))),
                            float(np.max(np.abs(card.k * vc / rmin))) * 1e-3)
            n = int(min(max(np.ceil(step / self.DX_STEP), 1), 100000))
            h = dt / n
            x_start = xf
            for s in range(n):
                t0 = s * h
                k1 = f(v0 + dv * t0, xf)
                k2 = f(v0 + dv * (t0 + h / 2), xf + h / 2 * k1)
                k3 = f(v0 + dv * (t0 + h / 2), xf + h / 2 * k2)
                k4 = f(v0 + dv * (t0 + h), xf + h * k3)
                xf = xf + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
            pw0 = net.line_power(vn, d)
            if np.array_equal(xf, x_start):
                pw1 = pw0
            else:
                lu = net.factor(self.conductance(xf))
                pw1 = net.line_power(d[:, live] @ net.transfer(lu, live).T, d)
            # Simpson in time, the mean of the powers at the segment's start and end states
            pw = 0.5 * (pw0 + pw1)
            energy += float(dt / 6 * (pw[0] + 4 * pw[1] + pw[2]))
        for row, t in it.reads:  # a read at a corner with every line at 0 V: none here
            if row not in reads:
                raise ConfigError(f"twin: verify read of row {row} at {t:g} s found no "
                                  "driven segment")
        return {"x": np.clip(xf, 0.0, 1.0).reshape(R, C), "reads": reads, "energy": energy}


__all__ = ["ArrayNetwork", "TwinProgrammer", "segment_integral"]
