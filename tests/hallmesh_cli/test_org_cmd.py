"""``hallmesh org seed`` / ``add-staff`` and the demo organisation, on a SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlmodel import Session, col, func, select

from coordinator import db
from hallmesh_cli.demo_org import banner_lines, seed_demo
from hallmesh_cli.main import main
from workflow.catalog import CatalogItem, ItemVersion
from workflow.org import OrgUnit, Window
from workflow.staff import Staff


def _count(url: str, model: type, *where: object) -> int:
    engine = db.make_engine(url)
    try:
        with Session(engine) as s:
            return int(s.exec(select(func.count()).select_from(model).where(*where)).one())  # type: ignore[arg-type]
    finally:
        engine.dispose()


def test_seed_and_add_staff(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    assert main(["org", "seed", "--database-url", url]) == 0
    assert "28 units added" in capsys.readouterr().out
    units = tmp_path / "units.csv"
    units.write_text("code,name,level,parent_code\n640104002000,某街道,5,640104000000\n", encoding="utf-8")
    assert main(["org", "seed", "--database-url", url, "--units", str(units)]) == 0
    assert "1 units added" in capsys.readouterr().out
    assert _count(url, OrgUnit) == 29

    args = ["org", "add-staff", "--database-url", url, "--employee-no", "A001", "--name", "管理员",
            "--unit-code", "640000000000", "--roles", "center_admin"]  # fmt: skip
    monkeypatch.setenv("HALLMESH_NEW_PASSWORD", "short")
    assert main(args) == 2
    monkeypatch.setenv("HALLMESH_NEW_PASSWORD", "a long enough password")
    assert main(args) == 0
    assert main(args) == 2  # the employee number exists
    assert main([*args[:-1], "wizard"]) == 2
    engine = db.make_engine(url)
    with Session(engine) as s:
        staff = s.exec(select(Staff)).one()
        assert staff.roles == "center_admin"
        assert staff.password_hash is not None
        assert PasswordHasher().verify(staff.password_hash, "a long enough password")
    engine.dispose()


def test_demo_organisation_is_idempotent_with_fresh_passwords(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    engine = db.make_engine(url)
    db.migrate(engine)
    agents = ["yinchuan-xingqing-w01", "yinchuan-xingqing-w02", "wuzhong-litong-w01", "elsewhere-w01"]
    first = seed_demo(engine, agents)
    second = seed_demo(engine, agents)
    assert [u.employee_no for u in first] == [u.employee_no for u in second]
    assert all(a.password != b.password for a, b in zip(first, second, strict=True))
    with Session(engine) as s:
        windows = s.exec(select(Window).order_by(col(Window.agent_id))).all()
        assert [w.agent_id for w in windows] == sorted(agents[:3])
        hasher = PasswordHasher()
        for user in second:
            row = s.exec(select(Staff).where(Staff.employee_no == user.employee_no)).one()
            assert row.password_hash is not None
            assert hasher.verify(row.password_hash, user.password)
        assert s.exec(select(func.count()).select_from(CatalogItem)).one() == 3
        assert (
            s.exec(
                select(func.count()).select_from(ItemVersion).where(ItemVersion.status == "published")
            ).one()
            == 3
        )
    engine.dispose()
    lines = banner_lines(url, agents, "http://127.0.0.1:8400")
    assert any("demo-admin" in line for line in lines)
