"""NeuroSim pulse-response device: twin formulas, SPICE subcircuit pulse by pulse, the study."""

from __future__ import annotations

import math

import numpy as np
import pytest

from circuitsim.errors import ConfigError
from circuitsim.nonideal.device import PulseNonlinearity, nl_to_a_over_pmax
from circuitsim.program.pulse_device import PulseDevice
from circuitsim.studies.nonlinearity import spice_curve_check


def test_pulse_device_follows_the_neurosim_curves():
    d = PulseDevice(nl_p=3, nl_d=2, p_max=40)
    a = nl_to_a_over_pmax(3) * 40
    b = d.span / (1 - math.exp(-40 / a))
    g = d.g_min
    for p in range(1, 41):
        g = float(d.potentiate(g, 1))
        assert g == pytest.approx(d.g_min + b * (1 - math.exp(-p / a)), rel=1e-12)
    assert g == pytest.approx(d.g_max, rel=1e-12)
    ad = nl_to_a_over_pmax(2) * 40
    bd = d.span / (1 - math.exp(-40 / ad))
    for n in range(1, 41):
        g = float(d.depress(g, 1))
        assert g == pytest.approx(d.g_max - bd * (1 - math.exp(-n / ad)), rel=1e-9)
    # the same curve as the open-loop transform of circuitsim.nonideal (one table, one law)
    pn = PulseNonlinearity(nl=3, p_max=40)
    target = d.g_min + 17 / 40 * d.span
    assert float(pn.apply(target, d.g_min, d.g_max)) == pytest.approx(
        float(d.potentiate(d.g_min, 17)), rel=1e-12)
    # linear device: equal steps, clipped at the bounds
    lin = PulseDevice(p_max=10)
    assert float(lin.potentiate(lin.g_min, 3)) == pytest.approx(lin.g_min + 0.3 * lin.span)
    assert float(lin.apply(lin.g_max, 5)) == lin.g_max
    with pytest.raises(ConfigError):
        PulseDevice(nl_p=7)
    with pytest.raises(ConfigError):
        PulseDevice(p_max=0)


def test_spice_subcircuit_matches_twin_pulse_by_pulse(batch_runner):
    """Pmax potentiation then Pmax depression pulses from g_min: ngspice's state after every
    pulse within 1e-3 of the G range of the twin (measured ~1.5e-4, gear at t_pulse/50)."""
    devs = [PulseDevice(nl_p=nl, nl_d=nl, p_max=16) for nl in (0, 1, 6)]
    dev = spice_curve_check(devs, runner=batch_runner)
    assert max(dev) < 1e-3


def test_pulse_sgd_learns_and_study_writes(tmp_path):
    from circuitsim.studies import StudyContext, run_study

    res = run_study("nonlinearity", StudyContext(quick=True, progress=False), tmp_path,
                    spice=False)
    assert len(res.rows) == 4
    assert {r["mode"] for r in res.rows} == {"potentiation", "both"}
    # better than chance (0.1) after 3 epochs on a linear device
    assert [r for r in res.rows if r["nl"] == 0][0]["mean_acc"] > 0.5
    assert (tmp_path / "nonlinearity.png").exists() and (tmp_path / "nonlinearity.csv").exists()
    assert np.all([r["pulses"] > 0 for r in res.rows])
