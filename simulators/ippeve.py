"""``ippeveprinter`` (CUPS) as a test printer, started the way RECIPES.md says, with fault injection.

    with IppEvePrinter(workdir) as printer:      # private dbus-daemon + ippeveprinter on localhost:PORT
        printer.uri                              # ipp://localhost:PORT/ipp/print
        printer.spool_dir                        # jobs land here as <id>-<job-name>.pdf, byte-identical
        printer.set_faults("STATE: +media-jam", exit_code=1)   # what the next jobs do
        printer.clear_faults()

ippeveprinter runs a command (``-c``) for every job and reads the lines that command writes to stderr:
``STATE: +media-jam`` adds a printer-state-reason, ``STATE: -media-jam`` removes it, ``ATTR:
printer-supply=…`` sets supply levels. The command here is a small shell script that reads the control file
``<workdir>/faults`` at the start of every job: each line is copied to stderr, except ``delay SECONDS`` (how
long the job stays ``processing``; default ``job_seconds``) and ``exit CODE`` (non-zero aborts the job). So a
test decides per job what the printer does. Faults show only once a job runs — print something to trigger them.

``python -m simulators.ippeve [--port N] [--dir DIR]`` runs one until SIGINT/SIGTERM and prints its URI.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Final

import httpx

from protocols.ipp import IppError, Operation, build_request, decode_message, keyword

START_TIMEOUT_S: Final = 10.0

_SCRIPT: Final = """\
#!/bin/sh
# Run by ippeveprinter for every job ($1 = the document). Control: {control}
delay={delay}
code=0
if [ -f "{control}" ]; then
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in
      "delay "*) delay="${{line#delay }}" ;;
      "exit "*) code="${{line#exit }}" ;;
      "") ;;
      *) printf '%s\\n' "$line" >&2 ;;
    esac
  done < "{control}"
fi
[ "$delay" = 0 ] || sleep "$delay"
exit "$code"
"""


class IppEveError(RuntimeError):
    """ippeveprinter or its D-Bus could not be started."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class IppEvePrinter:
    """One ippeveprinter with its own D-Bus, spool and control file under ``workdir`` (temp dir if None)."""

    def __init__(
        self,
        workdir: Path | None = None,
        *,
        port: int = 0,
        name: str = "hallmesh-test",
        job_seconds: float = 1.0,
    ) -> None:
        self._own_dir = workdir is None
        self.dir = workdir if workdir is not None else Path(tempfile.mkdtemp(prefix="hallmesh-ipp-"))
        self.port = port or _free_port()
        self._sock_dir: Path | None = None
        self.name = name
        self.job_seconds = job_seconds
        self.spool_dir = self.dir / "spool"
        self.control_file = self.dir / "faults"
        self.script = self.dir / "job.sh"
        self.log_path = self.dir / "ippeveprinter.log"
        self._dbus_pid: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"ipp://localhost:{self.port}/ipp/print"

    @property
    def pids(self) -> tuple[int | None, int | None]:
        """(ippeveprinter, dbus-daemon) process ids while running."""
        return (self._proc.pid if self._proc is not None else None, self._dbus_pid)

    def __enter__(self) -> IppEvePrinter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> IppEvePrinter:
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self.clear_faults()
        self.script.write_text(_SCRIPT.format(control=self.control_file, delay=f"{self.job_seconds:g}"))
        self.script.chmod(0o755)
        # A unix socket path must fit in 108 bytes; test and demo directories can be deeper than that.
        self._sock_dir = Path(tempfile.mkdtemp(prefix="hm-dbus-"))
        sock = self._sock_dir / "dbus.sock"
        try:
            out = subprocess.run(
                ["dbus-daemon", "--session", f"--address=unix:path={sock}", "--fork", "--print-pid"],
                stdin=subprocess.DEVNULL, capture_output=True, check=True, timeout=10, text=True,
            )  # fmt: skip
            self._dbus_pid = int(out.stdout.split()[0])
        except (OSError, subprocess.SubprocessError, ValueError, IndexError) as err:
            raise IppEveError(f"cannot start the private dbus-daemon: {err}") from err
        env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={sock}"}
        cmd = [
            "ippeveprinter", "-n", "localhost", "-p", str(self.port), "-r", "off", "-d", str(self.spool_dir),
            "-k", "-f", "application/pdf,image/jpeg,image/pwg-raster", "-c", str(self.script),
            "-M", "Hallmesh", "-m", "Test Printer", self.name,
        ]  # fmt: skip
        with self.log_path.open("wb") as log:
            try:
                self._proc = subprocess.Popen(
                    cmd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
                )
            except OSError as err:
                self.stop()
                raise IppEveError(f"cannot run ippeveprinter: {err}") from err
        try:
            self._wait_ready()
        except IppEveError:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        request = build_request(
            Operation.GET_PRINTER_ATTRIBUTES,
            self.uri,
            extra=(keyword("requested-attributes", "printer-state"),),
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        with httpx.Client(timeout=2.0) as http:
            while True:
                assert self._proc is not None
                if self._proc.poll() is not None:
                    raise IppEveError(
                        f"ippeveprinter exited with {self._proc.returncode}: {self._log_tail()}"
                    )
                with contextlib.suppress(httpx.HTTPError, IppError):
                    reply = http.post(
                        f"http://localhost:{self.port}/ipp/print",
                        content=request,
                        headers={"Content-Type": "application/ipp"},
                    )
                    if reply.status_code == 200 and decode_message(reply.content).code == 0:
                        return
                if time.monotonic() > deadline:
                    raise IppEveError(f"ippeveprinter did not answer within {START_TIMEOUT_S:g} s")
                time.sleep(0.02)

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-500:].strip()
        return ""

    def set_faults(self, *lines: str, exit_code: int = 0, delay_s: float | None = None) -> None:
        """What every following job does: stderr ``lines`` for ippeveprinter, then its delay and exit code."""
        body = list(lines)
        if delay_s is not None:
            body.append(f"delay {delay_s:g}")
        if exit_code:
            body.append(f"exit {exit_code}")
        tmp = self.control_file.with_suffix(".tmp")
        tmp.write_text("".join(f"{line}\n" for line in body))
        tmp.replace(self.control_file)  # atomic: a job never reads half a file

    def clear_faults(self) -> None:
        self.set_faults()

    def spool_file(self, job_id: int) -> Path | None:
        """The stored document of job ``job_id`` (``<id>-<name>.<ext>``, not the command's ``.prn``)."""
        for path in self.spool_dir.glob(f"{job_id}-*"):
            if path.suffix != ".prn":
                return path
        return None

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        pid, self._dbus_pid = self._dbus_pid, None
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        if self._sock_dir is not None:
            shutil.rmtree(self._sock_dir, ignore_errors=True)
            self._sock_dir = None
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulators.ippeve", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0, help="TCP port (default: a free one)")
    parser.add_argument("--dir", type=Path, help="work dir for spool, D-Bus and control file (default: temp)")
    parser.add_argument("--job-seconds", type=float, default=1.0, help="how long each job is processing")
    args = parser.parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if args.dir is not None:
        args.dir.mkdir(parents=True, exist_ok=True)
    with IppEvePrinter(args.dir, port=args.port, job_seconds=args.job_seconds) as printer:
        print(f"uri={printer.uri}", flush=True)
        print(f"spool={printer.spool_dir}", flush=True)
        print(
            f"faults={printer.control_file}  (lines like 'STATE: +media-jam', 'delay 5', 'exit 1')",
            flush=True,
        )
        stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
