"""Field provisioning over HTTP.

``/api/v1/provision/…`` (bearer token; staff roles come with the organisation issue): enrollment tokens,
provisioned agents, revoke, decommission, the audit trail. The enrollment and renewal endpoints carry their own
credential instead — the one-time token, or a request signed with the agent's current key — and so take no
bearer token. Refusals answer with a ``detail`` that says why (401/403/409/410/422), and are audited.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, status

from coordinator.api.deps import Authenticated, CoordinatorDep
from coordinator.models.provisioning import (
    AuditsPublic,
    ProvisionedAgentPublic,
    ProvisionedAgentsPublic,
    RevokeResult,
    TokenCreate,
    TokenCreated,
    TokenPublic,
    TokensPublic,
)
from coordinator.provision.service import ProvisioningService
from protocols.provisioning import (
    ENROLL_CONFIRM_PATH,
    ENROLL_PATH,
    RENEW_PATH,
    TIME_PATH,
    EnrollConfirm,
    EnrollRequest,
    EnrollResponse,
    RenewRequest,
    RenewResponse,
    TimeResponse,
)


def get_provisioning(coordinator: CoordinatorDep) -> ProvisioningService:
    if coordinator.provisioning is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "coordinator is starting")
    return coordinator.provisioning


ProvisioningDep = Annotated[ProvisioningService, Depends(get_provisioning)]


def remote(request: Request) -> str:
    return request.client.host if request.client else ""


def actor(x_hallmesh_actor: Annotated[str | None, Header(max_length=100)] = None) -> str:
    """Who acts: the API token, plus the name the CLI declares (``X-Hallmesh-Actor``, e.g. ``user@host``)."""
    return f"api-token ({x_hallmesh_actor})" if x_hallmesh_actor else "api-token"


ActorDep = Annotated[str, Depends(actor)]

admin = APIRouter(prefix="/api/v1/provision", tags=["provisioning"], dependencies=[Authenticated])
public = APIRouter(tags=["enrollment"])


@admin.post("/tokens", status_code=status.HTTP_201_CREATED)
def create_token(body: TokenCreate, svc: ProvisioningDep, who: ActorDep, request: Request) -> TokenCreated:
    return svc.create_token(body, who, remote(request))


@admin.get("/tokens")
def list_tokens(svc: ProvisioningDep, agent_id: str | None = None) -> TokensPublic:
    return svc.list_tokens(agent_id)


@admin.post("/tokens/{token_id}/cancel")
def cancel_token(token_id: str, svc: ProvisioningDep, who: ActorDep, request: Request) -> TokenPublic:
    return svc.cancel_token(token_id, who, remote(request))


@admin.get("/agents")
def list_agents(svc: ProvisioningDep) -> ProvisionedAgentsPublic:
    return svc.agents()


@admin.get("/agents/{agent_id}")
def get_agent(agent_id: str, svc: ProvisioningDep) -> ProvisionedAgentPublic:
    found = svc.agents(agent_id).data
    if not found:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"agent {agent_id!r} was never provisioned")
    return found[0]


@admin.post("/agents/{agent_id}/revoke")
def revoke(agent_id: str, svc: ProvisioningDep, who: ActorDep, request: Request) -> RevokeResult:
    return svc.revoke(agent_id, who, remote(request))


@admin.post("/agents/{agent_id}/decommission")
def decommission(agent_id: str, svc: ProvisioningDep, who: ActorDep, request: Request) -> RevokeResult:
    return svc.revoke(agent_id, who, remote(request), decommission=True)


@admin.get("/audit")
def audit(
    svc: ProvisioningDep,
    agent_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditsPublic:
    return svc.audit_log(agent_id, limit)


@public.post(ENROLL_PATH)
def enroll(body: EnrollRequest, svc: ProvisioningDep, request: Request) -> EnrollResponse:
    return svc.enroll(body, remote(request))


@public.post(ENROLL_CONFIRM_PATH)
def confirm(body: EnrollConfirm, svc: ProvisioningDep, request: Request) -> dict[str, str]:
    svc.confirm(body, remote(request))
    return {"status": "ok"}


@public.post(RENEW_PATH)
def renew(body: RenewRequest, svc: ProvisioningDep, request: Request) -> RenewResponse:
    return svc.renew(body, remote(request))


@public.get(TIME_PATH)
def now() -> TimeResponse:
    """The coordinator's clock, for ``hallmesh provision check`` (clock skew)."""
    return TimeResponse(now=time.time())
