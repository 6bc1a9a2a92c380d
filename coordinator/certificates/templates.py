"""Certificate templates per result type, declared as data: page size, mode and field boxes in millimetres.

A field box is placed by the top-left corner of its text, measured from the top-left corner of the page
(the way a pre-printed form is measured with a ruler). In ``overlay`` mode (套打) only the values are printed,
onto a form that carries the labels and frames, and every box (and the seal) moves by the printer's
calibration offset; in ``full`` mode the whole certificate — frame, title, labels, values — is printed on
blank paper and no offset applies.

Values come from the case (:func:`case_values`) and from the ``fields`` of the ``concluded`` event.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final, Literal

from coordinator.certificates.errors import TemplateError

TZ: Final = dt.timezone(dt.timedelta(hours=8))
"""Dates on certificates are Beijing time."""


@dataclass(frozen=True)
class FieldBox:
    key: str
    x_mm: float
    y_mm: float
    label: str = ""
    """printed before the value in ``full`` mode (the form carries it in ``overlay`` mode)"""
    size_pt: float = 12.0


@dataclass(frozen=True)
class SealBox:
    x_mm: float
    y_mm: float
    size_mm: float = 42.0


@dataclass(frozen=True)
class Template:
    key: str
    title: str
    mode: Literal["full", "overlay"]
    fields: tuple[FieldBox, ...]
    seal: SealBox
    page_mm: tuple[float, float] = (210.0, 297.0)
    validity_years: int | None = None
    """None: no expiry"""


TEMPLATES: Final[dict[str, Template]] = {
    t.key: t
    for t in (
        Template(
            key="approval",
            title="准予行政许可决定书",
            mode="full",
            validity_years=5,
            fields=(
                FieldBox("number", 30, 62, "证照编号：", 11),
                FieldBox("holder", 30, 80, "申 请 人：", 14),
                FieldBox("holder_id_number", 30, 94, "证件号码：", 12),
                FieldBox("item", 30, 108, "许可事项：", 14),
                FieldBox("case_code", 30, 122, "办件编号：", 12),
                FieldBox("valid_until_date", 30, 136, "有 效 期：至", 12),
                FieldBox("issuer", 110, 214, "", 14),
                FieldBox("issued_date", 110, 226, "", 12),
            ),
            seal=SealBox(112, 190, 42),
        ),
        Template(
            key="business_licence",
            title="个体工商户营业执照（套打）",
            mode="overlay",
            page_mm=(297.0, 210.0),
            validity_years=None,
            fields=(
                FieldBox("number", 200, 38, size_pt=11),
                FieldBox("holder", 80, 70, size_pt=14),
                FieldBox("item", 80, 88, size_pt=14),
                FieldBox("holder_id_number", 80, 106, size_pt=12),
                FieldBox("issued_date", 80, 124, size_pt=12),
                FieldBox("valid_until_date", 80, 142, size_pt=12),
                FieldBox("issuer", 200, 172, size_pt=12),
                FieldBox("issued_date", 200, 182, size_pt=11),
            ),
            seal=SealBox(210, 150, 40),
        ),
    )
}
DEFAULT_TEMPLATE: Final = "approval"


def get_template(key: str) -> Template:
    template = TEMPLATES.get(key)
    if template is None:
        raise TemplateError(f"未知的证照模板 {key!r}：可用 {', '.join(sorted(TEMPLATES))}")
    return template


def zh_date(ts: float) -> str:
    d = dt.datetime.fromtimestamp(ts, TZ)
    return f"{d.year}年{d.month}月{d.day}日"


def valid_until(template: Template, valid_from: float) -> float | None:
    if template.validity_years is None:
        return None
    start = dt.datetime.fromtimestamp(valid_from, TZ)
    try:
        end = start.replace(year=start.year + template.validity_years)
    except ValueError:  # 29 February
        end = start.replace(year=start.year + template.validity_years, day=28)
    return (end - dt.timedelta(days=1)).timestamp()


def case_values(
    *,
    number: str,
    holder: str,
    holder_id_number: str,
    item: str,
    issuer: str,
    case_code: str,
    valid_from: float,
    valid_until_ts: float | None,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The values a template's boxes name, from the registry row (and the event's extra ``fields``)."""
    values = {
        "number": number,
        "holder": holder,
        "holder_id_number": holder_id_number,
        "item": item,
        "issuer": issuer,
        "case_code": case_code,
        "issued_date": zh_date(valid_from),
        "valid_until_date": zh_date(valid_until_ts) if valid_until_ts is not None else "长期",
    }
    for key, value in (extra or {}).items():
        values.setdefault(key, value)
    return values


def check_values(template: Template, values: dict[str, str]) -> None:
    missing = sorted({f.key for f in template.fields if f.key not in values})
    if missing:
        raise TemplateError(f"模板 {template.key} 缺少字段：{', '.join(missing)}")
