"""``hallmesh provision enroll``, the counter PC's side of enrollment.

1. Make the agent's private key in ``DIR/pki/agent.key`` (EC P-256, mode 0600) unless it is already there —
   the key never leaves the machine, and keeping it makes a re-run after a dropped connection send the same
   CSR, which the coordinator answers with the same certificate (idempotent per token).
2. Send the token, the service point and a CSR to the coordinator; receive the certificate, the CA, the
   broker's address and the starting configuration.
3. Write ``DIR/pki/{ca,agent}.pem`` and ``DIR/agent.toml`` (a previous one is kept as ``agent.toml.bak``).
4. Prove the MQTT connection: TLS with the new certificate, CONNACK, SUBACK on the agent's ``down/#``.
5. Confirm to the coordinator that the certificate was fetched: only now is the token used up.
6. Optionally write a systemd unit.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from protocols import topics
from protocols.provisioning import (
    ENROLL_CONFIRM_PATH,
    ENROLL_PATH,
    EnrollConfirm,
    EnrollRequest,
    EnrollResponse,
)
from provisioning.errors import EnrollError

KEY_NAME = "agent.key"
CERT_NAME = "agent.pem"
CA_NAME = "ca.pem"


@dataclass(frozen=True)
class EnrollResult:
    agent_id: str
    service_point: str
    config_path: Path
    cert_path: Path
    serial: str
    not_after: float
    seconds: float
    systemd_unit: Path | None = None


def write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def load_or_create_key(path: Path) -> ec.EllipticCurvePrivateKey:
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise EnrollError(f"{path}: not an EC private key; remove it to make a new one")
        return key
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_private(path, pem)
    return key


def make_csr(key: ec.EllipticCurvePrivateKey, common_name: str = "hallmesh-agent") -> str:
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def _q(value: object) -> str:
    return json.dumps(str(value))  # a TOML basic string


def agent_toml(resp: EnrollResponse, directory: Path, coordinator_url: str) -> str:
    return "\n".join(
        [
            f"# hallmesh agent — enrolled at service point {resp.service_point} by `hallmesh provision enroll`",
            f"agent_id = {_q(resp.agent_id)}",
            'data_dir = "data"',
            f"telemetry_interval_s = {resp.config.telemetry_interval_s}",
            "",
            "[broker]",
            f"host = {_q(resp.broker.host)}",
            f"port = {resp.broker.port}",
            f'ca = "pki/{CA_NAME}"',
            f'cert = "pki/{CERT_NAME}"',
            f'key = "pki/{KEY_NAME}"',
            f"keepalive_s = {resp.config.keepalive_s}",
            "",
            "[coordinator]",
            f"url = {_q(coordinator_url)}",
            "",
            "# Devices: add [[devices]] tables (see docs/agent.md), then `hallmesh provision check`.",
            "",
        ]
    )


def systemd_unit_text(config_path: Path, python: str = sys.executable) -> str:
    return "\n".join(
        [
            "[Unit]",
            "Description=hallmesh edge agent (政务服务大厅边缘设备代理)",
            "After=network-online.target",
            "Wants=network-online.target",
            "",
            "[Service]",
            f"ExecStart={python} -m hallmesh_cli agent run --config {config_path}",
            f"WorkingDirectory={config_path.parent}",
            "Restart=always",
            "RestartSec=5",
            "KillSignal=SIGTERM",
            "TimeoutStopSec=20",
            "",
            "[Install]",
            "WantedBy=multi-user.target",
            "",
        ]
    )


def prove_mqtt(
    host: str,
    port: int,
    agent_id: str,
    ca: Path,
    cert: Path,
    key: Path,
    *,
    client_id: str | None = None,
    timeout: float = 10.0,
) -> None:
    """Connect with the certificate and subscribe to the agent's ``down/#``; raise EnrollError if either
    fails. Nothing is published, so the coordinator sees no presence change."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    done = threading.Event()
    outcome: list[str] = []

    def on_connect(client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            outcome.append(f"the broker refused the connection: {reason}")
            done.set()
        else:
            client.subscribe(topics.agent_down_filter(agent_id), qos=1)

    def on_subscribe(_c: mqtt.Client, _u: Any, _m: int, reasons: list[Any], _p: Any) -> None:
        if any(r.is_failure for r in reasons):
            outcome.append("the broker refused the subscription to down/#")
        done.set()

    def on_disconnect(*_a: Any) -> None:
        outcome.append("the broker closed the connection (certificate rejected?)")
        done.set()

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id or agent_id,
        clean_session=True,
        protocol=mqtt.MQTTv311,
    )
    client.tls_set(ca_certs=str(ca), certfile=str(cert), keyfile=str(key))
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_disconnect = on_disconnect
    where = f"{host}:{port}"
    try:
        client.connect(host, port, keepalive=10)
    except (OSError, ValueError) as err:
        raise EnrollError(f"MQTT test to {where} failed: {err}") from err
    client.loop_start()
    try:
        if not done.wait(timeout):
            raise EnrollError(f"MQTT test to {where}: no answer within {timeout:.0f} s")
        if outcome:
            raise EnrollError(f"MQTT test to {where}: {outcome[0]}")
    finally:
        client.on_disconnect = None
        client.disconnect()
        client.loop_stop()


def _post(http: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    try:
        resp = http.post(path, json=body)
    except httpx.HTTPError as err:
        raise EnrollError(
            f"cannot reach the coordinator ({err.__class__.__name__}: {err}); it is safe to run the same "
            "command again"
        ) from err
    if resp.status_code != 200:
        try:
            detail = resp.json().get("detail", resp.text)
        except ValueError:
            detail = resp.text
        raise EnrollError(f"the coordinator refused ({resp.status_code}): {detail}")
    data: dict[str, Any] = resp.json()
    return data


def enroll(
    coordinator_url: str,
    token: str,
    service_point: str,
    directory: Path,
    *,
    systemd_unit: Path | None = None,
    timeout: float = 30.0,
    progress: Callable[[str], None] = lambda _m: None,
) -> EnrollResult:
    t0 = time.monotonic()
    directory = Path(directory).resolve()
    pki_dir = directory / "pki"
    pki_dir.mkdir(parents=True, exist_ok=True)
    key_path, cert_path, ca_path = pki_dir / KEY_NAME, pki_dir / CERT_NAME, pki_dir / CA_NAME
    key = load_or_create_key(key_path)
    progress(f"key {key_path} (0600, stays on this PC)")
    request = EnrollRequest(
        token=token, service_point=service_point, csr_pem=make_csr(key), hostname=socket.gethostname()
    )
    with httpx.Client(base_url=coordinator_url.rstrip("/"), timeout=timeout) as http:
        resp = EnrollResponse.model_validate(_post(http, ENROLL_PATH, request.model_dump()))
        cert = x509.load_pem_x509_certificate(resp.certificate_pem.encode())
        if cert.public_key() != key.public_key():
            raise EnrollError("the coordinator returned a certificate for another key")
        progress(f"certificate for agent {resp.agent_id} (serial {resp.serial})")
        ca_path.write_text(resp.ca_pem)
        cert_path.write_text(resp.certificate_pem)
        config_path = directory / "agent.toml"
        if config_path.exists():
            os.replace(config_path, directory / "agent.toml.bak")
        config_path.write_text(agent_toml(resp, directory, coordinator_url.rstrip("/")))
        progress(f"config {config_path}")
        prove_mqtt(
            resp.broker.host,
            resp.broker.port,
            resp.agent_id,
            ca_path,
            cert_path,
            key_path,
            client_id=f"{resp.agent_id}-enroll",
        )
        progress(f"MQTT connection to {resp.broker.host}:{resp.broker.port} works")
        _post(http, ENROLL_CONFIRM_PATH, EnrollConfirm(token=token, serial=resp.serial).model_dump())
    if systemd_unit is not None:
        systemd_unit.parent.mkdir(parents=True, exist_ok=True)
        systemd_unit.write_text(systemd_unit_text(config_path))
        progress(f"systemd unit {systemd_unit}")
    return EnrollResult(
        agent_id=resp.agent_id,
        service_point=resp.service_point,
        config_path=config_path,
        cert_path=cert_path,
        serial=resp.serial,
        not_after=resp.not_after,
        seconds=time.monotonic() - t0,
        systemd_unit=systemd_unit,
    )
