"""The ``scanner`` driver against the real SANE ``test`` backend (private config, RECIPES.md): ADF batches into
one multi-page PDF, flatbed pages, and injected faults that fail the command, capture nothing and show in health."""

from __future__ import annotations

import asyncio
import hashlib
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import JsonValue, ValidationError

from edge_agent.drivers.base import Capture, CaptureRef
from edge_agent.drivers.scanner import ScannerConfig, ScannerDriver, _SaneThread
from edge_agent.errors import BadArguments, DeviceError, UnknownAction
from protocols.messages import DeviceStatus
from simulators.sane_test import SaneTestConfig, prepare


class Sinks:
    """In-process capture and emit sinks (the runtime's blob pipeline and outbox stand here)."""

    def __init__(self) -> None:
        self.captures: list[Capture] = []
        self.events: list[tuple[str, dict[str, JsonValue]]] = []

    async def capture(self, capture: Capture) -> CaptureRef:
        self.captures.append(capture)
        return CaptureRef(hashlib.sha256(capture.data).hexdigest(), len(capture.data), capture.media_type)

    def emit(self, event_type: str, data: dict[str, JsonValue]) -> None:
        self.events.append((event_type, data))


@pytest.fixture(scope="module")
def sane_cfg(tmp_path_factory: pytest.TempPathFactory) -> SaneTestConfig:
    return prepare(tmp_path_factory.mktemp("sane"))


@pytest.fixture
def sinks() -> Sinks:
    return Sinks()


@pytest.fixture
def driver(sane_cfg: SaneTestConfig, sinks: Sinks) -> Iterator[ScannerDriver]:
    d = ScannerDriver(
        ScannerConfig(
            id="scan-1", device=sane_cfg.device, sane_config_dir=sane_cfg.config_dir, resolution=150
        ),
        sinks.emit,
    )
    d.attach_capture(sinks.capture)
    yield d
    asyncio.run(d.close())


async def _inject(driver: ScannerDriver, status: str) -> None:
    """Set the test backend's ``read-return-value`` on the driver's open handle, on the SANE thread."""
    await _SaneThread.run(setattr, driver._dev, "read_return_value", status)


def _pdfinfo(pdf: bytes, tmp_path: Path) -> dict[str, str]:
    path = tmp_path / "scan.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    return {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in out.splitlines() if ":" in line)}


def _readings(health: object) -> dict[str, float]:
    return {r.point: r.value for r in health.readings}  # type: ignore[attr-defined]


def test_config_validates() -> None:
    cfg = ScannerConfig.model_validate({"id": "s", "kind": "scanner", "device": "test:0"})
    assert (cfg.resolution, cfg.mode, cfg.source, cfg.sane_config_dir) == (300, "Color", "Flatbed", None)
    for bad in ({"resolution": 50}, {"mode": "Sepia"}, {"source": "Tray"}, {"colour": "x"}):
        with pytest.raises(ValidationError):
            ScannerConfig.model_validate({"id": "s", "kind": "scanner", "device": "test:0", **bad})


def test_adf_batch_of_ten_pages_is_one_pdf_capture(
    driver: ScannerDriver, sinks: Sinks, tmp_path: Path
) -> None:
    async def scenario() -> dict[str, JsonValue]:
        await driver.connect()
        return await driver.execute(
            "scan", {"source": "ADF", "mode": "Gray", "resolution": 150, "case": "case-42", "cmd_id": "c-1"}
        )

    result = asyncio.run(scenario())
    assert len(sinks.captures) == 1
    cap = sinks.captures[0]
    assert (cap.media_type, cap.kind, cap.pages, cap.case, cap.cmd_id) == (
        "application/pdf", "scan", 10, "case-42", "c-1",
    )  # fmt: skip
    assert cap.meta == {"resolution": 150, "mode": "Gray", "source": "ADF"}
    assert result["pages"] == 10
    assert result["sha256"] == hashlib.sha256(cap.data).hexdigest()
    info = _pdfinfo(cap.data, tmp_path)
    assert info["Pages"] == "10"
    width, height = (float(x) for x in re.findall(r"[\d.]+", info["Page size"])[:2])
    assert abs(width - 595) < 3, info["Page size"]  # A4 at the scan resolution
    assert abs(height - 842) < 3, info["Page size"]
    health = asyncio.run(driver.poll())
    assert health.status is DeviceStatus.UP
    assert _readings(health)["pages_scanned_total"] == 10


def test_flatbed_scans_one_page_in_each_mode(driver: ScannerDriver, sinks: Sinks, tmp_path: Path) -> None:
    async def scenario() -> None:
        await driver.connect()
        for mode in ("Color", "Gray", "Lineart"):
            result = await driver.execute("scan", {"mode": mode, "resolution": 75})
            assert (result["pages"], result["mode"], result["source"]) == (1, mode, "Flatbed")

    asyncio.run(scenario())
    assert [c.pages for c in sinks.captures] == [1, 1, 1]
    assert _pdfinfo(sinks.captures[2].data, tmp_path)["Pages"] == "1"


def test_jam_fails_the_command_captures_nothing_and_shows_in_health(
    driver: ScannerDriver, sinks: Sinks
) -> None:
    async def scenario() -> None:
        await driver.connect()
        await _inject(driver, "SANE_STATUS_JAMMED")
        with pytest.raises(DeviceError, match="jammed"):
            await driver.execute("scan", {"source": "ADF", "mode": "Gray"})
        health = await driver.poll()
        assert (health.status, health.reason) == (DeviceStatus.DOWN, "jammed")
        assert sinks.captures == []
        # The jam is cleared at the scanner; the next successful scan clears the state.
        await _inject(driver, "Default")
        assert (await driver.execute("scan", {"mode": "Gray"}))["pages"] == 1
        health = await driver.poll()
        assert (health.status, health.reason) == (DeviceStatus.UP, "")

    asyncio.run(scenario())
    assert len(sinks.captures) == 1


class JamsAfter:
    """The driver's real SANE handle, whose paper jams when page ``n + 1`` starts: it sets the test backend's
    ``read-return-value`` to JAMMED at that moment (on the SANE thread, where the driver calls ``start``)."""

    _dev: Any
    _n: int
    starts: int

    def __init__(self, dev: Any, n: int) -> None:
        object.__setattr__(self, "_dev", dev)
        object.__setattr__(self, "_n", n)
        object.__setattr__(self, "starts", 0)

    def start(self) -> None:
        if self.starts == self._n:
            self._dev.read_return_value = "SANE_STATUS_JAMMED"
        object.__setattr__(self, "starts", self.starts + 1)
        self._dev.start()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._dev, name)

    def __setattr__(self, name: str, value: object) -> None:
        setattr(self._dev, name, value)


def test_jam_in_the_middle_of_a_batch_captures_no_partial_pdf(driver: ScannerDriver, sinks: Sinks) -> None:
    async def scenario() -> None:
        await driver.connect()
        real = driver._dev
        jamming = driver._dev = JamsAfter(real, 4)
        with pytest.raises(DeviceError, match="jammed"):
            await driver.execute("scan", {"source": "ADF", "mode": "Gray", "resolution": 75})
        assert jamming.starts == 5  # pages 1-4 were read, page 5 jammed
        driver._dev = real
        health = await driver.poll()
        assert (health.status, health.reason) == (DeviceStatus.DOWN, "jammed")
        assert _readings(health)["pages_scanned_total"] == 0

    asyncio.run(scenario())
    assert sinks.captures == []


@pytest.mark.parametrize(
    ("status", "reason", "device_status"),
    [
        ("SANE_STATUS_COVER_OPEN", "cover open", DeviceStatus.DOWN),
        ("SANE_STATUS_NO_DOCS", "feeder empty", DeviceStatus.DEGRADED),
        ("SANE_STATUS_IO_ERROR", "I/O error", DeviceStatus.DOWN),
    ],
)
def test_other_faults(
    driver: ScannerDriver, sinks: Sinks, status: str, reason: str, device_status: DeviceStatus
) -> None:
    async def scenario() -> None:
        await driver.connect()
        await _inject(driver, status)
        with pytest.raises(DeviceError, match=reason):
            await driver.execute("scan", {"source": "ADF"})
        health = await driver.poll()
        assert (health.status, health.reason) == (device_status, reason)

    asyncio.run(scenario())
    assert sinks.captures == []


def test_bad_arguments_and_unknown_actions(driver: ScannerDriver) -> None:
    async def scenario() -> None:
        with pytest.raises(DeviceError, match="not connected"):
            await driver.execute("scan", {})
        await driver.connect()
        bad: list[dict[str, JsonValue]] = [
            {"resolution": 1200},
            {"resolution": "300"},
            {"mode": "Sepia"},
            {"source": "Tray"},
        ]
        for args in bad:
            with pytest.raises(BadArguments):
                await driver.execute("scan", args)
        with pytest.raises(UnknownAction):
            await driver.execute("copy", {})
        assert driver.describe().commands == ["scan"]

    asyncio.run(scenario())


def test_unknown_device_is_a_clear_connect_error(sane_cfg: SaneTestConfig, sinks: Sinks) -> None:
    d = ScannerDriver(
        ScannerConfig(id="scan-2", device="nosuch:0", sane_config_dir=sane_cfg.config_dir), sinks.emit
    )

    async def scenario() -> None:
        with pytest.raises(DeviceError, match="nosuch:0"):
            await d.connect()
        with pytest.raises(DeviceError, match="not connected"):
            await d.poll()
        await d.close()

    asyncio.run(scenario())


def test_sane_config_dir_is_process_wide(sane_cfg: SaneTestConfig, sinks: Sinks, tmp_path: Path) -> None:
    other = prepare(tmp_path / "other-sane")
    first = ScannerDriver(
        ScannerConfig(id="a", device="test:0", sane_config_dir=sane_cfg.config_dir), sinks.emit
    )
    second = ScannerDriver(
        ScannerConfig(id="b", device="test:1", sane_config_dir=other.config_dir), sinks.emit
    )

    async def scenario() -> None:
        await first.connect()
        try:
            with pytest.raises(DeviceError, match="process-wide"):
                await second.connect()
        finally:
            await first.close()
            await second.close()

    asyncio.run(scenario())
