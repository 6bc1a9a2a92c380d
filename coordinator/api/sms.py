"""``/api/v1/sms``: the SMS outbox and each notice's delivery status (API token; phones masked)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import col, select

from coordinator.api.deps import Authenticated, SessionDep
from coordinator.models.sms import SmsMessage, SmsPublic
from coordinator.sms.templates import mask_phone

router = APIRouter(prefix="/api/v1/sms", tags=["sms"], dependencies=[Authenticated])


@router.get("")
def list_sms(
    session: SessionDep,
    case_id: int | None = None,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[SmsPublic]:
    query = select(SmsMessage).order_by(col(SmsMessage.id).desc()).limit(limit)
    if case_id is not None:
        query = query.where(SmsMessage.case_id == case_id)
    if status is not None:
        query = query.where(SmsMessage.status == status)
    out = []
    for m in session.exec(query):
        item = SmsPublic.model_validate(m, from_attributes=True)
        item.phone = mask_phone(m.phone)
        out.append(item)
    return out
