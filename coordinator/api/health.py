"""``/healthz`` (database reachable and MQTT connected → 200, else 503 naming the part) and ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from coordinator import db
from coordinator.api.deps import CoordinatorDep

router = APIRouter(tags=["operations"])


@router.get("/healthz", responses={503: {"description": "a part is down; the body says which"}})
def healthz(coordinator: CoordinatorDep) -> JSONResponse:
    parts: dict[str, str] = {}
    try:
        db.ping(coordinator.engine)
        parts["database"] = "ok"
    except SQLAlchemyError as err:
        parts["database"] = f"down: {type(err).__name__}"
    parts["mqtt"] = "ok" if coordinator.mqtt_connected else "down: not connected to the broker"
    ingest = coordinator.ingest
    parts["ingest"] = "ok" if ingest is not None and ingest.writer.alive else "down: writer not running"
    healthy = all(v == "ok" for v in parts.values())
    return JSONResponse(
        {"status": "ok" if healthy else "down", **parts},
        status_code=status.HTTP_200_OK if healthy else status.HTTP_503_SERVICE_UNAVAILABLE,
    )


@router.get("/metrics", response_class=Response)
def metrics(coordinator: CoordinatorDep) -> Response:
    return Response(generate_latest(coordinator.metrics.registry), media_type=CONTENT_TYPE_LATEST)
