"""Coordinator ingest rate of QoS1 events with durable writes vs a bare paho subscriber, same broker, same run.

Baseline: a bare paho subscriber (QoS1, persistent session, does nothing but count) receiving N events from
the load publisher, timed from its first to its last message. Ours: the coordinator process receiving the same N events, decoding and validating each,
writing them in transactions to SQLite (WAL) and acknowledging them; timed from the first committed row
to the last.
Goal: ours ≥ 0.5 × baseline. Two modes: a live stream, where the single publisher process may be what limits
both; and a backlog drain (N events queued in the broker while the consumer was away, as after a coordinator
restart), which measures how fast each consumer can take messages.

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
from hallmesh_cli.procs import terminate
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


def bare_drain(bench: Bench, count: int) -> float:
    """Backlog mode: N events queued in the broker for an offline persistent session, then drained."""
    files = bench.pki.files("coordinator")
    got = 0
    first: float | None = None
    last = 0.0
    done = threading.Event()
    subscribed = threading.Event()

    def on_message(_c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        nonlocal got, first, last
        if msg.topic.endswith("/up/event"):
            got += 1
            if first is None:
                first = now()
            last = now()
            if got == count:
                done.set()

    def client() -> mqtt.Client:
        c = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="bench-drain", clean_session=False, protocol=mqtt.MQTTv311
        )
        c.tls_set(ca_certs=str(bench.pki.ca_cert_path), certfile=str(files.cert), keyfile=str(files.key))
        c.on_message = on_message
        c.on_subscribe = lambda *_a: subscribed.set()
        return c

    c = client()
    c.connect("localhost", bench.broker.port)
    c.loop_start()
    c.subscribe(topics.all_up_filter(), qos=1)
    subscribed.wait(10)
    c.disconnect()
    c.loop_stop()
    publisher(bench, "bench-drain-pub", count).wait()
    c = client()
    c.connect("localhost", bench.broker.port)
    c.loop_start()
    done.wait(600)
    c.disconnect()
    c.loop_stop()
    assert got == count, f"bare subscriber drained {got} of {count}"
    assert first is not None
    return last - first


def coordinator_drain(bench: Bench, count: int) -> float:
    """Backlog mode for the coordinator: stopped cleanly, N events queued for its session, restarted."""
    assert bench.coordinator is not None
    terminate([bench.coordinator])
    before = bench.event_rows()
    publisher(bench, "bench-drain-coord", count).wait()
    bench.start_coordinator()
    wait_until(lambda: bench.event_rows() > before, timeout=600, interval=0.005, what="first row committed")
    start = now()
    wait_until(
        lambda: bench.event_rows() >= before + count, timeout=600, interval=0.01, what="backlog drained"
    )
    return now() - start


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
        bare_backlog = bare_drain(bench, args.events)
        ours_backlog = coordinator_drain(bench, args.events)
    print("live stream (one publisher process, as fast as it goes):")
    print(f"  bare paho subscriber : {rate(args.events, bare)}")
    print(f"  coordinator (durable): {rate(rows, ours)}")
    print(f"  ratio coordinator/bare = {bare / ours:.2f} (goal ≥ 0.5)")
    print("backlog drain (events queued in the broker while the consumer was away):")
    print(f"  bare paho subscriber : {rate(args.events, bare_backlog)}")
    print(f"  coordinator (durable): {rate(args.events, ours_backlog)}")
    print(f"  ratio coordinator/bare = {bare_backlog / ours_backlog:.2f} (goal ≥ 0.5)")


if __name__ == "__main__":
    main()
