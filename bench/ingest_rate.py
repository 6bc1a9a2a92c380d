"""Coordinator ingest rate of QoS1 events with durable writes vs a bare paho subscriber, same broker, same run.

Baseline: a bare paho subscriber (QoS1, persistent session, does nothing but count) receiving N events from
the load publisher, timed from its first to its last message. Ours: the coordinator process receiving the same N events, decoding and validating each,
writing them in transactions to SQLite (WAL) and acknowledging them; timed from the first committed row
to the last.
Goal: ours ≥ 0.5 × baseline.

    python -m bench.ingest_rate [--events 20000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench.harness import Bench, bench_world, now, rate
from protocols import topics
from tests.support import wait_until


def publisher(bench: Bench, agent: str, count: int) -> subprocess.Popen[bytes]:
    files = bench.pki.files(agent)
    if not files.cert.exists():
        files = bench.pki.issue_agent(agent)
    argv = [
        sys.executable, "-m", "bench.publisher", str(bench.broker.port), str(bench.pki.ca_cert_path),
        str(files.cert), str(files.key), agent, str(count),
    ]  # fmt: skip
    return subprocess.Popen(argv)


def bare_subscriber(bench: Bench, count: int) -> float:
    files = bench.pki.files("coordinator")
    got = 0
    first: float | None = None
    last = 0.0
    done = threading.Event()
    ready = threading.Event()

    def on_message(_c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        nonlocal got, first, last
        if msg.topic.endswith("/up/event"):
            got += 1
            if first is None:
                first = now()
            last = now()
            if got == count:
                done.set()

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id="bench-bare", clean_session=False, protocol=mqtt.MQTTv311
    )
    client.tls_set(ca_certs=str(bench.pki.ca_cert_path), certfile=str(files.cert), keyfile=str(files.key))
    client.on_message = on_message
    client.on_subscribe = lambda *_a: ready.set()
    client.on_connect = lambda c, *_a: c.subscribe(topics.all_up_filter(), qos=1)
    client.connect("localhost", bench.broker.port)
    client.loop_start()
    ready.wait(10)
    pub = publisher(bench, "bench-bare-pub", count)
    done.wait(600)
    pub.wait()
    client.disconnect()
    client.loop_stop()
    assert got == count, f"bare subscriber got {got} of {count}"
    assert first is not None
    return last - first


def coordinator_ingest(bench: Bench, count: int) -> float:
    bench.start_coordinator()
    pub = publisher(bench, "bench-coord-pub", count)
    wait_until(lambda: bench.event_rows() > 0, timeout=600, interval=0.005, what="first row committed")
    start = now()
    wait_until(lambda: bench.event_rows() >= count, timeout=600, interval=0.01, what="rows committed")
    elapsed = now() - start
    pub.wait()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args()
    with bench_world("ingest") as bench:
        bare = bare_subscriber(bench, args.events)
        ours = coordinator_ingest(bench, args.events)
        rows = bench.event_rows()
    print(f"bare paho subscriber : {rate(args.events, bare)}")
    print(f"coordinator (durable): {rate(rows, ours)}")
    print(f"ratio coordinator/bare = {bare / ours:.2f} (goal ≥ 0.5)")


if __name__ == "__main__":
    main()
