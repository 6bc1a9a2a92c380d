"""Screenshots of the main pages for the README, taken from a real stack on 127.0.0.1.

``make screenshots`` (or ``.venv/bin/python -m scripts.screenshots [--out docs/screenshots]``) brings up, in a
temp dir, Mosquitto (mTLS), ``hallmesh coordinator serve`` and three ``hallmesh agent run`` agents with the demo's
simulated hardware (a counter window with document camera, signature pad, printer and scanner; two ONVIF
cameras per agent); seeds the demo organisation and zh-CN data — items with processes, cases in several states
and places (a month of history, open cases green/yellow/red for the reviewer, one concluded past its statutory
date, one concluded today with a sealed certificate); then photographs each page in Debian's Chromium at
1440×900 (the public catalog also at 390×844) and writes palette PNGs optimised with Pillow. Everything is
stopped and removed afterwards; nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import itertools
import re
import secrets
import shutil
import sqlite3
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if __package__ in (None, ""):  # run as a file: the repository root is what the imports below need
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

if TYPE_CHECKING:
    import sqlalchemy as sa
    from playwright.sync_api import Page, ViewportSize
    from sqlmodel import Session

    from hallmesh_cli.demo_org import DemoUser
    from tests.e2e.system import System
    from workflow.cases import Case
    from workflow.scope import Scope
    from workflow.staff import Staff

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--font-render-hinting=none", "--lang=zh-CN"]  # fmt: skip
DESKTOP: ViewportSize = {"width": 1440, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
AGENTS = ("yinchuan-xingqing-w01", "yinchuan-xingqing-w02", "shizuishan-dawukou-w01")
WINDOWS_ONLY = ("wuzhong-litong-w01",)  # a window (and its unit's hall) without a running agent
CAMERAS_PER_AGENT = 2
STEPS = [
    {"key": "accept", "kind": "受理", "name": "受理", "role": "clerk", "time_limit": 0},
    {"key": "review", "kind": "审核", "name": "审核", "role": "reviewer", "time_limit": 3, "after": ["accept"]},
    {"key": "done", "kind": "办结", "name": "审批办结", "role": "approver", "time_limit": 2, "after": ["review"]},
]  # fmt: skip
# (implementation code, name, statutory working days, promised working days)
ITEMS = {
    "640104000000": [("11640104SCJG0101", "个体工商户变更登记", 15, 5), ("11640104SCJG0102", "小餐饮经营许可", 20, 10)],
    "640202000000": [("11640202SCJG0101", "个体工商户变更登记", 15, 5)],
    "640302000000": [("11640302SCJG0101", "个体工商户变更登记", 15, 5)],
}  # fmt: skip
UNIT_NAMES = {"640202000000": "大武口区", "640302000000": "利通区"}
APPLICANTS = ["王建国", "李秀英", "张伟", "刘芳", "陈静", "杨帆", "赵磊", "黄敏", "周强", "吴娜", "马海军", "丁玉梅",
              "何东升", "罗晓燕", "梁志刚", "宋丽华"]  # fmt: skip
SHOTS = [  # file, zh-CN caption, English caption
    ("staff-sign-in.png", "工作人员登录", "Staff app sign-in"),
    ("counter-workstation.png", "窗口工作台：高拍仪实时画面与材料清单", "Counter workstation: live document camera and checklist"),
    ("reviewer-queue.png", "审核待办：黄牌、红牌预警", "Reviewer queue with yellow/red urgency"),
    ("case-detail.png", "办件详情与办理时间线", "Case detail with its timeline"),
    ("technician.png", "技术人员视图：窗口终端与设备", "Technician view: the window's agent and devices"),
    ("stats-boards.png", "统计看板：光荣榜与曝光台", "Stats boards with honor roll and exposure board"),
    ("public-catalog.png", "公开办事事项目录", "Public service catalog"),
    ("public-catalog-phone.png", "公开事项目录（手机）", "Public catalog on a phone"),
    ("verify.png", "证照核验", "Certificate verification"),
    ("wall.png", "监控大屏：实时画面", "Monitoring wall with live tiles"),
]  # fmt: skip


def optimise(png: bytes, colours: int = 256) -> bytes:
    """A palette PNG (median cut, no dither on flat UI colours), optimised: a fraction of Chromium's RGB PNG."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as img:
        rgb = img.convert("RGB")
    pal = rgb.quantize(colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out = io.BytesIO()
    pal.save(out, format="PNG", optimize=True)
    return out.getvalue()


@dataclass
class Stack:
    """The running pieces and what the seed made."""

    system: System
    users: dict[str, DemoUser]
    versions: dict[str, list[int]] = field(default_factory=dict)
    windows: dict[str, int] = field(default_factory=dict)
    departments: dict[str, int] = field(default_factory=dict)
    detail_case: int = 0
    certificate: str = ""
    wall_id: int = 0


# -- seed -------------------------------------------------------------------------------------------------------


def _china(days_ago: int, hour: int = 10) -> float:
    from workflow.case_engine import CHINA

    day = dt.datetime.now(CHINA).date() - dt.timedelta(days=days_ago)
    return dt.datetime.combine(day, dt.time(hour, 17), CHINA).timestamp()


def _seed_places(session: Session, stack: Stack) -> dict[str, dict[str, Staff]]:
    """Departments, items with processes and (outside 兴庆区) staff to act as, per unit."""
    from sqlmodel import col, select

    from workflow import catalog, process
    from workflow.catalog import ItemContent, Material
    from workflow.codes import Role
    from workflow.org import Department, Window, unit_by_code
    from workflow.staff import Staff, join_roles

    people: dict[str, dict[str, Staff]] = {}
    for code, items in ITEMS.items():
        unit = unit_by_code(session, code)
        assert unit is not None
        assert unit.id is not None
        dept = session.exec(
            select(Department).where(Department.unit_id == unit.id, Department.code == "SCJG")
        ).first()
        if dept is None:
            dept = Department(unit_id=unit.id, code="SCJG", name="市场监督管理局")
            session.add(dept)
            session.flush()
        assert dept.id is not None
        window = session.exec(
            select(Window).where(Window.unit_id == unit.id).order_by(col(Window.id))
        ).first()
        assert window is not None
        assert window.id is not None
        stack.windows[code] = window.id
        stack.departments[code] = dept.id
        stack.versions[code] = []
        for impl, name, statutory, promised in items:
            content = ItemContent(
                name=name, item_type="01", level=4, statutory_limit=statutory, promised_limit=promised,
                location=f"{unit.name}政务服务中心一楼", hours="周一至周五 9:00-17:00（法定节假日除外）",
                consultation="0951-12345", service_objects=["1", "2"],
                materials=[Material(name="申请书", originals=1), Material(name="身份证明", copies=1)],
            )  # fmt: skip
            _, version = catalog.create_item(session, impl, impl[:12], unit.id, dept.id, content)
            process.set_template(session, version, process.ProcessDefinition.model_validate({"steps": STEPS}))
            catalog.publish(session, version, dt.date(2026, 1, 1), None)
            assert version.id is not None
            stack.versions[code].append(version.id)
        if code == "640104000000":
            by_no = {s.employee_no: s for s in session.exec(select(Staff)).all()}
            people[code] = {"clerk": by_no["demo-clerk"], "reviewer": by_no["demo-reviewer"],
                            "approver": by_no["demo-approver"]}  # fmt: skip
            continue
        people[code] = {}
        for role in (Role.CLERK, Role.REVIEWER, Role.APPROVER):
            staff = Staff(employee_no=f"{code[:6]}-{role}", name=f"{UNIT_NAMES[code]}{role}", unit_id=unit.id,
                          department_id=dept.id, roles=join_roles([role]))  # fmt: skip
            session.add(staff)
            people[code][str(role)] = staff
    session.commit()
    return people


class _Cases:
    """Cases moved through the case engine with the stats listener, as the coordinator does, at given times."""

    def __init__(self, session: Session, stack: Stack, people: dict[str, dict[str, Staff]]) -> None:
        from coordinator.cases.hooks import CaseHooks
        from coordinator.stats import aggregate

        self.session, self.stack, self.people = session, stack, people
        self.hooks = CaseHooks()
        self.hooks.register(aggregate.on_case_event)
        self.numbers = itertools.count(1)
        self.names = itertools.cycle(APPLICANTS)

    def scope(self, unit: str, role: str) -> Scope:
        from workflow.scope import Scope

        return Scope.of(self.session, self.people[unit][role])

    def new(self, unit: str, at: float, item: int = 0, online: bool = False) -> Case:
        """At the unit's (comprehensive) window, or online: then the item's department's and no window's."""
        from coordinator.cases import workflow as case_workflow
        from workflow import case_engine
        from workflow.case_engine import CHINA
        from workflow.cases import Case, Material

        clerk = self.people[unit]["clerk"]
        name = next(self.names)
        version = self.stack.versions[unit][item % len(self.stack.versions[unit])]
        item_name = ITEMS[unit][item % len(ITEMS[unit])][1]
        stamp = dt.datetime.fromtimestamp(at, CHINA).strftime("%Y%m%d")
        case = Case(code=f"HM{stamp}{unit[2:6]}{next(self.numbers):04d}", unit_id=clerk.unit_id,
                    window_id=None if online else self.stack.windows[unit], channel="2" if online else "1",
                    department_id=self.stack.departments[unit] if online else None, item_version_id=version,
                    title=f"{name} {item_name}", applicant_name=name, applicant_phone="13909510000",
                    opened_by=clerk.id or 0, opened_at=at)  # fmt: skip
        case_engine.submit(self.session, case, clerk.id, "clerk", at)
        case_workflow.commit_new(self.session, self.hooks, case)
        assert case.id is not None
        for n, slot in enumerate(("申请书", "身份证明")):
            self.session.add(Material(case_id=case.id, window_id=case.window_id, kind="scan", sha256=f"{n}" * 64,
                                      size=1, media_type="application/pdf", agent_id="pc", device_id="scanner-1",
                                      capture_id=f"seed-{case.id}-{n}", captured_at=at, filed_at=at, slot=slot))  # fmt: skip
        self.session.commit()
        return case

    def move(self, unit: str, role: str, case: Case, at: float | None, action: str, **kw: Any) -> None:
        from coordinator.cases import workflow as case_workflow
        from workflow.case_engine import Command
        from workflow.case_states import Action

        cmd = Command(action=Action(action), **kw)
        case_workflow.act(self.session, self.hooks, self.scope(unit, role), case.id or 0, cmd, now=at)

    def through(self, unit: str, accepted: float, reviewed: float | None = None, concluded: float | None = None,
                decision: str = "approve", item: int = 0, online: bool = False) -> Case:  # fmt: skip
        case = self.new(unit, accepted, item, online)
        self.move(unit, "clerk", case, accepted + 600, "accept")
        if reviewed is not None:
            self.move(unit, "reviewer", case, reviewed, "decide", step="review", decision="approve",
                      opinion="材料齐全，符合法定形式")  # fmt: skip
        if concluded is not None:
            self.move(unit, "approver", case, concluded, "decide", step="done", decision=decision,
                      opinion="同意" if decision == "approve" else "不符合条件，不予许可")  # fmt: skip
        return case


def seed_cases(engine: sa.Engine, stack: Stack) -> None:
    """A month of history in three counties, and today's open work at 兴庆区."""
    from sqlmodel import Session

    minute = 60.0
    with Session(engine, expire_on_commit=False) as session:
        people = _seed_places(session, stack)
        cases = _Cases(session, stack, people)
        # History: each county accepts a few cases a day over the last four weeks, concluded 1–4 days later.
        for days_ago in range(28, 1, -1):
            for n, unit in enumerate(("640104000000", "640104000000", "640202000000", "640302000000")):
                if (days_ago + n) % 3 == 0:
                    continue
                took = 1 + (days_ago + n) % 4
                if took >= days_ago:
                    continue
                cases.through(unit, _china(days_ago, 9 + n), _china(days_ago - 1, 11),
                              _china(days_ago - took, 15), item=n, online=(days_ago + n) % 2 == 0)  # fmt: skip
        # Today: 兴庆区 and 利通区 conclude on time; 大武口区 concludes one case past its statutory date.
        for unit in ("640104000000", "640302000000"):
            for n in range(3):
                cases.through(
                    unit, _china(3 + n), _china(1), time.time() - (n + 2) * minute, item=n, online=n == 0
                )
        cases.through("640202000000", _china(26), _china(20), time.time() - 5 * minute, online=True)
        cases.through("640202000000", _china(2), _china(1), time.time() - 6 * minute)
        # 兴庆区's open work for the reviewer: due in days (green), in a day or two (yellow), past due (red).
        for days_ago in (0, 1, 2, 3, 4, 6, 9, 12):
            cases.through("640104000000", _china(days_ago, 9) if days_ago else time.time() - 20 * minute,
                          item=days_ago % 2)  # fmt: skip
        detail = cases.through("640104000000", _china(5), _china(2), item=1)  # waiting for the approver
        stack.detail_case = detail.id or 0
        cases.new("640104000000", time.time() - 10 * minute)  # submitted, not yet accepted
        cases.through("640104000000", _china(8), _china(6), _china(4), decision="deny")


def _api(stack: Stack, method: str, path: str, user: str, **kw: Any) -> Any:
    import httpx

    token = _token(stack, user)
    r = httpx.request(method, f"{stack.system.base_url}{path}", headers={"Authorization": f"Bearer {token}"},
                      timeout=20, **kw)  # fmt: skip
    r.raise_for_status()
    return r.json()


_tokens: dict[str, str] = {}


def _token(stack: Stack, user: str) -> str:
    import httpx

    if user not in _tokens:
        u = stack.users[user]
        r = httpx.post(f"{stack.system.base_url}/api/v1/auth/login", timeout=20,
                       json={"employee_no": u.employee_no, "password": u.password})  # fmt: skip
        r.raise_for_status()
        _tokens[user] = r.json()["access_token"]
    return _tokens[user]


def certificate_case(stack: Stack) -> None:
    """A case concluded today through the staff API, so the running coordinator issues its sealed certificate."""
    import sqlalchemy as sa
    from sqlmodel import Session

    from tests.support import wait_until
    from workflow.cases import Material

    version = stack.versions["640104000000"][0]
    case = _api(stack, "POST", "/api/v1/cases", "demo-clerk", json={
        "item_version_id": version, "window_id": stack.windows["640104000000"], "title": "马海燕 个体工商户变更登记",
        "applicant_name": "马海燕", "applicant_phone": "13909511234"})  # fmt: skip
    case_id = case["id"]
    now = time.time()
    engine = sa.create_engine(f"sqlite:///{stack.system.sqlite_path}", connect_args={"timeout": 30})
    try:
        with Session(engine) as session:
            for n, slot in enumerate(("申请书", "身份证明")):
                session.add(Material(case_id=case_id, window_id=stack.windows["640104000000"], kind="scan",
                                     sha256=f"{n + 7}" * 64, size=1, media_type="application/pdf", agent_id="pc",
                                     device_id="scanner-1", capture_id=f"cert-{n}", captured_at=now, filed_at=now,
                                     slot=slot))  # fmt: skip
            session.commit()
    finally:
        engine.dispose()
    for who, body in (("demo-clerk", {"action": "accept"}),
                      ("demo-reviewer", {"action": "decide", "step": "review", "decision": "approve",
                                         "opinion": "材料齐全，符合法定形式"}),
                      ("demo-approver", {"action": "decide", "step": "done", "decision": "approve",
                                         "opinion": "准予变更登记"})):  # fmt: skip
        _api(stack, "POST", f"/api/v1/cases/{case_id}/actions", who, json=body)

    def issued() -> str | None:
        with sqlite3.connect(f"file:{stack.system.sqlite_path}?mode=ro", uri=True, timeout=10) as conn:
            row = conn.execute(
                "SELECT number FROM cert_certificate WHERE case_id = ? AND status = 'valid'", (case_id,)
            ).fetchone()
        return str(row[0]) if row else None

    stack.certificate = wait_until(issued, timeout=60, interval=0.2, what="certificate issued")  # type: ignore[assignment]


# -- the stack --------------------------------------------------------------------------------------------------


def bring_up(root: Path) -> tuple[Stack, Callable[[], None]]:
    import sqlalchemy as sa

    from hallmesh_cli.demo_hw import start_hardware
    from hallmesh_cli.demo_org import seed_demo
    from provisioning.broker import Broker, BrokerOptions
    from provisioning.pki import Pki
    from tests.e2e.system import make_system
    from tests.support import free_port, wait_until

    stops: list[Callable[[], None]] = []

    def stop_all() -> None:
        for stop in reversed(stops):
            try:
                stop()
            except Exception as err:  # keep stopping the rest
                print(f"warning: stopping: {err}", file=sys.stderr)

    try:
        pki = Pki.create(root / "pki")
        pki.issue_coordinator()
        broker = Broker(root / "broker", pki, BrokerOptions(port=free_port()))
        broker.start()
        stops.append(lambda: broker.stop(kill=True))
        system = make_system(root, pki, broker)
        system.extra_env["HALLMESH_JWT_SECRET"] = secrets.token_urlsafe(48)
        stops.append(system.stop)
        system.start_coordinator()
        print("coordinator up; seeding …", flush=True)
        engine = sa.create_engine(f"sqlite:///{system.sqlite_path}", connect_args={"timeout": 30})
        try:
            users = {u.employee_no: u for u in seed_demo(engine, [*AGENTS, *WINDOWS_ONLY])}
            stack = Stack(system, users)
            seed_cases(engine, stack)
        finally:
            engine.dispose()
        hw = start_hardware(root / "hardware", list(AGENTS), CAMERAS_PER_AGENT)
        stops.insert(1, hw.stop)  # after the agents and the coordinator, before the broker
        for n, agent_id in enumerate(AGENTS):
            agent = system.add_agent(agent_id, devices=2, keepalive_s=10,
                                     extra=f'[coordinator]\nurl = "{system.base_url}"\n')  # fmt: skip
            counter = hw.counter.devices_toml() if n == 0 and hw.counter is not None else ""
            agent.config.write_text(agent.config.read_text() + counter + hw.cameras_toml(agent_id))
            system.start_agent(agent_id)
        wanted = 2 + CAMERAS_PER_AGENT

        def all_up() -> bool:
            for n, agent_id in enumerate(AGENTS):
                status = system.agent_status(agent_id)
                devices = (status or {}).get("devices", [])
                if not (status and status["online"] and len(devices) >= wanted + (4 if n == 0 else 0)
                        and all(d["status"] == "up" for d in devices)):  # fmt: skip
                    return False
            return True

        wait_until(all_up, timeout=90, interval=0.5, what="agents online with their devices up")
        print("agents and devices up", flush=True)
        certificate_case(stack)
        _api(stack, "PUT", "/api/v1/stats/rules", "demo-admin", json={
            "honor_min_on_time_rate": 0.95, "honor_min_concluded": 2, "exposure_min_overdue": 1,
            "exposure_min_red_cards": 1})  # fmt: skip
        group = system.api("POST", "/api/v1/wall/groups", json={"name": "政务服务大厅", "cameras": [
            {"agent": a, "device": f"cam-{c}", "label": f"{'兴庆区' if 'xingqing' in a else '大武口区'}"
             f" {a[-1]}号窗口 {'全景' if c == 1 else '柜台'}"}
            for a in AGENTS for c in range(1, CAMERAS_PER_AGENT + 1)]})  # fmt: skip
        group.raise_for_status()
        wall = system.api("POST", "/api/v1/wall/walls", json={
            "name": "区政务服务中心", "rows": 2, "cols": 3, "group_id": group.json()["id"]})  # fmt: skip
        wall.raise_for_status()
        stack.wall_id = int(wall.json()["id"])
    except BaseException:
        stop_all()
        raise
    return stack, stop_all


# -- the pages --------------------------------------------------------------------------------------------------


def _sign_in(page: Page, user: DemoUser) -> None:
    from playwright.sync_api import expect

    page.goto("/app/#/login")
    expect(page.locator("#login-view")).to_be_visible()
    page.fill("#employee-no", user.employee_no)
    page.fill("#password", user.password)
    page.click("#signin")
    expect(page.locator("#me")).to_contain_text(user.name)


def _sign_out(page: Page) -> None:
    from playwright.sync_api import expect

    page.click("#signout")
    expect(page.locator("#login-view")).to_be_visible()


def take(stack: Stack, out: Path) -> dict[str, int]:
    from playwright.sync_api import expect, sync_playwright

    sizes: dict[str, int] = {}
    requests: list[str] = []

    def save(page: Page, name: str, full_page: bool = False) -> None:
        page.wait_for_timeout(300)  # let the last paint settle (fonts, transitions) before the picture
        data = optimise(page.screenshot(full_page=full_page, animations="disabled", caret="hide"))
        (out / name).write_bytes(data)
        sizes[name] = len(data)
        print(f"  {name}: {len(data) // 1024} KB", flush=True)

    u = stack.users
    expect.set_options(timeout=20_000)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(base_url=stack.system.base_url, viewport=DESKTOP, locale="zh-CN",
                                          timezone_id="Asia/Shanghai")  # fmt: skip
            context.set_default_timeout(30_000)
            page = context.new_page()
            page.on("request", lambda r: requests.append(r.url))

            page.goto("/app/")
            expect(page.locator("#login-view")).to_be_visible()
            page.fill("#employee-no", "demo-clerk")
            save(page, "staff-sign-in.png")

            # The counter: a new case, the live preview, one photo filed into the checklist.
            _sign_in(page, u["demo-clerk"])
            expect(page.locator("#counter-view")).to_be_visible()
            counter = page.locator(
                "#window option", has_text=AGENTS[0]
            )  # 兴庆区 has two windows: the counter's
            page.select_option("#window", value=counter.get_attribute("value") or "")
            expect(page.locator("#window-state")).to_contain_text("doccam-1")
            page.select_option("#item", label="个体工商户变更登记")
            page.fill("#case-title", "刘晓东 个体工商户变更登记（经营场所）")
            page.fill("#applicant", "刘晓东")
            page.click("#create-case")
            expect(page.locator("#current")).to_be_visible()
            expect(page.locator("#preview")).to_be_visible()
            page.click("#do-photo")
            photo = page.locator("#materials li[data-kind=photo]")
            expect(photo).to_have_count(1)
            expect(photo.locator("img")).to_have_attribute("src", re.compile(r"^blob:"))
            photo.locator("select").select_option("申请书")
            expect(page.locator('#slots li[data-slot="申请书"]')).to_have_class("filled")
            page.wait_for_function("() => document.querySelector('#preview').naturalWidth > 0")
            save(page, "counter-workstation.png")
            _sign_out(page)

            # The reviewer's queue, yellow and red first; then a case's detail with its timeline.
            _sign_in(page, u["demo-reviewer"])
            expect(page.locator("#queue-view")).to_be_visible()
            expect(page.locator("#queue tr.flag-red").first).to_be_visible()
            expect(page.locator("#queue tr.flag-yellow").first).to_be_visible()
            save(page, "reviewer-queue.png")
            _sign_out(page)
            _sign_in(page, u["demo-approver"])
            page.goto(f"/app/#/case/{stack.detail_case}")
            expect(page.locator("#d-timeline")).to_contain_text("材料齐全")
            expect(page.locator("#decide")).to_be_visible()
            page.fill("#d-opinion", "经审核，同意办结")
            save(page, "case-detail.png", full_page=True)  # down to the timeline
            _sign_out(page)

            _sign_in(page, u["demo-technician"])
            expect(page.locator("#tech-view")).to_be_visible()
            expect(page.locator("#tech")).to_contain_text("doccam-1")
            expect(page.locator("#tech")).to_contain_text("scanner-1")
            save(page, "technician.png")
            _sign_out(page)

            # The boards, read region-wide by the center's admin.
            page.goto("/boards/")
            page.fill("#employee-no", u["demo-admin"].employee_no)
            page.fill("#password", u["demo-admin"].password)
            page.click("#sign-in")
            expect(page.locator("#honor li").first).to_contain_text("兴庆区")
            expect(page.locator("#exposure li").first).to_contain_text("大武口区")
            expect(page.locator("#trend svg")).to_be_visible()
            save(page, "stats-boards.png", full_page=True)
            page.click("#logout")

            page.goto("/public/")
            expect(page.locator("#results li").first).to_be_visible()
            save(page, "public-catalog.png")

            page.goto("/verify/")
            page.fill("#number", stack.certificate)
            page.click("#by-number button[type=submit]")
            expect(page.locator("#result")).to_have_attribute("data-valid", "true")
            save(page, "verify.png")

            page.goto(f"/wall/?wall={stack.wall_id}#token={stack.system.token}")
            cells = page.locator(".cell")
            expect(cells).to_have_count(len(AGENTS) * CAMERAS_PER_AGENT)
            for i in range(len(AGENTS) * CAMERAS_PER_AGENT):
                expect(cells.nth(i)).to_have_attribute("data-status", "online", timeout=60_000)
            page.wait_for_timeout(1500)  # a few frames on every tile
            save(page, "wall.png")
            context.close()

            phone = browser.new_context(base_url=stack.system.base_url, viewport=PHONE, device_scale_factor=2,
                                        is_mobile=True, has_touch=True, locale="zh-CN")  # fmt: skip
            mobile = phone.new_page()
            mobile.on("request", lambda r: requests.append(r.url))
            mobile.goto("/public/")
            expect(mobile.locator("#results li").first).to_be_visible()
            save(mobile, "public-catalog-phone.png")
            phone.close()
        finally:
            browser.close()
    from urllib.parse import urlsplit

    hosts = {urlsplit(r).hostname for r in requests if not r.startswith(("blob:", "data:"))}
    if hosts != {"127.0.0.1"}:
        raise SystemExit(f"a page asked for something off the loopback: {sorted(map(str, hosts))}")
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots", help="where the PNGs go")
    args = parser.parse_args(argv)
    from tests.support import shared_tmpdir

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    root = shared_tmpdir("hallmesh-screenshots-")
    t0 = time.monotonic()
    try:
        stack, stop = bring_up(root)
        try:
            sizes = take(stack, out)
        finally:
            stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(
        f"{len(sizes)} screenshots in {out} ({sum(sizes.values()) // 1024} KB) in {time.monotonic() - t0:.0f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
