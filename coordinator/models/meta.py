"""Key/value facts about the coordinator itself (its boot counter)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class CoordinatorMeta(SQLModel, table=True):
    __tablename__ = "coordinator_meta"

    key: str = Field(primary_key=True, max_length=64)
    value: int = Field(sa_type=sa.BigInteger)
