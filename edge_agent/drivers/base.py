"""The driver contract (DESIGN.md §5), the typed health snapshot, and the base of every device's config.

A driver is a small class that wraps one device:

- ``await connect()`` opens the device (raise :class:`~edge_agent.errors.DeviceError` if it cannot);
- ``await close()`` releases it; must not raise and may be called when not connected;
- ``describe()`` returns the device's inventory entry (kind, model, commands, capabilities);
- ``await poll()`` returns a :class:`Health` snapshot, or raises ``DeviceError`` when the device is gone;
- ``await execute(action, args)`` runs a command and returns its result, raising ``UnknownAction``,
  ``BadArguments`` or ``DeviceError``;
- ``emit(type, data)`` — given to the driver at construction — reports something the device did on its own
  (a button press, a finished print job). It may raise :class:`~edge_agent.errors.OutboxFull`.

Drivers never touch MQTT or the outbox; the supervisor and the runtime do.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Generic, NamedTuple, TypeVar

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from protocols.messages import DeviceInfo, DeviceStatus, Id

EmitFn = Callable[[str, dict[str, JsonValue]], None]
"""``emit(event_type, data)``: record a device-initiated event; raises ``OutboxFull`` when it is refused."""

Seconds = Annotated[float, Field(gt=0, le=86_400)]


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
