"""Filing captures into cases, inside the ingest transaction (so a material is visible exactly when its
``capture`` event is committed and acknowledged — never before, never twice).

A ``capture`` event's data (edge_agent/uploader.py) names the blob (sha256, size, media type), the capture id,
what kind of material it is, and — for a capture a clerk started from the case — the case id. A capture started
on the device itself carries no case: it is filed into the case currently in front of the window
(``counter_case``), or kept as an *unfiled* material of the window when no case is open, so nothing a device
captured is ever lost. A capture whose blob is not in the store (an agent that announces without uploading)
is not filed, and counted.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Any

import sqlalchemy as sa

from coordinator.ingest.rows import dialect_insert
from coordinator.models.blob import Blob
from workflow.cases import Case, CounterCase, Material
from workflow.org import Window

log = logging.getLogger(__name__)

CAPTURE_EVENT = "capture"
BLOBS: sa.Table = Blob.__table__  # type: ignore[attr-defined]
CASES: sa.Table = Case.__table__  # type: ignore[attr-defined]
COUNTER: sa.Table = CounterCase.__table__  # type: ignore[attr-defined]
MATERIALS: sa.Table = Material.__table__  # type: ignore[attr-defined]
WINDOWS: sa.Table = Window.__table__  # type: ignore[attr-defined]

FILING_OUTCOMES = ("filed", "unfiled", "missing_blob", "bad_event")
filing_counts: Counter[str] = Counter()
"""Outcomes since start (read by the metrics collector)."""


def _str(data: dict[str, Any], key: str, limit: int) -> str | None:
    value = data.get(key)
    return value[:limit] if isinstance(value, str) and value else None


def file_captures(conn: sa.Connection, events: list[dict[str, Any]]) -> None:
    """File every ``capture`` event of ``events`` (ingest rows) as a material, in ``conn``'s transaction."""
    captures = [e for e in events if e["type"] == CAPTURE_EVENT]
    if not captures:
        return
    now = time.time()
    rows: list[dict[str, Any]] = []
    agents = {e["agent_id"] for e in captures}
    windows = dict(
        conn.execute(sa.select(WINDOWS.c.agent_id, WINDOWS.c.id).where(WINDOWS.c.agent_id.in_(agents))).all()
    )
    hashes = {e["data"].get("sha256") for e in captures}
    present = set(conn.execute(sa.select(BLOBS.c.sha256).where(BLOBS.c.sha256.in_(hashes))).scalars())
    for e in captures:
        data: dict[str, Any] = e["data"] if isinstance(e["data"], dict) else {}
        sha256, capture_id = _str(data, "sha256", 64), _str(data, "capture_id", 64)
        size, media_type = data.get("size"), _str(data, "media_type", 64)
        if not (sha256 and capture_id and media_type and isinstance(size, int)):
            filing_counts["bad_event"] += 1
            log.warning(
                "capture event %s of %s lacks sha256/capture_id/size/media_type", e["msg_id"], e["agent_id"]
            )
            continue
        if sha256 not in present:
            filing_counts["missing_blob"] += 1
            log.warning(
                "capture %s of %s names blob %s, which was never uploaded",
                capture_id,
                e["agent_id"],
                sha256[:12],
            )
            continue
        window_id = windows.get(e["agent_id"])
        case_id, clerk_id = _case_for(conn, data.get("case"), window_id)
        pages = data.get("pages")
        captured_at = data.get("captured_at")
        rows.append(
            {
                "case_id": case_id,
                "window_id": window_id,
                "kind": _str(data, "kind", 32) or "file",
                "sha256": sha256,
                "size": size,
                "media_type": media_type,
                "pages": pages if isinstance(pages, int) and pages > 0 else 1,
                "agent_id": e["agent_id"],
                "device_id": e["device_id"],
                "capture_id": capture_id,
                "cmd_id": _str(data, "cmd_id", 64),
                "signs": _str(data, "signs", 64),
                "captured_at": float(captured_at) if isinstance(captured_at, int | float) else e["ts"],
                "filed_at": now,
                "clerk_id": clerk_id,
            }
        )
        filing_counts["filed" if case_id is not None else "unfiled"] += 1
        if case_id is None:
            log.warning(
                "capture %s from %s/%s: no open case at its window: kept as an unfiled material",
                capture_id, e["agent_id"], e["device_id"],
            )  # fmt: skip
    if rows:
        conn.execute(dialect_insert(conn, MATERIALS).on_conflict_do_nothing(), rows)


def _case_for(conn: sa.Connection, named: object, window_id: int | None) -> tuple[int | None, int | None]:
    """The case a capture goes into, and the clerk it is recorded for."""
    if isinstance(named, int) and not isinstance(named, bool):
        row = conn.execute(
            sa.select(CASES.c.id, CASES.c.window_id, CASES.c.opened_by).where(CASES.c.id == named)
        ).first()
        # The case the clerk named, if it is at this agent's window (a command cannot reach another window).
        if row is not None and (window_id is None or row.window_id == window_id):
            return row.id, row.opened_by
    if window_id is None:
        return None, None
    current = conn.execute(
        sa.select(CASES.c.id, CASES.c.opened_by)
        .join(COUNTER, COUNTER.c.case_id == CASES.c.id)
        .where(COUNTER.c.window_id == window_id, CASES.c.status == "open")
    ).first()
    return (current.id, current.opened_by) if current is not None else (None, None)
