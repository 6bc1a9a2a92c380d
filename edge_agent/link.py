"""The agent's MQTT session (docs/protocol.md, "Agent session"): mTLS, the Will, reconnects.

paho-mqtt 2.x with a **fresh client per connect attempt** and paho's own reconnect switched off, so that
every attempt first increments the persisted boot and sets a Will carrying that boot. One thread owns the
attempts: boot += 1 → Will → connect → network loop (paho's ``loop_start`` thread) → wait for the loss →
jittered exponential backoff → again. Once the broker acknowledges the subscription to ``down/#`` and the
coordinator's state, :meth:`LinkHandler.on_ready` is called; the runtime then publishes state, birth and
device states and replays the outbox.

Callbacks arrive on paho's thread; the handler must hand them over (the runtime uses
``call_soon_threadsafe``). :meth:`Link.publish` may be called from any thread.

Failures are logged once per change of state, not once per retry: "cannot connect: …" once while the
broker stays unreachable, "connection lost" once, "connected" once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from edge_agent.backoff import Backoff
from edge_agent.config import BrokerConfig
from protocols import topics

log = logging.getLogger(__name__)

MAX_INFLIGHT = 100
"""QoS 1 messages paho keeps unacknowledged by the broker; more are queued inside paho."""


class LinkHandler(Protocol):
    """What the link reports; called on paho's network thread."""

    def on_ready(self, boot: int) -> None:
        """Connected and subscribed; ``boot`` identifies this session."""

    def on_lost(self, boot: int, reason: str) -> None:
        """The session of ``boot`` ended (not called for a connection that was never ready)."""

    def on_message(self, topic: str, payload: bytes) -> None:
        """A message on ``down/#`` or the coordinator's state."""


class Link:
    """One agent's connection to the broker, kept up until :meth:`stop`."""

    def __init__(
        self,
        config: BrokerConfig,
        agent_id: str,
        handler: LinkHandler,
        *,
        next_boot: Callable[[], int],
        will_payload: Callable[[int], bytes],
    ) -> None:
        self.config = config
        self.agent_id = agent_id
        self._handler = handler
        self._next_boot = next_boot
        self._will_payload = will_payload
        self._stopping = threading.Event()
        self._winding_down = threading.Event()
        self._lost = threading.Event()
        self._lock = threading.Lock()
        self._client: mqtt.Client | None = None
        self._boot = 0
        self._ready = False
        self._last_problem: str | None = None
        self._reconnecting = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"mqtt-link-{agent_id}", daemon=True)

    @property
    def ready(self) -> bool:
        return self._ready

    @property
    def boot(self) -> int:
        """Boot of the current (or last) connect attempt."""
        return self._boot

    def start(self) -> None:
        self._thread.start()

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> bool:
        """Hand a message to the current connection; False if there is none."""
        with self._lock:
            client = self._client
        if client is None:
            return False
        info = client.publish(topic, payload, qos=qos, retain=retain)
        return info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS

    def reconnect(self) -> None:
        """End the current session cleanly (no Will) and connect again at once, e.g. with a renewed
        certificate: every attempt reads the certificate and key files afresh."""
        with self._lock:
            client = self._client
        if client is not None:
            self._reconnecting.set()
            client.disconnect()

    def wind_down(self) -> None:
        """Keep the current connection (for the farewell) but make no new connect attempt.

        Called first thing when the agent stops, so a link that drops while the devices are being closed
        does not come back with a new boot just to be closed again.
        """
        self._winding_down.set()

    def stop(self, farewell: Callable[[int], bytes] | None = None, timeout: float = 5.0) -> None:
        """Publish ``farewell(boot)`` retained on ``up/state`` (if connected), disconnect, end the thread.

        A clean disconnect means the broker does not send the Will, so the farewell is the offline state.
        """
        self._stopping.set()
        with self._lock:
            client, ready = self._client, self._ready
        if client is not None:
            if ready and farewell is not None:
                info = client.publish(topics.state(self.agent_id), farewell(self._boot), qos=1, retain=True)
                try:
                    info.wait_for_publish(timeout)
                except (RuntimeError, ValueError) as err:
                    log.warning("could not publish the offline state before disconnecting: %s", err)
            client.disconnect()
        self._lost.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    # -- the connect loop (link thread) -------------------------------------------------------------------

    def _problem(self, text: str) -> None:
        if text != self._last_problem:
            log.warning("broker %s:%d: %s", self.config.host, self.config.port, text)
            self._last_problem = text
        else:
            log.debug("broker %s:%d: %s (again)", self.config.host, self.config.port, text)

    def _new_client(self, boot: int) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.agent_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
            reconnect_on_failure=False,
        )
        client.tls_set(
            ca_certs=str(self.config.ca), certfile=str(self.config.cert), keyfile=str(self.config.key)
        )
        client.will_set(topics.state(self.agent_id), self._will_payload(boot), qos=1, retain=True)
        client.max_inflight_messages_set(MAX_INFLIGHT)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def _run(self) -> None:
        backoff = Backoff(self.config.reconnect_base_s, self.config.reconnect_max_s)
        while not self._stopping.is_set() and not self._winding_down.is_set():
            boot = self._next_boot()
            self._boot = boot
            self._lost.clear()
            was_ready = False
            try:
                client = self._new_client(boot)
                client.connect(self.config.host, self.config.port, self.config.keepalive_s)
            except (OSError, ValueError) as err:  # refused, unreachable, TLS handshake, unreadable key files
                self._problem(f"cannot connect: {err}")
            else:
                with self._lock:
                    self._client = client
                client.loop_start()
                self._lost.wait()
                was_ready = self._ready
                with self._lock:
                    self._client = None
                    self._ready = False
                client.loop_stop()
            if self._stopping.is_set() or self._winding_down.is_set():
                break
            if was_ready:
                backoff.reset()
            if self._reconnecting.is_set():
                self._reconnecting.clear()
                continue
            delay = backoff.next_delay()
            log.debug("next connect attempt in %.2f s", delay)
            self._stopping.wait(delay)

    # -- paho callbacks (paho's thread) -------------------------------------------------------------------

    def _on_connect(
        self, client: mqtt.Client, _ud: Any, _flags: Any, reason: ReasonCode, _props: Any
    ) -> None:
        if reason.is_failure:
            self._problem(f"connection refused by the broker: {reason}")
            return
        log.info("connected to broker %s:%d as %s (boot %d)", self.config.host, self.config.port,
                 self.agent_id, self._boot)  # fmt: skip
        self._last_problem = None
        client.subscribe([(topics.agent_down_filter(self.agent_id), 1), (topics.coordinator_state(), 1)])

    def _on_subscribe(
        self, _client: mqtt.Client, _ud: Any, _mid: int, reasons: list[ReasonCode], _props: Any
    ) -> None:
        refused = [str(r) for r in reasons if r.is_failure]
        if refused:
            log.error("broker refused the subscriptions: %s; commands will not arrive", ", ".join(refused))
        self._ready = True
        self._handler.on_ready(self._boot)

    def _on_disconnect(
        self, _client: mqtt.Client, _ud: Any, _flags: Any, reason: ReasonCode, _props: Any
    ) -> None:
        was_ready = self._ready
        self._ready = False
        if self._reconnecting.is_set():
            log.info("reconnecting to broker %s:%d (new certificate)", self.config.host, self.config.port)
        elif not self._stopping.is_set():
            if was_ready:
                self._problem(f"connection lost: {reason}")
            else:
                self._problem(
                    f"connection closed before the session was up ({reason}); certificate rejected?"
                )
        if was_ready:
            self._handler.on_lost(self._boot, str(reason))
        self._lost.set()

    def _on_message(self, _client: mqtt.Client, _ud: Any, msg: mqtt.MQTTMessage) -> None:
        self._handler.on_message(msg.topic, bytes(msg.payload))
