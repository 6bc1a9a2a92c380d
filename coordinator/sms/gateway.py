"""Where notices go: the region's SMS platform over HTTP, or a local sink for the demo and tests.

    HttpGateway  -- ``POST <url>`` JSON ``{"id", "phone", "text"}`` with ``Authorization: Bearer <token>``;
                    2xx: accepted (``{"ref": …}`` optional); 408, 429, 5xx and connection errors: try again;
                    other 4xx: refused for good. ``id`` is the same on every attempt: the gateway dedupes by it.
    SinkGateway  -- appends one JSON line per notice to a file.

Errors: :class:`GatewayError` (root) → :class:`TemporaryFailure`, :class:`PermanentFailure`.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx


class GatewayError(Exception):
    pass


class TemporaryFailure(GatewayError):
    """Try again later."""


class PermanentFailure(GatewayError):
    """The gateway will never take this notice."""


@dataclass(frozen=True)
class Notice:
    msg_id: str
    phone: str
    text: str


class Gateway(Protocol):
    def send(self, notice: Notice) -> str:
        """Deliver ``notice``; return the gateway's reference; raise :class:`GatewayError`."""
        ...

    def close(self) -> None: ...


class HttpGateway:
    def __init__(self, url: str, token: str | None, timeout_s: float = 10.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = url
        self._http = httpx.Client(timeout=timeout_s, headers=headers)

    def send(self, notice: Notice) -> str:
        try:
            r = self._http.post(
                self.url, json={"id": notice.msg_id, "phone": notice.phone, "text": notice.text}
            )
        except httpx.HTTPError as err:
            raise TemporaryFailure(f"gateway unreachable: {type(err).__name__}: {err}") from err
        if r.is_success:
            try:
                body = r.json()
            except ValueError:
                body = {}
            return str(body.get("ref", "")) if isinstance(body, dict) else ""
        if r.status_code in (408, 429) or r.status_code >= 500:
            raise TemporaryFailure(f"gateway answered {r.status_code}")
        raise PermanentFailure(f"gateway refused the notice: {r.status_code} {r.text[:200]}")

    def close(self) -> None:
        self._http.close()


class SinkGateway:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def send(self, notice: Notice) -> str:
        line = json.dumps(
            {"id": notice.msg_id, "phone": notice.phone, "text": notice.text}, ensure_ascii=False
        )
        with self._lock, self.path.open("a", encoding="utf-8") as out:
            out.write(line + "\n")
        return f"sink:{notice.msg_id}"

    def close(self) -> None:
        pass
