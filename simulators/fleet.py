"""Many simulated agents in one process, speaking the MQTT contract of ``protocols`` directly.

A real edge agent runs one process per counter PC; to load a coordinator with a whole region (about 3,000
service points) on one machine, this drives thousands of paho clients from a single selector loop instead of
a thread each. Each simulated agent has a Will, announces itself (state, birth, device states), sends
telemetry for its sim devices on an interval and answers ``rebirth`` requests. It sends no events.
"""

from __future__ import annotations

import logging
import random
import selectors
import socket
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from protocols import envelope, topics
from protocols.errors import DecodeError
from protocols.messages import (
    AGENT_TARGET,
    BirthBody,
    CommandBody,
    DeviceInfo,
    DeviceStatus,
    DevStateBody,
    OutboxStatus,
    Reading,
    StateBody,
    TelemetryBody,
)
from protocols.topics import Channel

log = logging.getLogger(__name__)

VERSION = "fleet-sim-1"


@dataclass(frozen=True)
class FleetOptions:
    host: str
    port: int
    ca: Path
    cert_dir: Path
    """Directory with ``<agent_id>.pem`` and ``<agent_id>.key`` for every agent."""
    devices_per_agent: int = 5
    telemetry_interval_s: float = 10.0
    keepalive_s: int = 60


@dataclass
class SimAgent:
    agent_id: str
    opts: FleetOptions
    boot: int = 1
    inventory_seq: int = 0
    telemetry_seq: int = 0
    next_telemetry: float = 0.0
    online: bool = False
    client: mqtt.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.agent_id,
            clean_session=True,
            protocol=mqtt.MQTTv311,
        )
        self.client.tls_set(
            ca_certs=str(self.opts.ca),
            certfile=str(self.opts.cert_dir / f"{self.agent_id}.pem"),
            keyfile=str(self.opts.cert_dir / f"{self.agent_id}.key"),
            tls_version=ssl.PROTOCOL_TLS_CLIENT,
        )
        will = envelope.make(
            Channel.STATE,
            self.agent_id,
            self.boot,
            0,
            StateBody(online=False, boot=self.boot, version=VERSION, ts=time.time()),
        )
        self.client.will_set(topics.state(self.agent_id), envelope.encode(will), qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.on_disconnect = self._on_disconnect

    @property
    def device_ids(self) -> list[str]:
        return [f"sim-{i}" for i in range(self.opts.devices_per_agent)]

    def _publish(
        self, topic: str, kind: Channel, body: Any, seq: int, qos: int = 1, retain: bool = False
    ) -> None:
        env = envelope.make(kind, self.agent_id, self.boot, seq, body)
        self.client.publish(topic, envelope.encode(env), qos=qos, retain=retain)

    def _outbox(self) -> OutboxStatus:
        return OutboxStatus(epoch=f"fleet-{self.agent_id}", low_seq=1, next_seq=1, depth=0, refused=0)

    def _on_connect(self, client: mqtt.Client, _u: object, _f: object, rc: Any, _p: object) -> None:
        if rc.is_failure:
            log.warning("%s: connection refused: %s", self.agent_id, rc)
            return
        client.subscribe([(topics.agent_down_filter(self.agent_id), 1), (topics.coordinator_state(), 1)])

    def _on_subscribe(self, *_args: object) -> None:
        self._publish(
            topics.state(self.agent_id),
            Channel.STATE,
            StateBody(online=True, boot=self.boot, version=VERSION, ts=time.time()),
            1,
            retain=True,
        )
        self.announce()
        self.online = True
        self.next_telemetry = time.monotonic() + random.uniform(0, self.opts.telemetry_interval_s)

    def announce(self) -> None:
        devices = [
            DeviceInfo(id=d, kind="sim", model="fleet-sim", commands=["echo"]) for d in self.device_ids
        ]
        self.inventory_seq += 1
        birth = BirthBody(
            version=VERSION, devices=devices, outbox=self._outbox(), keepalive_s=self.opts.keepalive_s
        )
        self._publish(topics.birth(self.agent_id), Channel.BIRTH, birth, self.inventory_seq)
        for d in self.device_ids:
            self.inventory_seq += 1
            body = DevStateBody(device=d, status=DeviceStatus.UP, reason="polled", since=time.time())
            self._publish(
                topics.dev_state(self.agent_id, d), Channel.DEV_STATE, body, self.inventory_seq, retain=True
            )

    def _on_message(self, _c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        try:
            _, env = envelope.decode(msg.topic, msg.payload)
        except DecodeError:
            return
        if (
            isinstance(env.body, CommandBody)
            and env.body.device == AGENT_TARGET
            and env.body.action == "rebirth"
        ):
            self.announce()

    def _on_disconnect(self, *_args: object) -> None:
        self.online = False

    def telemetry(self, now: float) -> None:
        self.telemetry_seq += 1
        readings = [
            Reading(device=d, point="temperature_celsius", value=35.0 + random.random() * 5, unit="celsius")
            for d in self.device_ids
        ] + [Reading(device=d, point="uptime_seconds", value=now, unit="seconds") for d in self.device_ids]
        body = TelemetryBody(readings=readings, outbox=self._outbox(), inventory_seq=self.inventory_seq)
        self._publish(topics.telemetry(self.agent_id), Channel.TELEMETRY, body, self.telemetry_seq, qos=0)


class Fleet:
    """Connects the agents and drives them all from one thread until :meth:`stop` or ``duration``."""

    def __init__(self, agent_ids: list[str], opts: FleetOptions) -> None:
        self.opts = opts
        self.agents = [SimAgent(a, opts) for a in agent_ids]
        self.selector = selectors.DefaultSelector()
        self._stopping = False
        self._sockets: dict[int, SimAgent] = {}

    def connect_all(self) -> None:
        for agent in self.agents:
            agent.client.connect(self.opts.host, self.opts.port, keepalive=self.opts.keepalive_s)
            sock = agent.client.socket()
            assert isinstance(sock, socket.socket | ssl.SSLSocket)
            self.selector.register(sock, selectors.EVENT_READ, agent)

    def online_count(self) -> int:
        return sum(a.online for a in self.agents)

    def stop(self) -> None:
        self._stopping = True

    def drop(self, count: int) -> list[str]:
        """Cut ``count`` agents off without a DISCONNECT, as a power cut would (their Wills fire)."""
        dropped = []
        for agent in self.agents[-count:]:
            sock = agent.client.socket()
            if sock is not None:
                self.selector.unregister(sock)
                sock.close()
            agent.online = False
            dropped.append(agent.agent_id)
        self.agents = self.agents[:-count]
        return dropped

    def run_once(self, timeout: float = 0.2) -> None:
        for key, _mask in self.selector.select(timeout):
            agent: SimAgent = key.data
            agent.client.loop_read()
        now = time.monotonic()
        for agent in self.agents:
            if agent.online and now >= agent.next_telemetry:
                agent.telemetry(time.time())
                agent.next_telemetry = now + self.opts.telemetry_interval_s
            if agent.client.want_write():
                agent.client.loop_write()
            agent.client.loop_misc()

    def run(self, duration: float | None = None) -> None:
        end = None if duration is None else time.monotonic() + duration
        while not self._stopping and (end is None or time.monotonic() < end):
            self.run_once()

    def close(self) -> None:
        for agent in self.agents:
            agent.client.disconnect()
            agent.client.loop_write()
        self.selector.close()
