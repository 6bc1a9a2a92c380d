"""Through the running coordinator: ``concluded`` (approved) issues a sealed certificate; the public check
(API and the verify page in headless Chromium) says valid for it and invalid for a copy with one byte changed;
a failed print can be re-printed; revoked means invalid."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, FilePayload, Page, expect, sync_playwright

from coordinator.certificates.verify import check_signature, trust_roots
from tests.coordinator.certificates.org import DEPARTMENT, fire, make_case, make_org, make_pkcs12
from tests.coordinator.conftest import AUTH, Harness
from tests.support import wait_until

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield b
        b.close()


def _certificate(harness: Harness, case_id: int) -> dict[str, Any] | None:
    rows = harness.client.get("/api/v1/certificates", params={"case_id": case_id}, headers=AUTH).json()
    return rows[0] if rows else None


def _check_on_page(page: Page, base: str, pdf: bytes, verdict: str) -> None:
    page.goto(f"{base}/verify/")
    payload: FilePayload = {"name": "c.pdf", "mimeType": "application/pdf", "buffer": pdf}
    page.set_input_files("#file", files=[payload])
    page.click("#by-file button")
    expect(page.locator("#verdict")).to_contain_text(verdict)


def test_concluded_case_gets_a_sealed_certificate_that_anyone_can_check(
    harness: Harness, browser: Browser
) -> None:
    engine = harness.engine
    org = make_org(engine)
    case_id = make_case(engine, org)
    fire(engine, harness.coordinator.case_hooks, case_id, "concluded", {"outcome": "denied"})
    fire(engine, harness.coordinator.case_hooks, case_id, "accepted", {})
    assert _certificate(harness, case_id) is None  # only an approval issues one
    fire(engine, harness.coordinator.case_hooks, case_id, "concluded", {"outcome": "approved"})
    wait_until(
        lambda: (_certificate(harness, case_id) or {}).get("status") == "valid", 20, what="certificate"
    )
    cert = _certificate(harness, case_id)
    assert cert is not None
    number = cert["number"]
    assert cert["issuer"] == DEPARTMENT
    assert cert["holder"] == "李四"
    pdf = harness.client.get(f"/api/v1/certificates/{number}/pdf", headers=AUTH).content
    assert check_signature(pdf, trust_roots([harness.pki.ca_pem()])).ok  # sealed under the coordinator's CA

    # The window has no agent, so the print failed; a re-print is logged as one (and fails the same way).
    detail = harness.get(f"/api/v1/certificates/{number}")
    assert isinstance(detail, dict)
    (first,) = detail["prints"]
    assert first["status"] == "failed"
    assert "打印机" in first["error"]
    r = harness.client.post(
        f"/api/v1/certificates/{number}/reprint", json={"requested_by": "clerk-7"}, headers=AUTH
    )
    assert r.status_code == 202, r.text
    assert r.json()["reprint_of"] == first["id"]
    assert r.json()["requested_by"] == "clerk-7"

    # Public check, no sign-in: the original is valid; one changed byte is not.
    public = httpx.Client(base_url=str(harness.client.base_url), timeout=10)
    ok = public.post(
        "/api/v1/public/certificates/verify", content=pdf, headers={"Content-Type": "application/pdf"}
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["valid"] is True
    assert ok.json()["signer"] == DEPARTMENT
    assert ok.json()["certificate"]["holder"] == "李*"
    tampered = bytearray(pdf)
    tampered[len(pdf) // 3] ^= 0x01
    bad = public.post("/api/v1/public/certificates/verify", content=bytes(tampered))
    assert bad.json()["valid"] is False
    assert bad.json()["intact"] is False
    assert any("改动" in reason for reason in bad.json()["reasons"])
    assert public.get(f"/api/v1/public/certificates/{number}").json()["status"] == "valid"
    assert public.get("/api/v1/public/certificates/NOPE-Z01").status_code == 404
    assert (
        public.get(f"/api/v1/certificates/{number}").status_code == 401
    )  # the registry itself is not public

    # The verify page says the same.
    page = browser.new_page()
    try:
        base = str(harness.client.base_url)
        _check_on_page(page, base, pdf, "有效")
        assert page.locator("#result").get_attribute("data-valid") == "true"
        _check_on_page(page, base, bytes(tampered), "无效")
        expect(page.locator("#reasons")).to_contain_text("改动")
        page.fill("#number", number)
        page.click("#by-number button")
        expect(page.locator("#verdict")).to_contain_text("有效")
        expect(page.locator("#details")).to_contain_text(DEPARTMENT)

        # Revoked: the untouched file is no longer valid.
        r = harness.client.post(f"/api/v1/certificates/{number}/revoke", json={"reason": "申请人申请注销"},
                                headers=AUTH)  # fmt: skip
        assert r.status_code == 200, r.text
        _check_on_page(page, base, pdf, "无效")
        expect(page.locator("#reasons")).to_contain_text("注销")
    finally:
        page.close()
        public.close()
    again = harness.client.post(f"/api/v1/certificates/{number}/reprint", json={}, headers=AUTH)
    assert again.status_code == 409


def test_calibration_is_stored_per_printer_and_the_sheet_is_a_pdf(harness: Harness) -> None:
    r = harness.client.put(
        "/api/v1/printers/agent-1/printer-1/calibration",
        json={"offset_x_mm": 1.5, "offset_y_mm": -2},
        headers=AUTH,
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"offset_x_mm": 1.5, "offset_y_mm": -2.0}
    too_far = harness.client.put(
        "/api/v1/printers/agent-1/printer-1/calibration",
        json={"offset_x_mm": 50, "offset_y_mm": 0},
        headers=AUTH,
    )
    assert too_far.status_code == 422
    sheet = harness.client.get(
        "/api/v1/certificate-templates/business_licence/calibration-sheet", headers=AUTH
    )
    assert sheet.status_code == 200
    assert sheet.content.startswith(b"%PDF")
    assert (
        harness.scalar("SELECT offset_y_mm FROM cert_printer_calibration WHERE device_id = 'printer-1'")
        == -2.0
    )


def test_imported_seal_signs_and_a_new_certificate_replaces_the_old(harness: Harness) -> None:
    engine = harness.engine
    org = make_org(engine)
    p12 = make_pkcs12(b"s3cret")
    url = f"/api/v1/seals/import?department_id={org.department_id}"
    wrong = harness.client.post(url, content=p12, headers={**AUTH, "X-Pkcs12-Password": "nope"})
    assert wrong.status_code == 422
    r = harness.client.post(url, content=p12, headers={**AUTH, "X-Pkcs12-Password": "s3cret"})
    assert r.status_code == 201, r.text
    assert r.json()["source"] == "pkcs12"
    assert r.json()["department_id"] == org.department_id
    case_id = make_case(engine, org)
    hooks = harness.coordinator.case_hooks
    fire(engine, hooks, case_id, "concluded", {"outcome": "approved"})
    wait_until(lambda: (_certificate(harness, case_id) or {}).get("status") == "valid", 20, what="first")
    first = _certificate(harness, case_id)
    assert first is not None
    fire(engine, hooks, case_id, "concluded", {"outcome": "approved", "template": "business_licence"})
    wait_until(lambda: harness.scalar("SELECT count(*) FROM cert_certificate WHERE status = 'valid'") == 1
               and harness.scalar("SELECT status FROM cert_certificate WHERE number = :n", n=first["number"])
               == "replaced", 20, what="replaced")  # fmt: skip
    second = _certificate(harness, case_id)
    assert second is not None
    assert second["number"].endswith("-Z02")
    public = httpx.Client(base_url=str(harness.client.base_url), timeout=10)
    try:
        for cert, valid in ((second, True), (first, False)):
            pdf = harness.client.get(f"/api/v1/certificates/{cert['number']}/pdf", headers=AUTH).content
            result = public.post("/api/v1/public/certificates/verify", content=pdf).json()
            assert result["valid"] is valid, result
            assert result["trusted"] is True  # the imported seal's root is trusted once imported
            if not valid:
                assert any("被替换" in reason for reason in result["reasons"])
    finally:
        public.close()
