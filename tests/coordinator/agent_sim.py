"""A hand-driven agent for coordinator tests: a paho client with an agent certificate that publishes
exactly the messages a test asks for (no outbox logic) and records what arrives on its ``down/`` topics."""

from __future__ import annotations

import socket
import ssl
import threading
import time
import uuid
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from protocols import envelope, topics
from protocols.messages import (
    AckBody,
    BirthBody,
    Body,
    CommandBody,
    CoordinatorStateBody,
    DeviceInfo,
    DevStateBody,
    EventBody,
    OutboxStatus,
    Reading,
    ResultBody,
    StateBody,
    TelemetryBody,
)
from protocols.topics import Channel
from provisioning.pki import Pki
from tests.support import wait_until

DEFAULT_DEVICES = (
    DeviceInfo(id="scanner1", kind="scanner", model="SANE test", commands=["scan"], capabilities=["adf"]),
    DeviceInfo(id="printer1", kind="printer", model="ippeveprinter", commands=["print"]),
)


class AgentSim:
    def __init__(self, pki: Pki, port: int, agent_id: str, boot: int = 1, epoch: str = "epoch-1") -> None:
        self.id = agent_id
        self.boot = boot
        self.epoch = epoch
        self.inventory_seq = 0
        self.telemetry_seq = 0
        self.acked: list[uuid.UUID] = []
        self.outbox_sent: dict[int, tuple[str, bytes]] = {}
        self.ack_messages = 0
        self.commands: list[CommandBody] = []
        self.coordinator_online: bool | None = None
        self._lock = threading.Lock()
        files = pki.files(agent_id)
        if not files.cert.exists():
            files = pki.issue_agent(agent_id)
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=agent_id, clean_session=True, protocol=mqtt.MQTTv311
        )
        ctx = ssl.create_default_context(cafile=str(pki.ca_cert_path))
        ctx.load_cert_chain(str(files.cert), str(files.key))
        self.client.tls_set_context(ctx)
        self.client.will_set(topics.state(agent_id), self._state(False), qos=1, retain=True)
        self.client.on_message = self._on_message
        self._subscribed = threading.Event()
        self.client.on_subscribe = lambda *_a: self._subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe([(topics.agent_down_filter(agent_id), 1), (topics.coordinator_state(), 1)])
        assert self._subscribed.wait(10), "no SUBACK"

    # -- inbound ---------------------------------------------------------------------------------------

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        _topic, env = envelope.decode(msg.topic, msg.payload)
        with self._lock:
            if isinstance(env.body, AckBody):
                self.acked.extend(env.body.ids)
                self.ack_messages += 1
            elif isinstance(env.body, CommandBody):
                self.commands.append(env.body)
            elif isinstance(env.body, CoordinatorStateBody):
                self.coordinator_online = env.body.online

    def wait_coordinator_online(self, timeout: float = 15) -> None:
        wait_until(lambda: self.coordinator_online, timeout, what="coordinator online state")

    def wait_acked(self, ids: list[uuid.UUID], timeout: float = 10) -> None:
        wait_until(lambda: set(ids) <= set(self.acked), timeout, what=f"acks of {len(ids)} ids")

    def rebirth_commands(self) -> list[CommandBody]:
        with self._lock:
            return [c for c in self.commands if c.action == "rebirth"]

    # -- outbound --------------------------------------------------------------------------------------

    def _state(self, online: bool, boot: int | None = None) -> bytes:
        b = self.boot if boot is None else boot
        body = StateBody(online=online, boot=b, version="test-1.0", ts=time.time())
        return envelope.encode(envelope.make(Channel.STATE, self.id, b, 1 if online else 0, body))

    def send(
        self,
        kind: Channel,
        topic: str,
        body: Body,
        seq: int,
        boot: int | None = None,
        retain: bool = False,
        msg_id: uuid.UUID | None = None,
    ) -> envelope.Envelope[Any]:
        env = envelope.make(kind, self.id, self.boot if boot is None else boot, seq, body, msg_id=msg_id)
        self.send_raw(topic, envelope.encode(env), retain=retain)
        return env

    def send_raw(self, topic: str, payload: bytes, retain: bool = False) -> None:
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(10)

    def online(self, boot: int | None = None) -> None:
        self.send_raw(topics.state(self.id), self._state(True, boot), retain=True)

    def offline(self, boot: int | None = None) -> None:
        self.send_raw(topics.state(self.id), self._state(False, boot), retain=True)

    def outbox(self, low_seq: int = 1, next_seq: int | None = None, depth: int = 0) -> OutboxStatus:
        return OutboxStatus(
            epoch=self.epoch, low_seq=low_seq, next_seq=next_seq or low_seq, depth=depth, refused=0
        )

    def birth(self, devices: tuple[DeviceInfo, ...] = DEFAULT_DEVICES, low_seq: int = 1) -> None:
        self.inventory_seq += 1
        body = BirthBody(
            version="test-1.0", devices=list(devices), outbox=self.outbox(low_seq), keepalive_s=30
        )
        self.send(Channel.BIRTH, topics.birth(self.id), body, self.inventory_seq)

    def dev_state(self, device: str, status: str = "up", seq: int | None = None, reason: str = "") -> None:
        if seq is None:
            self.inventory_seq += 1
            seq = self.inventory_seq
        body = DevStateBody.model_validate(
            {"device": device, "status": status, "reason": reason, "since": time.time()}
        )
        self.send(Channel.DEV_STATE, topics.dev_state(self.id, device), body, seq, retain=True)

    def telemetry(self, readings: list[Reading], inventory_seq: int | None = None, depth: int = 0) -> None:
        self.telemetry_seq += 1
        body = TelemetryBody(
            readings=readings,
            outbox=self.outbox(depth=depth),
            inventory_seq=self.inventory_seq if inventory_seq is None else inventory_seq,
        )
        self.send(Channel.TELEMETRY, topics.telemetry(self.id), body, self.telemetry_seq)

    def _outbox_send(self, kind: Channel, topic: str, body: Body, seq: int) -> uuid.UUID:
        env = envelope.make(kind, self.id, self.boot, seq, body)
        payload = envelope.encode(env)
        self.outbox_sent[seq] = (topic, payload)
        self.send_raw(topic, payload)
        return env.id

    def replay(self, seq: int) -> None:
        """Resend outbox entry ``seq`` byte for byte, as the agent's go-back-N does."""
        topic, payload = self.outbox_sent[seq]
        self.send_raw(topic, payload)

    def event(self, seq: int, device: str = "scanner1", type_: str = "button", **data: Any) -> uuid.UUID:
        body = EventBody(device=device, type=type_, data={"n": seq, **data})
        return self._outbox_send(Channel.EVENT, topics.event(self.id), body, seq)

    def result(self, seq: int, cmd: CommandBody, status: str = "done", **result: Any) -> uuid.UUID:
        body = ResultBody.model_validate(
            {
                "cmd_id": cmd.cmd_id,
                "device": cmd.device,
                "action": cmd.action,
                "status": status,
                "result": result,
            }
        )
        return self._outbox_send(Channel.RESULT, topics.result(self.id), body, seq)

    # -- ending ----------------------------------------------------------------------------------------

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def kill(self) -> None:
        """Drop the TCP connection without DISCONNECT, so the broker publishes the Will."""
        sock = self.client.socket()
        if isinstance(sock, ssl.SSLSocket | socket.socket):
            sock.shutdown(socket.SHUT_RDWR)
        self.client.loop_stop()
        self.client.disconnect()
