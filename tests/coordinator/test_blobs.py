"""The blob store over HTTP (signed uploads and downloads) and filing capture events into cases.

Real peers: the app under uvicorn with its lifespan, the mTLS broker, SQLite and PostgreSQL, certificates from
the test CA; the agent side is the in-test ``AgentSim`` speaking the MQTT contract.
"""

from __future__ import annotations

import base64
import hashlib
import io
import socket
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from PIL import Image
from sqlmodel import Session

from protocols.blobs import H_AGENT, H_CERT, H_SIG, H_TIME, blob_path, signing_bytes
from provisioning.pki import Pki
from tests.coordinator.conftest import Harness, make_settings
from tests.support import wait_until
from workflow.cases import Case, CounterCase
from workflow.org import Hall, OrgUnit, Window
from workflow.staff import Staff


def jpeg(seed: int, size: tuple[int, int] = (64, 48)) -> bytes:
    """A JPEG of noise (so it does not compress away), different per seed."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG")
    return out.getvalue()


def signed(
    pki: Pki, agent_id: str, method: str, sha: str, size: int, ts: float | None = None
) -> dict[str, str]:
    files = pki.files(agent_id)
    if not files.cert.exists():
        files = pki.issue_agent(agent_id)
    key: Any = serialization.load_pem_private_key(files.key.read_bytes(), password=None)
    ts = time.time() if ts is None else ts
    sig = key.sign(signing_bytes(method, agent_id, ts, sha, size), ec.ECDSA(hashes.SHA256()))
    return {
        H_AGENT: agent_id,
        H_TIME: f"{ts:.3f}",
        H_CERT: base64.b64encode(files.cert.read_bytes()).decode(),
        H_SIG: base64.b64encode(sig).decode(),
    }


def put(
    h: Harness, agent_id: str, data: bytes, media_type: str = "image/jpeg", sha: str | None = None, **kw: Any
):
    sha = sha or hashlib.sha256(data).hexdigest()
    headers = {**signed(h.pki, agent_id, "PUT", sha, len(data)), "Content-Type": media_type, **kw}
    return h.client.put(blob_path(sha), content=data, headers=headers)


def store_files(h: Harness) -> list[Path]:
    root = h.settings.data_dir / "blobs"
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_signed_upload_is_stored_once_and_idempotent(harness: Harness) -> None:
    data = jpeg(1)
    sha = hashlib.sha256(data).hexdigest()
    first = put(harness, "pc-blob-1", data)
    assert first.status_code == 201, first.text
    assert first.json() == {"sha256": sha, "size": len(data), "media_type": "image/jpeg"}
    again = put(harness, "pc-blob-1", data)
    assert again.status_code == 200
    files = store_files(harness)
    assert [p.name for p in files] == [sha]
    assert files[0].read_bytes() == data
    assert harness.scalar("SELECT COUNT(*) FROM blob WHERE sha256 = :s", s=sha) == 1


@pytest.mark.parametrize(
    ("case", "status", "reason"),
    [
        ("wrong_hash", 422, "hash_mismatch"),
        ("wrong_type", 415, "type_mismatch"),
        ("unsigned", 401, "unsigned"),
        ("other_agent_sig", 401, "bad_certificate"),
        ("stale_clock", 401, "clock_skew"),
        ("tampered_size", 401, "bad_signature"),
    ],
)
def test_bad_uploads_are_refused_and_leave_the_store_clean(
    harness: Harness, case: str, status: int, reason: str
) -> None:
    data = jpeg(2)
    sha = hashlib.sha256(data).hexdigest()
    headers: dict[str, str] = {
        **signed(harness.pki, "pc-blob-2", "PUT", sha, len(data)),
        "Content-Type": "image/jpeg",
    }
    if case == "wrong_hash":
        other = hashlib.sha256(b"something else").hexdigest()
        headers = {**signed(harness.pki, "pc-blob-2", "PUT", other, len(data)), "Content-Type": "image/jpeg"}
        sha = other
    elif case == "wrong_type":
        headers["Content-Type"] = "application/pdf"
    elif case == "unsigned":
        headers = {"Content-Type": "image/jpeg"}
    elif case == "other_agent_sig":
        headers[H_AGENT] = "pc-blob-3"  # pc-blob-2's certificate and signature, claimed for another agent
    elif case == "stale_clock":
        headers = {
            **signed(harness.pki, "pc-blob-2", "PUT", sha, len(data), ts=time.time() - 3600),
            "Content-Type": "image/jpeg",
        }
    elif case == "tampered_size":
        headers = {
            **signed(harness.pki, "pc-blob-2", "PUT", sha, len(data) + 1),
            "Content-Type": "image/jpeg",
        }
    r = harness.client.put(blob_path(sha), content=data, headers=headers)
    assert r.status_code == status, r.text
    assert r.json()["reason"] == reason
    assert r.json()["detail"]  # names what is wrong
    assert store_files(harness) == []
    assert harness.scalar("SELECT COUNT(*) FROM blob") == 0
    metrics = harness.client.get("/metrics").text
    assert f'hallmesh_blob_requests_total{{op="put",outcome="{reason}"}} 1.0' in metrics


def test_oversized_and_truncated_uploads_are_refused(
    start_coordinator, pki: Pki, broker, db_url: str, tmp_path: Path
) -> None:
    h = start_coordinator(make_settings(pki, broker, db_url, tmp_path / "data", blob_max_bytes=4096))
    big = jpeg(3, size=(400, 400))
    assert len(big) > 4096
    r = put(h, "pc-blob-4", big)
    assert r.status_code == 413
    assert "limit is 4096" in r.json()["detail"]
    # Truncated: the client promises 3000 bytes, sends 1000 and hangs up.
    data = jpeg(4, size=(200, 100))[:3000]
    sha = hashlib.sha256(data).hexdigest()
    headers = {**signed(pki, "pc-blob-4", "PUT", sha, len(data)), "Content-Type": "image/jpeg"}
    port = h.client.base_url.port
    with socket.create_connection(("127.0.0.1", port)) as sock:
        head = f"PUT {blob_path(sha)} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(data)}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        sock.sendall(head.encode() + data[:1000])
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(10)
        while sock.recv(4096):  # whatever the server says, it ends the connection
            pass
    wait_until(
        lambda: h.coordinator.blobs.outcomes[("put", "truncated")] == 1, 10, what="truncated upload counted"
    )
    assert store_files(h) == []
    assert h.scalar("SELECT COUNT(*) FROM blob") == 0


def test_revoked_agent_cannot_upload(
    start_coordinator, pki: Pki, broker, db_url: str, tmp_path: Path
) -> None:
    h = start_coordinator(make_settings(pki, broker, db_url, tmp_path / "data", pki_dir=pki.dir))
    assert put(h, "pc-blob-5", jpeg(5)).status_code == 201
    pki.revoke("pc-blob-5")
    r = put(h, "pc-blob-5", jpeg(6))
    assert r.status_code == 403
    assert r.json()["reason"] == "revoked"


def test_download_needs_a_grant(harness: Harness) -> None:
    data = b"%PDF-1.4\n% a tiny test document\n%%EOF\n"
    sha = harness.coordinator.blobs.put_bytes(data, "application/pdf")
    get = lambda agent: harness.client.get(blob_path(sha), headers=signed(harness.pki, agent, "GET", sha, -1))  # noqa: E731
    assert get("pc-print-1").status_code == 404
    from coordinator.models.blob import BlobGrant

    with Session(harness.engine) as s:
        s.add(BlobGrant(agent_id="pc-print-1", sha256=sha, expires_at=time.time() + 60))
        s.commit()
    ok = get("pc-print-1")
    assert ok.status_code == 200
    assert ok.content == data
    assert get("pc-print-2").status_code == 404  # another agent's grant is not this one's


# -- filing captures into cases -------------------------------------------------------------------------


def pk(row: Any) -> int:
    assert row.id is not None
    return int(row.id)


def _window_with_case(h: Harness, agent_id: str, *, open_case: bool = True) -> tuple[int, int | None]:
    with Session(h.engine) as s:
        unit = OrgUnit(code=f"64{abs(hash(agent_id)) % 10**10:010d}", name="测试单位", level=2, path="/")
        s.add(unit)
        s.flush()
        hall = Hall(unit_id=pk(unit), name="大厅")
        s.add(hall)
        s.flush()
        window = Window(hall_id=pk(hall), unit_id=pk(unit), number="1", name="1号窗口", agent_id=agent_id)
        clerk = Staff(employee_no=f"E-{agent_id}", name="张三", unit_id=pk(unit), roles="clerk")
        s.add_all([window, clerk])
        s.flush()
        case_id = None
        if open_case:
            case = Case(
                code=f"C-{agent_id}",
                unit_id=pk(unit),
                window_id=window.id,
                opened_by=pk(clerk),
                opened_at=time.time(),
            )
            s.add(case)
            s.flush()
            assert window.id is not None
            assert case.id is not None
            s.add(CounterCase(window_id=window.id, case_id=case.id, since=time.time()))
            case_id = case.id
        s.commit()
        assert window.id is not None
        return window.id, case_id


def capture_event(data: bytes, capture_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "capture_id": capture_id,
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "media_type": "image/jpeg",
        "kind": "photo",
        "pages": 1,
        "captured_at": time.time(),
        **extra,
    }


def materials(h: Harness) -> list[sa.Row[Any]]:
    return h.rows("SELECT case_id, window_id, capture_id, sha256, kind FROM case_material ORDER BY id")


def test_capture_events_are_filed_into_the_open_case_exactly_once(harness: Harness) -> None:
    window_id, case_id = _window_with_case(harness, "pc-file-1")
    agent = harness.agent("pc-file-1")
    agent.birth()
    data = jpeg(7)
    assert put(harness, "pc-file-1", data).status_code == 201
    ids = [agent.event(1, device="doccam1", type_="capture", **capture_event(data, "cap-1"))]
    # The same capture announced again (the agent crashed between the outbox commit and dropping its
    # pending row): a new message, the same capture id.
    ids.append(agent.event(2, device="doccam1", type_="capture", **capture_event(data, "cap-1")))
    agent.wait_acked(ids)
    rows = materials(harness)
    assert [(r.case_id, r.window_id, r.capture_id, r.kind) for r in rows] == [
        (case_id, window_id, "cap-1", "photo")
    ]


def test_capture_without_uploaded_blob_is_not_filed(harness: Harness) -> None:
    _window_with_case(harness, "pc-file-2")
    agent = harness.agent("pc-file-2")
    agent.birth()
    ids = [agent.event(1, device="doccam1", type_="capture", **capture_event(jpeg(8), "cap-x"))]
    agent.wait_acked(ids)
    assert materials(harness) == []
    assert 'hallmesh_captures_filed_total{outcome="missing_blob"}' in harness.client.get("/metrics").text


def test_capture_with_no_open_case_is_kept_unfiled(harness: Harness) -> None:
    window_id, _ = _window_with_case(harness, "pc-file-3", open_case=False)
    agent = harness.agent("pc-file-3")
    agent.birth()
    data = jpeg(9)
    assert put(harness, "pc-file-3", data).status_code == 201
    agent.wait_acked([agent.event(1, device="sigpad1", type_="capture", **capture_event(data, "cap-u"))])
    rows = materials(harness)
    assert [(r.case_id, r.window_id, r.capture_id) for r in rows] == [(None, window_id, "cap-u")]
