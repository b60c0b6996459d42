"""The benchmark's independent judges (benchmarks/judges.py): each sees a real face and not a
blank canvas or random polygons, at the sizes bench_transfer asks them at."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
pytest.importorskip("dlib", reason="the dlib judges need pip install 'polyface[judges]'")
from judges import MIN_SIDE, make_judges  # noqa: E402

NAMES = ["lbp", "haar", "hog", "mmod"]


@pytest.fixture(scope="module")
def judges():
    return make_judges(NAMES)


def _polygons(size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    im = Image.new("RGB", (size, size), (30, 30, 30))
    draw = ImageDraw.Draw(im)
    for _ in range(40):
        pts = [tuple(p) for p in rng.uniform(0, size, (5, 2))]
        draw.polygon(pts, fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    return np.asarray(im)


@pytest.mark.parametrize("size", [128, 256, 512])
def test_judges_see_a_real_face(judges, face_crop, size):
    img = np.asarray(Image.fromarray(face_crop).resize((size, size), Image.LANCZOS))
    sides = {j.name: j.side(img) / size for j in judges}
    assert all(s >= MIN_SIDE for s in sides.values()), sides


def test_judges_see_no_face_in_noise(judges):
    blank = np.full((256, 256, 3), 128, np.uint8)
    for img in [blank] + [_polygons(256, s) for s in range(3)]:
        sides = {j.name: j.side(img) / 256 for j in judges}
        assert all(s < MIN_SIDE for s in sides.values()), sides
