"""The ``terminal`` driver: a video-conference terminal on its TCP control port (docs/video-terminals.md).

Health comes from the terminal's own status: up while the control connection answers, degraded while a call
loses more than ``degraded_loss_pct`` of its packets, down (the supervisor restarts the driver) when the control
connection is lost. Readings: ``in_call``, ``muted``, ``bitrate_kbps``, ``packet_loss_percent``, ``jitter_ms``.

Events (through the outbox):
    terminal.call  -- ``{state, address, reason}`` on every call state change the terminal reports, and once
                      after (re)connecting when the state differs from the last one reported
    terminal.mute  -- ``{muted}`` when the microphone is muted or unmuted

Commands:
    dial     -- ``{address, rate_kbps?}``: dial and wait until the call is up (``{state: connected}``) or has
                failed (command ``failed``); dialling the address already connected is a no-op
    hangup   -- end the call (a no-op when idle)
    mute     -- ``{on: bool}``
    preset   -- ``{n: 0..15}``: camera preset
    status   -- the terminal's status: call, address, muted, preset, statistics
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import replace
from typing import Annotated, Literal

from pydantic import Field, JsonValue

from edge_agent.drivers.base import DeviceConfigBase, Driver, EmitFn, Health, Reading, Seconds
from edge_agent.errors import BadArguments, DeviceError, OutboxFull, UnknownAction
from protocols.errors import TerminalConnectionError, TerminalError, TerminalParseError, TerminalRequestError
from protocols.messages import DeviceInfo, DeviceStatus
from protocols.terminal import (
    ADDRESS_RE,
    CallState,
    CallStats,
    Notice,
    TerminalStatus,
    Topic,
    Verb,
    call_state,
    call_stats,
    flag,
    terminal_status,
)
from protocols.terminal_client import TerminalClient

log = logging.getLogger(__name__)


class TerminalConfig(DeviceConfigBase):
    kind: Literal["terminal"] = "terminal"
    model: Annotated[str, Field(max_length=128)] = "video-terminal"
    host: Annotated[str, Field(min_length=1, max_length=253)] = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 24
    connect_timeout_s: Seconds = 5.0
    request_timeout_s: Seconds = 5.0
    dial_timeout_s: Seconds = Field(15.0, description="a dial that is not connected by then has failed")
    degraded_loss_pct: Annotated[float, Field(gt=0, le=100)] = 5.0


class TerminalDriver(Driver[TerminalConfig]):
    kind = "terminal"
    COMMANDS = ("dial", "hangup", "mute", "preset", "status")

    def __init__(self, config: TerminalConfig, emit: EmitFn) -> None:
        super().__init__(config, emit)
        self._client: TerminalClient | None = None
        self._status = TerminalStatus()
        self._reported: tuple[str, str] | None = None  # (state, address) last emitted
        self._call_waiters: list[asyncio.Future[tuple[CallState, str]]] = []
        self.bad_notices = 0

    # -- contract ----------------------------------------------------------------------------------------

    async def connect(self) -> None:
        await self.close()
        c = self.config
        try:
            self._client = await TerminalClient.connect(
                c.host, c.port, c.connect_timeout_s, on_notice=self._on_notice, on_close=self._on_close
            )
            await self._refresh()
        except TerminalError as err:
            await self.close()
            raise DeviceError(f"terminal {c.host}:{c.port}: {err}") from err
        self._report(self._status.call, self._status.address, "resync")

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    def describe(self) -> DeviceInfo:
        return DeviceInfo(
            id=self.device_id,
            kind=self.kind,
            model=self.config.model,
            capabilities=["telemetry", "events", "conference"],
            commands=list(self.COMMANDS),
        )

    async def poll(self) -> Health:
        await self._refresh()
        s = self._status
        # A notice lost on the wire (say, glued to a half line) is caught up here, one poll later.
        if s.call is CallState.CONNECTED:
            self._resolve_dials(s.call, "")
        if s.call is not CallState.DIALING:
            self._report(s.call, s.address, "resync")
        readings = (
            Reading("in_call", 1.0 if s.call is CallState.CONNECTED else 0.0),
            Reading("muted", 1.0 if s.muted else 0.0),
            Reading("bitrate_kbps", s.stats.bitrate_kbps, "kbit/s"),
            Reading("packet_loss_percent", s.stats.loss_pct, "%"),
            Reading("jitter_ms", s.stats.jitter_ms, "ms"),
        )
        if s.call is CallState.CONNECTED and s.stats.loss_pct >= self.config.degraded_loss_pct:
            return Health(DeviceStatus.DEGRADED, f"packet loss {s.stats.loss_pct:g} %", readings)
        return Health(DeviceStatus.UP, "", readings)

    async def execute(self, action: str, args: dict[str, JsonValue]) -> dict[str, JsonValue]:
        if action == "dial":
            return await self._dial(args)
        if action == "hangup":
            if self._status.call is CallState.IDLE:
                await self._refresh()
                if self._status.call is CallState.IDLE:
                    return {"state": CallState.IDLE.value, "already": True}
            await self._request(Verb.HANGUP)
            return {"state": CallState.IDLE.value}
        if action == "mute":
            on = args.get("on", True)
            if not isinstance(on, bool):
                raise BadArguments(f"on must be true or false, got {on!r}")
            await self._request(Verb.MUTE, on=on)
            self._set_muted(
                on
            )  # whichever comes first, this answer or the terminal's MUTE notice, reports it
            return {"muted": on}
        if action == "preset":
            n = args.get("n")
            if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= 15:
                raise BadArguments(f"n must be an integer in [0, 15], got {n!r}")
            await self._request(Verb.PRESET, n=n)
            return {"preset": n}
        if action == "status":
            await self._refresh()
            return _status_json(self._status)
        raise UnknownAction(f"terminal has no action {action!r}")

    # -- commands ----------------------------------------------------------------------------------------

    async def _dial(self, args: dict[str, JsonValue]) -> dict[str, JsonValue]:
        address = args.get("address")
        if not isinstance(address, str) or not ADDRESS_RE.match(address):
            raise BadArguments(f"address must match {ADDRESS_RE.pattern}, got {address!r}")
        rate = args.get("rate_kbps")
        if rate is not None and (
            isinstance(rate, bool) or not isinstance(rate, int) or not 64 <= rate <= 8192
        ):
            raise BadArguments(f"rate_kbps must be an integer in [64, 8192], got {rate!r}")
        await self._refresh()
        s = self._status
        if s.call is CallState.CONNECTED and s.address == address:
            return {"state": s.call.value, "address": address, "already": True}
        if s.call is not CallState.IDLE and s.address != address:
            raise DeviceError(f"busy: {s.call} with {s.address}")
        waiter: asyncio.Future[tuple[CallState, str]] = asyncio.get_running_loop().create_future()
        self._call_waiters.append(waiter)
        try:
            if s.call is CallState.IDLE:
                fields: dict[str, str | int | float | bool] = {"address": address}
                if rate is not None:
                    fields["rate_kbps"] = rate
                await self._request(Verb.DIAL, **fields)
            state, reason = await asyncio.wait_for(waiter, self.config.dial_timeout_s)
        except TimeoutError as err:
            with contextlib.suppress(DeviceError):
                await self._request(Verb.HANGUP)
            raise DeviceError(
                f"dial {address}: not connected within {self.config.dial_timeout_s:g} s"
            ) from err
        finally:
            with contextlib.suppress(ValueError):
                self._call_waiters.remove(waiter)
            if waiter.done() and not waiter.cancelled():
                waiter.exception()  # retrieved: a loss reported by _on_close is raised by _request instead
        if state is not CallState.CONNECTED:
            raise DeviceError(f"dial {address} failed: {reason or 'no reason given'}")
        return {"state": state.value, "address": address}

    async def _request(self, verb: str, **fields: str | int | float | bool) -> dict[str, str]:
        client = self._client
        if client is None or client.closed:
            raise DeviceError("control connection lost")
        try:
            return await client.request(verb, self.config.request_timeout_s, **fields)
        except TerminalRequestError as err:
            raise DeviceError(f"terminal refused {verb}: {err}") from err
        except TerminalConnectionError as err:
            raise DeviceError(str(err)) from err

    async def _refresh(self) -> None:
        fields = await self._request(Verb.STATUS)
        try:
            status = terminal_status(fields)
        except TerminalParseError as err:
            raise DeviceError(f"bad STATUS answer: {err}") from err
        self._status = replace(status, muted=self._status.muted)
        self._set_muted(status.muted)  # a MUTE notice lost on the wire is reported now

    # -- what the terminal says on its own ---------------------------------------------------------------

    def _on_notice(self, notice: Notice) -> None:
        try:
            if notice.topic == Topic.CALL:
                state = call_state(notice.fields)
                address = notice.fields.get("address", "")
                reason = notice.fields.get("reason", "")
                stats = self._status.stats if state is CallState.CONNECTED else CallStats()
                self._status = replace(self._status, call=state, address=address, stats=stats)
                if state is not CallState.DIALING:
                    self._resolve_dials(state, reason)
                self._report(state, address, reason)
            elif notice.topic == Topic.MUTE:
                self._set_muted(flag(notice.fields, "on"))
            elif notice.topic == Topic.STATS:
                self._status = replace(self._status, stats=call_stats(notice.fields))
        except TerminalParseError as err:
            self.bad_notices += 1
            log.debug("terminal %s: ignored notice %s: %s", self.device_id, notice.topic, err)

    def _set_muted(self, muted: bool) -> None:
        if muted != self._status.muted:
            self._status = replace(self._status, muted=muted)
            self._emit("terminal.mute", {"muted": muted})

    def _resolve_dials(self, state: CallState, reason: str) -> None:
        for waiter in self._call_waiters:
            if not waiter.done():
                waiter.set_result((state, reason))

    def _on_close(self) -> None:
        for waiter in self._call_waiters:
            if not waiter.done():
                waiter.set_exception(DeviceError("control connection lost during the dial"))

    def _report(self, state: CallState, address: str, reason: str) -> None:
        key = (state.value, address)
        if key == self._reported:
            return
        self._reported = key
        self._emit("terminal.call", {"state": state.value, "address": address, "reason": reason})

    def _emit(self, event_type: str, data: dict[str, JsonValue]) -> None:
        with contextlib.suppress(OutboxFull):  # counted and logged by the outbox
            self.emit(event_type, data)


def _status_json(s: TerminalStatus) -> dict[str, JsonValue]:
    return {
        "call": s.call.value,
        "address": s.address,
        "muted": s.muted,
        "preset": s.preset,
        "bitrate_kbps": s.stats.bitrate_kbps,
        "packet_loss_percent": s.stats.loss_pct,
        "jitter_ms": s.stats.jitter_ms,
    }
