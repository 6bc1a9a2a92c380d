"""The ippeveprinter helper: starts with a private D-Bus, answers IPP, injects faults per job through its
control file, stops both processes; and ``python -m simulators.ippeve`` runs one until SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from protocols.ipp import IppClient, IppConnectionError, JobState
from simulators.ippeve import IppEvePrinter
from tests.support import wait_until

ROOT = Path(__file__).resolve().parents[2]


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a child that exited but was not reaped yet is a zombie: not alive
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


async def _finish(client: IppClient, job_id: int) -> JobState:
    """The job's final state; ippeveprinter has no notifications over plain IPP, so ask every 0.1 s."""
    for _ in range(200):
        status = await client.get_job_attributes(job_id)
        if status.state.terminal:
            return status.state
        await asyncio.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish in 20 s")


def test_start_print_fault_and_stop(tmp_path: Path) -> None:
    printer = IppEvePrinter(tmp_path / "p", job_seconds=0.2).start()
    ipp_pid, dbus_pid = printer.pids
    try:
        assert _alive(ipp_pid)
        assert _alive(dbus_pid)
        assert printer.uri == f"ipp://localhost:{printer.port}/ipp/print"

        async def scenario() -> None:
            async with IppClient(printer.uri) as client:
                printer_attrs = await client.get_printer_attributes()
                assert printer_attrs["printer-state"].value == 3
                job = await client.print_job(b"%PDF-1.4 one", job_name="one")
                assert await _finish(client, job.job_id) is JobState.COMPLETED
                printer.set_faults(
                    "STATE: +media-jam,cover-open",
                    "ATTR: printer-supply=type=toner;unit=percent;maxcapacity=100;level=7;",
                    exit_code=1,
                )
                job = await client.print_job(b"%PDF-1.4 two", job_name="two")
                assert await _finish(client, job.job_id) is JobState.ABORTED
                printer_attrs = await client.get_printer_attributes()
                reasons = " ".join(map(str, printer_attrs["printer-state-reasons"].values))
                assert "media-jam" in reasons
                assert "cover-open" in reasons
                assert b"level=7" in printer_attrs["printer-supply"].values[0]  # type: ignore[operator]
                printer.set_faults("STATE: -media-jam,cover-open")
                job = await client.print_job(b"%PDF-1.4 three", job_name="three")
                assert await _finish(client, job.job_id) is JobState.COMPLETED
                printer_attrs = await client.get_printer_attributes()
                assert printer_attrs["printer-state-reasons"].values == ("none",)
                jobs = await client.get_jobs("completed")
                assert {(j.job_id, j.state) for j in jobs} >= {(1, JobState.COMPLETED), (2, JobState.ABORTED)}
                assert await client.get_jobs() == []  # none open

        asyncio.run(scenario())
        spooled = printer.spool_file(1)
        assert spooled is not None
        assert spooled.read_bytes() == b"%PDF-1.4 one"
    finally:
        printer.stop()
    wait_until(lambda: not _alive(dbus_pid), 5, what="dbus-daemon to exit")
    assert not _alive(ipp_pid)

    async def gone() -> None:
        async with IppClient(printer.uri, timeout_s=2) as client:
            with pytest.raises(IppConnectionError):
                await client.get_printer_attributes()

    asyncio.run(gone())


def test_own_temp_dir_is_removed() -> None:
    with IppEvePrinter() as printer:
        workdir = printer.dir
        assert printer.control_file.exists()
    assert not workdir.exists()


def test_main_runs_until_sigterm(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulators.ippeve", "--dir", str(tmp_path / "p")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("uri=ipp://localhost:"), line + (proc.stderr.read() if proc.stderr else "")
        uri = line.strip().removeprefix("uri=")

        async def probe() -> None:
            async with IppClient(uri) as client:
                assert (await client.get_printer_attributes(["printer-state"]))["printer-state"].value == 3

        asyncio.run(probe())
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
