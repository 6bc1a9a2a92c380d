"""One supervisor per device: connect, poll, report state changes, restart a failed driver.

The supervisor polls the driver every ``poll_interval_s`` into a typed :class:`Health` snapshot. It calls
``on_change`` (which publishes the retained ``dev_state``) only when the status or the reason changes, and
logs only changes: once when a device fails, once when it recovers — never every poll. Any exception from
``connect`` or ``poll`` marks the device down with ``last_error`` and restarts the driver after a jittered
exponential backoff (``restart_base_s`` doubling to ``restart_max_s``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from edge_agent.backoff import Backoff
from edge_agent.drivers.base import AnyDriver, Reading
from edge_agent.errors import DriverError
from protocols.messages import DeviceStatus, DevStateBody

log = logging.getLogger(__name__)

MIN_CALL_TIMEOUT_S = 10.0
"""connect/poll get ``max(this, 2 × poll_interval_s)`` before they count as failed."""


class Supervisor:
    def __init__(self, driver: AnyDriver, on_change: Callable[[DevStateBody], None]) -> None:
        self.driver = driver
        self.config = driver.config
        self._on_change = on_change
        self.state = DevStateBody(device=driver.device_id, status=DeviceStatus.UNKNOWN, since=time.time())
        self.readings: tuple[Reading, ...] = ()
        self.restarts = 0
        self._timeout = max(MIN_CALL_TIMEOUT_S, 2 * self.config.poll_interval_s)
        self._wake = asyncio.Event()

    @property
    def device_id(self) -> str:
        return self.driver.device_id

    def poll_now(self) -> None:
        """Cut the current wait short (used after a command that may change the device's health)."""
        self._wake.set()

    def _set(self, status: DeviceStatus, reason: str, last_error: str | None = None) -> None:
        old = self.state
        if old.status == status and old.reason == reason:
            return
        since = old.since if old.status == status else time.time()
        self.state = DevStateBody(
            device=self.device_id, status=status, reason=reason[:1024], last_error=last_error, since=since
        )
        if status != old.status:
            if status is DeviceStatus.UP:
                log.info(
                    "device %s is up%s",
                    self.device_id,
                    f" (was {old.status})" if old.status != "unknown" else "",
                )
            else:
                log.warning(
                    "device %s is %s: %s", self.device_id, status, last_error or reason or "no reason given"
                )
        self._on_change(self.state)

    async def _sleep(self, seconds: float) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def run(self) -> None:
        """Supervise until cancelled."""
        backoff = Backoff(self.config.restart_base_s, self.config.restart_max_s)
        while True:
            stage = "connect"
            try:
                await asyncio.wait_for(self.driver.connect(), self._timeout)
                stage = "poll"
                while True:
                    health = await asyncio.wait_for(self.driver.poll(), self._timeout)
                    self.readings = health.readings
                    self._set(health.status, health.reason)
                    backoff.reset()
                    await self._sleep(self.config.poll_interval_s)
            except asyncio.CancelledError:
                raise
            except Exception as err:  # the driver boundary: whatever a driver raises, it is restarted
                if not isinstance(err, DriverError | TimeoutError):
                    log.debug("driver of %s raised an unexpected error", self.device_id, exc_info=True)
                detail = str(err) or type(err).__name__
                self.readings = ()
                self._set(DeviceStatus.DOWN, f"{stage} failed", detail[:1024])
            await self.close_driver()
            self.restarts += 1
            await self._sleep(backoff.next_delay())

    async def close_driver(self) -> None:
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that lands as close() ends,
            # and the supervisor's task would then never finish.
            async with asyncio.timeout(self._timeout):
                await self.driver.close()
        except Exception:  # close must not stop the supervisor; the next connect starts afresh
            log.debug("closing the driver of %s failed", self.device_id, exc_info=True)
