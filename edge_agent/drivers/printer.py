"""The ``printer`` driver: an IPP / IPP Everywhere printer (docs/devices/printer.md).

Commands:
    print      -- ``{sha256, job_name?, copies?, case?, media_type? = application/pdf}``: fetches the document
                  from the coordinator's blob store, sends Print-Job and returns ``{job_id, state}`` as soon as
                  the printer accepted the job (while it answers busy, Print-Job is retried up to
                  ``busy_timeout_s``)
    test_page  -- ``{copies?}``: prints a small generated one-page PDF
    cancel     -- ``{job_id}``: Cancel-Job

Events: ``print_job`` ``{job_id, state, reasons, message, cmd_id, case, sha256}`` once when the job is accepted
and on every job-state change after (pending, pending-held, processing, processing-stopped, completed,
aborted, canceled). One background task follows all open jobs with Get-Job-Attributes every ``job_poll_s``;
it survives a restart of the driver (jobs are re-followed after the next connect).

Health (Get-Printer-Attributes): down when the printer cannot be reached or is ``stopped``; degraded while
``printer-state-reasons`` name a fault (media-jam, media-empty, door-open, …) or a warning (toner-low,
marker-supply-low, media-low), or a supply is at or below ``supply_low_percent``; reason = those keywords.
Readings: ``queued_jobs``, ``accepting_jobs``, and ``supply_<type>[_<colour>]_percent`` for known supply types.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Final, Literal

from pydantic import Field, JsonValue

from edge_agent.drivers.base import DeviceConfigBase, Driver, EmitFn, Health, Reading, Seconds, case_arg
from edge_agent.errors import BadArguments, DeviceError, OutboxFull, UnknownAction
from protocols.ipp import (
    Attribute,
    IppClient,
    IppConnectionError,
    IppError,
    IppStatusError,
    JobState,
    JobStatus,
    PrinterState,
)
from protocols.messages import DeviceInfo, DeviceStatus

log = logging.getLogger(__name__)

SHA256_RE: Final = re.compile(r"^[0-9a-f]{64}$")
MEDIA_TYPE_RE: Final = re.compile(r"^[a-z0-9][a-z0-9.+-]*/[a-z0-9][a-z0-9.+-]*$")
FAULT_REASONS: Final = (
    "media-jam", "media-empty", "media-needed", "door-open", "cover-open", "input-tray-missing",
    "output-area-full", "toner-empty", "marker-supply-empty", "offline", "shutdown", "paused", "spool-area-full",
)  # fmt: skip
"""printer-state-reasons that stop printing (the device is degraded, down when the printer is stopped)."""
BUSY: Final = ("server-error-busy", "server-error-service-unavailable", "server-error-temporary-error")
"""Print-Job answers that mean "try again later" (ippeveprinter takes one job at a time)."""
WARNING_REASONS: Final = ("toner-low", "marker-supply-low", "media-low", "marker-waste-almost-full")
SUPPLY_TYPES: Final = {
    "toner": "toner", "ink": "ink", "inkCartridge": "ink", "tonerCartridge": "toner", "wasteToner": "waste_toner",
    "wasteInk": "waste_ink", "opc": "drum", "developer": "developer", "fuser": "fuser",
}  # fmt: skip
"""IPP supply types → reading names (a bounded set; other types are not reported)."""
COLOURS: Final = ("cyan", "magenta", "yellow")
PRINTER_ATTRS: Final = (
    "printer-state", "printer-state-reasons", "printer-state-message", "printer-is-accepting-jobs",
    "queued-job-count", "printer-supply", "marker-types", "marker-levels", "marker-colors",
)  # fmt: skip


class PrinterConfig(DeviceConfigBase):
    kind: Literal["printer"] = "printer"
    model: Annotated[str, Field(max_length=128)] = ""
    uri: Annotated[str, Field(pattern=r"^ipps?://[^/\s]+(/\S*)?$", max_length=512)]
    job_poll_s: Seconds = Field(2.0, description="how often open jobs are asked for their state")
    job_timeout_s: Seconds = Field(3600.0, description="a job not finished by then is no longer followed")
    request_timeout_s: Seconds = 10.0
    user: Annotated[str, Field(min_length=1, max_length=64)] = "hallmesh"
    supply_low_percent: Annotated[float, Field(ge=0, le=100)] = 10.0
    busy_timeout_s: Annotated[float, Field(ge=0, le=3600)] = Field(
        120.0, description="how long Print-Job is retried while the printer answers busy (one job at a time)"
    )


@dataclass(slots=True)
class _Job:
    job_id: int
    sha256: str
    cmd_id: str | None
    case: str | None
    started: float
    state: str = ""


class PrinterDriver(Driver[PrinterConfig]):
    kind = "printer"
    COMMANDS = ("print", "test_page", "cancel")

    def __init__(self, config: PrinterConfig, emit: EmitFn) -> None:
        super().__init__(config, emit)
        self._client: IppClient | None = None
        self._model = config.model
        self._jobs: dict[int, _Job] = {}
        self._follower: asyncio.Task[None] | None = None

    # -- contract ----------------------------------------------------------------------------------------

    async def connect(self) -> None:
        await self.close()
        self._client = IppClient(
            self.config.uri, timeout_s=self.config.request_timeout_s, user=self.config.user
        )
        try:
            printer = await self._client.get_printer_attributes(("printer-make-and-model", "printer-state"))
        except IppError as err:
            await self.close()
            raise DeviceError(f"printer {self.config.uri}: {_describe(err)}") from err
        make = printer.get("printer-make-and-model")
        if not self._model and make is not None and isinstance(make.value, str):
            self._model = make.value[:128]
        self._follow()

    async def close(self) -> None:
        follower, self._follower = self._follower, None
        if follower is not None:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    def describe(self) -> DeviceInfo:
        return DeviceInfo(
            id=self.device_id,
            kind=self.kind,
            model=self._model or "ipp-printer",
            capabilities=["telemetry", "events", "print"],
            commands=list(self.COMMANDS),
        )

    async def poll(self) -> Health:
        client = self._require_client()
        try:
            printer = await client.get_printer_attributes(PRINTER_ATTRS)
        except IppConnectionError as err:
            return Health(DeviceStatus.DOWN, f"unreachable: {err}")
        except IppError as err:
            raise DeviceError(f"printer {self.config.uri}: {_describe(err)}") from err
        return printer_health(printer, self.config.supply_low_percent)

    async def execute(self, action: str, args: dict[str, JsonValue]) -> dict[str, JsonValue]:
        if action == "print":
            return await self._print_blob(args)
        if action == "test_page":
            copies = _copies(args)
            pdf = make_test_page(
                f"hallmesh test page - {self.device_id} - {time.strftime('%Y-%m-%d %H:%M:%S')}"
            )
            return await self._submit(pdf, "application/pdf", "hallmesh-test-page", copies, args)
        if action == "cancel":
            job_id = args.get("job_id")
            if isinstance(job_id, bool) or not isinstance(job_id, int) or job_id < 1:
                raise BadArguments(f"job_id must be a positive integer, got {job_id!r}")
            try:
                await self._require_client().cancel_job(job_id)
            except IppError as err:
                raise DeviceError(f"cancel job {job_id}: {_describe(err)}") from err
            return {"job_id": job_id, "canceled": True}
        raise UnknownAction(f"printer has no action {action!r}")

    # -- printing ----------------------------------------------------------------------------------------

    def _require_client(self) -> IppClient:
        if self._client is None:
            raise DeviceError("printer is not connected")
        return self._client

    async def _print_blob(self, args: dict[str, JsonValue]) -> dict[str, JsonValue]:
        sha256 = args.get("sha256")
        if not isinstance(sha256, str) or not SHA256_RE.match(sha256):
            raise BadArguments(f"sha256 must be 64 lowercase hex digits, got {sha256!r}")
        media_type = args.get("media_type", "application/pdf")
        if not isinstance(media_type, str) or not MEDIA_TYPE_RE.match(media_type):
            raise BadArguments(f"media_type must be a MIME type such as application/pdf, got {media_type!r}")
        job_name = args.get("job_name", f"hallmesh-{sha256[:12]}")
        if not isinstance(job_name, str) or not 0 < len(job_name) <= 255:
            raise BadArguments(f"job_name must be a string of 1..255 characters, got {job_name!r}")
        copies = _copies(args)
        self._require_client()
        data = await self.fetch_blob(sha256)
        if hashlib.sha256(data).hexdigest() != sha256:
            raise DeviceError(f"blob {sha256[:12]}… does not match its hash; not printed")
        return await self._submit(data, media_type, job_name, copies, args, sha256)

    async def _submit(
        self,
        data: bytes,
        media_type: str,
        job_name: str,
        copies: int,
        args: dict[str, JsonValue],
        sha256: str | None = None,
    ) -> dict[str, JsonValue]:
        case, cmd_id = case_arg(args), args.get("cmd_id")
        deadline = time.monotonic() + self.config.busy_timeout_s
        while True:
            try:
                status = await self._require_client().print_job(
                    data, document_format=media_type, job_name=job_name, copies=copies
                )
                break
            except IppStatusError as err:
                if err.status_name in BUSY and time.monotonic() < deadline:
                    await asyncio.sleep(self.config.job_poll_s)
                    continue
                raise DeviceError(f"the printer refused the job: {err.status_name}") from err
            except IppError as err:
                raise DeviceError(f"print job not sent: {_describe(err)}") from err
        job = _Job(
            status.job_id,
            sha256 or hashlib.sha256(data).hexdigest(),
            cmd_id if isinstance(cmd_id, str) else None,
            case if isinstance(case, str) else None,
            time.monotonic(),
        )
        self._jobs[job.job_id] = job
        self._changed(job, status)
        self._follow()
        return {"job_id": job.job_id, "state": status.state.keyword, "sha256": job.sha256}

    def _follow(self) -> None:
        if self._jobs and self._client is not None and (self._follower is None or self._follower.done()):
            self._follower = asyncio.create_task(self._follow_jobs(), name=f"printer-jobs-{self.device_id}")

    async def _follow_jobs(self) -> None:
        """Until no job is open: ask each open job for its state every ``job_poll_s``; report changes."""
        while self._jobs and self._client is not None:
            await asyncio.sleep(self.config.job_poll_s)
            for job in list(self._jobs.values()):
                try:
                    status = await self._client.get_job_attributes(job.job_id)
                except IppStatusError as err:
                    log.warning("printer %s: job %d: %s; no longer followed", self.device_id, job.job_id, err)
                    del self._jobs[job.job_id]
                    continue
                except IppError as err:  # unreachable for now: try again next round
                    log.debug("printer %s: job %d: %s", self.device_id, job.job_id, err)
                    status = None
                if status is not None:
                    self._changed(job, status)
                if job.job_id in self._jobs and (
                    (status is not None and status.state.terminal)
                    or time.monotonic() - job.started > self.config.job_timeout_s
                ):
                    del self._jobs[job.job_id]

    def _changed(self, job: _Job, status: JobStatus) -> None:
        state = status.state.keyword
        if state == job.state:
            return
        job.state = state
        data: dict[str, JsonValue] = {
            "job_id": job.job_id,
            "state": state,
            "reasons": [r for r in status.reasons if r != "none"],
            "message": status.message[:256],
            "cmd_id": job.cmd_id,
            "case": job.case,
            "sha256": job.sha256,
        }
        if status.state in (JobState.ABORTED, JobState.PROCESSING_STOPPED):
            log.warning("printer %s: job %d %s: %s", self.device_id, job.job_id, state, status.message)
        with contextlib.suppress(OutboxFull):  # counted and logged by the outbox
            self.emit("print_job", data)


def _copies(args: dict[str, JsonValue]) -> int:
    copies = args.get("copies", 1)
    if isinstance(copies, bool) or not isinstance(copies, int) or not 1 <= copies <= 99:
        raise BadArguments(f"copies must be an integer in [1, 99], got {copies!r}")
    return copies


def _describe(err: IppError) -> str:
    if isinstance(err, IppConnectionError):
        return f"unreachable: {err}"
    return str(err)


# -- health ------------------------------------------------------------------------------------------------


def _strings(attr: Attribute | None) -> list[str]:
    if attr is None:
        return []
    return [
        v.decode("utf-8", "replace") if isinstance(v, bytes) else v
        for v in attr.values
        if isinstance(v, str | bytes)
    ]


def _int(attr: Attribute | None) -> int | None:
    value = attr.value if attr is not None else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def base_reason(keyword: str) -> str:
    """``media-jam-error`` → ``media-jam`` (RFC 8011 severity suffixes: -report, -warning, -error)."""
    for suffix in ("-report", "-warning", "-error"):
        if keyword.endswith(suffix):
            return keyword[: -len(suffix)]
    return keyword


def supply_readings(printer: dict[str, Attribute]) -> list[Reading]:
    """``supply_<type>[_<colour>]_percent`` from ``printer-supply`` (or ``marker-*``), for known types only."""
    out: dict[str, float] = {}
    for entry in _strings(printer.get("printer-supply")):
        fields = dict(part.split("=", 1) for part in entry.split(";") if "=" in part)
        kind = SUPPLY_TYPES.get(fields.get("type", ""))
        try:
            level, capacity = int(fields.get("level", "-1")), int(fields.get("maxcapacity", "100"))
        except ValueError:
            continue
        if kind is None or level < 0:
            continue  # unknown type, or a level the printer does not know (-2, -3)
        percent = level if fields.get("unit") == "percent" or capacity <= 0 else 100 * level / capacity
        out[_point(kind, fields.get("colorantname", ""))] = float(min(max(percent, 0), 100))
    if not out:
        types, levels = _strings(printer.get("marker-types")), printer.get("marker-levels")
        colours = _strings(printer.get("marker-colors"))
        for i, value in enumerate(levels.values if levels else ()):
            kind = SUPPLY_TYPES.get(types[i] if i < len(types) else "")
            if kind is not None and isinstance(value, int) and 0 <= value <= 100:
                out[_point(kind, colours[i] if i < len(colours) else "")] = float(value)
    return [Reading(point, value, "%") for point, value in sorted(out.items())]


def _point(kind: str, colour: str) -> str:
    colour = colour.lower()
    return f"supply_{kind}_{colour}_percent" if colour in COLOURS else f"supply_{kind}_percent"


def printer_health(printer: dict[str, Attribute], supply_low_percent: float = 10.0) -> Health:
    """The device status, reason and readings one Get-Printer-Attributes answer describes."""
    state = _int(printer.get("printer-state"))
    reasons = [base_reason(r) for r in _strings(printer.get("printer-state-reasons")) if r != "none"]
    accepting = printer.get("printer-is-accepting-jobs")
    readings = [
        Reading("queued_jobs", float(_int(printer.get("queued-job-count")) or 0)),
        Reading("accepting_jobs", 0.0 if accepting is not None and accepting.value is False else 1.0),
        *supply_readings(printer),
    ]
    faults = _ordered(reasons, FAULT_REASONS)
    warnings = _ordered(reasons, WARNING_REASONS)
    low = [
        r.point.removeprefix("supply_").removesuffix("_percent") + " low"
        for r in readings
        if r.point.startswith("supply_")
        and not r.point.startswith("supply_waste")
        and r.value <= supply_low_percent
    ]
    if state == PrinterState.STOPPED:
        return Health(DeviceStatus.DOWN, ", ".join(faults or reasons or ["stopped"]), tuple(readings))
    if faults or warnings:
        return Health(DeviceStatus.DEGRADED, ", ".join(faults + warnings), tuple(readings))
    if accepting is not None and accepting.value is False:
        return Health(DeviceStatus.DEGRADED, "not accepting jobs", tuple(readings))
    if low:
        return Health(DeviceStatus.DEGRADED, ", ".join(low), tuple(readings))
    return Health(DeviceStatus.UP, "", tuple(readings))


def _ordered(reasons: Iterable[str], known: tuple[str, ...]) -> list[str]:
    present = set(reasons)
    return [k for k in known if k in present]


# -- a small generated PDF ---------------------------------------------------------------------------------


def make_test_page(text: str) -> bytes:
    """A one-page A4 PDF with a frame and ``text`` in Helvetica (ASCII only)."""
    safe = "".join(c for c in text if 32 <= ord(c) < 127).replace("\\", "\\\\")
    safe = safe.replace("(", "\\(").replace(")", "\\)")
    content = (
        f"2 w 36 36 523 770 re S BT /F1 18 Tf 72 760 Td (hallmesh) Tj 0 -28 Td /F1 11 Tf ({safe}) Tj ET"
    ).encode()
    bodies = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >>"
        b" /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(bodies, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (n, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(bodies) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(bodies) + 1, xref)
    return bytes(out)
