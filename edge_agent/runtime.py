"""The agent: config → outbox, drivers and supervisors, MQTT link, command runner, telemetry.

:class:`Agent` runs everything on one asyncio loop in its own thread (``start()`` / ``stop()``); paho's
network thread hands messages over with ``call_soon_threadsafe``. :func:`run` is what
``hallmesh agent run --config agent.toml`` calls: it blocks until SIGINT/SIGTERM and shuts down cleanly
(offline state published, then disconnect).

Start-up, in order: open the outbox → build drivers and supervisors → start the loop → start the link.
On every session: retained ``up/state`` online → ``up/birth`` → retained ``up/dev/<id>/state`` each →
outbox replay from the lowest unacknowledged entry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import signal
import threading
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Final

from edge_agent.commands import CommandRunner
from edge_agent.config import AgentConfig, load_config
from edge_agent.downlink import Downlink, DownlinkRoutes
from edge_agent.drivers.base import AnyDriver, DriverFactory, TileSource
from edge_agent.drivers.registry import build_driver
from edge_agent.errors import AgentError, ConfigError
from edge_agent.link import Link
from edge_agent.outbox import Outbox
from edge_agent.recorder import Recorder
from edge_agent.renewal import Renewer
from edge_agent.sender import OutboxSender
from edge_agent.supervisor import Supervisor
from edge_agent.uploader import Uploader

if TYPE_CHECKING:
    from edge_agent.tiles import TilePublisher
from protocols import envelope, topics
from protocols.messages import (
    AckBody,
    BirthBody,
    Body,
    CommandBody,
    ConfigBody,
    DevStateBody,
    Reading,
    StateBody,
    TelemetryBody,
)
from protocols.topics import Channel

log = logging.getLogger(__name__)

STOP_TIMEOUT_S: Final = 10.0


def _version() -> str:
    try:
        return metadata.version("hallmesh")
    except metadata.PackageNotFoundError:
        return "0.0.0"


VERSION: Final = _version()


class Agent:
    """One edge agent, usable in-process: ``Agent(config).start()`` … ``stop()`` (or ``with Agent(...)``)."""

    def __init__(self, config: AgentConfig, *, driver_factory: DriverFactory = build_driver) -> None:
        self.config = config
        self.agent_id = config.agent_id
        self._driver_factory = driver_factory
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = threading.Event()
        self._stop_requested: asyncio.Event | None = None
        self._error: BaseException | None = None
        self.ready = threading.Event()
        """Set while a session is up and its birth has been published."""
        self.telemetry_interval_s = config.telemetry_interval_s
        self._telemetry_wake = asyncio.Event()
        self._session_boot = 0
        self._inventory_seq = 0
        self._telemetry_seq = 0
        self.outbox = Outbox.open(config.data_dir, config.agent_id, config.outbox.max_entries)
        self.link = Link(
            config.broker, config.agent_id, self, next_boot=self.outbox.next_boot, will_payload=self._will
        )
        self.sender = OutboxSender(
            self.outbox,
            self._publish_entry,
            window=config.outbox.window,
            ack_timeout_s=config.outbox.ack_timeout_s,
        )
        self.supervisors: dict[str, Supervisor] = {}
        self.drivers: dict[str, AnyDriver] = {}
        self.downlink = Downlink(
            config.agent_id,
            DownlinkRoutes(command=self._on_command, ack=self._on_ack, config=self._on_config),
        )
        self.commands: CommandRunner | None = None
        self.recorder: Recorder | None = None
        self.renewer: Renewer | None = None
        self.uploader: Uploader | None = None
        self.tiles: TilePublisher | None = None

    # -- lifecycle (caller's thread) ----------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> None:
        """Start the loop thread, the devices and the link; return once they are running (not connected)."""
        self._thread = threading.Thread(target=self._thread_main, name=f"agent-{self.agent_id}", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout):
            raise AgentError("the agent did not start in time")
        if self._error is not None:
            raise AgentError(f"the agent failed to start: {self._error}") from self._error
        self.link.start()

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Stop devices, publish the offline state, disconnect, close the outbox. Idempotent."""
        self.link.wind_down()
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(self._request_stop)
            thread.join(timeout)
        self.link.stop(farewell=self._farewell, timeout=timeout)
        self.outbox.close()
        self.ready.clear()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def error(self) -> BaseException | None:
        return self._error

    def call(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the agent's loop (tests and tools)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(fn)

    def __enter__(self) -> Agent:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- the loop thread ----------------------------------------------------------------------------------

    def _thread_main(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as err:  # reported to start()/run(); the thread must not die silently
            log.exception("the agent stopped on an unexpected error")
            self._error = err
            self._started.set()

    def _request_stop(self) -> None:
        if self._stop_requested is not None:
            self._stop_requested.set()

    async def _main(self) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._stop_requested = asyncio.Event()
        self.recorder = Recorder(self.outbox, loop, on_commit=self.sender.fill)
        cfg = self.config
        uploader = Uploader(
            cfg.data_dir, self.agent_id, cfg.broker, cfg.coordinator, cfg.uploads, self.recorder
        )
        self.uploader = uploader
        for dev in self.config.devices:
            driver = self._driver_factory(dev, self.recorder.emitter(dev.id))
            driver.attach_capture(uploader.sink(dev.id), uploader.fetch)
            self.drivers[dev.id] = driver
            self.supervisors[dev.id] = Supervisor(driver, self._on_dev_state)
        if any(isinstance(d, TileSource) for d in self.drivers.values()):
            from edge_agent.tiles import TilePublisher  # OpenCV: loaded only by agents with cameras

            link = self.link
            self.tiles = TilePublisher(
                lambda topic, payload: link.publish(topic, payload, qos=0), self.agent_id
            )
            for dev_id, drv in self.drivers.items():
                if isinstance(drv, TileSource):
                    self.tiles.add_source(dev_id, drv)
            self.tiles.start()
        self.commands = CommandRunner(
            self.outbox,
            self.recorder,
            self.drivers,
            rebirth=self._rebirth,
            on_result=self.sender.fill,
            after_device_command=lambda device: self.supervisors[device].poll_now(),
        )
        tasks = [
            loop.create_task(s.run(), name=f"supervisor-{s.device_id}") for s in self.supervisors.values()
        ]
        tasks.append(loop.create_task(self._telemetry_loop(), name="telemetry"))
        tasks.append(loop.create_task(self._ack_timer(), name="ack-timer"))
        tasks.append(loop.create_task(uploader.run(), name="uploader"))
        if self.config.coordinator is not None:
            self.renewer = Renewer(
                self.agent_id, self.config.broker, self.config.coordinator, self.link.reconnect
            )
            tasks.append(loop.create_task(self.renewer.run(), name="renewal"))
        self._started.set()
        await self._stop_requested.wait()
        await self.commands.cancel_all()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.tiles is not None:
            await self.tiles.stop()
        await asyncio.gather(*(s.close_driver() for s in self.supervisors.values()))
        self.recorder.flush()
        uploader.close()
        self.sender.flush_acks()

    # -- link callbacks (paho's thread → loop) ------------------------------------------------------------

    def _soon(self, fn: Callable[..., None], *args: object) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(fn, *args)

    def on_ready(self, boot: int) -> None:
        self._soon(self._session_up, boot)

    def on_lost(self, boot: int, reason: str) -> None:
        self._soon(self._session_down, boot)

    def on_message(self, topic: str, payload: bytes) -> None:
        self._soon(self.downlink.dispatch, topic, payload)

    # -- sessions (loop) ----------------------------------------------------------------------------------

    def _session_up(self, boot: int) -> None:
        if boot != self.link.boot or not self.link.ready:
            return  # a session that ended before we got here
        self._session_boot = boot
        self._inventory_seq = 0
        self._telemetry_seq = 0
        state = StateBody(online=True, boot=boot, version=VERSION, ts=time.time())
        self._publish(Channel.STATE, topics.state(self.agent_id), state, seq=1, qos=1, retain=True)
        self._publish_inventory()
        self.sender.start_session()
        self.ready.set()

    def _session_down(self, boot: int) -> None:
        if boot == self._session_boot:
            self.ready.clear()
            self.sender.stop_session()

    def _publish(
        self, kind: Channel, topic: str, body: Body, *, seq: int, qos: int, retain: bool = False
    ) -> None:
        env = envelope.make(kind, self.agent_id, self._session_boot, seq, body)
        self.link.publish(topic, envelope.encode(env), qos=qos, retain=retain)

    def _publish_entry(self, topic: str, payload: bytes) -> bool:
        return self.link.publish(topic, payload, qos=1)

    def _next_inventory_seq(self) -> int:
        self._inventory_seq += 1
        return self._inventory_seq

    def _publish_inventory(self) -> None:
        self.sender.flush_acks()
        birth = BirthBody(
            version=VERSION,
            devices=[d.describe() for d in self.drivers.values()],
            outbox=self.outbox.status(),
            keepalive_s=self.config.broker.keepalive_s,
        )
        self._publish(
            Channel.BIRTH, topics.birth(self.agent_id), birth, seq=self._next_inventory_seq(), qos=1
        )
        for sup in self.supervisors.values():
            self._publish_dev_state(sup.state)

    def _publish_dev_state(self, state: DevStateBody) -> None:
        topic = topics.dev_state(self.agent_id, state.device)
        self._publish(Channel.DEV_STATE, topic, state, seq=self._next_inventory_seq(), qos=1, retain=True)

    def _on_dev_state(self, state: DevStateBody) -> None:
        if self.ready.is_set():
            self._publish_dev_state(state)

    def _rebirth(self) -> None:
        if self.ready.is_set():
            self._publish_inventory()
        self.sender.go_back("rebirth requested")

    # -- downlink routes (loop) ---------------------------------------------------------------------------

    def _on_command(self, cmd: CommandBody) -> None:
        assert self.commands is not None
        self.commands.submit(cmd)

    def _on_ack(self, ack: AckBody) -> None:
        self.sender.acked(ack.ids)

    def _on_config(self, cfg: ConfigBody) -> None:
        if cfg.telemetry_interval_s is not None and cfg.telemetry_interval_s != self.telemetry_interval_s:
            log.info("telemetry interval set to %g s by the coordinator", cfg.telemetry_interval_s)
            self.telemetry_interval_s = cfg.telemetry_interval_s
            self._telemetry_wake.set()
        if self.tiles is not None:
            self.tiles.set_rates(cfg.tile_rates)  # every config carries the whole demand; {} stops all tiles

    # -- periodic work (loop) -----------------------------------------------------------------------------

    def telemetry(self) -> TelemetryBody:
        readings = [
            Reading(device=s.device_id, point=r.point, value=r.value, unit=r.unit)
            for s in self.supervisors.values()
            for r in s.readings
            if math.isfinite(r.value)
        ]
        return TelemetryBody(
            readings=readings, outbox=self.outbox.status(), inventory_seq=self._inventory_seq
        )

    async def _telemetry_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._telemetry_wake.wait(), self.telemetry_interval_s)
            self._telemetry_wake.clear()
            if self.ready.is_set():
                self._telemetry_seq += 1
                body = self.telemetry()
                self._publish(
                    Channel.TELEMETRY, topics.telemetry(self.agent_id), body, seq=self._telemetry_seq, qos=0
                )

    async def _ack_timer(self) -> None:
        period = min(0.5, self.config.outbox.ack_timeout_s / 4)
        while True:
            await asyncio.sleep(period)
            self.sender.check_timeout()

    # -- Will and farewell --------------------------------------------------------------------------------

    def _offline(self, boot: int, seq: int) -> bytes:
        body = StateBody(online=False, boot=boot, version=VERSION, ts=time.time())
        return envelope.encode(envelope.make(Channel.STATE, self.agent_id, boot, seq, body))

    def _will(self, boot: int) -> bytes:
        return self._offline(boot, 0)

    def _farewell(self, boot: int) -> bytes:
        return self._offline(boot, 2)


def run(config_path: Path) -> int:
    """Run the agent configured in ``config_path`` until SIGINT/SIGTERM; return the exit code.

    0 after a clean stop, 2 for a bad configuration, 1 if the agent could not start or died.
    """
    try:
        agent = Agent(load_config(config_path))
    except ConfigError as err:
        log.error("%s", err)
        return 2
    except AgentError as err:
        log.error("%s", err)
        return 1
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        agent.start()
        log.info("agent %s running with %d device(s)", agent.agent_id, len(agent.drivers))
        while not stop.wait(0.5):
            if not agent.alive:
                log.error("the agent stopped unexpectedly: %s", agent.error)
                return 1
        return 0
    except AgentError as err:
        log.error("%s", err)
        return 1
    finally:
        agent.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
