"""Load organisation units from CSV (``code,name,level,parent_code``): the Ningxia tree, and lower levels.

Idempotent: a unit whose code exists is left as it is, so the seed can run on every demo start.
"""

from __future__ import annotations

import csv
import io
from importlib import resources

from sqlmodel import Session

from workflow.codes import Level
from workflow.errors import InvalidInput
from workflow.org import add_unit, unit_by_code

NINGXIA = "ningxia.csv"


def ningxia_csv() -> str:
    return resources.files("workflow.data").joinpath(NINGXIA).read_text(encoding="utf-8")


def load_units(session: Session, text: str) -> int:
    """Add the units of ``text`` (parents before children); returns how many were new."""
    added = 0
    for lineno, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        code, name, parent_code = row["code"].strip(), row["name"].strip(), row["parent_code"].strip()
        if unit_by_code(session, code) is not None:
            continue
        parent = unit_by_code(session, parent_code) if parent_code else None
        if parent_code and parent is None:
            raise InvalidInput(f"第 {lineno} 行：上级单位 {parent_code} 不存在")
        try:
            level = Level(int(row["level"]))
        except ValueError as err:
            raise InvalidInput(f"第 {lineno} 行：层级 {row['level']!r} 无效") from err
        add_unit(session, code, name, level, parent)
        added += 1
    return added


def seed_ningxia(session: Session) -> int:
    return load_units(session, ningxia_csv())
