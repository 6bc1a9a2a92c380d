"""The README's screenshots: every image it shows exists under ``docs/screenshots/``, is one the screenshot
script makes, is a PNG of the promised viewport and stays small; the script's Pillow optimisation keeps a page's
look. The script itself (a whole stack and a browser, about a minute) is run by ``make screenshots``, not here."""

from __future__ import annotations

import io
import re
from pathlib import Path

from PIL import Image, ImageDraw

from scripts.screenshots import DESKTOP, PHONE, SHOTS, optimise

ROOT = Path(__file__).resolve().parents[2]
MAX_BYTES = 300 * 1024


def test_every_readme_screenshot_exists_and_is_a_small_png_the_script_makes() -> None:
    readme = (ROOT / "README.md").read_text()
    shown = re.findall(r'src="(docs/screenshots/[^"]+)"', readme)
    assert sorted(Path(s).name for s in shown) == sorted(name for name, _, _ in SHOTS)
    for rel in shown:
        path = ROOT / rel
        assert path.is_file(), rel
        assert path.stat().st_size < MAX_BYTES, (rel, path.stat().st_size)
        with Image.open(path) as img:
            assert img.format == "PNG"
            width = img.width
        if "phone" in rel:
            assert width % PHONE["width"] == 0, (rel, width)  # 390 CSS pixels at a device pixel ratio
        else:
            assert width == DESKTOP["width"], (rel, width)


def test_optimise_makes_a_smaller_palette_png_of_the_same_picture() -> None:
    img = Image.new("RGB", (400, 300), "#f6f7f9")
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, 400, 40), fill="#b3261e")
    for y in range(60, 300, 30):
        draw.text((20, y), "办件统计看板 2026-11-29", fill="#1d2329")
    raw = io.BytesIO()
    img.save(raw, format="PNG")
    small = optimise(raw.getvalue())
    assert len(small) < len(raw.getvalue())
    with Image.open(io.BytesIO(small)) as out:
        assert out.mode == "P"
        assert out.size == (400, 300)
        assert out.convert("RGB").getpixel((200, 20)) == (0xB3, 0x26, 0x1E)
