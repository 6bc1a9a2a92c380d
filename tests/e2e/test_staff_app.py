"""The staff web app (``/app/``) in headless Chromium against real processes: a case from counter to conclusion.

Real processes and peers as in ``test_counter_window``: Mosquitto (mTLS), ``hallmesh coordinator serve``,
``hallmesh agent run`` with a document camera (simulator over MJPEG, live preview on the loopback), a signature
pad (simulator on a pty) and a printer (ippeveprinter). The clerk signs in, opens a case whose title is an HTML
injection attempt, sees the live preview, photographs the application form, has the applicant sign (once while a
``sign`` command waits, once before the case was opened: filed from the window's unfiled captures), puts them
into the checklist's slots and accepts; the reviewer and the approver decide it from their queues; the
certificate the conclusion issues is printed at the window. Then the stats boards (``/boards/``), in the same
browser: today's board counts the case for 兴庆区 (accepted, concluded, on time); with rules set
through the API the boards use, that unit is on the honor roll (光荣榜) and 大武口区 — whose case, accepted three
weeks ago, is concluded today past its statutory date (made through the case engine with dates in the past, as
the stats tests do) — is on the exposure board (曝光台); raising the thresholds empties both, awaited through the
page's own refresh. Every step is asserted on what the page shows, and no request of the browser leaves
127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlmodel import Session, select

from coordinator.cases import workflow as case_workflow
from coordinator.cases.hooks import CaseHooks
from coordinator.stats import aggregate
from hallmesh_cli.demo_org import DemoUser, seed_demo
from protocols.sigpad import PadState
from simulators.doccam import DoccamSim, DoccamSimOptions
from simulators.ippeve import IppEvePrinter
from simulators.sigpad import SigpadSim, SigpadSimOptions
from tests.e2e.system import System
from tests.support import wait_until
from workflow import case_engine, catalog, process
from workflow.case_engine import CHINA, Command
from workflow.case_states import Action
from workflow.cases import Case
from workflow.cases import Material as Filed
from workflow.catalog import ItemContent, Material
from workflow.codes import Role
from workflow.org import Department, Hall, Window, unit_by_code
from workflow.scope import Scope
from workflow.staff import Staff, join_roles

AGENT = "yinchuan-xingqing-w01"
JWT = "e2e-jwt-secret-" + "s" * 40
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]  # fmt: skip
XSS = "<img src=x onerror=window.__xss=1>"
ITEM = "个体工商户设立登记（工作台测试）"
STEPS = [
    {"key": "accept", "kind": "受理", "name": "受理", "role": "clerk", "time_limit": 0},
    {"key": "review", "kind": "审核", "name": "审核", "role": "reviewer", "time_limit": 2, "after": ["accept"]},
    {"key": "done", "kind": "办结", "name": "审批办结", "role": "approver", "time_limit": 2, "after": ["review"]},
]  # fmt: skip


@pytest.fixture
def peers(tmp_path: Path) -> Iterator[dict[str, Any]]:
    doccam = DoccamSim(DoccamSimOptions(width=1280, height=960, fps=8.0)).start()
    pad = SigpadSim(SigpadSimOptions()).start()
    printer = IppEvePrinter(tmp_path / "printer", job_seconds=0.3).start()
    try:
        yield {"doccam": doccam, "pad": pad, "printer": printer}
    finally:
        printer.stop()
        pad.stop()
        doccam.stop()


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _devices(p: dict[str, Any]) -> str:
    return "\n".join(
        [
            "[[devices]]", 'id = "doccam-1"', 'kind = "doccam"', f'source = "{p["doccam"].url}"', "preview_port = 0",
            "[[devices]]", 'id = "sigpad-1"', 'kind = "sigpad"', f'port = "{p["pad"].path}"',
            "[[devices]]", 'id = "printer-1"', 'kind = "printer"', f'uri = "{p["printer"].uri}"', "job_poll_s = 0.3",
        ]
    )  # fmt: skip


def _item_with_process(engine: sa.Engine) -> None:
    """A published item whose process is 受理 (clerk) → 审核 (reviewer) → 办结 (approver)."""
    with Session(engine) as session:
        unit = unit_by_code(session, "640104000000")
        assert unit is not None
        assert unit.id is not None
        dept = session.exec(
            select(Department.id).where(Department.unit_id == unit.id, Department.code == "SCJG")
        ).one()
        assert dept is not None
        content = ItemContent(
            name=ITEM, item_type="01", level=4, statutory_limit=15, promised_limit=5, service_objects=["1"],
            materials=[Material(name="申请书", originals=1), Material(name="身份证明", copies=1)],
        )  # fmt: skip
        _, version = catalog.create_item(session, "11640104SCJG0099", "116401040099", unit.id, dept, content)
        process.set_template(session, version, process.ProcessDefinition.model_validate({"steps": STEPS}))
        catalog.publish(session, version, dt.date(2026, 1, 1), None)
        session.commit()


def _overdue_case_elsewhere(engine: sa.Engine) -> None:
    """大武口区 · 市场监督管理局: a case accepted 21 days ago (promised 4, statutory 6 working days) and concluded now —
    past its promised and statutory dates: one overdue conclusion and one red card on today's board. Moved
    through the case engine with the stats listener, as the coordinator does, with the acceptance in the past."""
    hooks = CaseHooks()
    hooks.register(aggregate.on_case_event)
    with Session(engine, expire_on_commit=False) as session:
        unit = unit_by_code(session, "640202000000")
        assert unit is not None
        assert unit.id is not None
        dept = Department(unit_id=unit.id, code="SCJG", name="市场监督管理局")
        hall = Hall(unit_id=unit.id, name="大武口区政务服务中心")
        session.add_all([dept, hall])
        session.flush()
        assert dept.id is not None
        assert hall.id is not None
        window = Window(hall_id=hall.id, unit_id=unit.id, department_id=dept.id, number="1", name="1 号窗口")
        staff = {
            role: Staff(employee_no=f"e2e-dwk-{role}", name=f"大武口区{role}", unit_id=unit.id,
                        department_id=dept.id, roles=join_roles([role]))
            for role in (Role.CLERK, Role.REVIEWER, Role.APPROVER)
        }  # fmt: skip
        session.add_all([window, *staff.values()])
        content = ItemContent(name="食品经营许可（超期测试）", item_type="01", level=4, statutory_limit=6,
                              promised_limit=4, materials=[Material(name="身份证明")])  # fmt: skip
        _, version = catalog.create_item(
            session, "11640202SCJG0099", "116402020099", unit.id, dept.id, content
        )
        process.set_template(session, version, process.ProcessDefinition.model_validate({"steps": STEPS}))
        catalog.publish(session, version, dt.date(2026, 1, 1), None)
        session.commit()
        assert window.id is not None

        def scope(role: Role) -> Scope:
            return Scope.of(session, staff[role])

        day = dt.datetime.now(CHINA).date() - dt.timedelta(days=21)
        then = dt.datetime.combine(day, dt.time(10), CHINA).timestamp()
        case = Case(code="DWK-E2E-0001", unit_id=unit.id, department_id=dept.id, window_id=window.id,
                    item_version_id=version.id, title="食品经营许可申请", applicant_name="李四",
                    opened_by=staff[Role.CLERK].id or 0, opened_at=then)  # fmt: skip
        case_engine.submit(session, case, staff[Role.CLERK].id, "clerk", then)
        case_workflow.commit_new(session, hooks, case)
        assert case.id is not None
        session.add(Filed(case_id=case.id, window_id=window.id, kind="scan", sha256="d" * 64, size=1,
                          media_type="application/pdf", agent_id="pc", device_id="scanner", capture_id="dwk-1",
                          captured_at=then, filed_at=then, slot="身份证明"))  # fmt: skip
        session.commit()
        moves = [(Role.CLERK, Command(action=Action.ACCEPT), then),
                 (Role.REVIEWER, Command(action=Action.DECIDE, step="review", decision="approve"), then),
                 (Role.APPROVER, Command(action=Action.DECIDE, step="done", decision="approve"), None)]  # fmt: skip
        for role, cmd, at in moves:
            case_workflow.act(session, hooks, scope(role), case.id, cmd, now=at)
        assert (case.state, case.outcome) == ("concluded", "approved")


def _staff_token(system: System, user: DemoUser) -> str:
    r = httpx.post(f"{system.base_url}/api/v1/auth/login", timeout=10,
                   json={"employee_no": user.employee_no, "password": user.password})  # fmt: skip
    assert r.status_code == 200, r.text
    token: str = r.json()["access_token"]
    return token


def _set_rules(system: System, token: str, **rules: float) -> None:
    r = httpx.put(f"{system.base_url}/api/v1/stats/rules", json=rules, timeout=10,
                  headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert r.status_code == 200, r.text


def _sign_in(page: Page, user: DemoUser) -> None:
    expect(page.locator("#login-view")).to_be_visible()
    page.fill("#employee-no", user.employee_no)
    page.fill("#password", user.password)
    page.click("#signin")
    expect(page.locator("#me")).to_contain_text(user.name)


def _decide(page: Page, user: DemoUser, opinion: str) -> None:
    _sign_in(page, user)
    expect(page.locator("#queue-view")).to_be_visible()
    row = page.locator("#queue tr", has_text=XSS)
    expect(row).to_have_count(1)
    row.locator("a").click()
    expect(page.locator("#d-title")).to_have_text(XSS)
    expect(page.locator("#decide")).to_be_visible()
    page.fill("#d-opinion", opinion)
    page.click("#approve")
    expect(page.locator("#d-timeline")).to_contain_text(opinion)
    expect(page.locator("#decide")).to_be_hidden()


def test_a_clerk_reviewer_and_approver_take_a_case_through_the_staff_app(
    system: System, peers: dict[str, Any], browser: Browser
) -> None:
    system.extra_env["HALLMESH_JWT_SECRET"] = JWT
    system.start_coordinator()
    engine = sa.create_engine(f"sqlite:///{system.sqlite_path}")
    try:
        users = {u.employee_no: u for u in seed_demo(engine, [AGENT])}
        _item_with_process(engine)
    finally:
        engine.dispose()
    agent = system.add_agent(AGENT, devices=0, extra=f'[coordinator]\nurl = "{system.base_url}"\n')
    agent.config.write_text(agent.config.read_text() + _devices(peers) + "\n")
    system.start_agent(AGENT)

    def all_up() -> bool:
        status = system.agent_status(AGENT)
        return bool(status and status["online"] and len(status.get("devices", [])) == 3
                    and all(d["status"] == "up" for d in status["devices"]))  # fmt: skip

    wait_until(all_up, timeout=60, what="agent online with its three devices up")

    context = browser.new_context(base_url=system.base_url, viewport={"width": 1024, "height": 1366})
    context.set_default_timeout(20_000)
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    try:
        # The clerk signs in and lands on the counter workstation of the window bound to this agent.
        page.goto("/app/")
        expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
        _sign_in(page, users["demo-clerk"])
        expect(page.locator("#counter-view")).to_be_visible()
        expect(page.locator("#window-state")).to_contain_text("在线")
        expect(page.locator("#window-state")).to_contain_text("doccam-1")

        # The applicant signs before any case is open: the signature waits at the window, unfiled.
        assert peers["pad"].sign_random(seed=3)
        expect(page.locator("#unfiled li[data-kind=signature]")).to_have_count(1)
        expect(page.locator("#file-all")).to_be_disabled()

        # A new case for the item; its title tries to inject HTML and is shown as those characters.
        page.select_option("#item", label=ITEM)
        page.fill("#case-title", XSS)
        page.fill("#applicant", "张三")
        page.click("#create-case")
        expect(page.locator("#current")).to_be_visible()
        expect(page.locator("#cur-title")).to_have_text(XSS)
        expect(page.locator("#cur-state")).to_have_text("已提交")
        expect(page.locator("#slots li.missing")).to_have_count(2)
        expect(page.locator("#accept")).to_be_disabled()

        # The document camera's live preview, from the counter PC's loopback.
        expect(page.locator("#preview")).to_be_visible()
        assert urlsplit(page.locator("#preview").get_attribute("src") or "").hostname == "127.0.0.1"

        # Photograph the application form: the photo lands, with its thumbnail fetched through the scoped API.
        page.click("#do-photo")
        photo = page.locator("#materials li[data-kind=photo]")
        expect(photo).to_have_count(1)
        expect(photo.locator("img")).to_have_attribute("src", re.compile(r"^blob:"))

        # The applicant signs on the pad while the sign command waits.
        page.click("#do-sign")
        peers["pad"].wait_state(PadState.SIGNING, timeout=20)
        assert peers["pad"].sign_random(seed=7)
        signature = page.locator("#materials li[data-kind=signature]")
        expect(signature).to_have_count(1)

        # The signature made before the case was opened is filed into it.
        page.click("#file-all")
        expect(signature).to_have_count(2)
        expect(page.locator("#unfiled-box")).to_be_hidden()
        signature = signature.first

        # Both into the checklist, then accept.
        photo.locator("select").select_option("申请书")
        expect(page.locator('#slots li[data-slot="申请书"]')).to_have_class("filled")
        signature.locator("select").select_option("身份证明")
        expect(page.locator('#slots li[data-slot="身份证明"]')).to_have_class("filled")
        expect(page.locator("#accept")).to_be_enabled()
        page.click("#accept")
        expect(page.locator("#cur-state")).to_have_text("办理中")
        page.click("#signout")

        # The reviewer and then the approver decide it from their queues; the approval concludes it.
        _decide(page, users["demo-reviewer"], "材料齐全，符合条件")
        page.click("#signout")
        _decide(page, users["demo-approver"], "同意办结")
        expect(page.locator("#d-state")).to_have_text("已办结")
        expect(page.locator("#d-timeline")).to_contain_text("办结")

        # English switch.
        page.click("#lang")
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.locator("#d-state")).to_have_text("Concluded")
        page.click("#lang")
        expect(page.locator("#d-state")).to_have_text("已办结")

        # The technician's view shows the window's agent and devices.
        page.click("#signout")
        _sign_in(page, users["demo-technician"])
        expect(page.locator("#tech-view")).to_be_visible()
        expect(page.locator("#tech")).to_contain_text("doccam-1")
        expect(page.locator("#tech")).to_contain_text(AGENT)
        # … and tests the printer: a test page, reported done.
        printer = page.locator("#tech tr[data-device=printer-1]")
        printer.get_by_role("button", name="测试").click()
        expect(printer.locator(".test-result")).to_have_text("test_page: 成功")

        assert page.evaluate("window.__xss") is None  # the title was never run as HTML
        page.click("#signout")

        # The approved conclusion issued a sealed certificate, printed at the window byte for byte.
        spool: Path = peers["printer"].spool_dir

        def printed() -> tuple[str, str, int] | None:
            with sqlite3.connect(f"file:{system.sqlite_path}?mode=ro", uri=True, timeout=10) as conn:
                row = conn.execute(
                    "SELECT c.sha256, p.status, p.job_id FROM cert_print p JOIN cert_certificate c"
                    " ON c.id = p.certificate_id ORDER BY p.id DESC LIMIT 1"
                ).fetchone()
            return row if row and row[1] in ("completed", "failed") else None

        found = wait_until(printed, timeout=30, what="certificate printed")
        assert found is not None
        sha256, status, job_id = found
        assert status == "completed"
        spooled = peers["printer"].spool_file(job_id)
        assert spooled is not None
        assert hashlib.sha256(spooled.read_bytes()).hexdigest() == sha256
        assert len(list(spool.glob("*.pdf"))) == 2  # the certificate and the technician's test page

        # The stats boards. A second unit concludes an overdue case today; the rules (one row, changed through
        # the API the boards use, by a center admin) put a unit with ≥ 1 conclusion all on time on the honor
        # roll, and one with ≥ 1 overdue conclusion or red card on the exposure board.
        engine = sa.create_engine(f"sqlite:///{system.sqlite_path}", connect_args={"timeout": 30})
        try:
            _overdue_case_elsewhere(engine)
        finally:
            engine.dispose()
        admin = _staff_token(system, users["demo-admin"])
        _set_rules(system, admin, honor_min_on_time_rate=0.98, honor_min_concluded=1, exposure_min_overdue=1,
                   exposure_min_red_cards=1)  # fmt: skip
        page.goto("/boards/?refresh=1")
        expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
        page.fill("#employee-no", users["demo-admin"].employee_no)
        page.fill("#password", users["demo-admin"].password)
        page.click("#sign-in")
        expect(page.locator("#login")).to_be_hidden()
        totals = {"accepted": "1", "concluded": "2", "on_time": "1", "overdue": "1", "yellow_cards": "0",
                  "red_cards": "1"}  # fmt: skip
        for key, value in totals.items():
            expect(page.locator(f"#total-{key}")).to_have_text(value)
        # Today's row of the clerk's unit: accepted and concluded today, on time. The demo's window is a
        # comprehensive one (综合窗口, no department), so the case counts for 兴庆区 without a department.
        ours = page.locator("#daily tbody tr", has_text="兴庆区")
        expect(ours).to_have_count(1)
        expect(ours.locator("td").nth(1)).to_have_text("—")
        cells = {"accepted": "1", "concluded": "1", "on_time": "1", "rate": "100.0%", "overdue": "0",
                 "yellow_cards": "0", "red_cards": "0"}  # fmt: skip
        for key, value in cells.items():
            expect(ours.locator(f"td.{key}")).to_have_text(value)
        late = page.locator("#daily tbody tr", has_text="大武口区")
        expect(late.locator("td.accepted")).to_have_text("0")  # accepted three weeks ago, not today
        expect(late.locator("td.rate")).to_have_text("0.0%")
        expect(page.locator("#honor-rule")).to_have_text("按时率 ≥ 98.0%，且办结 ≥ 1 件")
        expect(page.locator("#honor li")).to_have_text(["兴庆区：按时率 100.0%（办结 1）"])
        expect(page.locator("#exposure-rule")).to_have_text("超期 ≥ 1 件，或红牌 ≥ 1 张")
        expect(page.locator("#exposure li")).to_have_text(["大武口区 · 市场监督管理局：超期 1，红牌 1"])
        expect(page.locator("#overdue li")).to_have_text(["大武口区 · 市场监督管理局：超期 1，红牌 1"])
        expect(page.locator("#trend svg path.series-overdue")).to_have_count(1)

        # Raise the thresholds: the page's own refresh (every second here) follows — both boards empty, while
        # the overdue ranking, which has no rule, still lists the late unit.
        _set_rules(system, admin, honor_min_on_time_rate=0.98, honor_min_concluded=2, exposure_min_overdue=2,
                   exposure_min_red_cards=2)  # fmt: skip
        expect(page.locator("#honor-rule")).to_have_text("按时率 ≥ 98.0%，且办结 ≥ 2 件", timeout=10_000)
        expect(page.locator("#honor li")).to_have_text(["暂无"])
        expect(page.locator("#honor li.empty")).to_have_count(1)
        expect(page.locator("#exposure-rule")).to_have_text("超期 ≥ 2 件，或红牌 ≥ 2 张")
        expect(page.locator("#exposure li")).to_have_text(["暂无"])
        expect(page.locator("#overdue li")).to_have_text(["大武口区 · 市场监督管理局：超期 1，红牌 1"])

        # … and lowering the honor roll's volume again brings the on-time unit back.
        _set_rules(system, admin, honor_min_on_time_rate=0.98, honor_min_concluded=1, exposure_min_overdue=2,
                   exposure_min_red_cards=2)  # fmt: skip
        expect(page.locator("#honor li")).to_have_text(["兴庆区：按时率 100.0%（办结 1）"],
                                                       timeout=10_000)  # fmt: skip
        expect(page.locator("#exposure li")).to_have_text(["暂无"])
    finally:
        context.close()

    assert any("/api/v1/stats/honor" in u for u in requests)  # the boards page is covered too
    hosts = {urlsplit(u).hostname for u in requests if not u.startswith(("blob:", "data:"))}
    assert hosts == {"127.0.0.1"}, requests
