"""The ``printer`` driver against a real ``ippeveprinter`` (simulators.ippeve): documents arrive byte-identical in
its spool, job states come back as ``print_job`` events, and injected faults show in job states and health.

Each test gets its own printer, so pytest-level parallelism is not needed: a job completes ~1 s after submission
(the simulator's per-job command); several jobs in one test run at the same time."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from pydantic import JsonValue, ValidationError

from edge_agent.drivers.base import Capture, CaptureRef
from edge_agent.drivers.printer import PrinterConfig, PrinterDriver, make_test_page, printer_health
from edge_agent.errors import BadArguments, DeviceError, UnknownAction
from protocols.ipp import Attribute, Tag, attrs, keyword
from protocols.messages import DeviceStatus
from simulators.ippeve import IppEvePrinter
from tests.support import free_port

TERMINAL = {"completed", "aborted", "canceled"}


class Sinks:
    """In-process blob store (for fetch_blob) and emit sink."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.events: list[tuple[str, dict[str, JsonValue]]] = []
        self.changed = asyncio.Event()

    def put(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        self.blobs[sha] = data
        return sha

    async def fetch(self, sha256: str) -> bytes:
        if sha256 not in self.blobs:
            raise DeviceError(f"blob {sha256} not found")
        return self.blobs[sha256]

    async def capture(self, capture: Capture) -> CaptureRef:
        raise AssertionError("a printer captures nothing")

    def emit(self, event_type: str, data: dict[str, JsonValue]) -> None:
        self.events.append((event_type, data))
        self.changed.set()

    def states(self, job_id: JsonValue) -> list[JsonValue]:
        return [d["state"] for t, d in self.events if t == "print_job" and d["job_id"] == job_id]

    async def until_done(self, job_id: JsonValue, limit_s: float = 20.0) -> list[JsonValue]:
        async def wait() -> None:
            while not TERMINAL & set(map(str, self.states(job_id))):
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(wait(), limit_s)
        return self.states(job_id)


def _pdf(n: int) -> bytes:
    return make_test_page(f"document {n} " + "x" * (n * 37 % 200))


@pytest.fixture
def printer(tmp_path: Path) -> Iterator[IppEvePrinter]:
    with IppEvePrinter(tmp_path / "ipp", job_seconds=1.0) as p:
        yield p


def _driver(uri: str, sinks: Sinks, **kw: float) -> PrinterDriver:
    d = PrinterDriver(
        PrinterConfig(id="prn-1", uri=uri, job_poll_s=0.2, request_timeout_s=3.0, **kw), sinks.emit
    )
    d.attach_capture(sinks.capture, sinks.fetch)
    return d


def _run(driver: PrinterDriver, scenario: Callable[[], Awaitable[None]]) -> None:
    async def main() -> None:
        try:
            await scenario()
        finally:
            await driver.close()

    asyncio.run(main())


async def _spooled(printer: IppEvePrinter, job_id: int, size: int, limit_s: float = 10.0) -> bytes:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while True:
        path = printer.spool_file(job_id)
        if path is not None and path.stat().st_size >= size:
            return path.read_bytes()
        assert loop.time() < deadline, f"job {job_id} never reached the spool"
        await asyncio.sleep(0.05)


def test_config_validates() -> None:
    cfg = PrinterConfig.model_validate({"id": "p", "kind": "printer", "uri": "ipp://localhost:631/ipp/print"})
    assert cfg.job_poll_s == 2.0
    for bad in ({"uri": "http://x/ipp"}, {"uri": "ipp://"}, {"job_poll_s": 0}, {"colour": True}):
        with pytest.raises(ValidationError):
            PrinterConfig.model_validate({"id": "p", "kind": "printer", "uri": "ipp://h/ipp", **bad})


def test_documents_arrive_byte_identical_and_jobs_complete(printer: IppEvePrinter) -> None:
    sinks = Sinks()
    driver = _driver(printer.uri, sinks)
    docs = [_pdf(n) for n in range(3)]

    async def scenario() -> None:
        await driver.connect()
        assert driver.describe().model == "Hallmesh Test Printer"
        assert (await driver.poll()).status is DeviceStatus.UP
        # Three print commands at once: ippeveprinter takes one job at a time (it answers the others
        # server-error-busy, and the driver retries), so each returns as soon as its job is accepted.
        results = await asyncio.gather(
            *(
                driver.execute(
                    "print",
                    {
                        "sha256": sinks.put(doc),
                        "job_name": f"case{n}",
                        "case": f"case-{n}",
                        "cmd_id": f"c{n}",
                    },
                )
                for n, doc in enumerate(docs)
            )
        )
        assert {r["state"] for r in results} <= {"pending", "processing"}  # returned before completion
        done = await asyncio.gather(*(sinks.until_done(r["job_id"]) for r in results))
        for n, (result, states) in enumerate(zip(results, done, strict=True)):
            assert states[0] == result["state"]
            assert states[-1] == "completed", states
            assert "processing" in states, states
            assert await _spooled(printer, int(str(result["job_id"])), len(docs[n])) == docs[n]
        first = next(d for t, d in sinks.events if d["cmd_id"] == "c0" and d["state"] == "completed")
        assert (first["cmd_id"], first["case"], first["sha256"]) == (
            "c0",
            "case-0",
            hashlib.sha256(docs[0]).hexdigest(),
        )

    _run(driver, scenario)


def test_media_jam_aborts_the_job_and_degrades_the_printer(printer: IppEvePrinter) -> None:
    sinks = Sinks()
    driver = _driver(printer.uri, sinks)
    printer.set_faults(
        "STATE: +media-jam",
        "ATTR: printer-supply=index=1;class=supplyThatIsConsumed;type=toner;unit=percent;maxcapacity=100;"
        "level=42;colorantname=black;",
        "ERROR: paper jam in tray 1",
        exit_code=1,
    )

    async def scenario() -> None:
        await driver.connect()
        result = await driver.execute("test_page", {})
        states = await sinks.until_done(result["job_id"])
        assert states[-1] == "aborted", states
        aborted = next(d for t, d in sinks.events if d.get("state") == "aborted")
        assert "paper jam" in str(aborted["message"])
        health = await driver.poll()
        assert health.status is DeviceStatus.DEGRADED
        assert "media-jam" in health.reason
        readings = {r.point: r.value for r in health.readings}
        assert readings["supply_toner_percent"] == 42
        assert readings["queued_jobs"] == 0
        # the jam is cleared at the printer: the next job clears the reason and completes
        printer.set_faults("STATE: -media-jam")
        result = await driver.execute("test_page", {})
        assert (await sinks.until_done(result["job_id"]))[-1] == "completed"
        health = await driver.poll()
        assert (health.status, health.reason) == (DeviceStatus.UP, "")

    _run(driver, scenario)


def test_toner_low_degrades_with_supply_readings(printer: IppEvePrinter) -> None:
    sinks = Sinks()
    driver = _driver(printer.uri, sinks)
    printer.set_faults(
        "STATE: +toner-low",
        "ATTR: printer-supply=index=1;class=supplyThatIsConsumed;type=toner;unit=percent;maxcapacity=100;"
        "level=3;colorantname=black;,index=2;class=receptacleThatIsFilled;type=wasteToner;unit=percent;"
        "maxcapacity=100;level=80;colorantname=unknown;",
        delay_s=0,
    )

    async def scenario() -> None:
        await driver.connect()
        health = await driver.poll()
        readings = {r.point: r.value for r in health.readings}
        assert (readings["supply_toner_percent"], readings["supply_waste_toner_percent"]) == (75, 25)
        result = await driver.execute("test_page", {"copies": 2})
        assert (await sinks.until_done(result["job_id"]))[-1] == "completed"
        health = await driver.poll()
        assert health.status is DeviceStatus.DEGRADED
        assert health.reason == "toner-low"
        assert {r.point: r.value for r in health.readings}["supply_toner_percent"] == 3

    _run(driver, scenario)


def test_cancel_and_a_job_stuck_in_processing(printer: IppEvePrinter) -> None:
    sinks = Sinks()
    driver = _driver(printer.uri, sinks)
    printer.set_faults(delay_s=3)

    async def scenario() -> None:
        await driver.connect()
        job_id = (await driver.execute("test_page", {}))["job_id"]
        while "processing" not in sinks.states(job_id):
            sinks.changed.clear()
            await asyncio.wait_for(sinks.changed.wait(), 10)
        assert {r.point: r.value for r in (await driver.poll()).readings}["queued_jobs"] == 1
        assert await driver.execute("cancel", {"job_id": job_id}) == {"job_id": job_id, "canceled": True}
        assert (await sinks.until_done(job_id))[-1] == "canceled"

    _run(driver, scenario)


def test_bad_arguments_missing_blob_and_unknown_action(printer: IppEvePrinter) -> None:
    sinks = Sinks()
    driver = _driver(printer.uri, sinks)

    async def scenario() -> None:
        await driver.connect()
        bad: list[dict[str, JsonValue]] = [
            {},
            {"sha256": "ABC"},
            {"sha256": "0" * 64, "copies": 0},
            {"sha256": "0" * 64, "media_type": "pdf"},
            {"sha256": "0" * 64, "job_name": ""},
        ]
        for args in bad:
            with pytest.raises(BadArguments):
                await driver.execute("print", args)
        with pytest.raises(DeviceError, match="not found"):
            await driver.execute("print", {"sha256": "0" * 64})
        with pytest.raises(UnknownAction):
            await driver.execute("staple", {})
        with pytest.raises(DeviceError, match="refused the job: client-error-"):
            await driver.execute("print", {"sha256": sinks.put(b"plain"), "media_type": "text/plain"})

    _run(driver, scenario)
    assert sinks.events == []


def test_unreachable_printer_is_down_with_a_clear_reason(printer: IppEvePrinter) -> None:
    sinks = Sinks()
    nobody = _driver(f"ipp://localhost:{free_port()}/ipp/print", sinks)
    driver = _driver(printer.uri, sinks)

    async def scenario() -> None:
        with pytest.raises(DeviceError, match="unreachable"):
            await nobody.connect()
        await nobody.close()
        await driver.connect()
        printer.stop()
        health = await driver.poll()
        assert health.status is DeviceStatus.DOWN
        assert health.reason.startswith("unreachable")

    _run(driver, scenario)


def _printer(
    state: int = 3, reasons: tuple[str, ...] = ("none",), **extra: Attribute
) -> dict[str, Attribute]:
    return attrs(
        Attribute("printer-state", Tag.ENUM, (state,)),
        keyword("printer-state-reasons", *reasons),
        Attribute("queued-job-count", Tag.INTEGER, (2,)),
        *extra.values(),
    )


@pytest.mark.parametrize(
    ("state", "reasons", "status", "reason"),
    [
        (3, ("none",), DeviceStatus.UP, ""),
        (4, ("media-jam-error",), DeviceStatus.DEGRADED, "media-jam"),
        (3, ("toner-low-report", "media-empty-warning"), DeviceStatus.DEGRADED, "media-empty, toner-low"),
        (3, ("marker-supply-low-warning",), DeviceStatus.DEGRADED, "marker-supply-low"),
        (5, ("door-open-error", "other"), DeviceStatus.DOWN, "door-open"),
        (5, ("none",), DeviceStatus.DOWN, "stopped"),
        (3, ("some-vendor-thing",), DeviceStatus.UP, ""),
    ],
)
def test_health_from_state_and_reasons(
    state: int, reasons: tuple[str, ...], status: DeviceStatus, reason: str
) -> None:
    health = printer_health(_printer(state, reasons))
    assert (health.status, health.reason) == (status, reason)
    assert {r.point: r.value for r in health.readings}["queued_jobs"] == 2


def test_supplies_become_a_bounded_set_of_readings() -> None:
    supply = Attribute("printer-supply", Tag.OCTET_STRING, (
        b"type=toner;unit=percent;level=60;colorantname=cyan;",
        b"type=toner;unit=percent;level=8;colorantname=black;",
        b"type=wasteToner;unit=other;maxcapacity=200;level=50;",
        b"type=toner;level=-2;colorantname=magenta;",  # unknown level
        b"type=staples;unit=percent;level=5;",  # not a reported type
        b"garbage",
    ))  # fmt: skip
    health = printer_health(_printer(supply=supply), supply_low_percent=10)
    readings = {r.point: r.value for r in health.readings if r.point.startswith("supply_")}
    assert readings == {
        "supply_toner_cyan_percent": 60,
        "supply_toner_percent": 8,
        "supply_waste_toner_percent": 25,
    }
    assert (health.status, health.reason) == (DeviceStatus.DEGRADED, "toner low")
    markers = {
        "types": Attribute("marker-types", Tag.KEYWORD, ("toner", "ink")),
        "levels": Attribute("marker-levels", Tag.INTEGER, (90, 40)),
        "colors": Attribute("marker-colors", Tag.NAME, ("#000000", "yellow")),
    }
    readings = {r.point: r.value for r in printer_health(_printer(3, ("none",), **markers)).readings}
    assert (readings["supply_toner_percent"], readings["supply_ink_yellow_percent"]) == (90, 40)


def test_not_accepting_jobs_is_degraded() -> None:
    health = printer_health(_printer(accepting=Attribute("printer-is-accepting-jobs", Tag.BOOLEAN, (False,))))
    assert (health.status, health.reason) == (DeviceStatus.DEGRADED, "not accepting jobs")
    assert {r.point: r.value for r in health.readings}["accepting_jobs"] == 0
