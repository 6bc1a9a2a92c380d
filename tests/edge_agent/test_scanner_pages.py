"""The scanner driver's ``pages`` argument against the real SANE ``test`` backend (its feeder holds 10 pages): an
ADF batch stops after ``pages``; ``pages`` with the flatbed, or out of range, is refused before anything is read."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator

import pytest
from pydantic import JsonValue

from edge_agent.drivers.base import Capture, CaptureRef
from edge_agent.drivers.scanner import ScannerConfig, ScannerDriver
from edge_agent.errors import BadArguments
from simulators.sane_test import SaneTestConfig, prepare


@pytest.fixture(scope="module")
def sane_cfg(tmp_path_factory: pytest.TempPathFactory) -> SaneTestConfig:
    return prepare(tmp_path_factory.mktemp("sane"))


@pytest.fixture
def captures() -> list[Capture]:
    return []


@pytest.fixture
def driver(sane_cfg: SaneTestConfig, captures: list[Capture]) -> Iterator[ScannerDriver]:
    async def capture(c: Capture) -> CaptureRef:
        captures.append(c)
        return CaptureRef(hashlib.sha256(c.data).hexdigest(), len(c.data), c.media_type)

    def emit(_type: str, _data: dict[str, JsonValue]) -> None:
        pass

    d = ScannerDriver(
        ScannerConfig(id="scan-1", device=sane_cfg.device, sane_config_dir=sane_cfg.config_dir, max_pages=8),
        emit,
    )
    d.attach_capture(capture)
    yield d
    asyncio.run(d.close())


def test_adf_stops_after_the_pages_asked_for(driver: ScannerDriver, captures: list[Capture]) -> None:
    async def scenario() -> tuple[dict[str, JsonValue], dict[str, JsonValue]]:
        await driver.connect()
        three = await driver.execute("scan", {"source": "ADF", "mode": "Gray", "resolution": 75, "pages": 3})
        rest = await driver.execute("scan", {"source": "ADF", "mode": "Gray", "resolution": 75})
        return three, rest

    three, rest = asyncio.run(scenario())
    assert three["pages"] == 3
    assert rest["pages"] == 7  # without ``pages``: the 7 pages left, until the feeder is empty
    assert [c.pages for c in captures] == [3, 7]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"source": "Flatbed", "pages": 2}, "pages applies to the ADF source only"),
        ({"pages": 2}, "pages applies to the ADF source only"),
        ({"source": "ADF", "pages": 0}, r"pages must be an integer in \[1, 8\]"),
        ({"source": "ADF", "pages": 9}, r"pages must be an integer in \[1, 8\]"),
        ({"source": "ADF", "pages": "3"}, r"pages must be an integer in \[1, 8\]"),
        ({"source": "ADF", "pages": True}, r"pages must be an integer in \[1, 8\]"),
    ],
)
def test_bad_pages_are_refused_before_scanning(
    driver: ScannerDriver, captures: list[Capture], args: dict[str, JsonValue], message: str
) -> None:
    async def scenario() -> None:
        await driver.connect()
        with pytest.raises(BadArguments, match=message):
            await driver.execute("scan", args)

    asyncio.run(scenario())
    assert captures == []
