"""``hallmesh provision check``: is this counter PC ready? One row per check, each ``ok``, ``warn``, ``fail``
or ``skip`` with its reason; any ``fail`` makes the exit code 1.

Checks, in order: the config; the certificate (agent id, expiry, key file mode); the coordinator (reachable,
clock skew); the broker (TLS with this certificate, CONNACK, SUBACK); each configured device (open, describe,
one health poll, close). The device checks open the devices themselves: run them while the agent is stopped
when a device allows only one user (serial ports).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import stat
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

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


async def _device(dev: object, limit_s: float) -> Row:
    from edge_agent.drivers.base import DeviceConfigBase
    from edge_agent.drivers.registry import build_driver
    from edge_agent.errors import AgentError
    from protocols.messages import DeviceStatus

    assert isinstance(dev, DeviceConfigBase)
    name = f"device {dev.id}"

    def ignore(_type: str, _data: object) -> None:
        return None

    try:
        driver = build_driver(dev, ignore)
    except AgentError as err:
        return Row(name, "fail", str(err))
    try:
        await asyncio.wait_for(driver.connect(), limit_s)
        info = driver.describe()
        health = await asyncio.wait_for(driver.poll(), limit_s)
    except TimeoutError:
        return Row(name, "fail", f"{dev.kind}: no answer within {limit_s:.0f} s")
    except AgentError as err:
        return Row(name, "fail", f"{dev.kind}: {err}")
    finally:
        await driver.close()
    what = f"{info.kind} {info.model}".strip()
    readings = ", ".join(f"{r.point}={r.value:g}{r.unit and ' ' + r.unit}" for r in health.readings[:4])
    detail = f"{what}: {health.status.value}" + (f" ({health.reason})" if health.reason else "")
    if readings:
        detail += f"; {readings}"
    if health.status == DeviceStatus.UP:
        return Row(name, "ok", detail)
    if health.status == DeviceStatus.DEGRADED:
        return Row(name, "warn", detail)
    return Row(name, "fail", detail)


def run_checks(config_path: Path, progress: Callable[[str], None], device_timeout: float = 10.0) -> list[Row]:
    from edge_agent.config import load_config
    from edge_agent.errors import ConfigError

    progress("config")
    try:
        config = load_config(config_path)
    except ConfigError as err:
        return [Row("config", "fail", str(err))]
    rows = [Row("config", "ok", f"{config_path}: agent {config.agent_id}, {len(config.devices)} device(s)")]
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
        progress(f"device {dev.id}")
        rows.append(asyncio.run(_device(dev, device_timeout)))
    return rows


def render_table(rows: list[Row]) -> str:
    width = max(len(r.check) for r in rows)
    marks = {"ok": "OK  ", "warn": "WARN", "fail": "FAIL", "skip": "SKIP"}
    lines = [f"{'CHECK':<{width}}  STATUS  DETAIL"]
    lines += [f"{r.check:<{width}}  {marks[r.status]:<6}  {r.detail}" for r in rows]
    failed = sum(r.status == "fail" for r in rows)
    lines.append(f"{failed} check(s) failed" if failed else "all checks passed")
    return "\n".join(lines)


def main(config_path: Path, as_json: bool) -> int:
    def progress(what: str) -> None:
        if not as_json:
            print(f"checking {what}…", file=sys.stderr, flush=True)

    rows = run_checks(config_path, progress)
    ok = not any(r.status == "fail" for r in rows)
    if as_json:
        print(json.dumps({"ok": ok, "checks": [asdict(r) for r in rows]}, ensure_ascii=False, indent=1))
    else:
        print(render_table(rows))
    return 0 if ok else 1
