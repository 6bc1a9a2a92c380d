"""A load publisher for the ingest benchmark: one agent's birth, then N valid QoS1 events as fast as
Mosquitto takes them. Run as its own process so it does not share the GIL with what is measured.

    python -m bench.publisher PORT CA CERT KEY AGENT_ID COUNT
"""

from __future__ import annotations

import sys
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from protocols import envelope, topics
from protocols.messages import BirthBody, DeviceInfo, EventBody, OutboxStatus
from protocols.topics import Channel


def main() -> None:
    port, ca, cert, key, agent, count_s = sys.argv[1:7]
    count = int(count_s)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=agent, protocol=mqtt.MQTTv311)
    client.tls_set(ca_certs=ca, certfile=cert, keyfile=key)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    done = threading.Event()
    acked = 0

    def on_publish(*_a: object) -> None:
        nonlocal acked
        acked += 1
        if acked == count + 1:
            done.set()

    client.on_publish = on_publish
    client.connect("localhost", int(port), keepalive=60)
    client.loop_start()
    outbox = OutboxStatus(epoch="bench", low_seq=1, next_seq=count + 1, depth=count, refused=0)
    birth = BirthBody(
        version="bench", devices=[DeviceInfo(id="sim-1", kind="sim")], outbox=outbox, keepalive_s=60
    )
    client.publish(
        topics.birth(agent), envelope.encode(envelope.make(Channel.BIRTH, agent, 1, 1, birth)), qos=1
    )
    payloads = [
        envelope.encode(
            envelope.make(
                Channel.EVENT, agent, 1, seq, EventBody(device="sim-1", type="bench", data={"n": seq})
            )
        )
        for seq in range(1, count + 1)
    ]
    topic = topics.event(agent)
    start = time.perf_counter()
    for payload in payloads:
        client.publish(topic, payload, qos=1)
    done.wait(600)
    print(f"publisher: {count} PUBACKed in {time.perf_counter() - start:.2f} s", file=sys.stderr)
    client.disconnect()
    client.loop_stop()


if __name__ == "__main__":
    main()
