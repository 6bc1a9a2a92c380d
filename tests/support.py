"""Helpers shared by the tests: free ports, waiting on conditions, a throwaway PostgreSQL cluster."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(
    predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.02, what: str = "condition"
) -> T:
    """Poll ``predicate`` until it returns something truthy; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: T = predicate()
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.1f} s waiting for {what} (last value {last!r})")
        time.sleep(interval)
        last = predicate()
    return last


def shared_tmpdir(prefix: str) -> Path:
    """A temp dir that unprivileged service users (mosquitto as nobody, postgres) can read."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


class PostgresCluster:
    """A throwaway PostgreSQL 15 cluster on loopback (RECIPES.md), started in about a second."""

    def __init__(self) -> None:
        self.dir = shared_tmpdir("hallmesh-pg-")
        self.port = free_port()
        self._as_root = os.geteuid() == 0
        if self._as_root:
            shutil.chown(self.dir, "postgres", "postgres")

    def _run(self, *args: str) -> None:
        cmd = list(args)
        if self._as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True)

    def start(self) -> None:
        data = self.dir / "data"
        self._run(
            str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
            "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip
        opts = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} -c fsync=off -c max_connections=200"
        )
        self._run(
            str(PG_BIN / "pg_ctl"), "-D", str(data), "-w", "-l", str(self.dir / "log"), "-o", opts, "start"
        )

    def stop(self) -> None:
        try:
            self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(
            f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


class MqttProbe:
    """A paho client with a client certificate that records what it receives; for tests only."""

    def __init__(self, port: int, ca: Path, cert: Path, key: Path, client_id: str, protocol: int = 4) -> None:
        import queue
        import threading

        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.messages: queue.Queue[tuple[str, bytes, bool]] = queue.Queue()
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.subscribed = threading.Event()
        self.connect_rc: object = None
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5 if protocol == 5 else mqtt.MQTTv311,
        )
        self.client.tls_set(ca_certs=str(ca), certfile=str(cert), keyfile=str(key))
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *_a: self.disconnected.set()
        self.client.on_subscribe = lambda *_a: self.subscribed.set()
        self.client.on_message = lambda _c, _u, m: self.messages.put(
            (m.topic, bytes(m.payload), bool(m.retain))
        )
        self.port = port

    def _on_connect(self, _c: object, _u: object, _f: object, rc: object, _p: object) -> None:
        self.connect_rc = rc
        self.connected.set()

    def start(self) -> MqttProbe:
        try:
            self.client.connect("localhost", self.port, keepalive=10)
        except OSError:
            self.disconnected.set()
            return self
        self.client.loop_start()
        return self

    def subscribe(self, topic: str, timeout: float = 5.0) -> None:
        self.subscribed.clear()
        self.client.subscribe(topic, qos=1)
        assert self.subscribed.wait(timeout), f"no SUBACK for {topic}"

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def drain(self, timeout: float) -> list[tuple[str, bytes, bool]]:
        """Everything received until nothing arrives for ``timeout`` seconds."""
        import queue

        out = []
        while True:
            try:
                out.append(self.messages.get(timeout=timeout))
            except queue.Empty:
                return out
