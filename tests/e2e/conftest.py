from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from provisioning.broker import Broker
from provisioning.pki import Pki
from tests.e2e.system import System, make_system


@pytest.fixture
def system(world_dir: Path, pki: Pki, broker: Broker, request: pytest.FixtureRequest) -> Iterator[System]:
    sys_ = make_system(world_dir, pki, broker)
    yield sys_
    sys_.stop()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        for path in sorted(world_dir.glob("*.log")):
            print(f"--- {path.name}\n{System.tail(path)}")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep
