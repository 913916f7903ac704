"""Network: the planned circuit of a trained MLP; writes its ngspice deck and runs it, and
runs its behavioral twin.

Many inputs per ngspice run: one ``.dc`` sweep of a slot index ``Vslot`` from 0 to N-1 in
steps of 1; every input row is a B-source ``pwl(v(slot), 0, v_0, 1, v_1, ...)`` that holds
input n's row voltage at slot n (rows that never change are plain DC sources).  Each sweep
point is a full DC operating point (Newton from the previous point's solution); the matrix is
set up and ordered once for the whole sweep, which is what makes many inputs per run cheap.
A DC sweep has no time axis, so wire capacitances and the op-amp poles do not enter.  For
those, ``deck(X, slot_s=T)`` / ``spice_forward(X, slot_s=T)`` run one ``.tran`` instead:
input k held on the rows for one slot of T seconds (PWL sources), read at the slot's end.
It costs ~50 time points per slot instead of one sweep point, so it is for settling studies
(a long enough slot reproduces the DC results; the tests check both ways), not for
throughput.
"""

from __future__ import annotations

import dataclasses
import json
import time
import zlib
from pathlib import Path

import numpy as np

from ..behavioral import CrossbarSolver
from ..behavioral.energy import currents_and_power, read_power
from ..circuit import BSource, Dc, Deck, Instance, Pwl, RawLine, Tran, VoltageSource
from ..crossbar import CrossbarSpec, crossbar_subckt
from ..crossbar.netlist import slot_pwl_points, slot_row_sources
from ..crossbar.wires import wire_fields
from ..emit import emit_deck
from ..errors import ConfigError
from ..generators.neuron import neuron_subckt, neuron_transfer
from ..generators.sense_amp import diff_sense_subckt
from ..mapping.walk import pool_forward, unfold_patches
from ..readout import activate
from ..spice import Runner, get_runner
from ..units import require_positive, spice_number
from .config import CircuitConfig
from .outputs import NetOutputs
from .plan import LayerPlan, layer_outputs, layer_rows

DECK_OPTIONS = {"reltol": 1e-6, "vntol": 1e-9, "abstol": 1e-13, "itl2": 200}
"""ngspice options of the network decks: tolerances tight enough that every sweep point is
converged far below the 1 mV comparison with the twin (ngspice's default reltol is 1e-3),
not so tight that nonlinear cells (sinh B-sources) stall (abstol 1e-15 sent every sweep
point into gmin stepping), and more Newton iterations per sweep point (``itl2``) for the
jumps between inputs."""

MANIFEST_FORMAT = "circuitsim-network/1"


class Network:
    """A circuit network; build it with :func:`circuitsim.network.build_network`."""

    def __init__(self, plans: list[LayerPlan], circuit: CircuitConfig, mapping, *,
                 name: str = "network", sinh_v0: float | None = None, nonideal=None,
                 draw: int = 0, calibration_size: int | None = None):
        self.plans = list(plans)
        self.circuit = circuit
        self.mapping = mapping
        self.name = name
        self.sinh_v0 = sinh_v0
        """Cells' sinh read nonlinearity v0 [V] (from ``nonideal.iv``), or None (ohmic)."""
        self.nonideal = nonideal
        self.draw = draw
        self.calibration_size = calibration_size
        """Calibration inputs that set the ADC full scales (None: no calibrated ADC)."""
        self._solvers: dict = {}

    # ------------------------------------------------------------------ basics

    @property
    def n_in(self) -> int:
        return self.plans[0].n_in

    @property
    def n_out(self) -> int:
        return self.plans[-1].n_out

    @property
    def n_features(self) -> int:
        """Inputs of the network (a CNN: C·H·W of the image)."""
        return self.plans[0].n_features

    @property
    def v_read(self) -> float:
        return float(self.mapping.v_read)

    @property
    def digital(self) -> bool:
        """True when the layers have a digital periphery (tiles / DAC / ADC): the layers are
        co-simulated one at a time (analog tiles, then the digital step in Python)."""
        return any(p.digital for p in self.plans)

    def check_inputs(self, X) -> np.ndarray:
        """Inputs (N, features) or (features,) in [0, 1] -> float64 (N, features)."""
        try:
            x = np.array(X, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"inputs must be an array of features in [0, 1]: {exc}") from None
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2 or x.shape[1] != self.n_features or x.shape[0] < 1:
            raise ConfigError(f"inputs must have shape (N, {self.n_features}) (one row per "
                              f"input, {self.n_features} features), got {x.shape}")
        if not np.isfinite(x).all():
            raise ConfigError("inputs hold NaN or inf values")
        if x.min() < 0 or x.max() > 1:
            raise ConfigError(f"input features must lie in [0, 1] (row voltage x·v_read stays "
                              f"in the read range), got [{x.min():g}, {x.max():g}]; rescale "
                              "the data")
        return x

    def crossbar_spec(self, plan: LayerPlan, *, extra_r_sense: float = 0.0):
        """The :class:`CrossbarSpec` of one layer (``extra_r_sense`` [ohm] is added to the
        sense resistance: the twin uses it for the TIA's input resistance)."""
        return self._spec(plan.conductance, extra_r_sense)

    def tile_spec(self, plan: LayerPlan, ri: int, ci: int, *, extra_r_sense: float = 0.0):
        """The :class:`CrossbarSpec` of tile (ri, ci) of a layer: its own wires (a tile
        boundary cuts the row and column wires)."""
        return self._spec(plan.tile_conductance(ri, ci), extra_r_sense)

    def _spec(self, g, extra_r_sense: float):
        w = wire_fields(self.circuit)
        w["r_sense"] += extra_r_sense
        return CrossbarSpec(g, **w, access=self.circuit.access, sinh_v0=self.sinh_v0,
                            cell=self.circuit.cell)

    def osdi(self) -> tuple[str, ...]:
        """Compiled Verilog-A libraries the decks load (those of ``circuit.cell``)."""
        return self.circuit.cell.osdi() if self.circuit.cell is not None else ()

    # ------------------------------------------------------------------ names

    @staticmethod
    def row_node(plan: LayerPlan, i: int) -> str:
        """Top-level node driving row i of layer ``plan`` (the bias row is ``vbias``)."""
        if i == plan.n_in:
            return "vbias"
        return f"x{i}" if plan.index == 1 else f"l{plan.index - 1}_h{i}"

    @staticmethod
    def pre_node(plan: LayerPlan, j: int) -> str:
        return f"l{plan.index}_z{j}"

    def out_node(self, plan: LayerPlan, j: int) -> str:
        return f"l{plan.index}_h{j}" if plan.neuron is not None else self.pre_node(plan, j)

    @staticmethod
    def current_vector(plan: LayerPlan, k: int) -> str:
        return f"i(vl{plan.index}_m{k})"

    def _sense_names(self, plan: LayerPlan) -> list[str]:
        uniq = list(dict.fromkeys(plan.sense))
        if len(uniq) == 1:
            return [f"sense_l{plan.index}"] * plan.n_out
        idx = {s: n for n, s in enumerate(uniq)}
        return [f"sense_l{plan.index}_{idx[s]}" for s in plan.sense]

    # ------------------------------------------------------------------ the deck

    def subcircuits(self) -> list:
        subs = []
        for p in self.plans:
            subs.append(crossbar_subckt(self.crossbar_spec(p), f"xbar_l{p.index}"))
            seen = set()
            for name, card in zip(self._sense_names(p), p.sense, strict=True):
                if name not in seen:
                    seen.add(name)
                    subs.append(diff_sense_subckt(card, name))
            if p.neuron is not None:
                subs.append(neuron_subckt(p.neuron, f"neuron_l{p.index}"))
        return subs

    def deck(self, X, *, print_outputs: bool = False, title: str | None = None,
             slot_s: float | None = None) -> Deck:
        """One deck evaluating every input of ``X`` (N, features) in one run.

        Default: one ``.dc`` sweep of the slot source (DC operating points; the cheapest).
        ``slot_s`` [s]: a ``.tran`` instead, input k held on its rows from ``k·slot_s +
        slot_s/100`` to ``(k+1)·slot_s`` (ramps of slot_s/100 between inputs) and read at the
        end of its slot: the op-amp poles and wire capacitances act, and a slot that is too
        short shows as a settling error.  ``print_outputs`` adds a ``.print`` so plain
        ``ngspice -b`` prints the outputs."""
        if self.digital:
            raise ConfigError("this network has tiles / converters: it is co-simulated one "
                              "layer at a time; use layer_deck(plan, V) (or write())")
        x = self.check_inputs(X)
        n = len(x)
        v = x * self.v_read
        tran = slot_s is not None
        if tran:
            require_positive("slot_s", slot_s, "[s]")
        els: list = [VoltageSource("Vslot", "slot", "0", 0.0,
                                   comment=f"input slot: .dc sweeps it 0..{n - 1}; row voltages "
                                           "are pwl functions of it") if not tran else
                     VoltageSource("Vslot", "slot", "0", 0.0,
                                   comment=f"input k is held for one slot of {slot_s:g} s "
                                           "(.tran), read at the slot's end"),
                     VoltageSource("Vbias", "vbias", "0", self.v_read,
                                   comment=f"bias rows of every layer at v_read = "
                                           f"{self.v_read:g} V")]
        if self.circuit.access is not None:
            els.append(VoltageSource("Vwl", "wl", "0", self.circuit.access.v_wordline,
                                     comment="word lines of every 1T1R array"))
        slots = np.arange(n, dtype=float)
        for i in range(self.n_in):
            col = v[:, i]
            cmt = "inputs: feature x -> row voltage x*v_read, one value per slot" if i == 0 \
                else ""
            if np.all(col == col[0]):
                els.append(VoltageSource(f"Vx{i}", f"x{i}", "0", float(col[0]), comment=cmt))
            elif tran:
                els.append(VoltageSource(f"Vx{i}", f"x{i}", "0", float(col[0]), comment=cmt,
                                         waveform=Pwl(slot_pwl_points(col, slot_s))))
            else:
                pts = ", ".join(f"{spice_number(s)}, {spice_number(val)}"
                                for s, val in zip(slots, col, strict=True))
                els.append(BSource(f"Bx{i}", f"x{i}", "0", f"pwl(v(slot), {pts})", comment=cmt))
        saves = []
        for p in self.plans:
            xname = f"xbar_l{p.index}"
            ports = [self.row_node(p, i) for i in range(p.n_in + 1)]
            ports += [f"l{p.index}_col{k}" for k in range(2 * p.n_out)]
            if self.circuit.access is not None:
                ports.append("wl")
            kind = "1T1R" if self.circuit.access is not None else "1R"
            els.append(Instance(f"X{xname}", xname, ports, comment=(
                f"layer {p.index}: {p.n_in} inputs + bias row -> {p.n_out} outputs, {kind} "
                f"crossbar {p.n_in + 1}x{2 * p.n_out} (column 2j = G+, 2j+1 = G- of output j)")))
            for k in range(2 * p.n_out):
                els.append(VoltageSource(f"Vl{p.index}_m{k}", f"l{p.index}_col{k}",
                                         f"l{p.index}_in{k}", 0.0,
                                         comment="column current meters (0 V)" if k == 0
                                         else ""))
                saves.append(self.current_vector(p, k))
            els += self._noise_sources(p, x, slot_s)
            for j, sname in enumerate(self._sense_names(p)):
                els.append(Instance(f"Xl{p.index}_sa{j}", sname,
                                    (f"l{p.index}_in{2 * j}", f"l{p.index}_in{2 * j + 1}",
                                     self.pre_node(p, j)),
                                    comment=f"layer {p.index}: sense stages, "
                                            f"{p.sense[0].transimpedance:g} V/A" if j == 0
                                    else ""))
                saves.append(f"v({self.pre_node(p, j)})")
            if p.neuron is not None:
                for j in range(p.n_out):
                    els.append(Instance(f"Xl{p.index}_n{j}", f"neuron_l{p.index}",
                                        (self.pre_node(p, j), self.out_node(p, j)),
                                        comment=f"layer {p.index}: {p.activation} neurons "
                                                f"({p.neuron.flavour})" if j == 0 else ""))
                    saves.append(f"v({self.out_node(p, j)})")
        if print_outputs:
            last = self.plans[-1]
            els.append(RawLine("print", f".print {'tran' if tran else 'dc'} " + " ".join(
                f"v({self.out_node(last, j)})" for j in range(last.n_out))))
        arch = "-".join([str(self.n_in)] + [str(p.n_out) for p in self.plans])
        how = f"a .tran of {n} slots" if tran else "one .dc sweep"
        analysis = (Tran(slot_s / 50, n * slot_s, tmax=slot_s / 50) if tran
                    else Dc("Vslot", 0.0, float(n - 1), 1.0))
        return Deck(title or f"{self.name}: {arch} memristor MLP, {n} input(s) in {how}",
                    elements=els, subcircuits=self.subcircuits(), options=DECK_OPTIONS,
                    analyses=[analysis], saves=tuple(saves), osdi=self.osdi())

    # ------------------------------------------------------------------ SPICE

    def spice_forward(self, X, runner="batch", timeout_s: float | None = None,
                      chunk: int = 400, progress: bool | None = None,
                      slot_s: float | None = None) -> NetOutputs:
        """Run the network in ngspice, ``chunk`` inputs per run (one ``.dc`` sweep each, or
        one ``.tran`` with ``slot_s`` [s] per input: see :meth:`deck`); ``timeout_s`` per run
        (default 120 s + 2 s per input).  ``progress``: tqdm bar over the runs (None = on a
        terminal with more than one run)."""
        import sys

        from tqdm import tqdm


        x = self.check_inputs(X)
        if isinstance(chunk, bool) or not isinstance(chunk, int | np.integer) or chunk < 1:
            raise ConfigError(f"chunk must be a whole number >= 1 (inputs per ngspice run), got "
                              f"{chunk!r}")
        own = not isinstance(runner, Runner)
        r = get_runner(runner) if own else runner
        t0 = time.perf_counter()
        parts, runs = [], []
        try:
            chunk = int(chunk)
            starts = range(0, len(x), chunk)
            show = (sys.stderr.isatty() and len(starts) > 1) if progress is None else progress
            if slot_s is not None:
                require_positive("slot_s", slot_s, "[s]")
            for s in tqdm(starts, desc="ngspice runs", disable=not show):
                xs = x[s:s + chunk]
                t = timeout_s if timeout_s is not None else 120.0 + 2.0 * len(xs)
                if self.digital:
                    parts.append(self._digital_forward(
                        xs, lambda p, V, t=t: self._tiles_spice(p, V, r, t, runs,
                                                                    slot_s=slot_s),
                        "spice"))
                    continue
                res = r.run(self.deck(xs, slot_s=slot_s), timeout_s=t)
                runs.append(res)
                parts.append(self._read(res, len(xs), slot_s))
        finally:
            if own:
                r.close()
        out = _concat(parts, "spice")
        out.wall_s = time.perf_counter() - t0
        out.meta["runs"] = len(runs)
        out.meta["solver"] = sorted({res.solver for res in runs})
        out.meta["ngspice_version"] = sorted({res.ngspice_version for res in runs})
        return out

    def _read(self, res, n: int, slot_s: float | None = None) -> NetOutputs:
        def vec(name):
            return res.per_point(name, n, slot_s)

        layers, pre, cur = [], [], []
        for p in self.plans:
            pre.append(np.stack([vec(f"v({self.pre_node(p, j)})") for j in range(p.n_out)], 1))
            layers.append(np.stack([vec(f"v({self.out_node(p, j)})") for j in range(p.n_out)],
                                   1))
            cur.append(np.stack([vec(self.current_vector(p, k)) for k in range(2 * p.n_out)],
                                1))
        return NetOutputs(layers, pre[-1] / self.circuit.v_per_unit, pre, cur, "spice")

    # ------------------------------------------------------------------ twin

    def behavioral_forward(self, X, ideal: bool = False, backend: str = "numpy",
                           timeout_s: float | None = None) -> NetOutputs:
        """The same circuit through the behavioral engine.

        ``ideal=False``: each crossbar solved exactly (wires, drivers, access transistors)
        with the sense TIA's input resistance ``r_a/(1+a0)`` added to ``r_sense`` (the
        finite-gain virtual-ground error; exact for linear op-amps without offset), the sense
        stage and neurons through their DC twins (exact also when a saturating difference
        amplifier clips: the column TIAs are sized by ``tia_swing`` to stay off their clamps,
        so every column keeps its linear virtual ground).  ``ideal=True``: ideal MVM, infinite-gain
        sense stage, ideal neuron formula: what the circuit is designed to compute.
        ``timeout_s``: of the ngspice characterisation of circuit neurons (see
        :func:`~circuitsim.generators.neuron.neuron_transfer`)."""
        x = self.check_inputs(X)
        t0 = time.perf_counter()
        if self.digital:
            out = self._digital_forward(x, lambda p, V: self._tiles_twin(p, V, ideal, backend),
                                        "ideal" if ideal else "behavioral")
            out.wall_s = time.perf_counter() - t0
            return out
        v_rows = x * self.v_read
        layers, pre, cur = [], [], []
        for p in self.plans:
            V = np.concatenate([v_rows, np.full((len(x), 1), self.v_read)], axis=1)
            if ideal:
                I = V @ p.conductance
            else:
                I = self._solver(p, backend).column_currents(V.T).T
            i_sense = I + self.column_noise(p, V, x)
            z = np.empty((len(x), p.n_out))
            for j, card in enumerate(p.sense):
                ip, i_n = i_sense[:, 2 * j], i_sense[:, 2 * j + 1]
                z[:, j] = card.transimpedance * (ip - i_n) if ideal else card.transfer(ip, i_n)
            if p.neuron is None:
                h = z
            elif ideal:
                h = p.neuron.ideal_transfer(z)
            else:
                h = neuron_transfer(p.neuron, z, timeout_s)
            pre.append(z)
            layers.append(h)
            cur.append(I)
            v_rows = h
        out = NetOutputs(layers, pre[-1] / self.circuit.v_per_unit, pre, cur,
                         "ideal" if ideal else "behavioral")
        out.wall_s = time.perf_counter() - t0
        return out

    def _solver(self, plan: LayerPlan, backend: str):
        """The crossbar engine of one layer, factored once and kept (the spec includes the
        sense TIA's input resistance)."""

        key = (plan.index, backend)
        if key not in self._solvers:
            spec = self.crossbar_spec(plan, extra_r_sense=plan.sense[0].r_in)
            self._solvers[key] = _NumpySolver(CrossbarSolver(spec, backend=backend))
        return self._solvers[key]

    def reference_forward(self, X) -> np.ndarray:
        """Logits of the trained model itself (float64 numpy, no circuit)."""
        h = self.check_inputs(X)
        for p in self.plans:
            n = len(h)
            xin = h if p.conv is None else unfold_patches(h, p.conv)
            z = xin @ p.weight.T + p.bias
            if p.conv is not None:
                co, ho, wo = p.conv["out_shape"]
                z = z.reshape(n, ho, wo, co).transpose(0, 3, 1, 2).reshape(n, -1)
            h = activate(p.activation, z)
            if p.pool is not None:
                h = pool_forward(h, p.pool)
        return h

    # ------------------------------------------------------------------ tiles and converters

    @staticmethod
    def tile_out_node(plan: LayerPlan, ri: int, ci: int, j: int) -> str:
        """Sense-stage output of output j (layer numbering) of tile (ri, ci)."""
        return f"l{plan.index}_t{ri}_{ci}_z{j}"

    @staticmethod
    def tile_drive_node(plan: LayerPlan, ri: int, ci: int, i: int) -> str:
        """Row i (layer numbering) of tile (ri, ci) as driven by that tile's own row driver:
        every tile has its drivers, so that ngspice reports each tile's read power."""
        return f"l{plan.index}_t{ri}_{ci}_r{i}"

    def _tile_sense_names(self, plan: LayerPlan, ri: int, ci: int) -> list[str]:
        cards = plan.tile_sense[ri][ci]
        uniq = list(dict.fromkeys(cards))
        base = f"sense_l{plan.index}_t{ri}_{ci}"
        if len(uniq) == 1:
            return [base] * len(cards)
        idx = {s: n for n, s in enumerate(uniq)}
        return [f"{base}_{idx[s]}" for s in cards]

    def layer_deck(self, plan: LayerPlan, V, *, print_outputs: bool = False,
                   tiles=None, slot_s: float | None = None) -> Deck:
        """One ``.dc`` deck evaluating every tile of a digital-periphery layer for the row
        voltages ``V`` (N, in + 1) [V] (the DAC outputs; the last column, the bias row, must be
        v_read): one crossbar subcircuit per tile, each with its own sense stages; the sense
        outputs ``v(l{L}_t{ri}_{ci}_z{j})`` go to the ADC in Python.  ``tiles``: only these
        ``(ri, ci)`` (one tile per deck: the tile-parallel co-simulation's jobs); None: all.
        The tiles share no node but the word line (a source), so a deck of a subset solves
        the same equations for those tiles.  ``slot_s`` [s]: a ``.tran`` instead, row vector k
        held for one slot (as :meth:`deck`), the ADC sampling each sense output at the end of
        its slot."""

        V = np.asarray(V, dtype=float)
        n = len(V)
        chosen = _chosen_tiles(plan, tiles)
        tran = slot_s is not None
        if tran:
            require_positive("slot_s", slot_s, "[s]")
        els: list = [VoltageSource("Vslot", "slot", "0", 0.0, comment=(
            f"row vector k is held for one slot of {slot_s:g} s (.tran), sampled at the "
            "slot's end" if tran else f"input slot: .dc sweeps it 0..{n - 1}; row voltages "
                                      "are pwl functions of it"))]
        if self.circuit.access is not None:
            els.append(VoltageSource("Vwl", "wl", "0", self.circuit.access.v_wordline,
                                     comment="word lines of every 1T1R tile"))
        subs, saves = [], []
        for ri, ci, (r0, r1), (c0, c1) in plan.tiles():
            if (ri, ci) not in chosen:
                continue
            tag = f"l{plan.index}_t{ri}_{ci}"
            spec = self.tile_spec(plan, ri, ci)
            subs.append(crossbar_subckt(spec, f"xbar_{tag}"))
            ports = [self.tile_drive_node(plan, ri, ci, i) for i in range(r0, r1)]
            drivers = slot_row_sources(ports, V[:, r0:r1], f"V{tag}_r",
                                   f"tile ({ri}, {ci}) row drivers: DAC output voltages, one "
                                   "value per slot (the bias row at v_read)", slot_s)
            els += drivers
            saves += [f"i({d.name.lower()})" for d in drivers]
            ports += [f"{tag}_col{k}" for k in range(2 * (c1 - c0))]
            if self.circuit.access is not None:
                ports.append("wl")
            els.append(Instance(f"Xxbar_{tag}", f"xbar_{tag}", ports, comment=(
                f"layer {plan.index} tile ({ri}, {ci}): rows {r0}..{r1 - 1}, outputs "
                f"{c0}..{c1 - 1} ({spec.rows}x{spec.cols}, own wires and sense stages)")))
            names = self._tile_sense_names(plan, ri, ci)
            for name, card in dict(zip(names, plan.tile_sense[ri][ci], strict=True)).items():
                subs.append(diff_sense_subckt(card, name))
            for k in range(2 * (c1 - c0)):
                els.append(VoltageSource(f"V{tag}_m{k}", f"{tag}_col{k}", f"{tag}_in{k}", 0.0))
                saves.append(f"i(v{tag}_m{k})")
            for jj, name in enumerate(names):
                node = self.tile_out_node(plan, ri, ci, c0 + jj)
                els.append(Instance(f"X{tag}_sa{jj}", name,
                                    (f"{tag}_in{2 * jj}", f"{tag}_in{2 * jj + 1}", node)))
                saves.append(f"v({node})")
        if print_outputs:
            els.append(RawLine("print", f".print {'tran' if tran else 'dc'} " +
                               " ".join(saves[:64])))
        which = (f"{len(plan.row_tiles)}x{len(plan.col_tiles)} tiles" if tiles is None else
                 "tile(s) " + " ".join(f"({ri}, {ci})" for ri, ci in sorted(chosen)))
        how = f"a .tran of {n} slots" if tran else "one .dc sweep"
        return Deck(f"{self.name}: layer {plan.index}, {which}, {n} input(s) in {how}",
                    elements=els, subcircuits=subs, options=DECK_OPTIONS,
                    analyses=[Tran(slot_s / 50, n * slot_s, tmax=slot_s / 50) if tran
                              else Dc("Vslot", 0.0, float(n - 1), 1.0)], saves=tuple(saves),
                    osdi=self.osdi())

    def _tiles_spice(self, plan: LayerPlan, V, runner, timeout_s, runs=None, *,
                     tiles=None, slot_s: float | None = None) -> tuple:
        """Sense outputs (N, row tiles, out) [V], column currents (N, row tiles, 2·out) [A]
        and read power (N, row tiles, col tiles) [W] of every tile of a layer, from one
        ngspice run (its SimResult is appended to ``runs`` if given).  The power of a tile is
        Σ V·I of its row drivers from ngspice's branch currents (``i(V)`` flows into the +
        terminal: a source delivering power has a negative current); the tile's other sources
        deliver none at DC (0 V column meters, the word line's gates).  ``tiles``: only these
        ``(ri, ci)`` are simulated (the other entries are NaN)."""
        n = len(V)
        chosen = _chosen_tiles(plan, tiles)
        res = runner.run(self.layer_deck(plan, V, tiles=tiles, slot_s=slot_s),
                         timeout_s=timeout_s)
        if runs is not None:
            runs.append(res)

        def vec(name):
            return res.per_point(name, n, slot_s)

        out = np.full((n, len(plan.row_tiles), plan.n_out), np.nan)
        cur = np.full((n, len(plan.row_tiles), 2 * plan.n_out), np.nan)
        power = np.zeros((n, len(plan.row_tiles), len(plan.col_tiles)))
        for ri, ci, (r0, r1), (c0, c1) in plan.tiles():
            if (ri, ci) not in chosen:
                power[:, ri, ci] = np.nan
                continue
            tag = f"l{plan.index}_t{ri}_{ci}"
            for j in range(c0, c1):
                out[:, ri, j] = vec(f"v({self.tile_out_node(plan, ri, ci, j)})")
            for k in range(2 * (c1 - c0)):
                cur[:, ri, 2 * c0 + k] = vec(f"i(v{tag}_m{k})")
            for k in range(r1 - r0):
                name = (f"v{tag}_r{k}" if slot_s is not None or np.all(V[:, r0 + k] ==
                                                                      V[0, r0 + k])
                        else f"b{tag}_r{k}")
                power[:, ri, ci] -= V[:, r0 + k] * vec(f"i({name})")
        return out, cur, power

    def spice_tile(self, plan: LayerPlan, tile: tuple[int, int], V, runner,
                   timeout_s: float | None = None) -> tuple:
        """One tile ``(ri, ci)`` of a digital-periphery layer in its own ngspice run, for row
        voltages ``V`` (N, in + 1) [V]: ``(out (N, outputs of the tile) [V], currents
        (N, 2·outputs) [A], read power (N,) [W], SimResult)`` -- the tile's share of
        :meth:`_tiles_spice`, one independent job of the tile-parallel co-simulation
        (:mod:`circuitsim.xval.tiles`)."""
        ri, ci = tile
        (c0, c1) = plan.col_tiles[ci]
        runs: list = []
        out, cur, pw = self._tiles_spice(plan, np.asarray(V, dtype=float), runner, timeout_s,
                                         runs, tiles=[tile])
        return out[:, ri, c0:c1], cur[:, ri, 2 * c0:2 * c1], pw[:, ri, ci], runs[0]

    def forward_with_tiles(self, X, tiles_of, source: str = "spice") -> NetOutputs:
        """The layer-by-layer co-simulation of a digital-periphery network with the analog
        tiles given by ``tiles_of(plan, V) -> (out, currents, power)`` (shapes of
        :meth:`_tiles_spice`): the same DAC / ADC / partial-sum / activation code as
        :meth:`spice_forward` and :meth:`behavioral_forward`.  The tile-parallel scheduler
        feeds it tile results computed elsewhere."""
        if not self.digital:
            raise ConfigError("forward_with_tiles needs a network with tiles / converters "
                              "(mapping.tile_size or adc_bits)")
        return self._digital_forward(self.check_inputs(X), tiles_of, source)

    def _tiles_twin(self, plan: LayerPlan, V, ideal: bool, backend: str = "numpy",
                    power: bool = True) -> tuple:
        """The same as :meth:`_tiles_spice` through the behavioral engine (``ideal``: G·V and
        the infinite-gain sense stage; its read power Σ_i V_i² Σ_j G_ij: no wires).  The
        circuit's read power is :func:`circuitsim.behavioral.energy.read_power` at the solved
        node voltages (``power=False`` skips it: zeros)."""

        n = len(V)
        out = np.empty((n, len(plan.row_tiles), plan.n_out))
        cur = np.empty((n, len(plan.row_tiles), 2 * plan.n_out))
        pw = np.zeros((n, len(plan.row_tiles), len(plan.col_tiles)))
        for ri, ci, (r0, r1), (c0, c1) in plan.tiles():
            cards = plan.tile_sense[ri][ci]
            v = V[:, r0:r1]
            if ideal:
                g = plan.tile_conductance(ri, ci)
                i = v @ g
                if power:
                    pw[:, ri, ci] = (v ** 2) @ g.sum(axis=1)
            else:
                key = (plan.index, ri, ci, backend)
                if key not in self._solvers:
                    spec = self.tile_spec(plan, ri, ci, extra_r_sense=cards[0].r_in)
                    self._solvers[key] = _NumpySolver(CrossbarSolver(spec, backend=backend))
                s = self._solvers[key].solver
                if power and backend == "numpy" and not s.spec.is_linear:
                    # nonlinear cells: one Newton solve gives both (the column current is
                    # the sum of its cell currents, the power Σ_i V_i Σ_j I_cell)
                    i, pw[:, ri, ci] = currents_and_power(s.spec, v.T, solver=s)
                    i = i.T
                else:
                    i = self._solvers[key].column_currents(v.T).T
                    if power:
                        pw[:, ri, ci] = np.asarray(read_power(s.spec, v.T, solver=s),
                                                   dtype=float).reshape(n)
            cur[:, ri, 2 * c0:2 * c1] = i
            for jj, card in enumerate(cards):
                ip, i_n = i[:, 2 * jj], i[:, 2 * jj + 1]
                out[:, ri, c0 + jj] = (card.transimpedance * (ip - i_n) if ideal
                                       else card.transfer(ip, i_n))
        return out, cur, pw

    def _digital_forward(self, x, tiles_of, source: str) -> NetOutputs:
        """Layer by layer: DAC rows → analog tiles (``tiles_of(plan, V)``) → ADC, partial
        sums and activation (:func:`digital_step`, the same for every world)."""
        layers, pre, cur, tiles, power, a = [], [], [], [], [], x
        for p in self.plans:
            V = layer_rows(p, a, self.v_read)
            out, i, pw = tiles_of(p, V)
            # per input: a conv layer reads its tiles once per output position
            power.append(pw.reshape(len(x), -1, *pw.shape[1:]).sum(axis=1))
            out = out + self.read_noise(p, V)
            z_v, a = layer_outputs(p, out, self.circuit.v_per_unit, len(x))
            pre.append(z_v)
            layers.append(z_v if p.activation is None else a)
            cur.append(i.reshape(len(x), -1))
            tiles.append(out)
        return NetOutputs(layers, pre[-1] / self.circuit.v_per_unit, pre, cur, source,
                          tiles=tiles, power=power)

    def read_noise(self, plan: LayerPlan, V) -> np.ndarray | float:
        """The read-noise sample of every tile output (N, row tiles, out) [V] for row voltages
        ``V`` (0 without ``nonideal.read_noise``).  Each column current gets a Gaussian error
        of variance absolute² + relative²·Σ_i V_i²·G_ij² (:class:`~circuitsim.nonideal.
        ReadNoise`), seen through the output's transimpedance; it is added to the analog tile
        outputs before the ADC, the same sample in ngspice and the twin.  The sample of one
        input is drawn from ``(seed, draw, layer, hash of its row voltages)``, so it does not
        depend on the other inputs of the batch."""
        rn = None if self.nonideal is None else self.nonideal.read_noise
        if rn is None or rn.is_identity:
            return 0.0
        out = np.zeros((len(V), len(plan.row_tiles), plan.n_out))
        z = np.stack([np.random.default_rng(
            [self.nonideal.seed, self.draw, 99, plan.index, zlib.crc32(row.tobytes())]
        ).standard_normal((len(plan.row_tiles), 2 * plan.n_out)) for row in V])
        for ri, ci, (r0, r1), (c0, c1) in plan.tiles():
            g = plan.tile_conductance(ri, ci)
            sd = np.sqrt(rn.absolute ** 2 + rn.relative ** 2 * ((V[:, r0:r1] ** 2) @ g ** 2))
            i = sd * z[:, ri, 2 * c0:2 * c1]
            rt = np.array([c.transimpedance for c in plan.tile_sense[ri][ci]])
            out[:, ri, c0:c1] = rt * (i[:, 0::2] - i[:, 1::2])
        return out

    def _column_noise_z(self, plan: LayerPlan, x) -> np.ndarray | None:
        """All-analog networks: the standard-normal read-noise sample (N, 2·out) of every
        column of layer ``plan``, drawn from ``(seed, draw, 98, layer, hash of the network
        input)`` — keyed by the input, not by the hidden row voltages (which ngspice and the
        twin hold only to ~1e-9 V), so both worlds use one sample and no batch changes it.
        None without ``nonideal.read_noise``."""
        rn = None if self.nonideal is None else self.nonideal.read_noise
        if rn is None or rn.is_identity:
            return None
        return np.stack([np.random.default_rng(
            [self.nonideal.seed, self.draw, 98, plan.index, zlib.crc32(row.tobytes())]
        ).standard_normal(2 * plan.n_out) for row in np.asarray(x, dtype=np.float64)])

    def column_noise(self, plan: LayerPlan, V, x) -> np.ndarray | float:
        """All-analog networks: the read-noise current added at every column's sense input
        (N, 2·out) [A] for the layer's row voltages ``V`` (N, in + 1) and the network inputs
        ``x``: σ_j = sqrt(absolute² + relative²·Σ_i V_i²·G_ij²) (:class:`~circuitsim.nonideal.
        ReadNoise`) times the sample of :meth:`_column_noise_z`.  The deck computes the same
        σ from its own node voltages in a B-source (:meth:`_noise_sources`).  0 without read
        noise or with a digital periphery (there it enters at the ADC: :meth:`read_noise`)."""
        z = None if self.digital else self._column_noise_z(plan, x)
        if z is None:
            return 0.0
        rn = self.nonideal.read_noise
        V = np.asarray(V, dtype=float)
        return np.sqrt(rn.absolute ** 2 + rn.relative ** 2 * ((V ** 2) @ plan.conductance ** 2)) * z

    def _noise_sources(self, plan: LayerPlan, x, slot_s: float | None) -> list:
        """Deck elements of :meth:`column_noise`: a node per column holding its sample z (one
        value per slot) and a current B-source into the column's sense input of
        z·sqrt(absolute² + relative²·Σ_i v(row_i)²·G_ij²)."""
        z = self._column_noise_z(plan, x)
        if z is None:
            return []
        rn = self.nonideal.read_noise
        L = plan.index
        nodes = [f"l{L}_nz{k}" for k in range(2 * plan.n_out)]
        els = slot_row_sources(nodes, z, f"Vl{L}_nz", f"layer {L}: read-noise samples (seeded, one "
                           "per input and column)", slot_s)
        rows = [self.row_node(plan, i) for i in range(plan.n_in + 1)]
        for k, node in enumerate(nodes):
            terms = " + ".join(f"{spice_number(float(g) ** 2)}*v({r})*v({r})"
                               for r, g in zip(rows, plan.conductance[:, k], strict=True))
            var = f"{spice_number(rn.absolute ** 2)} + {spice_number(rn.relative ** 2)}*({terms})"
            els.append(BSource(f"Bl{L}_noise{k}", "0", f"l{L}_in{k}",
                               f"v({node})*sqrt({var})", kind="I",
                               comment="read noise into the sense inputs" if k == 0 else ""))
        return els

    def calibrated_plans(self, x_cal) -> list[LayerPlan]:
        """The plans with each layer's ADC full scales set from calibration inputs ``x_cal``:
        per row tile, the largest |sense output| of the behavioral circuit over them (earlier
        layers' ADCs already calibrated and applied)."""
        plans, a = [], self.check_inputs(x_cal)
        for p in self.plans:
            V = layer_rows(p, a, self.v_read)
            out, _, _ = self._tiles_twin(p, V, ideal=False, power=False)
            fs = np.abs(out).max(axis=(0, 2))
            p = dataclasses.replace(p, adc_full_scale=np.where(fs > 0, fs, 1.0))
            _, a = layer_outputs(p, out, self.circuit.v_per_unit, len(a))
            plans.append(p)
        return plans

    # ------------------------------------------------------------------ manifest / files

    def manifest(self) -> dict:
        layers = []
        for p in self.plans:
            wps = np.broadcast_to(np.asarray(p.mapped.w_per_siemens, dtype=float), (p.n_out,))
            layers.append({
                "index": p.index,
                "n_in": p.n_in, "n_out": p.n_out, "activation": p.activation,
                "crossbar": {"subckt": f"xbar_l{p.index}", "instance": f"Xxbar_l{p.index}",
                             "rows": p.n_in + 1, "cols": 2 * p.n_out,
                             "layout": "rows: inputs then the bias row; column 2j = G+, "
                                       "2j+1 = G- of output j",
                             "g_min_S": float(p.conductance.min()),
                             "g_max_S": float(p.conductance.max())},
                "in_scale": p.in_scale,
                "kind": "linear" if p.conv is None else "conv2d",
                "conv": None if p.conv is None else {k: list(v) for k, v in p.conv.items()},
                "pool": None if p.pool is None else {k: (list(v) if isinstance(v, tuple) else v)
                                                     for k, v in p.pool.items()},
                "periphery": {"digital": p.digital, "dac_bits": p.dac_bits,
                              "adc_bits": p.adc_bits,
                              "adc_full_scale_V": (None if p.adc_full_scale is None
                                                   else np.asarray(p.adc_full_scale).tolist()),
                              "row_tiles": [list(t) for t in p.row_tiles],
                              "col_tiles": [list(t) for t in p.col_tiles]},
                "w_per_siemens": wps.tolist(),
                "act_full_scale": p.act_full_scale,
                "sense": {"subckts": sorted(set(self._sense_names(p))),
                          "r_a_ohm": p.sense[0].r_a, "r1_ohm": p.sense[0].r1,
                          "r2_ohm": [s.r2 for s in p.sense],
                          "transimpedance_V_per_A": p.transimpedance.tolist(),
                          "opamp": dataclasses.asdict(p.sense[0].opamp)},
                "neuron": None if p.neuron is None else {
                    "subckt": f"neuron_l{p.index}", **dataclasses.asdict(p.neuron)},
                "nodes": {"rows": [self.row_node(p, i) for i in range(p.n_in + 1)],
                          "pre": [self.pre_node(p, j) for j in range(p.n_out)],
                          "out": [self.out_node(p, j) for j in range(p.n_out)],
                          "currents": [self.current_vector(p, k) for k in range(2 * p.n_out)]},
            })
        return {
            "format": MANIFEST_FORMAT,
            "name": self.name,
            "architecture": [self.n_in] + [p.n_out for p in self.plans],
            "activations": [p.activation for p in self.plans],
            "scaling": {
                "v_read_V": self.v_read, "v_per_unit_V": self.circuit.v_per_unit,
                "rows": "feature x in [0, 1] -> x*v_read; bias row at v_read; hidden "
                        "activation a -> a*in_scale*v_read",
                "mapping": "layer mapped as [W | in_scale*b]; I+ - I- = in_scale*v_read*z/"
                           "w_per_siemens",
                "sense": "transimpedance = v_per_unit*w_per_siemens/(in_scale*v_read): the "
                         "neuron input is z*v_per_unit",
                "neuron": "output v_read*a(z)/act_full_scale",
                "logits": "last layer's sense outputs / v_per_unit"},
            "inputs": {"analysis": ".dc Vslot 0 N-1 1", "slot_source": "Vslot",
                       "row_sources": [f"Bx{i} or Vx{i}" for i in range(self.n_in)]},
            "mapping": self.mapping.to_dict(),
            "circuit": self.circuit.to_dict(),
            "nonideal": None if self.nonideal is None else {**self.nonideal.to_dict(),
                                                            "draw": self.draw},
            "adc_calibration": (None if self.calibration_size is None else
                                {"inputs": self.calibration_size,
                                 "what": "largest |tile sense output| per layer and row tile "
                                         "over the calibration inputs (behavioral circuit)"}),
            "layers": layers,
        }

    def write(self, out_dir, X=None, *, name: str | None = None) -> list[Path]:
        """Write ``<name>.cir`` (runs as it stands in ``ngspice -b``; inputs ``X``, default one
        mid-scale input of 0.5) and ``manifest.json``; returns the paths."""

        out = Path(out_dir)
        name = name or self.name
        if Path(name).name != name or name.startswith(".") or "\\" in name:
            raise ConfigError(f"deck name {name!r}: a plain file name is needed (no '/', no "
                              "leading '.'); the folder is out_dir")
        out.mkdir(parents=True, exist_ok=True)
        X = np.full((1, self.n_features), 0.5) if X is None else X
        man = self.manifest()
        man["inputs"]["n"] = int(len(self.check_inputs(X)))
        if self.digital:
            # one deck per layer; a hidden layer's rows are the DAC codes of the twin's
            # digital outputs of the layer before (what the co-simulation feeds it)
            paths, a = [], self.check_inputs(X)
            for p in self.plans:
                V = layer_rows(p, a, self.v_read)
                path = out / f"{name}_l{p.index}.cir"
                path.write_text(emit_deck(self.layer_deck(p, V, print_outputs=True)))
                paths.append(path)
                _, a = layer_outputs(p, self._tiles_twin(p, V, ideal=False, power=False)[0],
                                     self.circuit.v_per_unit, len(a))
            man["decks"] = [q.name for q in paths]
        else:
            deck_path = out / f"{name}.cir"
            deck_path.write_text(emit_deck(self.deck(X, print_outputs=True)))
            man["deck"] = deck_path.name
            paths = [deck_path]
        man_path = out / (f"{name}.manifest.json" if name != self.name else "manifest.json")
        man_path.write_text(json.dumps(man, indent=1, sort_keys=True) + "\n")
        return [*paths, man_path]


def _chosen_tiles(plan: LayerPlan, tiles) -> set:
    """``tiles`` as a set of ``(ri, ci)`` of ``plan`` (None: all); ConfigError if unknown."""
    every = {(ri, ci) for ri, ci, _, _ in plan.tiles()}
    if tiles is None:
        return every
    chosen = {(int(ri), int(ci)) for ri, ci in tiles}
    if not chosen or not chosen <= every:
        raise ConfigError(f"layer {plan.index}: tiles {sorted(chosen)} are not a non-empty "
                          f"subset of its tiles {sorted(every)}")
    return chosen


class _NumpySolver:
    """Adapter: column currents as a float64 numpy array whatever the engine's backend."""

    def __init__(self, solver):
        self.solver = solver

    def column_currents(self, V):
        out = self.solver.column_currents(V)
        if hasattr(out, "detach"):
            out = out.detach().cpu().numpy()
        return np.asarray(out, dtype=float)


def _concat(parts: list[NetOutputs], source: str) -> NetOutputs:
    if len(parts) == 1:
        return parts[0]
    L = len(parts[0].layers)
    return NetOutputs([np.concatenate([p.layers[i] for p in parts]) for i in range(L)],
                      np.concatenate([p.logits for p in parts]),
                      [np.concatenate([p.pre[i] for p in parts]) for i in range(L)],
                      [np.concatenate([p.currents[i] for p in parts]) for i in range(L)],
                      source, tiles=[np.concatenate([p.tiles[i] for p in parts])
                                     for i in range(len(parts[0].tiles))],
                      power=[np.concatenate([p.power[i] for p in parts])
                             for i in range(len(parts[0].power))])
