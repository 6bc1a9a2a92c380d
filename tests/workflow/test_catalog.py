"""Catalog versions on a real database: draft → published, no overlapping validity, published never changes."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from tests.coordinator.api.conftest import content
from workflow import catalog
from workflow.errors import Conflict, InvalidInput
from workflow.org import Department

D = dt.date


def _item(s: Session) -> tuple[int, catalog.ItemVersion]:
    dept = s.exec(select(Department)).first()
    assert dept is not None
    item, v1 = catalog.create_item(s, "IMPL-1", "BASIC-1", dept.unit_id, dept.id or 0, content())
    return item.id or 0, v1


def test_versions_publish_without_overlap(engine: sa.Engine) -> None:
    with Session(engine, expire_on_commit=False) as s:
        item_id, v1 = _item(s)
        catalog.publish(s, v1, D(2026, 1, 1), None)
        s.commit()
        v1_id, v1_content = v1.id, dict(v1.content)

        v2 = catalog.new_draft(s, item_id)
        assert v2.number == 2
        assert v2.parsed() == v1.parsed()
        catalog.update_draft(s, v2, content("改名后的事项", promised_limit=1))
        with pytest.raises(Conflict, match="重叠") as err:
            catalog.publish(s, v2, D(2027, 1, 1), None)
        assert "第 1 版" in str(err.value)
        assert "2026-01-01 至 长期" in str(err.value)
        with pytest.raises(Conflict, match="新建草稿"):
            catalog.update_draft(s, v1, content("偷改"))
        with pytest.raises(Conflict, match="已有草稿"):
            catalog.new_draft(s, item_id)
        with pytest.raises(InvalidInput):
            catalog.publish(s, v2, D(2027, 1, 1), D(2027, 1, 1))

        catalog.close(s, v1, D(2027, 1, 1))
        with pytest.raises(Conflict, match="只能提前"):
            catalog.close(s, v1, D(2028, 1, 1))
        with pytest.raises(Conflict, match="重叠"):
            catalog.publish(s, v2, D(2026, 12, 31), None)
        catalog.publish(s, v2, D(2027, 1, 1), None)  # touching periods do not overlap ([from, to))
        s.commit()

    with Session(engine) as s:
        # a case opened in 2026 stays on version 1: same id, same content
        on_2026 = catalog.current_version(s, item_id, D(2026, 6, 1))
        on_2027 = catalog.current_version(s, item_id, D(2027, 6, 1))
        assert on_2026 is not None
        assert on_2027 is not None
        assert (on_2026.id, on_2026.content) == (v1_id, v1_content)
        assert on_2027.name == "改名后的事项"
        assert catalog.current_version(s, item_id, D(2025, 6, 1)) is None


@pytest.mark.parametrize(
    ("existing", "new", "overlaps"),
    [
        ((D(2026, 1, 1), D(2026, 7, 1)), (D(2026, 7, 1), None), False),
        ((D(2026, 1, 1), D(2026, 7, 1)), (D(2025, 1, 1), D(2026, 1, 1)), False),
        ((D(2026, 1, 1), D(2026, 7, 1)), (D(2025, 1, 1), D(2026, 1, 2)), True),
        ((D(2026, 1, 1), D(2026, 7, 1)), (D(2026, 3, 1), D(2026, 4, 1)), True),
        ((D(2026, 1, 1), None), (D(2020, 1, 1), None), True),
        ((D(2026, 1, 1), None), (D(2020, 1, 1), D(2026, 1, 1)), False),
    ],
)
def test_overlap_rule(existing: tuple[D, D | None], new: tuple[D, D | None], overlaps: bool) -> None:
    assert catalog._overlaps(*new, *existing) is overlaps
    assert catalog._overlaps(*existing, *new) is overlaps
