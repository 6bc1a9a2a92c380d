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


class BareSubscriber:
    """A paho client on a persistent session that only counts events and times the first and last."""

    def __init__(self, bench: Bench, count: int, client_id: str) -> None:
        self.bench, self.count, self.client_id = bench, count, client_id
        self.got = 0
        self.first: float | None = None
        self.last = 0.0
        self.done = threading.Event()
        self.subscribed = threading.Event()
        self.client: mqtt.Client | None = None

    def _on_message(self, _c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        if msg.topic.endswith("/up/event"):
            self.got += 1
            if self.first is None:
                self.first = now()
            self.last = now()
            if self.got == self.count:
                self.done.set()

    def connect(self, subscribe: bool) -> None:
        files = self.bench.pki.files("coordinator")
        c = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=self.client_id, clean_session=False, protocol=mqtt.MQTTv311
        )
        c.tls_set(ca_certs=str(self.bench.pki.ca_cert_path), certfile=str(files.cert), keyfile=str(files.key))
        c.on_message = self._on_message
        c.on_subscribe = lambda *_a: self.subscribed.set()
        c.connect("localhost", self.bench.broker.port)
        c.loop_start()
        if subscribe:
            c.subscribe(topics.all_up_filter(), qos=1)
            self.subscribed.wait(10)
        self.client = c

    def disconnect(self) -> None:
        assert self.client is not None
        self.client.disconnect()
        self.client.loop_stop()

    def elapsed(self) -> float:
        assert self.got == self.count, f"bare subscriber got {self.got} of {self.count}"
        assert self.first is not None
        return self.last - self.first


def bare_subscriber(bench: Bench, count: int) -> float:
    """Live mode: subscribed first, then the publisher runs."""
    sub = BareSubscriber(bench, count, "bench-bare")
    sub.connect(subscribe=True)
    pub = publisher(bench, "bench-bare-pub", count)
    sub.done.wait(600)
    pub.wait()
    sub.disconnect()
    return sub.elapsed()


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
    sub = BareSubscriber(bench, count, "bench-drain")
    sub.connect(subscribe=True)
    sub.disconnect()
    publisher(bench, "bench-drain-pub", count).wait()
    sub.connect(subscribe=False)
    sub.done.wait(600)
    sub.disconnect()
    return sub.elapsed()


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
