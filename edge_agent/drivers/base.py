"""The driver contract (DESIGN.md §5), the typed health snapshot, and the base of every device's config.

A driver is a small class that wraps one device:

- ``await connect()`` opens the device (raise :class:`~edge_agent.errors.DeviceError` if it cannot);
- ``await close()`` releases it; must not raise and may be called when not connected;
- ``describe()`` returns the device's inventory entry (kind, model, commands, capabilities);
- ``await poll()`` returns a :class:`Health` snapshot, or raises ``DeviceError`` when the device is gone;
- ``await execute(action, args)`` runs a command and returns its result, raising ``UnknownAction``,
  ``BadArguments`` or ``DeviceError``; the command runner adds ``args["cmd_id"]`` (the command's id);
- ``emit(type, data)`` — given to the driver at construction — reports something the device did on its own
  (a button press, a finished print job). It may raise :class:`~edge_agent.errors.OutboxFull`.
- ``await self.capture(Capture(...))`` hands a file the device produced (a scanned PDF, a page image, a
  signature) to the agent's blob pipeline: the agent spools it durably, uploads it to the coordinator's
  content-addressed store and only then announces it with a ``capture`` event. It returns a :class:`CaptureRef`
  (hash, size) at once — the upload happens later, also when the coordinator is unreachable right now. The
  runtime attaches the sink with :meth:`Driver.attach_capture`; a driver used on its own (unit tests) gets one
  that refuses.
- ``await self.fetch_blob(sha256)`` returns the bytes of a blob from the coordinator's store (a document
  to print); it raises :class:`~edge_agent.errors.DeviceError` naming the reason when it cannot.
- Camera drivers that can feed the monitoring wall also implement :class:`TileSource`.

Drivers never touch MQTT or the outbox; the supervisor and the runtime do.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Generic, NamedTuple, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from edge_agent.errors import BadArguments
from protocols.messages import DeviceInfo, DeviceStatus, Id

EmitFn = Callable[[str, dict[str, JsonValue]], None]
"""``emit(event_type, data)``: record a device-initiated event; raises ``OutboxFull`` when it is refused."""

Seconds = Annotated[float, Field(gt=0, le=86_400)]


@dataclass(frozen=True, slots=True)
class Capture:
    """A file a device produced, on its way into a case.

    ``kind`` says what it is (``scan``, ``photo``, ``signature``, ``signature_strokes``, …); ``case`` is the
    case id the capture command named, or ``None`` for a capture started on the device itself (the coordinator
    then files it into the window's open case); ``signs`` is the sha256 of the material a signature signs.
    ``meta`` carries small device facts (resolution, colour mode, page size, stroke count) — never the data.
    """

    data: bytes
    media_type: str
    kind: str
    pages: int = 1
    case: str | None = None
    cmd_id: str | None = None
    signs: str | None = None
    meta: dict[str, JsonValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CaptureRef:
    """What the agent accepted: the blob's sha256 and size (and the id of the capture event it will announce)."""

    sha256: str
    size: int
    media_type: str


CaptureFn = Callable[[Capture], Awaitable[CaptureRef]]
FetchFn = Callable[[str], Awaitable[bytes]]


async def _refuse_capture(capture: Capture) -> CaptureRef:
    raise RuntimeError("this driver has no capture sink: the runtime attaches one with attach_capture()")


async def _refuse_fetch(sha256: str) -> bytes:
    raise RuntimeError("this driver has no blob fetcher: the runtime attaches one with attach_capture()")


@runtime_checkable
class TileSource(Protocol):
    """A camera whose picture can be sampled into monitoring-wall tiles (DESIGN.md §8).

    ``want_frames(fps)`` tells the driver how often the tile publisher will sample it (0 = nobody watches, so
    the driver may stop decoding its stream except for what its health checks need); ``latest_frame()``
    returns ``(capture time as Unix seconds, BGR image as a numpy array)`` of the newest decoded frame, or
    ``None`` when there is none yet. Both are called on the agent's event loop and must not block.
    """

    def want_frames(self, fps: float) -> None: ...

    def latest_frame(self) -> tuple[float, Any] | None: ...


def case_arg(args: dict[str, JsonValue]) -> str | None:
    """The ``case`` argument of a capture or print command: the coordinator sends the case id as an integer;
    a string id is accepted too. Returned as a string (``Capture.case``) or ``None``."""
    case = args.get("case")
    if case is None:
        return None
    if isinstance(case, int) and not isinstance(case, bool) and case > 0:
        return str(case)
    if isinstance(case, str) and 0 < len(case) <= 128:
        return case
    raise BadArguments(f"case must be a case id, got {case!r}")


class Reading(NamedTuple):
    point: str
    value: float
    unit: str = ""


@dataclass(frozen=True, slots=True)
class Health:
    """What one poll found: the device's status, why, and its current telemetry readings."""

    status: DeviceStatus
    reason: str = ""
    readings: tuple[Reading, ...] = ()


class DeviceConfigBase(BaseModel):
    """Keys every ``[[devices]]`` entry has; a driver's config class adds its own and a ``kind`` literal."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Id
    kind: str
    model: Annotated[str, Field(max_length=128)] = ""
    poll_interval_s: Seconds = 5.0
    restart_base_s: Seconds = Field(1.0, description="first delay before restarting a failed driver")
    restart_max_s: Seconds = Field(60.0, description="longest delay between restarts")


C = TypeVar("C", bound=DeviceConfigBase)


class Driver(ABC, Generic[C]):
    """Base class of the drivers; ``kind`` names the ``[[devices]]`` kind it serves."""

    kind: ClassVar[str]

    def __init__(self, config: C, emit: EmitFn) -> None:
        self.config = config
        self.emit = emit
        self.capture: CaptureFn = _refuse_capture
        self.fetch_blob: FetchFn = _refuse_fetch

    def attach_capture(self, sink: CaptureFn, fetch: FetchFn | None = None) -> None:
        """Called by the runtime before ``connect()``: where this driver's captures go, and how it reads blobs."""
        self.capture = sink
        if fetch is not None:
            self.fetch_blob = fetch

    @property
    def device_id(self) -> str:
        return self.config.id

    @abstractmethod
    async def connect(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    def describe(self) -> DeviceInfo: ...

    @abstractmethod
    async def poll(self) -> Health: ...

    @abstractmethod
    async def execute(self, action: str, args: dict[str, JsonValue]) -> dict[str, JsonValue]: ...


AnyDriver = Driver[Any]
DriverFactory = Callable[[DeviceConfigBase, EmitFn], AnyDriver]
"""Builds the driver of one configured device; the runtime uses the registry's unless a test passes its own."""
