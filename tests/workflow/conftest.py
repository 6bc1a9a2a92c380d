"""A migrated database (SQLite or PostgreSQL) with the Ningxia tree and a SCJG department in every county."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from coordinator import db
from workflow.codes import Level, Role
from workflow.org import Department, OrgUnit
from workflow.scope import Scope
from workflow.seed import seed_ningxia


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    e = db.make_engine(db_url)
    db.migrate(e)
    with Session(e) as s:
        seed_ningxia(s)
        for unit in s.exec(select(OrgUnit).where(OrgUnit.level == int(Level.COUNTY))):
            s.add(Department(unit_id=unit.id or 0, code="SCJG", name="市场监督管理局"))
        s.commit()
    yield e
    e.dispose()


def region_scope(session: Session) -> Scope:
    root = session.exec(select(OrgUnit).where(col(OrgUnit.parent_id).is_(None))).one()
    return Scope(0, frozenset({Role.CENTER_ADMIN}), root.id or 0, root.path, None)
