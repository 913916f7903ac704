"""Shared fixtures.  ngspice tests use the real simulator (installed by `make setup`)."""

from __future__ import annotations

import pytest

from circuitsim.spice import BatchRunner, SharedRunner


@pytest.fixture(scope="session")
def batch_runner():
    return BatchRunner()


@pytest.fixture(scope="session")
def shared_runner():
    r = SharedRunner()
    yield r
    r.close()
