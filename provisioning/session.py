"""End an agent's live MQTT session at once (revocation).

Mosquitto applies a reloaded CRL to new connections only. To end a session that is already open, connect with
the coordinator's certificate **using the agent's client id**: the broker takes the session over and closes the
agent's connection (its Will is published); then disconnect. The agent's reconnect is refused by the CRL.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from provisioning.errors import BrokerError


def take_over_session(
    host: str, port: int, ca: Path, cert: Path, key: Path, client_id: str, timeout: float = 5.0
) -> None:
    """Connect as ``client_id`` (clean session: the agent's queued messages are dropped too), then leave."""
    connected = threading.Event()
    result: list[ReasonCode] = []

    def on_connect(_c: mqtt.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        result.append(reason)
        connected.set()

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True, protocol=mqtt.MQTTv311
    )
    client.tls_set(ca_certs=str(ca), certfile=str(cert), keyfile=str(key))
    client.on_connect = on_connect
    try:
        client.connect(host, port, keepalive=10)
    except (OSError, ValueError) as err:
        raise BrokerError(f"cannot reach the broker at {host}:{port} to end the session: {err}") from err
    client.loop_start()
    try:
        if not connected.wait(timeout):
            raise BrokerError(f"no CONNACK from {host}:{port} within {timeout:.0f} s")
        if result[0].is_failure:
            raise BrokerError(f"the broker refused the take-over connection: {result[0]}")
    finally:
        client.disconnect()
        client.loop_stop()
