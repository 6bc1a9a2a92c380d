"""Fixtures for the agent's integration tests: a stand-in coordinator on the real test broker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from provisioning.broker import Broker
from provisioning.pki import Pki
from tests.edge_agent.helpers import FakeCoordinator


@pytest.fixture
def coordinator(broker: Broker, pki: Pki) -> Iterator[FakeCoordinator]:
    coord = FakeCoordinator(broker, pki)
    yield coord
    coord.close()
