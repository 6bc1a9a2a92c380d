"""The synthetic ``sim`` device: telemetry, spontaneous events and a few commands, for tests and the demo.

Commands:
    echo     -- returns its arguments
    emit     -- ``{count=1, type="sim.event", data={}}``: emits ``count`` events as fast as the outbox takes
                them (tests push 10,000 events through the outbox with it)
    fail     -- ``{seconds?}``: from now on connect and poll fail, for ``seconds`` or until ``recover``
    recover  -- ends a failure
    capture  -- ``{case?, width=320, height=240, seed=0, count=1}``: ``count`` synthetic page photos (JPEG,
                seeds ``seed``…) through the blob pipeline, as a document camera's captures would go;
                returns the sha256 and size of each
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import time
import zlib
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from edge_agent.drivers.base import Capture, DeviceConfigBase, Driver, EmitFn, Health, Reading
from edge_agent.errors import BadArguments, DeviceError, OutboxFull, UnknownAction
from protocols.messages import DeviceInfo, DeviceStatus, Name

EMIT_YIELD_EVERY = 256
"""The ``emit`` command yields to the event loop this often, so the runtime can commit events in batches."""
MAX_EMIT = 1_000_000
_NAME_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


class SimPoint(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    unit: Annotated[str, Field(max_length=32)] = ""


DEFAULT_POINTS = (SimPoint(name="temperature_celsius", unit="Cel"), SimPoint(name="uptime_seconds", unit="s"))


class SimConfig(DeviceConfigBase):
    kind: Literal["sim"] = "sim"
    model: Annotated[str, Field(max_length=128)] = "hallmesh-sim"
    event_interval_s: Annotated[float, Field(ge=0, le=86_400)] = Field(
        0.0, description="seconds between spontaneous events; 0 = none"
    )
    fail_at_start: bool = Field(False, description="start failing (connect and poll raise) until `recover`")
    points: Annotated[list[SimPoint], Field(max_length=64)] = Field(
        default_factory=lambda: list(DEFAULT_POINTS)
    )


def _int_arg(args: dict[str, JsonValue], name: str, default: int, lo: int, hi: int) -> int:
    value = args.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise BadArguments(f"{name} must be an integer in [{lo}, {hi}], got {value!r}")
    return value


class SimDriver(Driver[SimConfig]):
    kind = "sim"
    COMMANDS = ("echo", "emit", "fail", "recover", "capture")

    def __init__(self, config: SimConfig, emit: EmitFn) -> None:
        super().__init__(config, emit)
        self._failing_until: float | None = math.inf if config.fail_at_start else None
        self._connected_at: float | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._ticks = 0

    def _failing(self) -> bool:
        return self._failing_until is not None and time.monotonic() < self._failing_until

    async def connect(self) -> None:
        if self._failing():
            raise DeviceError("simulated failure")
        self._connected_at = time.monotonic()
        if self.config.event_interval_s > 0 and self._ticker is None:
            self._ticker = asyncio.create_task(self._tick(), name=f"sim-ticker-{self.device_id}")

    async def close(self) -> None:
        self._connected_at = None
        ticker, self._ticker = self._ticker, None
        if ticker is not None:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker

    def describe(self) -> DeviceInfo:
        return DeviceInfo(
            id=self.device_id,
            kind=self.kind,
            model=self.config.model,
            capabilities=["telemetry", "events"],
            commands=list(self.COMMANDS),
        )

    async def poll(self) -> Health:
        if self._failing():
            raise DeviceError("simulated failure")
        if self._connected_at is None:
            raise DeviceError("not connected")
        now = time.monotonic()
        return Health(DeviceStatus.UP, "", tuple(self._reading(p, now) for p in self.config.points))

    def _reading(self, point: SimPoint, now: float) -> Reading:
        assert self._connected_at is not None
        if point.name == "uptime_seconds":
            return Reading(point.name, round(now - self._connected_at, 3), point.unit)
        # Deterministic-ish: a per-point level plus a slow sine wave.
        level = zlib.crc32(point.name.encode()) % 50
        return Reading(point.name, round(level + 2 * math.sin(time.time() / 60), 3), point.unit)

    async def execute(self, action: str, args: dict[str, JsonValue]) -> dict[str, JsonValue]:
        if action == "echo":
            return {k: v for k, v in args.items() if k != "cmd_id"}
        if action == "emit":
            return await self._emit_many(args)
        if action == "fail":
            seconds = args.get("seconds")
            if seconds is None:
                self._failing_until = math.inf
            elif isinstance(seconds, int | float) and not isinstance(seconds, bool) and 0 < seconds <= 86_400:
                self._failing_until = time.monotonic() + seconds
            else:
                raise BadArguments(f"seconds must be a number in (0, 86400], got {seconds!r}")
            return {"failing": True, "seconds": seconds}
        if action == "recover":
            self._failing_until = None
            return {"failing": False}
        if action == "capture":
            return await self._capture(args)
        raise UnknownAction(f"sim device has no action {action!r}")

    async def _capture(self, args: dict[str, JsonValue]) -> dict[str, JsonValue]:
        width = _int_arg(args, "width", 320, 16, 8192)
        height = _int_arg(args, "height", 240, 16, 8192)
        seed = _int_arg(args, "seed", 0, 0, 2**31)
        count = _int_arg(args, "count", 1, 1, 1000)
        case = args.get("case")
        refs: list[JsonValue] = []
        for n in range(seed, seed + count):
            data = await asyncio.to_thread(_synthetic_jpeg, width, height, n)
            ref = await self.capture(
                Capture(
                    data,
                    "image/jpeg",
                    kind="photo",
                    case=str(case) if isinstance(case, int | str) and not isinstance(case, bool) else None,
                    cmd_id=str(args["cmd_id"]) if isinstance(args.get("cmd_id"), str) else None,
                    meta={"width": width, "height": height, "seed": n},
                )
            )
            refs.append({"sha256": ref.sha256, "size": ref.size})
        return {"captures": refs, "media_type": "image/jpeg"}

    async def _emit_many(self, args: dict[str, JsonValue]) -> dict[str, JsonValue]:
        count = _int_arg(args, "count", 1, 1, MAX_EMIT)
        event_type = args.get("type", "sim.event")
        if not isinstance(event_type, str) or not _NAME_RE.match(event_type):
            raise BadArguments(f"type must be a name ({_NAME_RE.pattern}), got {event_type!r}")
        data = args.get("data", {})
        if not isinstance(data, dict):
            raise BadArguments(f"data must be an object, got {data!r}")
        refused = 0
        for n in range(count):
            try:
                self.emit(event_type, {**data, "n": n})
            except OutboxFull:
                refused += 1
            if n % EMIT_YIELD_EVERY == EMIT_YIELD_EVERY - 1:
                await asyncio.sleep(0)
        if refused:
            raise DeviceError(f"outbox full: {refused} of {count} events refused")
        return {"emitted": count}

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.config.event_interval_s)
            self._ticks += 1
            with contextlib.suppress(OutboxFull):  # counted and logged by the outbox
                self.emit("tick", {"n": self._ticks})


def _synthetic_jpeg(width: int, height: int, seed: int) -> bytes:
    """A page-like picture with per-seed noise (so every seed gives different bytes)."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(seed)
    img = np.full((height, width, 3), 235, np.uint8)
    img += rng.integers(0, 20, img.shape, dtype=np.uint8)
    for i in range(1, max(2, height // 24)):
        y = i * 24
        cv2.line(img, (width // 10, y), (width - width // 10, y), (40, 40, 40), 2)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise DeviceError("JPEG encoding failed")
    return bytes(buf)
