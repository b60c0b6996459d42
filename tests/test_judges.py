"""The benchmark's independent judges (benchmarks/judges.py): each sees a real face and not a
blank canvas or random polygons, at the sizes bench_transfer asks them at."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from polyface.genome import random_genome
from polyface.render.cairo import render_rgb

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
pytest.importorskip("dlib", reason="the dlib judges need pip install 'polyface[judges]'")
from judges import MIN_SIDE, make_judges  # noqa: E402

NAMES = ["lbp", "haar", "hog", "mmod"]


@pytest.fixture(scope="module")
def judges():
    return make_judges(NAMES)


@pytest.mark.parametrize("size", [128, 256, 512])
def test_judges_see_a_real_face(judges, face_crop, size):
    img = np.asarray(Image.fromarray(face_crop).resize((size, size), Image.LANCZOS))
    sides = {j.name: j.side(img) / size for j in judges}
    assert all(s >= MIN_SIDE for s in sides.values()), sides


def test_judges_see_no_face_in_noise(judges):
    blank = np.full((256, 256, 3), 128, np.uint8)
    for img in [blank] + [render_rgb(random_genome(np.random.default_rng(s), 40, 5), 256) for s in range(3)]:
        sides = {j.name: j.side(img) / 256 for j in judges}
        assert all(s < MIN_SIDE for s in sides.values()), sides


def test_hog_margin_agrees_with_its_verdict(judges, face_crop):
    """HOG's margin: >= 0 exactly where the judge accepts, the floor on a blank."""
    hog = next(j for j in judges if j.name == "hog")
    face = np.asarray(Image.fromarray(face_crop).resize((256, 256), Image.LANCZOS))
    blank = np.full((256, 256, 3), 128, np.uint8)
    assert hog.margin(face) >= 0.0 and hog.side(face) / 256 >= MIN_SIDE
    assert hog.margin(blank) == -1.5
    # A face framed so small that it is under MIN_SIDE of the portrait does not count.
    small = np.full((512, 512, 3), 128, np.uint8)
    small[176:336, 176:336] = face_crop  # its box: about 90 px, 17% of the side
    assert hog.margin(small, 0.5) >= 0.0  # seen, at least 30% of a 256 px portrait's side ...
    assert hog.margin(small) < 0.0  # ... and too small for the whole 512 px one
