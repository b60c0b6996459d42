"""The second detector (OpenCV's Haar cascade) and its graded depth score."""

import numpy as np
import pytest
import torch

pytest.importorskip("cv2")

from polyface.detect.haar import HaarDepth  # noqa: E402
from polyface.genome import random_genome  # noqa: E402
from polyface.render.cairo import render_batch  # noqa: E402

from conftest import to_batch  # noqa: E402


def test_real_face_is_found_at_full_depth(face_crop):
    haar = HaarDepth(min_box=0.5)
    x = to_batch(face_crop)
    assert haar.found(x).tolist() == [True]
    assert float(haar(x)[0]) == 1.0


def test_depth_is_graded_on_random_polygons():
    haar = HaarDepth(min_box=0.5)
    rng = np.random.default_rng(0)
    x = render_batch([random_genome(rng, 50, 6) for _ in range(24)], 64, antialias=False)
    depth = haar(x).numpy()
    assert depth.min() >= 0 and depth.max() <= 1
    assert len(np.unique(depth)) >= 2  # some windows get further through the cascade than others
    assert not haar.found(torch.full((1, 3, 64, 64), 0.5))[0]


def test_ensemble_scores_stay_in_the_passing_tier():
    from polyface.detect import FaceDetector
    from polyface.search.problem import PortraitProblem

    rng = np.random.default_rng(1)
    genomes = [random_genome(rng, 20, 5) for _ in range(8)]
    plain = PortraitProblem(FaceDetector(), search_sizes=()).score_batch(genomes, None)
    mixed = PortraitProblem(FaceDetector(), search_sizes=(), ensemble_weight=0.6).score_batch(genomes, None)
    assert np.all((plain.scores >= 2) == (mixed.scores >= 2))  # the tier never changes
    assert np.all(mixed.scores <= plain.scores + 1e-6)  # Haar can only hold a pass back
