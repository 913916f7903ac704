"""Memory is estimated before large solves, and array inputs are what they claim to be
(issue 12, classes 7 and 8)."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch

import circuitsim.crossbar.spec as spec_mod
from circuitsim.behavioral import column_currents
from circuitsim.crossbar.spec import CrossbarSpec, available_memory_bytes, solve_memory_estimate
from circuitsim.errors import ConfigError


@pytest.fixture
def one_gib(monkeypatch):
    monkeypatch.setattr(spec_mod, "available_memory_bytes", lambda: 1 << 30)


def test_huge_spec_is_refused_before_its_copy_is_made(one_gib):
    g = np.broadcast_to(5e-5, (20000, 20000))  # a view: no memory behind it
    with pytest.raises(ConfigError, match=r"20000x20000 .* needs about 3\.7\d* GiB.*1 GiB.*tile"):
        CrossbarSpec(g)


def test_large_solve_is_refused_with_the_estimate(monkeypatch):
    monkeypatch.setattr(spec_mod, "available_memory_bytes", lambda: 256 << 20)
    s = CrossbarSpec(np.full((2000, 2000), 5e-5), r_wire_row=1.0, r_wire_col=1.0)
    with pytest.raises(ConfigError, match=r"a pcg solve of 1 vector\(s\) needs about .* GiB"):
        column_currents(s, np.full(2000, 0.1))
    with pytest.raises(ConfigError, match="sparse solve"):
        column_currents(s, np.full(2000, 0.1), method="sparse")


@pytest.mark.parametrize("method, shape", [("map", (200, 200)), ("map", (64, 256)),
                                           ("pcg", (400, 400)), ("pcg", (64, 256))])
def test_estimate_bounds_the_measured_peak(method, shape):
    s = CrossbarSpec(np.full(shape, 5e-5), r_wire_row=1.0, r_wire_col=1.0)
    V = np.full(shape[0], 0.1)
    column_currents(s, V, method=method)  # once first: numba kernels load (fixed, not per cell)
    tracemalloc.start()
    column_currents(s, V, method=method)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    est = solve_memory_estimate(*shape, method)
    assert peak <= est <= 4 * peak, (peak, est)


def test_available_memory_is_known_here():
    have = available_memory_bytes()
    assert have is None or have > 0


@pytest.mark.parametrize("make", [lambda g: g.astype(complex) + 1e-9j,
                                  lambda g: torch.tensor(g, dtype=torch.complex128)])
def test_complex_conductance_is_refused(make):
    with pytest.raises(ConfigError, match="must be real"):
        CrossbarSpec(make(np.full((3, 2), 5e-5)))


def test_complex_voltages_are_refused():
    s = CrossbarSpec(np.full((3, 2), 5e-5))
    with pytest.raises(ConfigError, match="must be real"):
        column_currents(s, np.full(3, 0.1) + 0.1j)
    with pytest.raises(ConfigError, match="must be real"):
        column_currents(s, torch.full((3,), 0.1, dtype=torch.complex128), backend="torch",
                        device="cpu")


def test_tensors_with_grad_are_read_as_values():
    g = torch.full((3, 2), 5e-5, dtype=torch.float64, requires_grad=True)
    v = torch.full((3,), 0.1, dtype=torch.float64, requires_grad=True)
    s = CrossbarSpec(g, r_wire_row=0.0, r_wire_col=0.0)
    np.testing.assert_allclose(column_currents(s, v), np.full(2, 3 * 0.1 * 5e-5), rtol=1e-12)
