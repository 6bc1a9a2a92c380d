"""Child processes that cannot outlive their parent: used by the demo and the end-to-end tests."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import IO

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def hallmesh_argv(*args: str) -> list[str]:
    """The command line of ``hallmesh ARGS…`` with this interpreter (works without the venv on PATH)."""
    return [sys.executable, "-m", "hallmesh_cli", *args]


def spawn(
    argv: Sequence[str],
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own session with output appended to ``log_path``; it gets SIGTERM if we die."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    logf: IO[bytes] = log_path.open("ab")
    try:
        return subprocess.Popen(
            list(argv),
            stdout=logf,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    finally:
        logf.close()


def terminate(procs: Sequence[subprocess.Popen[bytes]], timeout: float = 15.0) -> None:
    """SIGTERM each process, wait up to ``timeout`` for all, then SIGKILL what is left."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def coordinator_env(
    *, token: str, http_port: int, data_dir: Path, mqtt_port: int, ca: Path, cert: Path, key: Path
) -> dict[str, str]:
    """The ``HALLMESH_*`` environment of a coordinator on loopback talking to a local broker."""
    return {
        "HALLMESH_API_TOKEN": token,
        "HALLMESH_HOST": "127.0.0.1",
        "HALLMESH_PORT": str(http_port),
        "HALLMESH_DATA_DIR": str(data_dir),
        "HALLMESH_MQTT_HOST": "localhost",
        "HALLMESH_MQTT_PORT": str(mqtt_port),
        "HALLMESH_MQTT_CA": str(ca),
        "HALLMESH_MQTT_CERT": str(cert),
        "HALLMESH_MQTT_KEY": str(key),
    }


def stop_on_signals() -> threading.Event:
    """An event set by SIGINT (Ctrl-C) or SIGTERM: the foreground commands wait on it to shut down cleanly."""
    stop = threading.Event()

    def _on_signal(_sig: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    return stop
