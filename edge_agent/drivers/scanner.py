"""The ``scanner`` driver: a SANE scanner (flatbed and ADF) whose pages become one PDF capture (docs/devices/scanner.md).

SANE is a blocking C library: every SANE call runs on one dedicated thread (:class:`_SaneThread`, shared by all
scanner drivers of the process), never on the event loop. ``SANE_CONFIG_DIR`` — where SANE finds ``dll.conf``
and the backends' configs — is read by ``sane_init()`` and is **process-wide**: the first scanner to connect
sets it from its ``sane_config_dir``; a second scanner asking for another directory while SANE is in use is
refused with a clear error.

Command:
    scan  -- ``{case?, resolution 75..600, mode Color|Gray|Lineart, source Flatbed|ADF, pages?}``: Flatbed scans
             one page; ADF scans every page until the feeder is empty, or at most ``pages`` (1..``max_pages``)
             when given (a feeder that runs empty sooner ends the batch). The pages become ONE PDF (a JPEG per page at
             the scan resolution, so the page size is right), handed to the capture pipeline; the result is
             ``{sha256, size, pages, resolution, mode, source, seconds}``. A fault (jammed, cover open, feeder
             empty, I/O error) fails the command, captures nothing — not even the pages already read — and
             marks the device down (degraded for an empty feeder) with that reason until a scan succeeds.

Health: up, or the last fault; down when the device stops answering. Readings: ``pages_scanned_total``,
``last_scan_seconds``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import io
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import sane
from pydantic import Field, JsonValue

from edge_agent.drivers.base import (
    Capture,
    DeviceConfigBase,
    Driver,
    EmitFn,
    Health,
    Reading,
    Seconds,
    case_arg,
)
from edge_agent.errors import BadArguments, DeviceError, UnknownAction
from protocols.messages import DeviceInfo, DeviceStatus

log = logging.getLogger(__name__)

T = TypeVar("T")
Mode = Literal["Color", "Gray", "Lineart"]
Source = Literal["Flatbed", "ADF"]
MODES: tuple[Mode, ...] = ("Color", "Gray", "Lineart")
SOURCES: tuple[Source, ...] = ("Flatbed", "ADF")
RESOLUTION_RANGE = (75, 600)

FEEDER_EMPTY = "Document feeder out of documents"
# sane_strstatus() texts → (reason, status it leaves the device in)
FAULTS: dict[str, tuple[str, DeviceStatus]] = {
    "Document feeder jammed": ("jammed", DeviceStatus.DOWN),
    "Scanner cover is open": ("cover open", DeviceStatus.DOWN),
    FEEDER_EMPTY: ("feeder empty", DeviceStatus.DEGRADED),
    "Error during device I/O": ("I/O error", DeviceStatus.DOWN),
    "Device busy": ("busy", DeviceStatus.DEGRADED),
}


class ScannerConfig(DeviceConfigBase):
    kind: Literal["scanner"] = "scanner"
    model: Annotated[str, Field(max_length=128)] = ""
    device: Annotated[str, Field(min_length=1, max_length=256, description="SANE device name, e.g. test:0")]
    sane_config_dir: Path | None = Field(
        None, description="SANE_CONFIG_DIR to set before sane_init(); process-wide (all scanners share it)"
    )
    resolution: Annotated[int, Field(ge=RESOLUTION_RANGE[0], le=RESOLUTION_RANGE[1])] = 300
    mode: Mode = "Color"
    source: Source = "Flatbed"
    jpeg_quality: Annotated[int, Field(ge=20, le=95)] = 75
    max_pages: Annotated[int, Field(ge=1, le=1000)] = 200
    open_timeout_s: Seconds = 30.0


class _SaneThread:
    """The one thread that makes SANE calls, for every scanner of the process.

    ``sane_init`` runs on it before the first open, ``sane_exit`` after the last scanner closed; both on the
    same thread, in order, so a new ``init`` never races an ``exit``. The thread lives as long as the process.
    """

    _lock = threading.Lock()
    _executor: concurrent.futures.ThreadPoolExecutor | None = None
    _users = 0
    _config_dir: str | None = None
    _initialised = False  # only read and written on the SANE thread

    @classmethod
    def acquire(cls, config_dir: Path | None) -> None:
        wanted = str(config_dir) if config_dir is not None else None
        with cls._lock:
            if cls._users and wanted is not None and wanted != cls._config_dir:
                raise DeviceError(
                    f"SANE is already in use with SANE_CONFIG_DIR={cls._config_dir}; sane_config_dir is"
                    f" process-wide, so every scanner of an agent must name the same one (got {wanted})"
                )
            if cls._executor is None:
                cls._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="sane")
            if cls._users == 0:
                cls._config_dir = wanted
            cls._users += 1

    @classmethod
    def release(cls) -> None:
        with cls._lock:
            if cls._users == 0 or cls._executor is None:
                return
            cls._users -= 1
            if cls._users == 0:
                cls._executor.submit(cls._exit)

    @classmethod
    def _exit(cls) -> None:
        with cls._lock:
            if cls._users or not cls._initialised:
                return
        sane.exit()
        cls._initialised = False

    @classmethod
    def open(cls, device: str) -> Any:
        """On the SANE thread: ``sane_init`` (with the config dir) if needed, then open ``device``."""
        if not cls._initialised:
            if cls._config_dir is not None:
                os.environ["SANE_CONFIG_DIR"] = cls._config_dir
            sane.init()
            cls._initialised = True
        return sane.open(device)

    @classmethod
    async def run(cls, fn: Callable[..., T], *args: Any) -> T:
        executor = cls._executor
        if executor is None:
            raise DeviceError("scanner is not connected")
        return await asyncio.wrap_future(executor.submit(fn, *args))


@dataclass(frozen=True, slots=True)
class _Page:
    jpeg: bytes
    width: int
    height: int
    gray: bool


class ScanFault(Exception):
    def __init__(self, reason: str, status: DeviceStatus, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.status = status


def _fault(err: Exception) -> ScanFault:
    text = str(err)
    reason, status = FAULTS.get(text, (text or type(err).__name__, DeviceStatus.DOWN))
    return ScanFault(reason, status, text)


class ScannerDriver(Driver[ScannerConfig]):
    kind = "scanner"
    COMMANDS = ("scan",)

    def __init__(self, config: ScannerConfig, emit: EmitFn) -> None:
        super().__init__(config, emit)
        self._dev: Any = None
        self._acquired = False
        self._model = config.model
        self._lock = asyncio.Lock()
        self._fault: tuple[DeviceStatus, str] | None = None
        self.pages_total = 0
        self.last_scan_s = 0.0

    # -- contract ----------------------------------------------------------------------------------------

    async def connect(self) -> None:
        await self.close()
        _SaneThread.acquire(self.config.sane_config_dir)
        self._acquired = True
        try:
            self._dev = await asyncio.wait_for(
                _SaneThread.run(_SaneThread.open, self.config.device), self.config.open_timeout_s
            )
            signature: tuple[Any, ...] = tuple(getattr(self._dev, "sane_signature", None) or ())
        except (sane._sane.error, RuntimeError, TimeoutError) as err:
            await self.close()
            raise DeviceError(f"cannot open SANE device {self.config.device!r}: {err}") from err
        if not self._model and len(signature) >= 3:
            self._model = f"{signature[1]} {signature[2]}".strip()

    async def close(self) -> None:
        dev, self._dev = self._dev, None
        if dev is not None:
            with contextlib.suppress(Exception):  # close must not raise
                await _SaneThread.run(dev.close)
        if self._acquired:
            self._acquired = False
            _SaneThread.release()

    def describe(self) -> DeviceInfo:
        return DeviceInfo(
            id=self.device_id,
            kind=self.kind,
            model=self._model or "sane-scanner",
            capabilities=["telemetry", "capture", "adf"],
            commands=list(self.COMMANDS),
        )

    async def poll(self) -> Health:
        dev = self._dev
        if dev is None:
            raise DeviceError("not connected")
        try:
            await _SaneThread.run(dev.get_parameters)
        except sane._sane.error as err:
            raise DeviceError(f"SANE device {self.config.device!r} does not answer: {err}") from err
        readings = (
            Reading("pages_scanned_total", float(self.pages_total)),
            Reading("last_scan_seconds", round(self.last_scan_s, 3), "s"),
        )
        if self._fault is not None:
            return Health(self._fault[0], self._fault[1], readings)
        return Health(DeviceStatus.UP, "", readings)

    async def execute(self, action: str, args: dict[str, JsonValue]) -> dict[str, JsonValue]:
        if action == "scan":
            return await self._scan(args)
        raise UnknownAction(f"scanner has no action {action!r}")

    # -- scanning ----------------------------------------------------------------------------------------

    def _settings(self, args: dict[str, JsonValue]) -> tuple[int, Mode, Source, str | None, int]:
        c = self.config
        resolution = args.get("resolution", c.resolution)
        lo, hi = RESOLUTION_RANGE
        if isinstance(resolution, bool) or not isinstance(resolution, int) or not lo <= resolution <= hi:
            raise BadArguments(f"resolution must be an integer in [{lo}, {hi}], got {resolution!r}")
        mode = args.get("mode", c.mode)
        if mode not in MODES:
            raise BadArguments(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        source = args.get("source", c.source)
        if source not in SOURCES:
            raise BadArguments(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
        limit = args.get("pages")
        if limit is None:
            limit = c.max_pages
        elif source != "ADF":
            raise BadArguments("pages applies to the ADF source only")
        elif isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= c.max_pages:
            raise BadArguments(f"pages must be an integer in [1, {c.max_pages}], got {limit!r}")
        case = case_arg(args)
        return resolution, mode, source, case, limit

    async def _scan(self, args: dict[str, JsonValue]) -> dict[str, JsonValue]:
        resolution, mode, source, case, limit = self._settings(args)
        dev = self._dev
        if dev is None:
            raise DeviceError("scanner is not connected")
        cmd_id = args.get("cmd_id")
        async with self._lock:
            started = time.monotonic()
            try:
                dpi, pages = await _SaneThread.run(
                    _scan_pages,
                    dev,
                    resolution,
                    mode,
                    source,
                    self.config.jpeg_quality,
                    limit,
                )
            except ScanFault as fault:
                if fault.status is DeviceStatus.UP:  # a setting the scanner cannot do: not a device fault
                    raise DeviceError(str(fault)) from fault
                self._fault = (fault.status, fault.reason)
                log.warning("scanner %s: scan failed: %s", self.device_id, fault.reason)
                raise DeviceError(f"scan failed: {fault.reason} ({fault} on {self.config.device})") from fault
            pdf = await asyncio.to_thread(_pdf, pages, dpi)
            seconds = time.monotonic() - started
            meta: dict[str, JsonValue] = {"resolution": dpi, "mode": mode, "source": source}
            ref = await self.capture(
                Capture(
                    pdf,
                    "application/pdf",
                    kind="scan",
                    pages=len(pages),
                    case=case,
                    cmd_id=cmd_id if isinstance(cmd_id, str) else None,
                    meta=meta,
                )
            )
            if self._fault is not None:
                log.info("scanner %s: %s cleared by a successful scan", self.device_id, self._fault[1])
            self._fault = None
            self.pages_total += len(pages)
            self.last_scan_s = seconds
        return {
            "sha256": ref.sha256,
            "size": ref.size,
            "pages": len(pages),
            **meta,
            "seconds": round(seconds, 3),
        }


# -- on the SANE thread ----------------------------------------------------------------------------------


def _choose(option: Any, wanted: list[str]) -> str | None:
    """The first value of a string-list option that matches one of ``wanted`` (case-insensitive)."""
    choices = option.constraint if isinstance(option.constraint, list) else []
    for want in wanted:
        for choice in choices:
            if isinstance(choice, str) and want.lower() in choice.lower():
                return choice
    return None


def _configure(dev: Any, resolution: int, mode: Mode, source: Source) -> int:
    opts = dev.opt
    if "source" in opts:
        wanted = ["flatbed"] if source == "Flatbed" else ["adf", "automatic document feeder", "feeder"]
        choice = _choose(opts["source"], wanted)
        if choice is None:
            raise ScanFault("no such source", DeviceStatus.UP, f"the scanner has no {source} source")
        dev.source = choice
    elif source == "ADF":
        raise ScanFault("no such source", DeviceStatus.UP, "the scanner has no document feeder")
    if "mode" in opts:
        lineart = _choose(opts["mode"], ["lineart"]) if mode == "Lineart" else None
        dev.mode = lineart or _choose(opts["mode"], ["gray" if mode != "Color" else "color"]) or dev.mode
        if mode == "Lineart" and lineart is None and "depth" in opts:
            dev.depth = 1  # backends without a Lineart mode (the test backend): 1-bit gray
        elif mode != "Lineart" and "depth" in opts and dev.depth == 1:
            dev.depth = 8
    constraint = opts["resolution"].constraint if "resolution" in opts else None
    if isinstance(constraint, list) and constraint:
        resolution = min(constraint, key=lambda r: abs(r - resolution))
    if "resolution" in opts:
        dev.resolution = resolution
        return int(dev.resolution)
    return resolution


def _jpeg(image: Any, quality: int, dpi: int) -> _Page:
    gray = image.mode in ("1", "L")
    img = image.convert("L" if gray else "RGB")
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality, dpi=(dpi, dpi))
    return _Page(buf.getvalue(), img.width, img.height, gray)


def _scan_pages(
    dev: Any, resolution: int, mode: Mode, source: Source, quality: int, max_pages: int
) -> tuple[int, list[_Page]]:
    """Scan one page (Flatbed) or the whole feeder (ADF); raise :class:`ScanFault`, never a partial batch."""
    try:
        dpi = _configure(dev, resolution, mode, source)
    except (sane._sane.error, AttributeError, TypeError) as err:
        raise ScanFault("bad settings", DeviceStatus.UP, f"the scanner refused the settings: {err}") from err
    pages: list[_Page] = []
    try:
        while len(pages) < max_pages:
            try:
                dev.start()
                image = dev.snap(no_cancel=source == "ADF")
            except (sane._sane.error, RuntimeError) as err:
                if source == "ADF" and str(err) == FEEDER_EMPTY and pages:
                    break  # the feeder ran empty after at least one page: the batch is complete
                raise _fault(err) from err
            pages.append(_jpeg(image, quality, dpi))
            if source == "Flatbed":
                break
    finally:
        with contextlib.suppress(sane._sane.error):
            dev.cancel()
    return dpi, pages


# -- a minimal PDF writer: one DCT (JPEG) image per page, no re-encoding ----------------------------------


def _pdf(pages: list[_Page], dpi: int) -> bytes:
    """A PDF whose page ``i`` is the JPEG ``pages[i]`` at ``dpi`` (so an A4 scan makes an A4 page)."""
    objects: list[bytes] = []
    kids = []
    for i, page in enumerate(pages):
        page_obj, content_obj, image_obj = 3 + 3 * i, 4 + 3 * i, 5 + 3 * i
        kids.append(f"{page_obj} 0 R")
        w_pt, h_pt = page.width * 72 / dpi, page.height * 72 / dpi
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {w_pt:.2f} {h_pt:.2f}] "
            f"/Resources << /XObject << /Im0 {image_obj} 0 R >> >> /Contents {content_obj} 0 R >>".encode()
        )
        content = f"q {w_pt:.2f} 0 0 {h_pt:.2f} 0 0 cm /Im0 Do Q".encode()
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
        colour = "/DeviceGray" if page.gray else "/DeviceRGB"
        objects.append(
            f"<< /Type /XObject /Subtype /Image /Width {page.width} /Height {page.height} "
            f"/ColorSpace {colour} /BitsPerComponent 8 /Filter /DCTDecode /Length {len(page.jpeg)} >>\n"
            f"stream\n".encode()
            + page.jpeg
            + b"\nendstream"
        )
    catalog = b"<< /Type /Catalog /Pages 2 0 R >>"
    pages_obj = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(pages)} >>".encode()
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate([catalog, pages_obj, *objects], start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (n, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(offsets) + 1, xref)
    return bytes(out)
