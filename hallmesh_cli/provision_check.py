"""``hallmesh provision check``: is this counter PC ready? One row per check, each ``ok``, ``warn``, ``fail``
or ``skip`` with its reason; any ``fail`` makes the exit code 1.

Checks, in order: the config; the certificate (agent id, expiry, key file mode); the coordinator (reachable,
clock skew); the broker (TLS with this certificate, CONNACK, SUBACK); each configured device (open, describe,
one health poll, close), and on request a test capture (scanner: one flatbed page; document camera: one
capture; signature pad: its INFO) or a test page (printers; the check waits until the job completes). The
device checks open the devices themselves: run them while the agent is stopped
when a device allows only one user (serial ports).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import stat
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

Status = Literal["ok", "warn", "fail", "skip"]

CLOCK_WARN_S = 2.0
CLOCK_FAIL_S = 60.0
EXPIRY_WARN_DAYS = 14


@dataclass(frozen=True)
class Row:
    check: str
    status: Status
    detail: str


def _certificate(agent_id: str, cert: Path, key: Path) -> list[Row]:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        c = x509.load_pem_x509_certificate(cert.read_bytes())
    except (OSError, ValueError) as err:
        return [Row("certificate", "fail", f"{cert}: {err}")]
    rows: list[Row] = []
    cns = c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    cn = str(cns[0].value) if cns else ""
    left = c.not_valid_after_utc - dt.datetime.now(dt.UTC)
    until = c.not_valid_after_utc.strftime("%Y-%m-%d %H:%M UTC")
    if cn != agent_id:
        rows.append(Row("certificate", "fail", f"CN {cn!r} is not the agent id {agent_id!r}"))
    elif left.total_seconds() <= 0:
        rows.append(Row("certificate", "fail", f"expired at {until}: enroll again with a new token"))
    elif left < dt.timedelta(days=EXPIRY_WARN_DAYS):
        rows.append(Row("certificate", "warn", f"expires {until} (in {left}); renewal is overdue?"))
    else:
        rows.append(Row("certificate", "ok", f"valid until {until} ({left.days} days)"))
    try:
        mode = stat.S_IMODE(key.stat().st_mode)
    except OSError as err:
        return [*rows, Row("private key", "fail", f"{key}: {err.strerror}")]
    if mode & 0o077:
        rows.append(Row("private key", "warn", f"{key} has mode {mode:o}; should be 600"))
    else:
        rows.append(Row("private key", "ok", f"{key} (600)"))
    return rows


def _coordinator(url: str, ca: Path | None) -> list[Row]:
    import httpx

    from protocols.provisioning import TIME_PATH, TimeResponse

    verify: str | bool = str(ca) if ca else True
    try:
        with httpx.Client(base_url=url.rstrip("/"), timeout=10, verify=verify) as http:
            health = http.get("/healthz")
            t0 = time.time()
            answer = http.get(TIME_PATH)
            t1 = time.time()
    except httpx.HTTPError as err:
        return [
            Row("coordinator", "fail", f"{url}: unreachable: {err}"),
            Row("clock", "skip", "no coordinator"),
        ]
    rows = [
        Row("coordinator", "ok", f"{url}: healthy")
        if health.status_code == 200
        else Row(
            "coordinator",
            "warn",
            f"{url}: reachable but not healthy ({health.status_code}: {health.text[:200]})",
        )
    ]
    if answer.status_code != 200:
        return [*rows, Row("clock", "skip", f"coordinator has no clock endpoint ({answer.status_code})")]
    skew = TimeResponse.model_validate(answer.json()).now - (t0 + t1) / 2
    text = f"this PC is {abs(skew):.2f} s {'behind' if skew > 0 else 'ahead of'} the coordinator"
    if abs(skew) > CLOCK_FAIL_S:
        rows.append(Row("clock", "fail", text + " (certificates and camera logins fail): fix NTP"))
    elif abs(skew) > CLOCK_WARN_S:
        rows.append(Row("clock", "warn", text))
    else:
        rows.append(Row("clock", "ok", text))
    return rows


def _broker(host: str, port: int, agent_id: str, ca: Path, cert: Path, key: Path) -> Row:
    from provisioning.enroll import prove_mqtt
    from provisioning.errors import EnrollError

    try:
        prove_mqtt(host, port, agent_id, ca, cert, key, client_id=f"{agent_id}-check-{os.getpid()}")
    except EnrollError as err:
        return Row("broker", "fail", str(err).removeprefix("MQTT test to "))
    return Row("broker", "ok", f"{host}:{port}: TLS, connected and subscribed as {agent_id}")


@dataclass(frozen=True)
class CheckOptions:
    devices_only: bool = False
    """Skip the certificate, coordinator, clock and broker: only the devices (and the config)."""
    only: tuple[str, ...] = ()
    """Check only these device ids (all when empty)."""
    test_capture: bool = False
    """Scanner: one flatbed page; document camera: one capture; signature pad: its INFO."""
    test_page: bool = False
    """Printers print a test page and the check waits for the job to complete."""
    device_timeout_s: float = 10.0
    print_timeout_s: float = 60.0


def _size(n: int) -> str:
    return f"{n / 1024:.0f} kB" if n < 1 << 20 else f"{n / (1 << 20):.1f} MB"


async def _test_capture(driver: Any, kind: str, captured: list[Any], limit_s: float) -> Row | None:
    """One test capture on an open driver; None for a kind that has nothing to capture."""
    name = f"test {driver.device_id}"
    t0 = time.monotonic()
    if kind == "scanner":
        result = await asyncio.wait_for(
            driver.execute("scan", {"source": "Flatbed", "resolution": 150, "mode": "Gray"}), limit_s
        )
        cap = captured[-1] if captured else None
        size = _size(len(cap.data) if cap is not None else int(result.get("size", 0)))
        return Row(name, "ok", f"scanned {result.get('pages', 1)} flatbed page(s) at {result.get('resolution')}"
                   f" dpi: {size} PDF in {time.monotonic() - t0:.1f} s")  # fmt: skip
    if kind == "doccam":
        result = await asyncio.wait_for(driver.execute("capture", {}), limit_s)
        cap = captured[-1] if captured else None
        what = f"{_size(len(cap.data))} {cap.media_type}" if cap is not None else "a page"
        meta = cap.meta if cap is not None else {}
        dims = f" {meta['width']}×{meta['height']}" if "width" in meta and "height" in meta else ""
        return Row(
            name,
            "ok",
            f"captured {what}{dims} in {time.monotonic() - t0:.1f} s ({result.get('sha256', '')!s:.12})",
        )
    if kind == "sigpad":
        info = getattr(driver, "info", None)
        if info is None:
            return Row(name, "fail", "the pad did not send its INFO")
        return Row(name, "ok", f"INFO: {info.model} firmware {info.firmware}, {info.x_max}×{info.y_max}, "
                   f"pressure {info.pressure_max}")  # fmt: skip
    return None


async def _test_page(driver: Any, jobs: asyncio.Queue[dict[str, Any]], limit_s: float) -> Row:
    name = f"test {driver.device_id}"
    t0 = time.monotonic()
    result = await driver.execute("test_page", {})
    job_id = result.get("job_id")
    state = str(result.get("state", ""))
    reasons: list[str] = []
    terminal = {"completed", "canceled", "aborted"}
    try:
        async with asyncio.timeout(limit_s):
            while state not in terminal:
                event = await jobs.get()
                if event.get("job_id") == job_id:
                    state = str(event.get("state", ""))
                    reasons = [str(r) for r in event.get("reasons") or []]
    except TimeoutError:
        return Row(name, "warn", f"test page sent as job {job_id}, still {state or 'pending'} after "
                   f"{limit_s:g} s: look at the printer")  # fmt: skip
    seconds = time.monotonic() - t0
    if state == "completed":
        return Row(name, "ok", f"test page printed: job {job_id} completed in {seconds:.1f} s")
    why = f" ({', '.join(reasons)})" if reasons else ""
    return Row(name, "fail", f"test page job {job_id} {state}{why}")


async def _device(dev: object, options: CheckOptions) -> list[Row]:
    from edge_agent.drivers.base import CaptureRef, DeviceConfigBase
    from edge_agent.drivers.registry import build_driver
    from edge_agent.errors import AgentError
    from protocols.messages import DeviceStatus

    assert isinstance(dev, DeviceConfigBase)
    name = f"device {dev.id}"
    limit_s = options.device_timeout_s
    jobs: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    captured: list[Any] = []

    def on_event(event_type: str, data: Any) -> None:
        if event_type == "print_job" and isinstance(data, dict):
            jobs.put_nowait(data)

    async def keep(capture: Any) -> CaptureRef:  # a test capture goes nowhere: only its size is shown
        import hashlib

        captured.append(capture)
        return CaptureRef(hashlib.sha256(capture.data).hexdigest(), len(capture.data), capture.media_type)

    try:
        driver = build_driver(dev, on_event)
    except AgentError as err:
        return [Row(name, "fail", str(err))]
    driver.attach_capture(keep)
    rows: list[Row] = []
    try:
        await asyncio.wait_for(driver.connect(), limit_s)
        info = driver.describe()
        health = await asyncio.wait_for(driver.poll(), limit_s)
    except TimeoutError:
        await driver.close()
        return [Row(name, "fail", f"{dev.kind}: no answer within {limit_s:g} s")]
    except AgentError as err:
        await driver.close()
        return [Row(name, "fail", f"{dev.kind}: {err}")]
    try:
        what = f"{info.kind} {info.model}".strip()
        readings = ", ".join(f"{r.point}={r.value:g}{r.unit and ' ' + r.unit}" for r in health.readings[:4])
        detail = f"{what}: {health.status.value}" + (f" ({health.reason})" if health.reason else "")
        if readings:
            detail += f"; {readings}"
        if health.status == DeviceStatus.UP:
            rows.append(Row(name, "ok", detail))
        elif health.status == DeviceStatus.DEGRADED:
            rows.append(Row(name, "warn", detail))
        else:
            rows.append(Row(name, "fail", detail))
            return rows
        try:
            if options.test_capture:
                row = await _test_capture(driver, dev.kind, captured, max(limit_s, 30.0))
                if row is not None:
                    rows.append(row)
            if options.test_page and dev.kind == "printer":
                rows.append(await _test_page(driver, jobs, options.print_timeout_s))
        except TimeoutError:
            rows.append(Row(f"test {dev.id}", "fail", f"{dev.kind}: no result within the time limit"))
        except AgentError as err:
            rows.append(Row(f"test {dev.id}", "fail", f"{dev.kind}: {err}"))
    finally:
        await driver.close()
    return rows


def run_checks(
    config_path: Path, progress: Callable[[str], None], options: CheckOptions | None = None
) -> list[Row]:
    from edge_agent.config import load_config
    from edge_agent.errors import ConfigError

    o = options or CheckOptions()
    progress("config")
    try:
        config = load_config(config_path)
    except ConfigError as err:
        return [Row("config", "fail", str(err))]
    rows = [Row("config", "ok", f"{config_path}: agent {config.agent_id}, {len(config.devices)} device(s)")]
    unknown = sorted(set(o.only) - {d.id for d in config.devices})
    if unknown:
        rows.append(Row("config", "fail", f"no device {', '.join(unknown)} in {config_path}"))
    if not o.devices_only:
        b = config.broker
        progress("certificate")
        rows += _certificate(config.agent_id, b.cert, b.key)
        progress("coordinator")
        if config.coordinator is None:
            rows.append(Row("coordinator", "skip", "no [coordinator] url in the config (no renewal either)"))
        else:
            rows += _coordinator(config.coordinator.url, config.coordinator.ca)
        progress("broker")
        rows.append(_broker(b.host, b.port, config.agent_id, b.ca, b.cert, b.key))
    for dev in config.devices:
        if o.only and dev.id not in o.only:
            continue
        tests = []
        if o.test_capture and dev.kind in ("scanner", "doccam", "sigpad"):
            tests.append("test capture")
        if o.test_page and dev.kind == "printer":
            tests.append("test page")
        progress(f"device {dev.id}" + (f" ({', '.join(tests)})" if tests else ""))
        rows += asyncio.run(_device(dev, o))
    return rows


def render_table(rows: list[Row]) -> str:
    width = max(len(r.check) for r in rows)
    marks = {"ok": "OK  ", "warn": "WARN", "fail": "FAIL", "skip": "SKIP"}
    lines = [f"{'CHECK':<{width}}  STATUS  DETAIL"]
    lines += [f"{r.check:<{width}}  {marks[r.status]:<6}  {r.detail}" for r in rows]
    failed = sum(r.status == "fail" for r in rows)
    lines.append(f"{failed} check(s) failed" if failed else "all checks passed")
    return "\n".join(lines)


def main(config_path: Path, as_json: bool, options: CheckOptions | None = None) -> int:
    def progress(what: str) -> None:
        if not as_json:
            print(f"checking {what}…", file=sys.stderr, flush=True)

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per IPP request is noise here
    rows = run_checks(config_path, progress, options)
    ok = not any(r.status == "fail" for r in rows)
    if as_json:
        print(json.dumps({"ok": ok, "checks": [asdict(r) for r in rows]}, ensure_ascii=False, indent=1))
    else:
        print(render_table(rows))
    return 0 if ok else 1
