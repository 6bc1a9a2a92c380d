"""The staff app's case moves and scanner settings in headless Chromium against a real coordinator (the same site
as ``test_staff_app.py``: uvicorn on 127.0.0.1, no broker, no agent).

Case detail: an approver extends a case in progress (the promised due date moves on the page) and runs a special
procedure (the clock stops, then runs again); a clerk withdraws after the confirm step (the case concludes
*withdrawn*); after an approval the clerk hands out the result, delivers it and records the applicant's rating; a
move that another person's move made illegal is refused with the server's reason on the page; the buttons follow
the ``moves`` the server computes for the person (a clerk never sees 延期, an approver never sees 撤回).

Counter: the scanner settings (source, resolution, colour, ADF page count) are what the scan request carries, and
they come back after a reload for that window.
"""

from __future__ import annotations

import time
from typing import Any

from playwright.sync_api import Page, expect
from sqlmodel import Session

from tests.dashboard import test_staff_app as base
from tests.dashboard.test_staff_app import XSS, Site, _sign_in
from workflow.cases import Material

# The same site, browser and page as test_staff_app.py (a site of this module's own: module scope).
site = base.site
browser = base.browser
page = base.page
_n = iter(range(1, 10_000))


def _post(site: Site, who: str, path: str, body: dict[str, Any]) -> Any:
    r = site.served.client.post(path, json=body, headers=site.token(who))
    assert r.status_code in (200, 201), r.text
    return r.json()


def _detail(site: Site, case_id: int, who: str = "demo-clerk") -> Any:
    r = site.served.client.get(f"/api/v1/cases/{case_id}/detail", headers=site.token(who))
    assert r.status_code == 200, r.text
    return r.json()


def _in_progress(site: Site, title: str) -> int:
    """A case accepted at the window: submitted, both required materials in their slots, accepted (the
    approver's 办结 step, 2 working days, is open)."""
    case = _post(site, "demo-clerk", "/api/v1/cases",
                 {"window_id": site.window_id, "item_version_id": site.version_id, "title": title})  # fmt: skip
    case_id = int(case["id"])
    slots = [s["name"] for s in _detail(site, case_id)["slots"]]
    with Session(site.engine) as s:
        rows = [
            Material(case_id=case_id, kind="scan", sha256=f"{next(_n):064x}", size=1, media_type="application/pdf",
                     agent_id="pc", device_id="scanner", capture_id=f"moves-{case_id}-{i}", captured_at=time.time(),
                     filed_at=time.time())
            for i in range(len(slots))
        ]  # fmt: skip
        s.add_all(rows)
        s.commit()
        ids = [m.id for m in rows]
    for material_id, slot in zip(ids, slots, strict=True):
        _post(site, "demo-clerk", f"/api/v1/cases/{case_id}/actions",
              {"action": "assign_material", "material_id": material_id, "slot": slot})  # fmt: skip
    accepted = _post(site, "demo-clerk", f"/api/v1/cases/{case_id}/actions", {"action": "accept"})
    assert accepted["state"] == "in_progress"
    return case_id


def _open_case(page: Page, site: Site, who: str, case_id: int) -> None:
    _sign_in(page, site.users[who])
    expect(page.locator("#me")).to_contain_text(site.users[who].name)
    # A fresh load (the token stays in this tab's sessionStorage): no routing after the sign-in still pending.
    page.goto("about:blank")
    page.goto(f"/app/#/case/{case_id}")
    expect(page.locator("#case-view")).to_be_visible()
    expect(page.locator("#d-code")).to_have_text(_detail(site, case_id)["case"]["code"])


def _visible_moves(page: Page) -> list[str]:
    buttons = page.locator("#move-buttons button:visible")
    return [str(b.get_attribute("data-move")) for b in buttons.all()]


def test_moves_follow_the_state_and_the_persons_roles(site: Site) -> None:
    case_id = _in_progress(site, f"角色 {XSS}")
    moves = {who: _detail(site, case_id, who)["moves"] for who in
             ("demo-clerk", "demo-reviewer", "demo-approver", "demo-dept-admin", "demo-admin", "demo-supervisor")}  # fmt: skip
    assert moves == {
        "demo-clerk": ["withdraw", "assign_material"],  # counter moves; no task of a decision step
        "demo-reviewer": [],  # may decide, but holds no open task of this case
        "demo-approver": ["decide", "special_start", "extend"],  # the open 办结 step is the approver's
        "demo-dept-admin": ["extend", "void"],
        "demo-admin": ["withdraw", "void", "assign_material"],
        "demo-supervisor": [],  # reads only
    }
    _post(
        site,
        "demo-approver",
        f"/api/v1/cases/{case_id}/actions",
        {"action": "extend", "days": 2, "opinion": "x"},
    )
    assert "extend" not in _detail(site, case_id, "demo-approver")["moves"]  # once only
    _post(site, "demo-approver", f"/api/v1/cases/{case_id}/actions",
          {"action": "special_start", "kind": "听证", "opinion": "x"})  # fmt: skip
    assert _detail(site, case_id, "demo-approver")["moves"] == ["special_end"]


def test_extend_and_a_special_procedure_in_the_page(page: Page, site: Site) -> None:
    case_id = _in_progress(site, f"延期 {XSS}")
    before = _detail(site, case_id)["case"]
    _open_case(page, site, "demo-approver", case_id)
    expect(page.locator("#moves")).to_be_visible()
    expect(page.locator("#move-extend")).to_be_visible()
    expect(page.locator("#move-special_start")).to_be_visible()
    assert sorted(_visible_moves(page)) == [
        "extend",
        "special_start",
    ]  # never 撤回, 作废, 评价 for an approver
    promised = page.locator('#d-facts dd[data-fact="promised"]')
    expect(promised).to_have_text(before["due_promised"])
    expect(page.locator('#d-facts dd[data-fact="clock"]')).to_have_text("计时中")

    # 延期: 3 more days on the promised and statutory limits.
    page.click("#move-extend")
    expect(page.locator("#form-extend")).to_be_visible()
    page.fill("#extend-days", "3")
    page.fill("#extend-reason", f"需现场核查 {XSS}")
    page.click("#submit-extend")
    expect(page.locator("#flash")).to_have_text("办理时限已延长")
    expect(page.locator("#d-timeline")).to_contain_text("延期 · +3 日")
    expect(page.locator("#d-timeline")).to_contain_text(f"需现场核查 {XSS}")
    after = _detail(site, case_id)["case"]  # read once the page has shown the move
    assert after["due_promised"] != before["due_promised"]
    expect(promised).to_have_text(after["due_promised"])
    expect(page.locator('#d-facts dd[data-fact="statutory"]')).to_have_text(after["due_statutory"])
    expect(page.locator("#move-extend")).to_be_hidden()  # only once

    # 特别程序: the clock stops, the step's task is paused, only 结束特别程序 is left.
    page.click("#move-special_start")
    page.select_option("#special-kind", "专家评审")
    page.fill("#special-reason", "组织专家评审")
    page.click("#submit-special_start")
    expect(page.locator("#d-state")).to_have_text("特别程序")
    expect(page.locator('#d-facts dd[data-fact="clock"]')).to_contain_text("已暂停 · 专家评审")
    expect(page.locator("#d-tasks li.task-paused")).to_contain_text("暂停")
    expect(page.locator("#move-special_end")).to_be_visible()
    expect(page.locator("#move-special_start")).to_be_hidden()
    expect(page.locator("#decide")).to_be_hidden()  # no open task while the clock stands
    suspended = _detail(site, case_id)
    assert suspended["case"]["state"] == "suspended"
    assert [t["status"] for t in suspended["tasks"] if t["step_key"] == "done"] == ["paused"]

    page.click("#move-special_end")
    page.fill("#special-end-note", "评审完毕")
    page.click("#submit-special_end")
    expect(page.locator("#d-state")).to_have_text("办理中")
    expect(page.locator('#d-facts dd[data-fact="clock"]')).to_have_text("计时中")
    expect(page.locator("#d-tasks li.task-open")).to_have_count(1)
    expect(page.locator("#d-timeline")).to_contain_text("特别程序结束")
    expect(page.locator("#move-special_start")).to_be_visible()
    assert _detail(site, case_id)["case"]["state"] == "in_progress"

    # English: the same facts in the other language table.
    page.click("#lang")
    expect(page.locator('#d-facts dd[data-fact="clock"]')).to_have_text("running")
    expect(page.locator("#move-special_start")).to_have_text("Start special procedure")
    expect(page.locator("#d-timeline")).to_contain_text("Extended · +3 days")
    page.click("#lang")


def test_withdraw_needs_the_confirm_step_and_concludes_the_case(page: Page, site: Site) -> None:
    case_id = _in_progress(site, f"撤回 {XSS}")
    _open_case(page, site, "demo-clerk", case_id)
    expect(page.locator("#move-withdraw")).to_be_visible()
    assert _visible_moves(page) == ["withdraw"]  # no 延期 or 特别程序 for a clerk without a step
    page.click("#move-withdraw")
    expect(page.locator("#form-withdraw")).to_be_visible()
    expect(page.locator("#form-withdraw")).to_contain_text("不能恢复")
    assert _detail(site, case_id)["case"]["state"] == "in_progress"  # nothing happens before the confirmation
    page.click("#confirm-withdraw")  # no reason: the form does not go
    expect(page.locator("#withdraw-reason")).to_be_focused()
    assert _detail(site, case_id)["case"]["state"] == "in_progress"
    page.fill("#withdraw-reason", "申请人主动撤回")
    page.click("#confirm-withdraw")
    expect(page.locator("#d-state")).to_have_text("已办结")
    expect(page.locator('#d-facts dd[data-fact="outcome"]')).to_have_text("撤回")
    expect(page.locator("#d-timeline")).to_contain_text("办结 · 撤回")
    expect(page.locator("#d-timeline")).to_contain_text("申请人主动撤回")
    expect(page.locator("#moves")).to_be_hidden()
    case = _detail(site, case_id)["case"]
    assert (case["state"], case["outcome"]) == ("concluded", "withdrawn")


def test_result_delivery_and_the_applicants_rating(page: Page, site: Site) -> None:
    case_id = _in_progress(site, f"评价 {XSS}")
    _post(site, "demo-approver", f"/api/v1/cases/{case_id}/actions",
          {"action": "decide", "step": "done", "decision": "approve"})  # fmt: skip
    _open_case(page, site, "demo-clerk", case_id)
    expect(page.locator("#d-state")).to_have_text("已办结")
    expect(page.locator('#d-facts dd[data-fact="outcome"]')).to_have_text("准予")
    assert _visible_moves(page) == ["result_ready"]

    page.click("#move-result_ready")
    page.select_option("#result-delivery", "pickup")
    page.click("#submit-result_ready")
    expect(page.locator("#d-state")).to_have_text("待领取")
    expect(page.locator("#move-deliver")).to_be_visible()
    expect(page.locator("#move-evaluate")).to_be_hidden()  # not before delivery

    page.click("#move-deliver")
    page.click("#submit-deliver")
    expect(page.locator("#d-state")).to_have_text("已送达")
    expect(page.locator("#d-timeline")).to_contain_text("送达 · 已领取")

    page.click("#move-evaluate")
    page.select_option("#eval-score", "4")
    page.fill("#eval-comment", f"窗口服务很好 {XSS}")
    page.click("#submit-evaluate")
    expect(page.locator("#d-state")).to_have_text("已评价")
    expect(page.locator("#d-timeline")).to_contain_text("评价 · 满意")
    expect(page.locator("#d-timeline")).to_contain_text(f"窗口服务很好 {XSS}")
    expect(page.locator("#moves")).to_be_hidden()
    last = _detail(site, case_id)["timeline"][-1]
    assert (last["type"], last["data"]) == ("evaluated", {"score": 4, "comment": f"窗口服务很好 {XSS}"})


def test_a_move_made_illegal_meanwhile_is_refused_on_the_page(page: Page, site: Site) -> None:
    case_id = _in_progress(site, f"拒绝 {XSS}")
    _open_case(page, site, "demo-approver", case_id)
    page.click("#move-extend")
    page.fill("#extend-days", "2")
    page.fill("#extend-reason", "需补充检验")
    # Meanwhile, at the counter, the applicant withdraws.
    _post(site, "demo-clerk", f"/api/v1/cases/{case_id}/actions", {"action": "withdraw", "opinion": "撤回"})
    page.click("#submit-extend")
    refusal = "办件当前状态为“已办结（撤回）”，不能延长办理时限"
    expect(page.locator("#move-error")).to_have_text(refusal)
    expect(page.locator("#flash")).to_contain_text(refusal)
    # The page now shows the case as it is, and the refusal stays readable.
    expect(page.locator("#d-state")).to_have_text("已办结")
    expect(page.locator("#move-extend")).to_be_hidden()
    expect(page.locator("#move-error")).to_have_text(refusal)
    assert [e["type"] for e in _detail(site, case_id)["timeline"]][-1] == "concluded"


def test_scanner_settings_are_sent_and_remembered_per_window(page: Page, site: Site) -> None:
    clerk = site.users["demo-clerk"]
    _sign_in(page, clerk)
    expect(page.locator("#counter-view")).to_be_visible()
    page.goto("about:blank")  # a fresh load: no counter set-up after the sign-in still pending
    page.goto("/app/#/counter")
    expect(page.locator("#counter-view")).to_be_visible()
    expect(page.locator("#item option", has_text=XSS)).to_have_count(1)
    page.select_option("#item", label=f"事项 {XSS}")
    page.click("#create-case")
    expect(page.locator("#current")).to_be_visible()
    expect(page.locator("#scan-pages-box")).to_be_hidden()  # flatbed: one page, no count
    page.select_option("#scan-source", "ADF")
    expect(page.locator("#scan-pages-box")).to_be_visible()
    expect(page.locator("#scan-count-box")).to_be_hidden()  # until the feeder is empty, by default
    page.select_option("#scan-resolution", "200")
    page.select_option("#scan-mode", "Gray")
    with page.expect_request(lambda r: r.url.endswith("/captures") and r.method == "POST") as sent:
        page.click("#do-scan")
    assert sent.value.post_data_json == {
        "device_kind": "scanner", "args": {"source": "ADF", "resolution": 200, "mode": "Gray"},
    }  # fmt: skip
    page.select_option("#scan-pages-mode", "count")
    page.fill("#scan-pages", "4")
    page.locator("#scan-pages").dispatch_event("change")
    with page.expect_request(lambda r: r.url.endswith("/captures") and r.method == "POST") as sent:
        page.click("#do-scan")
    body = sent.value.post_data_json
    assert body is not None
    assert body["args"] == {
        "source": "ADF",
        "resolution": 200,
        "mode": "Gray",
        "pages": 4,
    }
    # The window's agent is not connected: the refusal is on the page, the settings stay.
    expect(page.locator("#flash")).to_contain_text("操作失败")
    key = f"hallmesh.scan.{site.window_id}"
    assert page.evaluate(f"JSON.parse(localStorage.getItem('{key}'))") == {
        "source": "ADF", "resolution": 200, "mode": "Gray", "pages": 4,
    }  # fmt: skip

    page.reload()
    expect(page.locator("#counter-view")).to_be_visible()
    expect(page.locator("#window")).to_have_value(str(site.window_id))
    expect(page.locator("#scan-source")).to_have_value("ADF")
    expect(page.locator("#scan-resolution")).to_have_value("200")
    expect(page.locator("#scan-mode")).to_have_value("Gray")
    expect(page.locator("#scan-pages-mode")).to_have_value("count")
    expect(page.locator("#scan-pages")).to_have_value("4")
    # Nothing remembered for the window: the defaults.
    page.evaluate(f"localStorage.removeItem('{key}')")
    page.reload()
    expect(page.locator("#counter-view")).to_be_visible()
    expect(page.locator("#scan-source")).to_have_value("Flatbed")
    expect(page.locator("#scan-resolution")).to_have_value("300")
    page.click("#lang")
    expect(page.locator("#scan-source option[value=ADF]")).to_have_text("Document feeder (ADF)")
    expect(page.locator("#scan-mode option[value=Lineart]")).to_have_text("Black and white")
    page.click("#lang")


def test_counter_moves_before_acceptance_precheck_supplement_and_not_accept(page: Page, site: Site) -> None:
    case = _post(site, "demo-clerk", "/api/v1/cases",
                 {"window_id": site.window_id, "item_version_id": site.version_id, "title": f"不予受理 {XSS}"})  # fmt: skip
    case_id = int(case["id"])
    _open_case(page, site, "demo-clerk", case_id)
    expect(page.locator("#move-precheck")).to_be_visible()
    assert _visible_moves(page) == ["precheck", "not_accept", "withdraw"]
    page.click("#move-precheck")
    page.fill("#precheck-note", "材料初审")
    page.click("#submit-precheck")
    expect(page.locator("#d-state")).to_have_text("预审中")
    expect(page.locator("#move-precheck")).to_be_hidden()
    # the applicant is told once what is missing; what they bring back is recorded as received
    _post(site, "demo-clerk", f"/api/v1/cases/{case_id}/actions",
          {"action": "request_supplement", "missing": ["身份证明"], "opinion": "缺身份证明"})  # fmt: skip
    page.reload()
    expect(page.locator("#move-supplement")).to_be_visible()
    page.click("#move-supplement")
    page.fill("#supplemented-note", "身份证明复印件")
    page.click("#submit-supplement")
    expect(page.locator("#d-timeline")).to_contain_text("身份证明复印件")
    assert _detail(site, case_id)["case"]["state"] != "supplement_requested"
    # not accepting is final: it needs the confirm step and a reason
    expect(page.locator("#move-not_accept")).to_be_visible()
    page.click("#move-not_accept")
    expect(page.locator("#form-not_accept")).to_contain_text("说明理由")
    page.click("#confirm-not_accept")  # no reason: the form does not go
    expect(page.locator("#not-accept-reason")).to_be_focused()
    assert _detail(site, case_id)["case"]["state"] != "not_accepted"
    page.fill("#not-accept-reason", "不属于本机关职权范围")
    page.click("#confirm-not_accept")
    expect(page.locator("#d-state")).to_have_text("不予受理")
    expect(page.locator("#d-timeline")).to_contain_text("不属于本机关职权范围")
    assert _detail(site, case_id)["case"]["state"] == "not_accepted"
