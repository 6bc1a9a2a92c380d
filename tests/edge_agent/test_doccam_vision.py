"""Finding, rectifying and cleaning up a document in frames of the document-camera simulator: the detected
corners are within 2 % of the true ones, the rectified image is the page (white border, the marker box where
the page has it), and an empty desk is refused with a reason."""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from edge_agent import doccam_vision as vision
from simulators.doccam import MARKER_BOX, DoccamSim, DoccamSimOptions, Scene, SceneTruth

TOLERANCE = 0.02
"""Of the frame's width (x) and height (y)."""

# Seeds cover all five desks (oak 11, walnut 21, green mat 1, grey 4, blue 0); the last two are strong skews.
SCENES = [
    Scene(seed=0),
    Scene(seed=1),
    Scene(seed=4),
    Scene(seed=11),
    Scene(seed=21),
    Scene(seed=40, angle=45.0, tilt_x=25.0, tilt_y=-25.0),
    Scene(seed=41, angle=-40.0, tilt_x=-22.0, tilt_y=22.0),
]


@cache
def _sim(width: int, height: int) -> DoccamSim:
    return DoccamSim(DoccamSimOptions(width=width, height=height, variants=1))  # rendered, not served


def frame_of(scene: Scene, width: int = 1920, height: int = 1080) -> tuple[vision.Image, SceneTruth]:
    """A frame as the camera sends it (JPEG, sensor noise) and the truth about it."""
    sim = _sim(width, height)
    truth = sim.set_scene(scene)
    jpeg = sim.frame()[1]
    return np.asarray(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR), np.uint8), truth


def corner_error(found: npt.NDArray[np.float64], truth: SceneTruth) -> float:
    """The largest corner error as a fraction of the frame's width (x) or height (y)."""
    assert truth.corners is not None
    return float((np.abs(found - truth.corners) / [truth.width, truth.height]).max())


def locate_marker(page: vision.Image) -> tuple[float, float, float, float]:
    """Where the solid black box is in a rectified page: (x0, y0, x1, y1) as fractions of width/height.

    Text, table lines and the seal are thin; an opening with a kernel of 2 % of the page width leaves only
    the box.
    """
    h, w = page.shape[:2]
    dark = (cv2.cvtColor(page, cv2.COLOR_BGR2GRAY) < 100).astype(np.uint8)
    k = max(3, w // 50)
    solid = cv2.morphologyEx(dark, cv2.MORPH_OPEN, np.ones((k, k), np.uint8))
    contours, _ = cv2.findContours(solid, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    assert contours, "no solid dark box in the rectified page"
    x, y, bw, bh = cv2.boundingRect(max(contours, key=cv2.contourArea))
    return x / w, y / h, (x + bw) / w, (y + bh) / h


def assert_is_the_page(page: vision.Image) -> None:
    """A rectified page: page-white all round its border, the marker box within 2 % of where it belongs."""
    h, w = page.shape[:2]
    band = max(2, round(0.01 * min(w, h)))
    gray = cv2.cvtColor(page, cv2.COLOR_BGR2GRAY)
    border = np.concatenate(
        [gray[:band].ravel(), gray[-band:].ravel(), gray[:, :band].ravel(), gray[:, -band:].ravel()]
    )
    assert border.mean() > 200, f"border mean {border.mean():.0f} is not paper"
    assert (border > 150).mean() > 0.99, "desk shows along the border"
    found = locate_marker(page)
    assert np.abs(np.array(found) - np.array(MARKER_BOX)).max() < TOLERANCE, (found, MARKER_BOX)


@pytest.mark.parametrize("scene", SCENES, ids=lambda s: f"seed{s.seed}")
def test_corners_within_two_percent_and_the_rectified_image_is_the_page(scene: Scene) -> None:
    frame, truth = frame_of(scene)
    found = vision.detect_document(frame)
    assert found.corners is not None, found.reason
    assert corner_error(found.corners, truth) < TOLERANCE
    assert corner_error(found.corners, truth) < 0.002  # in fact sub-pixel to a pixel or two
    size = vision.page_size(found.corners, (210.0, 297.0), 150)
    assert size == (1240, 1754)
    raw = vision.rectify(frame, found.corners, size)
    assert raw.shape == (1754, 1240, 3)
    assert_is_the_page(raw)
    assert_is_the_page(vision.clean_up(raw))


@pytest.mark.parametrize("seed", [3, 38])
def test_two_megapixel_frames(seed: int) -> None:
    frame, truth = frame_of(Scene(seed=seed), 1600, 1200)
    corners = vision.find_document(frame)
    assert corners is not None
    assert corner_error(corners, truth) < TOLERANCE
    assert_is_the_page(vision.rectify(frame, corners, vision.page_size(corners)))


@pytest.mark.parametrize("seed", [2, 4, 11])
def test_an_empty_desk_is_no_document_and_says_why(seed: int) -> None:
    frame, truth = frame_of(Scene(seed=seed, empty=True))
    assert truth.corners is None
    found = vision.detect_document(frame)
    assert found.corners is None
    assert found.reason
    assert vision.find_document(frame) is None


def test_blank_and_malformed_frames_are_no_document() -> None:
    grey = np.full((480, 640, 3), 128, np.uint8)
    assert vision.detect_document(grey).corners is None
    white = np.full((480, 640, 3), 250, np.uint8)  # all paper, no edge: not a page lying on a desk
    assert vision.detect_document(white).corners is None
    assert "not a BGR frame" in vision.detect_document(np.zeros((480, 640), np.uint8)).reason


def test_a_small_card_is_too_small_for_a_page() -> None:
    frame = np.full((1080, 1920, 3), (50, 90, 40), np.uint8)
    cv2.rectangle(frame, (900, 500), (1100, 620), (245, 245, 245), -1)  # a business card
    found = vision.detect_document(frame)
    assert found.corners is None
    assert "too small" in found.reason


def test_order_corners_starts_at_the_top_edge_and_runs_clockwise() -> None:
    upright = np.array([[100.0, 50.0], [300.0, 50.0], [300.0, 330.0], [100.0, 330.0]])
    rng = np.random.default_rng(1)
    for angle in (-45.0, -20.0, 0.0, 30.0, 48.0):
        centre = upright.mean(axis=0)
        a = np.radians(angle)
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        turned = (upright - centre) @ rot.T + centre
        shuffled = turned[rng.permutation(4)]
        assert np.allclose(vision.order_corners(shuffled), turned), angle


def test_page_size_follows_how_the_page_lies() -> None:
    portrait = np.array([[0.0, 0.0], [210.0, 0.0], [210.0, 297.0], [0.0, 297.0]])
    landscape = np.array([[0.0, 0.0], [297.0, 0.0], [297.0, 210.0], [0.0, 210.0]])
    assert vision.page_size(portrait, (210.0, 297.0), 200) == (1654, 2339)
    assert vision.page_size(landscape, (210.0, 297.0), 200) == (2339, 1654)


def test_clean_up_whitens_uneven_tinted_paper_and_keeps_the_ink() -> None:
    h, w = 1100, 800
    ramp = np.linspace(0.7, 1.0, w, dtype=np.float32)[None, :, None]
    page = (np.full((h, w, 3), (170.0, 215.0, 235.0), np.float32) * ramp).astype(
        np.uint8
    )  # yellowish, shaded
    cv2.rectangle(page, (100, 100), (700, 260), (20, 20, 20), -1)  # a large black block
    cv2.putText(page, "TEXT", (100, 600), cv2.FONT_HERSHEY_SIMPLEX, 3, (30, 30, 30), 6)
    out = vision.clean_up(page)
    paper = out[900:1050, 50:750].reshape(-1, 3).astype(np.float32)
    assert paper.mean(axis=0).min() > 235  # white on every channel, both ends of the ramp
    assert np.ptp(paper.mean(axis=0)) < 8  # colour cast gone
    assert out[150:220, 150:650].mean() < 60  # the block stays black
