"""The twin of a programming iteration: the same line waveforms (:mod:`.schedule`) on the
same wiring, solved as a resistive network, with each cell's VTEAM state integrated exactly
over the piecewise-linear voltage it sees.

The network is solved once per iteration (every line's unit response, line by line:
:meth:`ArrayNetwork.responses`), with the states at its start; node voltages at
every waveform corner follow (the network is linear at fixed states, so a cell's voltage is
linear between corners).  The phases are then taken in order, each at the network its
predecessors left, corrected line by line (:mod:`.ladders`), and within a phase the
drifting cells' voltages follow their own G (:meth:`TwinProgrammer._pulses`): a row of SET
pulses from R_off raises its G up to 10x, and the IR drop on its row and on the columns the
next rows share with it grows by tens of mV at 65x32.  With α the VTEAM exponent,
∫max(v/v_th − 1, 0)^α dt over a linear segment has a closed form, and the window is applied
exactly by the device twin (:meth:`circuitsim.devices.VteamTwin.pulse_dx`: the state equation
is separable, dx/f(x) = rate(v(t))·dt).  What the twin leaves out, stated: the wire
capacitance (ps time constants against ns edges).  Measured against ngspice row deck by row
deck (tests/test_program_twin_wires.py, 24x24 from R_off, 51-102 µs SET pulses): Δx within
5e-5, energy 1.5e-4; the same iteration with the network held at its start states, as
before, was 0.77 % off (3 % of Δx and 6 % of the energy on the 65x32 benchmark's first
adaptive iteration).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from ..devices import LinearIonDriftTwin, VteamTwin
from ..errors import ConfigError, ConvergenceError
from . import ladders
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


RESPONSE_RTOL = 1e-13
"""Line-by-line solves of :meth:`ArrayNetwork.responses` stop when a sweep changes no node
voltage by more than this fraction of the largest."""


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
        self.ports = np.concatenate([self.row_port, self.col_port])
        """Every line's driven node: rows first, then columns."""
        for p in self.ports:
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
        lines = range(len(self.ports)) if lines is None else lines
        out = np.empty((self.n, len(lines)))
        b = np.zeros(self.n)
        for k, ln in enumerate(lines):
            b[self.ports[ln]] = self.gd
            out[:, k] = lu.solve(b)
            b[self.ports[ln]] = 0.0
        return out

    def responses(self, g_cells: np.ndarray, lines=None) -> np.ndarray:
        """:meth:`transfer` of the array at cell conductances ``g_cells`` (R, C) [S], solved
        line by line (:func:`circuitsim.program.ladders.solve`, to 1e-13), or by the
        factorization where that does not converge.  Against :meth:`factor` +
        :meth:`transfer` at 65x32 (random 10-100 µS, 2 cores, load 0.5): all 97 lines 15 vs
        30 ms (2x), 8 read rows 1.3 vs 10 ms (8x), one row 0.17 vs 8.9 ms (50x)."""
        R, C = self.R, self.C
        lines = np.arange(R + C) if lines is None else np.asarray(lines, dtype=int)
        g = np.asarray(g_cells, dtype=float).reshape(R, C)
        rr = np.zeros((len(lines), R, C))
        rc = np.zeros((len(lines), R, C))
        for k, ln in enumerate(lines):  # the ports: row i at (i, 0), column j at (R - 1, j)
            if ln < R:
                rr[k, ln, 0] = self.gd
            else:
                rc[k, R - 1, ln - R] = self.gd
        try:
            vr, vc = ladders.solve(g, self.cfg, rr, rc, rtol=RESPONSE_RTOL, max_sweeps=200)
        except ConvergenceError:
            return self.transfer(self.factor(g), lines)
        return np.concatenate([vr.reshape(len(lines), -1), vc.reshape(len(lines), -1)],
                              axis=1).T

    def cell_voltage(self, v_nodes):
        return v_nodes[:, self.cell_r] - v_nodes[:, self.cell_c]

    def line_power(self, v_nodes, drive):
        """Power delivered by all drivers (K,) [W]."""
        i = self.gd * (drive - v_nodes[:, self.ports])
        return (drive * i).sum(axis=1)


ENERGY_NODES = 12
"""Gauss-Legendre points per segment of the moving-G energy term (:meth:`TwinProgrammer.
_pulses`): on a flat top that takes a linear-R cell all the way from R_off to R_on (G =
1/(a + b·t), 10x) the rule's relative error is 2e-7 (8 points: 4e-5; 16: 1e-9)."""

_GAUSS = ((np.polynomial.legendre.leggauss(ENERGY_NODES)[0] + 1) / 2,
          np.polynomial.legendre.leggauss(ENERGY_NODES)[1] / 2)
"""Gauss-Legendre nodes and weights on [0, 1]."""


IR_PASSES = 1
"""Passes of :meth:`TwinProgrammer._pulses` that correct a phase's drifting cells' voltages
for the G they have moved by, after the one without (0: not corrected).  Measured on the
first adaptive iteration of the 65x32 benchmark (every cell SET from R_off, up to 102 µs)
against re-solving the network before every phase: 0 passes 1.3 % of a pulse's Δx, 1 pass
2.2e-4, 2 passes 1.2e-4 (which is also where per-phase refactoring stands against ngspice
run row by row: 1.2e-4); the energy 1.3 %, 2.3e-4, 1.3e-5."""


def _fractions(a, b) -> np.ndarray:
    """(Gauss node, segment, cell): the fraction of each cell's drift done at each
    Gauss-Legendre node of each segment, F linear in t within a segment, from the segments'
    drifts ``a`` (towards R_off) and ``b`` (towards R_on) (segments, cells)."""
    seg = np.abs(a) + np.abs(b)
    tot = seg.sum(0)
    scale = np.divide(1.0, tot, out=np.zeros_like(tot), where=tot > 0)
    f1 = np.cumsum(seg, axis=0) * scale
    f0 = np.vstack([np.zeros((1, seg.shape[1])), f1[:-1]])
    return f0 + (f1 - f0) * _GAUSS[0][:, None, None]


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

    def _drift(self, u0, u1, dt, cols):
        """Window-free drift towards R_off (>= 0) and R_on (<= 0) of cells ``cols`` over
        segments with cell voltages linear from ``u0`` to ``u1`` (segments, cells) in ``dt``
        (segments,)."""
        card = self.cells.card
        p = {k: v[cols] for k, v in self.params.items()}
        h = np.asarray(dt, dtype=float)[:, None]
        a = p["k_off"] / card.d * segment_integral(u0 / p["v_off"] - 1.0, u1 / p["v_off"] - 1.0,
                                                   h, card.alpha_off)
        b = p["k_on"] / card.d * segment_integral(u0 / p["v_on"] - 1.0, u1 / p["v_on"] - 1.0,
                                                  h, card.alpha_on)
        return a, b

    def _impedance(self, g, cells) -> np.ndarray:
        """W (len(cells) square) [ohm]: the mutual impedance through the wires of ``cells``
        (flat indices) at conductances ``g`` (R, C): between cells of one row its row line's
        ladder (:func:`~circuitsim.program.ladders.row_ladder`, inverted), on the diagonal
        also each cell's column-line driving-point impedance.  Cells of different rows couple
        only through a column line's other cells and are taken as uncoupled (a second-order
        term: the other cells are 10-100 kΩ against tens of ohm of wire)."""
        C = self.cells.shape[1]
        i, j = np.divmod(np.asarray(cells), C)
        w = np.zeros((len(cells), len(cells)))
        for row in np.unique(i):  # a phase's cells: mostly one row
            m = np.flatnonzero(i == row)
            z = np.linalg.inv(ladders.row_ladder(g[row], self.cfg))
            w[np.ix_(m, m)] = z[np.ix_(j[m], j[m])]
        w[np.diag_indices(len(cells))] += ladders.line_inverse_diagonals(g, self.cfg)[i, j]
        return w

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

    def _pulses(self, it: Iteration, spans, x):
        """Energy [J] and end states of the pulse phases with corners ``spans``, the network
        solved once (:meth:`ArrayNetwork.responses`) at the states ``x`` of their start.

        The power of a linear network under linearly moving line voltages is quadratic in
        time between corners, so Simpson's rule on corners and midpoints integrates it
        exactly.  The network is solved once, at the iteration's start; the phases are
        then taken in order, each at the network its predecessors left (a row of SET pulses
        from R_off raises its cells' G up to 10x, and the next rows' selected cells see the
        columns' larger IR drop, tens of mV at 65x32).  With ds the cells' G change since
        the factorization and u the start network's cell voltages, the phase-start network
        has u + δu, δu from the same nodal equations for the injected currents ±ds·u
        (:func:`circuitsim.program.ladders.solve`, line by line), and the drivers deliver
        Σ ds·u·(u + δu) more power (the exact rank update of a conductance change).

        Within a phase the drifting cells' own G moves too, and with it the IR drop their
        row's other cells see: with Δ = diag(G(t) − G_phase start) and W their mutual
        impedance through the wires (:meth:`_impedance`), they see u' = (I + W·Δ)⁻¹·u.  Δ
        is held at its time average over each segment between corners, from the trajectory
        of the previous pass (:data:`IR_PASSES` passes after one without): u' stays linear
        within a segment, the drift integrals stay closed-form, and on a flat top (u
        constant) the average is first-order exact; the power gains Σ Δ·u·u'.  G(t) =
        1/R(x(t)) is the card's exact conductance along x(t) = x_start + (x_end −
        x_start)·F(t), F the fraction of the cell's drift done by t, taken linear in t
        within a segment (exact on a flat top) and integrated by Gauss-Legendre
        (:data:`ENERGY_NODES` points a segment; G linear in F overstated a 100 µs SET pulse
        from R_off by 25 %).  Along the phases a cell's state is its window-free drift
        (clipped to [0, 1]; it differs from the windowed state only within a few x_c of a
        bound); the states returned are the window integral of each cell's drifts, exact."""
        R, C = self.cells.shape
        net = self.net
        tr = net.responses(self.conductance(x))
        kc = (tr[net.cell_r] - tr[net.cell_c]).T
        kp = tr[net.ports].T

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
        ts_all = t_all[:n_corner]
        p = self.params
        g0 = self.conductance(x).ravel()
        xf = x.ravel().copy()  # window-free along the phases (see below)
        f_off = np.zeros(R * C)
        f_on = np.zeros(R * C)
        energy = 0.0
        tau, wq = _GAUSS
        for e, n, me in zip(ends, n_c, mends, strict=True):
            u, um = vc_all[e - n:e], vc_all[me - (n - 1):me]
            pw, pwm = pw_all[e - n:e], pw_all[me - (n - 1):me]
            dt = np.diff(ts_all[e - n:e])
            g_now = self.conductance(xf)
            ds = g_now - g0
            if np.any(ds != 0):
                inj = (ds * u).reshape(n, R, C)
                vr, vcn = ladders.solve(g_now.reshape(R, C), self.cfg, -inj, inj)
                u_now = u + (vr - vcn).reshape(n, R * C)
                um_now = 0.5 * (u_now[1:] + u_now[:-1])  # δu is linear in the drive
                pw = pw + (ds * u * u_now).sum(axis=1)
                pwm = pwm + (ds * um * um_now).sum(axis=1)
                u, um = u_now, um_now
            energy += float(np.sum(dt / 6 * (pw[:-1] + 4 * pwm + pw[1:])))
            # a segment drifts only where a corner is beyond a threshold (the rate is zero
            # between them and u is linear along a segment): the phase's own cells, mostly
            act = np.flatnonzero(((u > p["v_off"]) | (u < p["v_on"])).any(axis=0))
            if not act.size:
                continue
            ua = u[:, act]
            u0, u1 = ua[:-1], ua[1:]
            a, b = self._drift(u0, u1, dt, act)
            xs = xf[act]
            x_end = np.clip(xs + a.sum(0) + b.sum(0), 0.0, 1.0)
            gs = g_now[act]
            w = self._impedance(g_now.reshape(R, C), act) if IR_PASSES else None

            for _ in range(IR_PASSES):
                f = _fractions(a, b)
                dbar = np.einsum("q,qsc->sc", wq, self.conductance(xs + (x_end - xs) * f) - gs)
                m = np.eye(len(act))[None] + w[None] * dbar[:, None, :]
                uu = np.linalg.solve(m, np.stack([ua[:-1], ua[1:]], axis=-1))
                u0, u1 = uu[..., 0], uu[..., 1]
                a, b = self._drift(u0, u1, dt, act)
                x_end = np.clip(xs + a.sum(0) + b.sum(0), 0.0, 1.0)
            # the drifting cells' power: Σ Δ·u·u' along the segments (Gauss-Legendre)
            f = _fractions(a, b)
            v = ua[:-1] + (ua[1:] - ua[:-1]) * tau[:, None, None]
            vp = u0 + (u1 - u0) * tau[:, None, None]
            dg = self.conductance(xs + (x_end - xs) * f) - gs
            energy += float(np.einsum("q,s,qsc->", wq, dt, v * vp * dg))
            xf[act] = x_end
            f_off[act] += a.sum(0)
            f_on[act] += b.sum(0)
        return energy, self._apply(x, f_off, f_on)

    @property
    def params(self):
        if self._params is None:
            self._params = {k: self.cells.get(k).ravel() for k in
                            ("k_on", "k_off", "v_on", "v_off")}
        return self._params

    def run(self, x: np.ndarray, it: Iteration, *, refactor: str = "iteration") -> dict:
        """States after the iteration, verify reads (apparent G = I_col/v_read) and energy
        (same keys as the SPICE reader).

        ``refactor='iteration'``: the network is solved once with the states at the
        iteration's start, and each phase corrected for the conductances the earlier ones
        moved (:meth:`_pulses`); ``'phase'``: re-solved before every phase (the check of
        that correction: both agree to 1e-6 of a pulse's Δx, 6x slower at 65x32)."""
        if refactor not in ("iteration", "phase"):
            raise ConfigError(f"refactor must be 'iteration' or 'phase', got {refactor!r}")
        if not self.cfg.has_threshold:
            return self._run_drift(x, it)
        R, C = self.cells.shape
        x = np.asarray(x, dtype=float).copy()
        energy = 0.0
        if it.phases:
            spans = [it.breakpoints(ph.t0, ph.t1) for ph in it.phases]
            groups = [spans] if refactor == "iteration" else [[ts] for ts in spans]
            for group in groups:
                e, x = self._pulses(it, group, x)
                energy += e
        reads = {}
        if it.reads:
            ts = it.breakpoints(it.read_start, it.stop)
            drive = it.drive(ts, R, C)
            d = it.drive([t for _, t in it.reads], R, C)
            # only the read rows are driven: their unit responses are all the solve needs
            live = np.flatnonzero(np.any(drive != 0, axis=0) | np.any(d != 0, axis=0))
            tr = self.net.responses(self.conductance(x), live)
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
