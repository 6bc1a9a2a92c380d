"""The coordinator's MQTT session: persistent (clean session false, fixed client id), mTLS, MQTT 3.1.1.

Own reconnect loop with jittered exponential backoff (0.2 s doubling to 30 s, ±50 %). On every CONNACK:
publish the retained ``online`` coordinator state, then subscribe QoS 1 to every agent's ``up/#`` (always:
a broker that lost its persistence also lost the subscription; retained replays are harmless). The Will is a
retained ``offline`` state. :meth:`stop` publishes ``offline`` itself and disconnects cleanly.
"""

from __future__ import annotations

import itertools
import logging
import random
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from coordinator.settings import Settings
from protocols import envelope, topics
from protocols.messages import Body, CoordinatorStateBody
from protocols.topics import COORDINATOR_ID, Channel

log = logging.getLogger(__name__)

MessageHandler = Callable[[str, bytes], None]

BACKOFF_MIN_S = 0.2
BACKOFF_MAX_S = 30.0


def jittered(delay: float) -> float:
    return delay * random.uniform(0.5, 1.5)


def _wake_only(_client: mqtt.Client, _userdata: Any, _sock: Any) -> None:
    """Nothing to do: ``publish`` already wakes ``loop()`` through paho's socket pair."""


class MqttLink:
    """One MQTT client, its network thread and the outbound envelopes (sender ``coordinator``)."""

    def __init__(self, settings: Settings, boot: int, on_message: MessageHandler) -> None:
        self._settings = settings
        self.boot = boot
        self._seq = itertools.count(1)
        self._seq_lock = threading.Lock()
        self._on_message = on_message
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._thread: threading.Thread | None = None
        # Held while (re)connecting and while other threads publish: a publish must never slip in between
        # reconnect()'s new socket and its CONNECT packet (the broker would see PUBLISH first: protocol error).
        self._io_lock = threading.Lock()
        self.connects = 0
        self._client = self._make_client()

    # -- set-up ------------------------------------------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        s = self._settings
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=s.mqtt_client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
        )
        if s.mqtt_ca is None or s.mqtt_cert is None or s.mqtt_key is None:
            raise ValueError("MQTT TLS files missing")  # Settings refuses this already
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(s.mqtt_ca))
        ctx.load_cert_chain(str(s.mqtt_cert), str(s.mqtt_key))
        client.tls_set_context(ctx)
        client.will_set(topics.coordinator_state(), self._state_payload(online=False), qos=1, retain=True)
        client.on_connect = self._handle_connect
        client.on_disconnect = self._handle_disconnect
        client.on_message = self._handle_message
        # Only the network thread may touch the TLS socket: without a registered "external loop" hook (and
        # without loop_start), paho writes a publish straight from the calling thread — racing this loop's
        # reads and writes and corrupting the TLS stream. With the hook it queues and wakes ``loop()``.
        client.on_socket_register_write = _wake_only
        return client

    def _envelope(self, kind: Channel, body: Body) -> bytes:
        with self._seq_lock:
            seq = next(self._seq)
        return envelope.encode(envelope.make(kind, COORDINATOR_ID, self.boot, seq, body))

    def _state_payload(self, online: bool) -> bytes:
        return self._envelope(Channel.COORDINATOR_STATE, CoordinatorStateBody(online=online, ts=time.time()))

    # -- callbacks (network thread) ----------------------------------------------------------------------

    def _handle_connect(
        self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        if reason.is_failure:
            log.warning("MQTT broker refused the connection: %s", reason)
            return
        self.connects += 1
        # Subscribe first: once agents see us online, the broker already routes their messages to us.
        client.subscribe(topics.all_up_filter(), qos=1)
        client.publish(topics.coordinator_state(), self._state_payload(online=True), qos=1, retain=True)
        self._connected.set()
        log.info("MQTT connected to %s:%d", self._settings.mqtt_host, self._settings.mqtt_port)

    def _handle_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        was = self._connected.is_set()
        self._connected.clear()
        if was and not self._stop.is_set():
            log.warning("MQTT connection lost: %s", reason)

    def _handle_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self._on_message(msg.topic, bytes(msg.payload))

    # -- the loop ----------------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="mqtt-link", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        s = self._settings
        delay = BACKOFF_MIN_S
        first = True
        while not self._stop.is_set():
            try:
                with self._io_lock:
                    if first:
                        first = False
                        rc = self._client.connect(s.mqtt_host, s.mqtt_port, keepalive=s.mqtt_keepalive_s)
                    else:
                        rc = self._client.reconnect()
            except OSError as err:  # includes ssl.SSLError
                log.debug("MQTT connect to %s:%d failed: %s", s.mqtt_host, s.mqtt_port, err)
                rc = MQTTErrorCode.MQTT_ERR_NO_CONN
            while rc == MQTTErrorCode.MQTT_ERR_SUCCESS and not self._stop.is_set():
                rc = self._client.loop(timeout=0.2)
                if self._connected.is_set():
                    delay = BACKOFF_MIN_S
            if self._stop.is_set():
                break
            with self._io_lock:
                self._connected.clear()
            self._stop.wait(jittered(delay))
            delay = min(delay * 2, BACKOFF_MAX_S)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    # -- outbound ----------------------------------------------------------------------------------------

    def send(self, kind: Channel, topic: str, body: Body, *, retain: bool = False) -> bool:
        """Publish ``body`` QoS 1 in a coordinator envelope; False (nothing queued) while disconnected."""
        payload = self._envelope(kind, body)
        with self._io_lock:
            if not self._connected.is_set():
                return False
            info = self._client.publish(topic, payload, qos=1, retain=retain)
        return info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS

    def stop(self, timeout: float = 3.0) -> None:
        """Publish the retained offline state (if connected), disconnect without the Will, end the thread."""
        if self._thread is None:
            return
        with self._io_lock:
            info = (
                self._client.publish(
                    topics.coordinator_state(), self._state_payload(online=False), qos=1, retain=True
                )
                if self._connected.is_set()
                else None
            )
        if info is not None:
            deadline = time.monotonic() + timeout
            while not info.is_published() and self._connected.is_set() and time.monotonic() < deadline:
                time.sleep(0.01)
        self._stop.set()
        self._thread.join(timeout + 1)
        self._thread = None
        if self._client.disconnect() == MQTTErrorCode.MQTT_ERR_SUCCESS:
            deadline = time.monotonic() + 1.0
            while self._client.want_write() and time.monotonic() < deadline:
                if self._client.loop(timeout=0.05) != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    break
        self._connected.clear()
        log.info("MQTT session closed")
