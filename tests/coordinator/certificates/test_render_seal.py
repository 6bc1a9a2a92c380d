"""Rendering and sealing without the coordinator: overlay positions on the rendered page (poppler's
``pdftotext -bbox``), PAdES seal validated by pyHanko, one changed byte makes it invalid."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from coordinator.certificates.errors import SealError, TemplateError
from coordinator.certificates.render import calibration_sheet, render, seal_box_pt
from coordinator.certificates.seal import SealMaterial, draw_seal, import_pkcs12, issue_seal, sign_pdf
from coordinator.certificates.templates import case_values, get_template, valid_until
from coordinator.certificates.verify import check_signature, trust_roots
from provisioning.pki import Pki
from tests.coordinator.certificates.org import DEPARTMENT, make_pkcs12

MM = 72 / 25.4
BBOX = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="[\d.]+" yMax="[\d.]+">([^<]+)</word>')


def words(pdf: bytes) -> dict[str, list[tuple[float, float]]]:
    """word → (x, y) of each of its boxes' top-left corners, in millimetres from the page's top-left."""
    out = subprocess.run(["pdftotext", "-bbox", "-", "-"], input=pdf, capture_output=True, check=True).stdout
    found: dict[str, list[tuple[float, float]]] = {}
    for x, y, w in BBOX.findall(out.decode()):
        found.setdefault(w, []).append((float(x) / MM, float(y) / MM))
    return found


def at(found: list[tuple[float, float]], x_mm: float, y_mm: float) -> bool:
    return any(abs(x - x_mm) <= 0.1 and abs(y - y_mm) <= 0.1 for x, y in found)


def values(template: str = "business_licence", number: str = "HM20261128TEST-Z01") -> dict[str, str]:
    t = get_template(template)
    now = time.time()
    return case_values(
        number=number, holder="李四", holder_id_number="640104199001011234", item="个体工商户设立登记",
        issuer=DEPARTMENT, case_code="HM20261128TEST", valid_from=now, valid_until_ts=valid_until(t, now),
    )  # fmt: skip


@pytest.mark.parametrize("offset", [(0.0, 0.0), (1.5, -2.0), (-3.2, 2.7)])
def test_overlay_text_sits_at_the_template_positions_plus_the_calibration_offset(
    offset: tuple[float, float],
) -> None:
    template = get_template("business_licence")
    v = values()
    found = words(render(template, v, offset))
    for box in template.fields:
        assert at(found[v[box.key]], box.x_mm + offset[0], box.y_mm + offset[1]), (box.key, found[v[box.key]])
    assert "个体工商户营业执照" not in "".join(found)  # the form's own print is not repeated


def test_full_page_ignores_the_printer_offset_and_prints_labels() -> None:
    template = get_template("approval")
    v = values("approval")
    pdf = render(template, v, (5.0, 5.0))
    assert pdf == render(template, v) or words(pdf) == words(render(template, v))
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    assert "准予行政许可决定书" in text
    assert "申 请 人：李四" in text


def test_calibration_sheet_marks_where_it_says() -> None:
    found = words(calibration_sheet(get_template("business_licence"), [(20, 20), (277, 190)]))
    assert "(20," in found
    assert "(277," in found
    ((x, y),) = found["(277,"]  # the label sits 2.5 mm right of and above the cross
    assert x == pytest.approx(279.5, abs=0.2)
    assert y < 190


def test_unknown_template_and_missing_values_refused() -> None:
    with pytest.raises(TemplateError):
        get_template("nope")
    with pytest.raises(TemplateError, match="holder"):
        render(get_template("approval"), {k: v for k, v in values("approval").items() if k != "holder"})


@pytest.fixture
def ca(tmp_path: Path) -> Pki:
    return Pki.create(tmp_path / "pki")


def seal_material(ca: Pki, tmp_path: Path) -> tuple[SealMaterial, str]:
    new = issue_seal(ca.dir, tmp_path / "seals", DEPARTMENT, "dept-1")
    appearance = draw_seal(DEPARTMENT, tmp_path / "seals" / "dept-1.seal.pdf")
    return SealMaterial(
        DEPARTMENT, tmp_path / "seals" / new.key_file, new.cert_pem, new.chain_pem, appearance
    ), new.serial


def test_sealed_pdf_validates_and_any_changed_byte_invalidates(ca: Pki, tmp_path: Path) -> None:
    material, serial = seal_material(ca, tmp_path)
    assert (material.key_file.stat().st_mode & 0o777) == 0o600
    template = get_template("approval")
    sealed = sign_pdf(render(template, values("approval")), material, seal_box_pt(template, (0, 0)))
    roots = trust_roots([ca.ca_pem()])
    check = check_signature(sealed, roots)
    assert check.ok, check.reasons
    assert check.intact
    assert check.trusted
    assert check.whole_file
    assert check.signer == DEPARTMENT
    assert check.signer_serial == serial  # signed by the department's key
    # One changed byte anywhere — in the page, in the seal's appearance, in the signature itself — is caught.
    for where in (len(sealed) // 4, len(sealed) // 2, sealed.index(b"/Contents <") + 40, len(sealed) - 200):
        tampered = bytearray(sealed)
        tampered[where] ^= 0x01
        bad = check_signature(bytes(tampered), roots)
        assert not bad.ok, where
        assert bad.reasons, where
    # Another CA's seal is not trusted here.
    other = Pki.create(tmp_path / "other")
    assert not check_signature(sealed, trust_roots([other.ca_pem()])).ok
    # Anything appended after the seal is not covered.
    assert not check_signature(sealed + b"\n% appended\n", roots).ok


def test_imported_pkcs12_seal(tmp_path: Path) -> None:
    p12 = make_pkcs12(b"pw")
    with pytest.raises(SealError):
        import_pkcs12(p12, b"wrong", tmp_path, "dept-1")
    new = import_pkcs12(p12, b"pw", tmp_path, "dept-1")
    material = SealMaterial(
        DEPARTMENT,
        tmp_path / new.key_file,
        new.cert_pem,
        new.chain_pem,
        draw_seal(DEPARTMENT, tmp_path / "a.pdf"),
    )
    template = get_template("business_licence")
    sealed = sign_pdf(render(template, values()), material, seal_box_pt(template, (1, 1)))
    assert check_signature(sealed, trust_roots([new.chain_pem])).ok
