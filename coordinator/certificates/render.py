"""Render a template to PDF with reportlab: the whole certificate, or only the values over a pre-printed form.

The CJK font (WenQuanYi Zen Hei, Debian ``fonts-wqy-zenhei``) is embedded as a subset, so the PDF prints the
same on any printer. A box's text is drawn with its top at the box's ``y_mm`` (baseline = top + the font's
ascent), which is where ``pdftotext -bbox`` reports the word's ``yMin``.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from reportlab.lib.colors import Color, black
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from coordinator.certificates.errors import TemplateError
from coordinator.certificates.templates import Template, check_values

FONT: Final = "WenQuanYiZenHei"
FONT_PATHS: Final = (
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc"),
)
SEAL_RED: Final = Color(0.86, 0.08, 0.10)
_font_lock = threading.Lock()


def font_name() -> str:
    """Register the CJK font once (thread-safe) and return its reportlab name."""
    with _font_lock:
        if FONT not in pdfmetrics.getRegisteredFontNames():
            path = next((p for p in FONT_PATHS if p.exists()), None)
            if path is None:
                raise TemplateError(
                    f"no CJK font: install fonts-wqy-zenhei ({', '.join(map(str, FONT_PATHS))})"
                )
            pdfmetrics.registerFont(TTFont(FONT, str(path), subfontIndex=0))
    return FONT


def text_top_to_baseline(size_pt: float) -> float:
    """Distance in points from the top of a line of text (its ascent) to its baseline."""
    return float(pdfmetrics.getAscent(font_name(), size_pt))


def _canvas(buf: io.BytesIO, template: Template, title: str) -> Canvas:
    width, height = template.page_mm
    c = Canvas(buf, pagesize=(width * mm, height * mm), pageCompression=1)
    c.setTitle(title)
    c.setAuthor("hallmesh")
    c.setCreator("hallmesh coordinator")
    return c


def render(template: Template, values: dict[str, str], offset_mm: tuple[float, float] = (0.0, 0.0)) -> bytes:
    """One page: in ``overlay`` mode only the values, moved by ``offset_mm`` (right, down)."""
    check_values(template, values)
    font = font_name()
    dx, dy = offset_mm if template.mode == "overlay" else (0.0, 0.0)
    height = template.page_mm[1]
    buf = io.BytesIO()
    c = _canvas(buf, template, f"{template.title} {values.get('number', '')}")
    if template.mode == "full":
        _frame(c, template, font)
    c.setFillColor(black)
    for box in template.fields:
        text = values[box.key]
        if template.mode == "full" and box.label:
            text = f"{box.label}{text}"
        baseline = (height - box.y_mm - dy) * mm - text_top_to_baseline(box.size_pt)
        c.setFont(font, box.size_pt)
        c.drawString((box.x_mm + dx) * mm, baseline, text)
    c.showPage()
    c.save()
    return buf.getvalue()


def _frame(c: Canvas, template: Template, font: str) -> None:
    width, height = template.page_mm
    c.setStrokeColor(Color(0.55, 0.42, 0.15))
    c.setLineWidth(2.0)
    c.rect(12 * mm, 12 * mm, (width - 24) * mm, (height - 24) * mm)
    c.setLineWidth(0.6)
    c.rect(15 * mm, 15 * mm, (width - 30) * mm, (height - 30) * mm)
    c.setFillColor(black)
    c.setFont(font, 24)
    c.drawCentredString(width / 2 * mm, (height - 40) * mm, template.title)


def seal_box_pt(template: Template, offset_mm: tuple[float, float]) -> tuple[float, float, float, float]:
    """The seal's rectangle in PDF points (x1, y1, x2, y2; origin bottom-left), offset like the text."""
    dx, dy = offset_mm if template.mode == "overlay" else (0.0, 0.0)
    s = template.seal
    x1 = (s.x_mm + dx) * mm
    y2 = (template.page_mm[1] - s.y_mm - dy) * mm
    return (x1, y2 - s.size_mm * mm, x1 + s.size_mm * mm, y2)


def calibration_sheet(template: Template, marks_mm: Iterable[tuple[float, float]] | None = None) -> bytes:
    """A page of crosses at known positions and rulers along two edges: print it on the form paper, measure
    how far each cross landed from its nominal place, and store the negative of that shift as the offset."""
    font = font_name()
    width, height = template.page_mm
    marks = list(marks_mm or [(20, 20), (width - 20, 20), (20, height - 20), (width - 20, height - 20)])
    buf = io.BytesIO()
    c = _canvas(buf, template, f"套打校准页 {template.key}")
    c.setLineWidth(0.25)
    for x, y in marks:
        px, py = x * mm, (height - y) * mm
        c.line(px - 6 * mm, py, px + 6 * mm, py)
        c.line(px, py - 6 * mm, px, py + 6 * mm)
        c.circle(px, py, 2 * mm)
        c.setFont(font, 7)
        c.drawString(px + 2.5 * mm, py + 2.5 * mm, f"({x:g}, {y:g}) mm")
    for x in range(0, int(width) + 1):  # ruler along the top edge, every millimetre
        tick = 5 if x % 10 == 0 else (3 if x % 5 == 0 else 1.5)
        c.line(x * mm, height * mm, x * mm, (height - tick) * mm)
    for y in range(0, int(height) + 1):  # and along the left edge
        tick = 5 if y % 10 == 0 else (3 if y % 5 == 0 else 1.5)
        c.line(0, (height - y) * mm, tick * mm, (height - y) * mm)
    c.setFont(font, 11)
    c.drawString(
        30 * mm, height / 2 * mm, f"套打校准页（{template.title}）：测量十字偏离标称位置的距离（毫米）"
    )
    c.drawString(30 * mm, (height / 2 - 7) * mm, "向右、向下为正；录入其相反数作为该打印机的校准偏移。")
    c.showPage()
    c.save()
    return buf.getvalue()
