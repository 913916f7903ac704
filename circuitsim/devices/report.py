"""One Verilog-A device, end to end: compile, characterise its twin from SPICE, run a pulse
train and a sine (both held out: the tables come from DC sweeps and constant-voltage probes) in
ngspice and in the twin, and write ``devices.json`` plus plots.  Used by
``circuitsim devices --verilog-a FILE``."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..circuit.elements import Pulse, Sin
from ..errors import ConfigError
from .characterise import Comparison, TableTwin, characterise, compare
from .verilog_a import VerilogAModel, compiler_version, find_compiler


@dataclass(frozen=True)
class DeviceStudy:
    """What :func:`run_device_study` characterises and compares."""

    v_min: float = -1.5
    """Lowest voltage of the tables [V]."""
    v_max: float = 1.5
    """Highest voltage of the tables [V]."""
    n_voltages: int = 61
    """Voltage grid points [1]."""
    x_min: float = 0.0
    """Lowest state of the tables [state unit]."""
    x_max: float = 1.0
    """Highest state of the tables [state unit]."""
    n_states: int = 101
    """States of the I-V table [1]."""
    n_rate_states: int = 21
    """States of the rate table [1]."""
    probe_time: float = 1e-7
    """Length of the rate probes [s]."""
    x0: float = 0.5
    """Initial state of both stimuli [state unit]."""
    pulse: tuple[float, float, float, float] = (-1.0, 1.0, 1e-6, 2e-6)
    """Pulse train (v_low [V], v_high [V], width [s], period [s]); edges width/20."""
    sine: tuple[float, float] = (1.0, 1e5)
    """Sine (amplitude [V], frequency [Hz])."""
    periods: int = 4
    """Stimulus periods simulated [1]."""
    rate_interp: str = "linear"
    """Rate-table interpolation, 'linear' or 'smooth' (see :class:`TableTwin`)."""

    def __post_init__(self):
        if not self.v_min < self.v_max or not self.x_min < self.x_max:
            raise ConfigError("DeviceStudy: need v_min < v_max and x_min < x_max")
        if self.n_voltages < 4 or self.n_states < 4 or self.n_rate_states < 2:
            raise ConfigError("DeviceStudy: need >= 4 voltages, >= 4 states, >= 2 rate states")
        if not self.x_min <= self.x0 <= self.x_max:
            raise ConfigError(f"DeviceStudy: x0 = {self.x0} is outside [{self.x_min}, "
                              f"{self.x_max}]")
        lo, hi, width, period = self.pulse
        if not 0 < width < period:
            raise ConfigError("DeviceStudy.pulse: need 0 < width < period [s]")
        for v in (lo, hi, self.sine[0], -self.sine[0]):
            if not self.v_min <= v <= self.v_max:
                raise ConfigError(f"DeviceStudy: stimulus voltage {v} V lies outside the "
                                  f"tables [{self.v_min}, {self.v_max}] V; widen the range")

    def waveforms(self) -> dict[str, tuple]:
        """name -> (waveform, stop, output step, ngspice tmax, twin max step)."""
        lo, hi, width, period = self.pulse
        edge = width / 20
        amp, freq = self.sine
        return {"pulse": (Pulse(lo, hi, 0.0, edge, edge, width, period), self.periods * period,
                          period / 400, edge / 10, edge),
                "sine": (Sin(0.0, amp, freq), self.periods / freq, 1 / freq / 400,
                         1 / freq / 1000, 1 / freq / 1000)}


def _plot_comparison(name: str, c: Comparison, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = 4 if c.x_spice is not None else 3
    fig, ax = plt.subplots(rows, 1, figsize=(8, 2.2 * rows), sharex=True)
    t = c.t * 1e6
    ax[0].plot(t, c.i_spice * 1e6, label="ngspice")
    ax[0].plot(t, c.i_twin * 1e6, "--", label="twin")
    ax[0].set_ylabel("I [µA]")
    ax[0].legend(loc="upper right")
    err_i = np.abs(c.i_twin - c.i_spice) / np.max(np.abs(c.i_spice))
    ax[1].semilogy(t, np.maximum(err_i, 1e-16))
    ax[1].axhline(c.max_current_error_rel, color="r", ls=":",
                  label=f"max {c.max_current_error_rel:.2e}")
    ax[1].set_ylabel("|ΔI| / max|I|")
    ax[1].legend(loc="lower right")
    if c.x_spice is not None:
        ax[2].plot(t, c.x_spice, label="ngspice")
        ax[2].plot(t, c.x_twin, "--", label="twin")
        ax[2].set_ylabel("state x")
        err_x = np.abs(c.x_twin - c.x_spice)
        ax[3].semilogy(t, np.maximum(err_x, 1e-16))
        ax[3].axhline(c.max_state_error, color="r", ls=":", label=f"max {c.max_state_error:.2e}")
        ax[3].set_ylabel("|Δx|")
        ax[3].legend(loc="lower right")
    ax[-1].set_xlabel("t [µs]")
    fig.suptitle(f"{name}: characterised twin vs ngspice (held-out stimulus)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_tables(twin: TableTwin, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(10, 3.8))
    for k in np.linspace(0, twin.states.size - 1, 5).astype(int):
        ax[0].plot(twin.voltages, twin.current_table[k] * 1e6, label=f"x={twin.states[k]:.2f}")
    for k in np.linspace(0, twin.rate_states.size - 1, 5).astype(int):
        ax[1].plot(twin.voltages, twin.rate_table[k], label=f"x={twin.rate_states[k]:.2f}")
    ax[0].set(xlabel="V [V]", ylabel="I [µA]", title="static I-V (ngspice .dc)")
    ax[1].set(xlabel="V [V]", ylabel="dx/dt [1/s]", title="rate (ngspice transient probes)")
    for a in ax:
        a.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_device_study(model: VerilogAModel, study: DeviceStudy, out_dir: Path | str, *,
                     runner: str = "batch", plots: bool = True) -> dict:
    """Compile, characterise, compare; write ``out_dir/devices.json`` (returned as a dict),
    ``tables.npz`` and the plots."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    lib = model.osdi()
    t_compile = time.perf_counter() - t0
    t0 = time.perf_counter()
    twin = characterise(model, np.linspace(study.x_min, study.x_max, study.n_states),
                        np.linspace(study.v_min, study.v_max, study.n_voltages),
                        rate_states=np.linspace(study.x_min, study.x_max,
                                                study.n_rate_states),
                        probe_time=study.probe_time, rate_interp=study.rate_interp,
                        runner=runner)
    t_char = time.perf_counter() - t0
    twin.to_npz(out / "tables.npz")
    report = {"verilog_a": str(model.source), "module": model.module, "params": model.params,
              "state_param": model.state_param, "state_node": model.state_node,
              "compiler": compiler_version(find_compiler()), "osdi": str(lib),
              "compile_s": t_compile, "characterise_s": t_char, "tables": twin.info,
              "stimuli": {}}
    worst_i, worst_x = 0.0, 0.0
    for name, (w, stop, step, tmax, twin_step) in study.waveforms().items():
        c = compare(model, twin, w, x0=study.x0, stop=stop, step=step, tmax=tmax,
                    twin_max_step=twin_step, runner=runner)
        report["stimuli"][name] = {"waveform": repr(w), "stop_s": stop, "tmax_s": tmax,
                                   "points": int(c.t.size),
                                   "max_current_error_rel": c.max_current_error_rel,
                                   "max_state_error": c.max_state_error,
                                   "state_swing": (float(np.ptp(c.x_spice))
                                                   if c.x_spice is not None else None),
                                   "ngspice_s": c.spice_wall_s, "twin_s": c.twin_wall_s}
        worst_i = max(worst_i, c.max_current_error_rel)
        if c.max_state_error is not None:
            worst_x = max(worst_x, c.max_state_error)
        if plots:
            _plot_comparison(name, c, out / f"{name}.png")
    if plots:
        _plot_tables(twin, out / "tables.png")
    report["max_current_error_rel"] = worst_i
    report["max_state_error"] = worst_x if model.state_node else None
    (out / "devices.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    return report


__all__ = ["DeviceStudy", "run_device_study"]
