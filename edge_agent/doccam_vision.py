"""Finding and flattening a paper document in a document-camera frame: pure functions over numpy images.

The pipeline (docs/devices/document-camera.md):

1. :func:`detect_document` looks for the page on a downscaled copy (``DETECT_WIDTH`` px wide): paper is bright
   and colourless, so a *whiteness* map (value − saturation) thresholded with Otsu separates it from a
   coloured or textured desk; the outer contours of that mask (text, tables and seals inside the page do not
   matter) are reduced to quadrilaterals by polygon approximation of their convex hull, and a candidate must be
   large, convex, fill its quadrilateral and be clearly brighter than what surrounds it. Canny edges are the
   fallback when the mask finds nothing. Each side is then refined at full resolution: the strongest
   bright-to-dark step along the side's normal is located to sub-pixel precision at ~40 places, a robust
   line (Huber) is fitted through them, and the corners are the intersections of adjacent lines.
2. Corners come back ordered TL, TR, BR, BL as seen by the camera: the top edge is the one whose midpoint is
   highest (correct for pages turned up to ~50°).
3. :func:`rectify` warps the quadrilateral to an upright rectangle (trimming a hairline); :func:`page_size` picks that rectangle's
   size from the paper size and dpi, portrait or landscape as the page lies; :func:`clean_up` divides out the
   lighting (a smooth background estimate) so the paper becomes white and the result looks like a scan.

Coordinates follow OpenCV: pixel centres at integers, so a frame's outer border runs at −0.5 and ``w − 0.5``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt
from cv2.typing import MatLike

Image = npt.NDArray[np.uint8]
Points = npt.NDArray[np.float64]

DETECT_WIDTH: Final = 640
MIN_AREA: Final = 0.06
"""A page must cover at least this fraction of the frame."""
MIN_CONTRAST: Final = 40.0
"""Mean whiteness inside the page must exceed that of its surroundings by this much (0–255)."""
_EDGE_SAMPLES: Final = 40


@dataclass(frozen=True, slots=True)
class Detection:
    """The outcome of :func:`detect_document`: the corners (TL, TR, BR, BL), or ``None`` and why not."""

    corners: Points | None
    reason: str = ""
    contrast: float = 0.0
    area_fraction: float = 0.0


def find_document(frame: Image) -> Points | None:
    """The page's corners (4×2, TL, TR, BR, BL, frame pixels), or ``None`` when there is no document."""
    return detect_document(frame).corners


def detect_document(frame: Image, min_area: float = MIN_AREA) -> Detection:
    """Find the page in a BGR frame; see the module docstring for how."""
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.shape[0] < 32 or frame.shape[1] < 32:
        return Detection(None, f"not a BGR frame: shape {frame.shape}")
    h, w = frame.shape[:2]
    scale = min(1.0, DETECT_WIDTH / w)
    small = _u8(cv2.resize(frame, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA))
    white = _whiteness(_u8(cv2.GaussianBlur(small, (5, 5), 0)))
    best: Detection | None = None
    for contour in _mask_candidates(white) or _edge_candidates(small):
        found = _judge(contour, white, min_area)
        if found.corners is not None:
            gray = _u8(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
            corners = refine_corners(gray, found.corners / scale, radius=max(4.0, 4.0 / scale))
            return Detection(corners, "", found.contrast, found.area_fraction)
        if best is None:
            best = found
    return best or Detection(None, "no bright region that could be a page")


def _u8(image: MatLike) -> Image:
    return np.asarray(image, dtype=np.uint8)


def _whiteness(bgr: Image) -> Image:
    hsv = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)
    return _u8(cv2.subtract(hsv[:, :, 2], hsv[:, :, 1]))


def _mask_candidates(white: Image) -> list[MatLike]:
    _, mask = cv2.threshold(white, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((7, 7), np.uint8))
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return sorted(contours, key=cv2.contourArea, reverse=True)[:3]


def _edge_candidates(small: Image) -> list[MatLike]:
    gray = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (5, 5), 0)
    median = float(np.median(gray))
    edges = cv2.Canny(gray, 0.66 * median, 1.33 * median)
    edges = cv2.dilate(edges, np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(edges, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return sorted(contours, key=cv2.contourArea, reverse=True)[:5]


def _judge(contour: MatLike, white: Image, min_area: float) -> Detection:
    """Is this contour a page? Its quadrilateral (at the detection scale) or the reason it is not."""
    h, w = white.shape[:2]
    area = cv2.contourArea(contour)
    fraction = area / (w * h)
    if fraction < min_area:
        return Detection(
            None, f"largest bright region covers {fraction:.0%} of the frame, too small for a page"
        )
    quad = _quadrilateral(contour)
    if quad is None:
        return Detection(None, "the bright region is not a quadrilateral", area_fraction=fraction)
    quad_area = cv2.contourArea(quad.astype(np.float32))
    if not cv2.isContourConvex(quad.astype(np.float32)) or area < 0.85 * quad_area or quad_area > 1.15 * area:
        return Detection(None, "the bright region does not fill a quadrilateral", area_fraction=fraction)
    if _min_angle(quad) < 35.0:
        return Detection(None, "the quadrilateral is too oblique to be a page", area_fraction=fraction)
    contrast = _contrast(quad, white)
    if contrast < MIN_CONTRAST:
        return Detection(
            None,
            f"the region is not brighter than its surroundings (contrast {contrast:.0f})",
            contrast,
            fraction,
        )
    return Detection(order_corners(quad), "", contrast, fraction)


def _quadrilateral(contour: MatLike) -> Points | None:
    hull = cv2.convexHull(contour)
    perimeter = cv2.arcLength(hull, True)
    for eps in (0.01, 0.02, 0.03, 0.045, 0.06, 0.08):
        approx = cv2.approxPolyDP(hull, eps * perimeter, True)
        if len(approx) == 4:
            return approx.reshape(4, 2).astype(np.float64)
        if len(approx) < 4:
            return None
    return None


def _min_angle(quad: Points) -> float:
    angles = []
    for i in range(4):
        a, b, c = quad[i - 1], quad[i], quad[(i + 1) % 4]
        u, v = a - b, c - b
        cos = float(np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v) + 1e-9))
        angles.append(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))
    return float(min(angles))


def _contrast(quad: Points, white: Image) -> float:
    inside = np.zeros(white.shape[:2], np.uint8)
    cv2.fillConvexPoly(inside, quad.round().astype(np.int32), 255)
    size = max(3, round(0.04 * min(white.shape[:2]))) | 1
    kernel = np.ones((size, size), np.uint8)
    core = cv2.erode(inside, kernel)
    ring = cv2.subtract(cv2.dilate(inside, kernel), inside)
    if not core.any() or not ring.any():
        return 0.0
    return float(cv2.mean(white, core)[0] - cv2.mean(white, ring)[0])


def order_corners(points: Points) -> Points:
    """Order four points TL, TR, BR, BL: clockwise on screen, starting at the top edge (highest midpoint)."""
    pts = np.asarray(points, np.float64).reshape(4, 2)
    centre = pts.mean(axis=0)
    pts = pts[np.argsort(np.arctan2(pts[:, 1] - centre[1], pts[:, 0] - centre[0]))]
    mid_y = [(pts[i, 1] + pts[(i + 1) % 4, 1]) / 2 for i in range(4)]
    return np.roll(pts, -int(np.argmin(mid_y)), axis=0)


def refine_corners(gray: Image, corners: Points, radius: float) -> Points:
    """Move each side onto the page's edge in ``gray`` (sub-pixel step search + robust line fit).

    A side whose edge cannot be found keeps its coarse position; a corner that would move further than
    ``2 × radius`` is not trusted and stays where it was.
    """
    img = cv2.GaussianBlur(gray, (0, 0), 1.0).astype(np.float32)
    centre = corners.mean(axis=0)
    lines: list[tuple[Points, Points] | None] = []
    t = np.linspace(0.12, 0.88, _EDGE_SAMPLES)
    offsets = np.arange(-radius, radius + 0.25, 0.5)
    for i in range(4):
        a, b = corners[i], corners[(i + 1) % 4]
        direction = (b - a) / (np.linalg.norm(b - a) + 1e-9)
        normal = np.array([direction[1], -direction[0]])
        if np.dot((a + b) / 2 - centre, normal) < 0:
            normal = -normal  # outward
        base = a[None, :] + t[:, None] * (b - a)[None, :]
        samples = base[:, None, :] + offsets[None, :, None] * normal[None, None, :]
        map_x = samples[:, :, 0].astype(np.float32)
        map_y = samples[:, :, 1].astype(np.float32)
        profile = cv2.remap(img, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        step = np.diff(profile, axis=1)  # going outward: paper (bright) to desk (dark) is negative
        k = np.argmin(step, axis=1)
        strength = -step[np.arange(len(k)), k]
        good = (strength > 0.25 * max(float(np.median(strength)), 1.0)) & (k > 0) & (k < step.shape[1] - 1)
        if good.sum() < _EDGE_SAMPLES // 3:
            lines.append(None)
            continue
        rows, kk = np.nonzero(good)[0], k[good]
        left, mid, right = step[rows, kk - 1], step[rows, kk], step[rows, kk + 1]
        denom = left - 2 * mid + right
        sub = np.where(np.abs(denom) > 1e-6, 0.5 * (left - right) / np.where(denom == 0, 1, denom), 0.0)
        where = offsets[0] + 0.5 * (kk + 0.5 + np.clip(sub, -0.5, 0.5))
        pts = base[rows] + where[:, None] * normal[None, :]
        line = cv2.fitLine(pts.astype(np.float32), cv2.DIST_HUBER, 0, 0.01, 0.01).reshape(4)
        lines.append((line[2:4].astype(np.float64), line[0:2].astype(np.float64)))
    refined = corners.copy()
    for i in range(4):
        before, after = lines[i - 1], lines[i]  # corner i joins side i-1 and side i
        if before is None or after is None:
            continue
        point = _intersect(before, after)
        if point is not None and np.linalg.norm(point - corners[i]) <= 2 * radius:
            refined[i] = point
    return refined


def _intersect(l1: tuple[Points, Points], l2: tuple[Points, Points]) -> Points | None:
    (p, d), (q, e) = l1, l2
    matrix = np.array([[d[0], -e[0]], [d[1], -e[1]]])
    if abs(np.linalg.det(matrix)) < 1e-9:
        return None
    s = np.linalg.solve(matrix, q - p)
    point: Points = p + s[0] * d
    return point


def page_size(
    corners: Points, page_mm: tuple[float, float] = (210.0, 297.0), dpi: float = 200.0
) -> tuple[int, int]:
    """Output (width, height) in pixels: the paper size at ``dpi``, turned to how the page lies in view."""
    c = np.asarray(corners, np.float64)
    across = (np.linalg.norm(c[1] - c[0]) + np.linalg.norm(c[2] - c[3])) / 2
    down = (np.linalg.norm(c[3] - c[0]) + np.linalg.norm(c[2] - c[1])) / 2
    short, long_ = sorted(page_mm)
    w_mm, h_mm = (short, long_) if across <= down else (long_, short)
    return round(w_mm / 25.4 * dpi), round(h_mm / 25.4 * dpi)


def rectify(frame: Image, corners: Points, out_size: tuple[int, int], crop: float | None = None) -> Image:
    """Warp the quadrilateral ``corners`` (TL, TR, BR, BL) onto an upright ``out_size`` (width, height) image.

    ``crop`` output pixels are trimmed on every side (default 0.3 % of the shorter side, ~0.6 mm) so that
    the hairline where paper meets desk — half paper, half desk in any camera — does not show.
    """
    w, h = out_size
    m = 0.003 * min(w, h) if crop is None else crop
    dst = np.array(
        [[-0.5 - m, -0.5 - m], [w - 0.5 + m, -0.5 - m], [w - 0.5 + m, h - 0.5 + m], [-0.5 - m, h - 0.5 + m]],
        np.float32,
    )
    matrix = cv2.getPerspectiveTransform(np.asarray(corners, np.float32), dst)
    return _u8(
        cv2.warpPerspective(frame, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    )


def clean_up(page: Image, white: int = 248) -> Image:
    """Make a rectified page look scanned: even out the lighting and white-balance the paper to ``white``.

    The paper's own brightness is estimated on a 1/16 copy with a large maximum filter (ink and stamps
    vanish) and divided out per channel, so a yellowish cast or a shadowed corner both become white paper;
    large dark areas (a photo) are not brightened because the estimate is kept above half the paper level.
    """
    h, w = page.shape[:2]
    small = cv2.resize(page, (max(1, w // 16), max(1, h // 16)), interpolation=cv2.INTER_AREA)
    background = _u8(cv2.GaussianBlur(cv2.dilate(small, np.ones((9, 9), np.uint8)), (0, 0), 3))
    floor = np.median(background.reshape(-1, 3), axis=0) * 0.5
    background = np.maximum(background, floor.astype(np.uint8)[None, None, :])
    background = _u8(cv2.resize(background, (w, h), interpolation=cv2.INTER_LINEAR))
    return _u8(cv2.divide(page, background, scale=float(white)))
