"""Robust scoring: the transformations, and the aggregate over transformed copies."""

import numpy as np
import torch

from polyface.judge import score
from polyface.detect import FaceDetector
from polyface.genome import random_genome
from polyface.render.cairo import render_batch
from polyface.search.augment import AugmentSettings, augment
from polyface.judge.slack import SEARCH
from problems import portrait_problem


def _images(n=5, size=64):
    rng = np.random.default_rng(0)
    return render_batch([random_genome(rng, 20, 5) for _ in range(n)], size, antialias=False)


def test_copies_multiply_the_batch_and_copy_zero_is_untouched():
    x = _images()
    s = AugmentSettings(copies=4)
    out = augment(x, s, torch.Generator().manual_seed(1))
    assert out.shape == (20, 3, 64, 64)
    assert torch.equal(out[:5], x)
    assert 0 <= float(out.min()) and float(out.max()) <= 1
    for k in range(1, 4):  # every other copy is really transformed, the same way for each image
        assert (out[5 * k : 5 * k + 5] - x).abs().mean() > 1e-3


def test_same_seed_same_draws_other_seed_differs():
    x = _images()
    s = AugmentSettings(copies=3)
    a = augment(x, s, torch.Generator().manual_seed(7))
    b = augment(x, s, torch.Generator().manual_seed(7))
    c = augment(x, s, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_no_transformation_is_the_identity():
    x = _images()
    s = AugmentSettings(copies=2, shift=0, scale=0, rotate=0, blur=0, colour=0)
    out = augment(x, s, torch.Generator().manual_seed(3))
    assert torch.allclose(out[5:], x, atol=1e-5)


def test_score_is_the_mean_over_copies_on_a_fixed_batch():
    rng = np.random.default_rng(4)
    genomes = [random_genome(rng, 20, 5) for _ in range(6)]
    det = FaceDetector()
    s = AugmentSettings(copies=3)
    problem = portrait_problem(det, work_size=64, search_sizes=(), augment=s, landmarks=0.5)
    got = problem.score_batch(genomes, seed=11)

    images = augment(render_batch(genomes, 64, antialias=False), s, torch.Generator().manual_seed(11))
    d, depth = det.detect_depth(
        images, thresholds=SEARCH.thresholds, skip_below=SEARCH.skip_below * 0.5 * 64,
        depth_side=SEARCH.depth_side * 0.5 * 64,
    )
    logit = torch.where(d.count == 0, det.onet_logit(images), torch.zeros(len(images)))
    each = score.mtcnn_tier(d, logit, 0.5, 0.5, depth=depth).view(3, 6)
    np.testing.assert_allclose(got.scores, each.mean(0).double().numpy(), atol=1e-6)
