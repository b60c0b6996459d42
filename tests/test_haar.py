"""The second detector (OpenCV's Haar cascade) and its graded depth score."""

from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("cv2")

from polyface.detect.haar import HaarDepth  # noqa: E402
from polyface.genome import random_genome  # noqa: E402
from polyface.render.cairo import render_batch  # noqa: E402

from conftest import to_batch  # noqa: E402

DATA = Path(__file__).parent / "data"


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


def test_ensemble_scales_the_passing_scores_by_haar_depth():
    """Candidates that pass MTCNN keep their tier and are held back by the Haar depth, exactly as
    ``PASS_TIER + (score - PASS_TIER) * ((1 - w) + w * depth)``; the others are untouched.

    The candidates are an evolved genome (``data/fool-seed2.json``: the ``fool`` preset, seed 2,
    working size 64) and mutants of it, some of which pass at these thresholds and some not.
    """
    from polyface import fitness
    from polyface.detect import FaceDetector
    from polyface.genome import load_genome
    from polyface.search.mutate import MutationSettings, mutate
    from polyface.search.problem import PortraitProblem

    evolved = load_genome(DATA / "fool-seed2.json")
    rng = np.random.default_rng(0)
    genomes = [evolved] + [mutate(evolved, rng, MutationSettings()) for _ in range(7)]
    settings = dict(search_sizes=(), thresholds=(0.6, 0.7, 0.7))
    plain = PortraitProblem(FaceDetector(), **settings).score_batch(genomes, None)
    mixed = PortraitProblem(FaceDetector(), ensemble_weight=0.6, **settings).score_batch(genomes, None)
    passing = plain.scores >= fitness.PASS_TIER
    assert 2 <= passing.sum() < len(genomes)  # both branches are exercised
    depth = HaarDepth(min_box=0.5)(render_batch(genomes, 64, antialias=False)).numpy()
    assert depth[passing].max() < 1  # so the ensemble does hold the passing ones back
    factor = 0.4 + 0.6 * depth
    want = np.where(passing, fitness.PASS_TIER + (plain.scores - fitness.PASS_TIER) * factor, plain.scores)
    np.testing.assert_allclose(mixed.scores, want, rtol=0, atol=1e-5)
    assert np.all((mixed.scores >= fitness.PASS_TIER) == passing)  # the tier never changes
