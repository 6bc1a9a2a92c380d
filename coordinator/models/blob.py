"""Blobs in the content-addressed store, and which agent may read which blob."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class Blob(SQLModel, table=True):
    """A file in the store: its bytes live at ``blobs/<aa>/<bb>/<sha256>`` under the data directory."""

    __tablename__ = "blob"

    sha256: str = Field(primary_key=True, max_length=64)
    size: int = Field(sa_type=sa.BigInteger)
    media_type: str = Field(max_length=64)
    created_at: float
    source: str = Field(max_length=80, description="agent id that uploaded it, or 'coordinator'")


class BlobGrant(SQLModel, table=True):
    """An agent may ``GET`` this blob until ``expires_at`` (a document it was told to print)."""

    __tablename__ = "blob_grant"

    agent_id: str = Field(primary_key=True, max_length=64)
    sha256: str = Field(primary_key=True, max_length=64)
    expires_at: float
