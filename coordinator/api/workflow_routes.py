"""Mounts the organisation, staff, sign-in, catalog and case routers and maps workflow errors to HTTP statuses."""

from __future__ import annotations

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

from coordinator.api import (
    case_calendar,
    case_materials,
    case_workflow,
    cases,
    catalog,
    org,
    public_catalog,
    staff,
    staff_auth,
    stats,
)
from workflow.errors import Conflict, Forbidden, InvalidInput, NotFound, WorkflowError

STATUS: dict[type[WorkflowError], int] = {
    NotFound: status.HTTP_404_NOT_FOUND,
    Forbidden: status.HTTP_403_FORBIDDEN,
    Conflict: status.HTTP_409_CONFLICT,
    InvalidInput: status.HTTP_422_UNPROCESSABLE_CONTENT,
}


def install(app: FastAPI) -> None:
    for module in (
        staff_auth,
        org,
        staff,
        catalog,
        public_catalog,
        cases,
        case_workflow,
        case_materials,
        case_calendar,
        stats,
    ):
        app.include_router(module.router)

    @app.exception_handler(WorkflowError)
    async def workflow_error(_request: Request, err: WorkflowError) -> JSONResponse:
        code = next((c for kind, c in STATUS.items() if isinstance(err, kind)), status.HTTP_400_BAD_REQUEST)
        return JSONResponse({"detail": str(err)}, status_code=code)
