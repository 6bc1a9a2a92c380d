"""Test helpers for the agent: configs against the test broker, and a stand-in coordinator."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.config import AgentConfig, parse_config
from protocols import envelope, topics
from protocols.envelope import Envelope
from protocols.messages import AckBody, Body, CommandBody, ConfigBody, EventBody, ResultBody
from protocols.topics import Channel
from provisioning.broker import Broker
from provisioning.pki import Pki
from tests.support import wait_until

B = TypeVar("B", bound=Body)


def agent_config_data(
    world_dir: Path,
    pki: Pki,
    broker: Broker,
    agent_id: str = "agent-1",
    *,
    devices: list[dict[str, Any]] | None = None,
    outbox: dict[str, Any] | None = None,
    **top: Any,
) -> dict[str, Any]:
    files = pki.files(agent_id)
    if not files.cert.exists():
        files = pki.issue_agent(agent_id)
    data: dict[str, Any] = {
        "agent_id": agent_id,
        "data_dir": str(world_dir / f"{agent_id}-data"),
        "broker": {
            "port": broker.port,
            "ca": str(pki.ca_cert_path),
            "cert": str(files.cert),
            "key": str(files.key),
            "reconnect_base_s": 0.05,
            "reconnect_max_s": 0.5,
            "keepalive_s": 5,
        },
        "outbox": {"ack_timeout_s": 1.0, **(outbox or {})},
        "telemetry_interval_s": top.pop("telemetry_interval_s", 0.2),
        "devices": devices
        if devices is not None
        else [{"id": "sim-1", "kind": "sim", "poll_interval_s": 0.1}],
        **top,
    }
    return data


def agent_config(
    world_dir: Path, pki: Pki, broker: Broker, agent_id: str = "agent-1", **kw: Any
) -> AgentConfig:
    return parse_config(agent_config_data(world_dir, pki, broker, agent_id, **kw))


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(value)


def write_toml(path: Path, data: dict[str, Any]) -> Path:
    """Enough of a TOML writer for agent configs: scalars, tables, arrays of tables."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict | list)]
    for key, value in data.items():
        if isinstance(value, dict):
            lines += ["", f"[{key}]"] + [f"{k} = {_toml_value(v)}" for k, v in value.items()]
        elif isinstance(value, list):
            for item in value:
                lines += ["", f"[[{key}]]"] + [f"{k} = {_toml_value(v)}" for k, v in item.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


class Received:
    def __init__(self, topic: str, env: Envelope[Body], retained: bool) -> None:
        self.topic = topic
        self.env = env
        self.retained = retained
        self.channel = env.kind
        self.body = env.body


class FakeCoordinator:
    """A plain paho client with the coordinator's certificate, recording everything agents publish.

    With ``auto_ack`` it acknowledges events and results (in batches per received burst), like the real
    coordinator's ingest after commit.
    """

    def __init__(
        self, broker: Broker, pki: Pki, *, auto_ack: bool = True, client_id: str = "fake-coordinator"
    ):
        self.auto_ack = auto_ack
        self.messages: list[Received] = []
        self._lock = threading.Lock()
        self._pending_acks: dict[str, list[uuid.UUID]] = {}
        self.subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
        files = pki.files(topics.COORDINATOR_ID)
        self.client.tls_set(ca_certs=str(pki.ca_cert_path), certfile=str(files.cert), keyfile=str(files.key))
        self.client.on_connect = lambda c, *_: c.subscribe(topics.all_up_filter(), qos=1)
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", broker.port, 30)
        self.client.loop_start()
        wait_until(self.subscribed.is_set, what="fake coordinator subscribed")
        self._stop = threading.Event()
        self._acker = threading.Thread(target=self._ack_loop, daemon=True)
        self._acker.start()

    def close(self) -> None:
        self._stop.set()
        self._acker.join()
        self.client.disconnect()
        self.client.loop_stop()

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        parsed, env = envelope.decode(msg.topic, msg.payload)
        with self._lock:
            self.messages.append(Received(msg.topic, env, bool(msg.retain)))
            if self.auto_ack and env.kind in (Channel.EVENT, Channel.RESULT):
                self._pending_acks.setdefault(parsed.agent_id, []).append(env.id)

    def _ack_loop(self) -> None:
        while not self._stop.wait(0.01):
            self.flush_acks()

    def flush_acks(self) -> None:
        with self._lock:
            pending, self._pending_acks = self._pending_acks, {}
        for agent_id, ids in pending.items():
            for i in range(0, len(ids), 5000):
                self.ack(agent_id, ids[i : i + 5000])

    def ack(self, agent_id: str, ids: list[uuid.UUID]) -> None:
        self.send(topics.ack(agent_id), Channel.ACK, AckBody(ids=ids))

    def send(self, topic: str, kind: Channel, body: Body, retain: bool = False) -> None:
        env = envelope.make(kind, topics.COORDINATOR_ID, 1, 1, body)
        self.client.publish(topic, envelope.encode(env), qos=1, retain=retain).wait_for_publish(5)

    def command(
        self,
        agent_id: str,
        device: str,
        action: str,
        args: dict[str, Any] | None = None,
        *,
        expires_in: float = 60.0,
        cmd_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        body = CommandBody(
            cmd_id=cmd_id or uuid.uuid4(),
            device=device,
            action=action,
            args=args or {},
            expires_at=time.time() + expires_in,
        )
        self.send(topics.cmd(agent_id), Channel.CMD, body)
        return body.cmd_id

    def config(self, agent_id: str, body: ConfigBody) -> None:
        self.send(topics.config(agent_id), Channel.CONFIG, body, retain=True)

    # -- queries ------------------------------------------------------------------------------------------

    def of(self, channel: Channel, where: Callable[[Received], bool] = lambda _m: True) -> list[Received]:
        with self._lock:
            return [m for m in self.messages if m.channel == channel and where(m)]

    def bodies(self, body_type: type[B]) -> list[B]:
        """Bodies of one type, in arrival order (e.g. ``bodies(StateBody)``)."""
        with self._lock:
            return [m.body for m in self.messages if isinstance(m.body, body_type)]

    def events(self) -> list[EventBody]:
        return [m.body for m in self.of(Channel.EVENT) if isinstance(m.body, EventBody)]

    def results(self, cmd_id: uuid.UUID | None = None) -> list[ResultBody]:
        out = [m.body for m in self.of(Channel.RESULT) if isinstance(m.body, ResultBody)]
        return [r for r in out if cmd_id is None or r.cmd_id == cmd_id]

    def wait_result(self, cmd_id: uuid.UUID, timeout: float = 10.0) -> ResultBody:
        results = wait_until(lambda: self.results(cmd_id), timeout, what=f"result of {cmd_id}")
        return results[0]
