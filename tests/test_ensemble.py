"""The ensemble in the fitness: MTCNN, BlazeFace, the face-layout prior (and Haar) must agree.

Two committed genomes anchor it with the real detectors: ``genome_mtcnn_only.json`` is a
portrait by MTCNN's rule that BlazeFace does not see, ``genome_ensemble.json`` one that both
detectors and the prior accept at 64 px.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from polyface.judge import rule, score
from polyface.judge.slack import SEARCH
from polyface.genome_io import from_dict
from polyface.detect.prior import FacePrior
from problems import portrait_problem

from conftest import to_batch

DATA = Path(__file__).parent / "data"


def _genome(name: str):
    return from_dict(json.loads((DATA / f"genome_{name}.json").read_text()))


tier = st.floats(0.0, 3.0, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(tier, tier, tier), min_size=2, max_size=12))
def test_a_candidate_one_member_rejects_never_outranks_one_all_accept(rows):
    scores = score.ensemble_score([torch.tensor(c, dtype=torch.float64) for c in zip(*rows)])
    accepted = torch.tensor([min(r) >= score.PASS_TIER for r in rows])
    assert (scores[accepted] >= score.PASS_TIER).all()
    assert (scores[~accepted] < score.PASS_TIER).all()
    if accepted.any() and (~accepted).any():
        assert scores[accepted].min() > scores[~accepted].max()


@settings(max_examples=200, deadline=None)
@given(tier, tier, st.floats(0.001, 0.5))
def test_raising_the_lowest_member_raises_the_score(a, b, step):
    lo, hi = min(a, b), max(a, b)
    before = score.ensemble_score([torch.tensor([lo]), torch.tensor([hi])])
    after = score.ensemble_score([torch.tensor([min(lo + step, hi)]), torch.tensor([hi])])
    assert float(after) >= float(before)


def test_no_member_can_be_maxed_out_while_another_says_no():
    maxed, no = torch.tensor([3.0]), torch.tensor([0.2])
    assert float(score.ensemble_score([maxed, no])) < score.FACE_TIER
    assert float(score.ensemble_score([maxed, maxed])) == 3.0


def test_blazeface_pulls_an_mtcnn_only_portrait_below_the_pass_tier(detector):
    genomes = [_genome("mtcnn_only"), _genome("ensemble")]
    plain = portrait_problem(detector, search_sizes=()).score_batch(genomes, None).scores
    both = portrait_problem(detector, search_sizes=(), blazeface=True).score_batch(genomes, None).scores
    assert (plain >= score.PASS_TIER).all()  # MTCNN alone accepts both
    assert both[0] < score.PASS_TIER <= both[1]


def test_member_tiers_are_what_the_search_combines(detector):
    """Each member's score as the search reads it: BlazeFace alone turns the MTCNN-only
    portrait down, and the consensus of the members is the search's score."""
    problem = portrait_problem(detector, search_sizes=(), blazeface=True, prior=0.3)
    genomes = [_genome("mtcnn_only"), _genome("ensemble")]
    tiers = {k: r.tier for k, r in problem.judge.readings(problem.render(genomes, 64)).items()}
    assert list(tiers) == ["mtcnn", "blazeface", "prior"]
    assert (tiers["mtcnn"] >= score.PASS_TIER).all()
    assert tiers["blazeface"][0] < score.PASS_TIER <= tiers["blazeface"][1]
    consensus = score.ensemble_score(list(tiers.values())).double().numpy()
    np.testing.assert_allclose(problem.score_batch(genomes, None).scores, consensus, rtol=1e-6)


def test_judge_reports_each_member(detector):
    problem = portrait_problem(detector, search_sizes=(), blazeface=True, prior=0.3)
    from polyface.render.cairo import render_batch

    _, votes = problem.judge.votes(render_batch([_genome("mtcnn_only")], 64, antialias=True))
    assert votes["mtcnn"] and not votes["blazeface"]
    _, votes = problem.judge.votes(render_batch([_genome("ensemble")], 64, antialias=True))
    assert votes == {"mtcnn": True, "blazeface": True, "prior": True}
    verdict = problem.verify(_genome("mtcnn_only"), (64, 96), stop_early=False)
    assert not verdict.portrait


def test_real_faces_correlate_with_the_mean_face_and_non_faces_do_not():
    skimage_data = pytest.importorskip("skimage.data")
    crops = torch.from_numpy(skimage_data.lfw_subset().astype(np.float32))[:, None].repeat(1, 3, 1, 1)
    boxes = torch.tensor([[0.0, 0.0, 25.0, 25.0]]).repeat(len(crops), 1)
    corr = FacePrior()(crops, boxes)
    faces, others = corr[:100], corr[100:]
    assert faces.mean() > 0.45 and others.mean() < 0.05
    assert (faces > 0.2).float().mean() > 0.8


def test_the_prior_reads_the_face_box_not_the_pixels_alone(face_crop, detector):
    shuffled = np.random.default_rng(0).permutation(face_crop.reshape(-1, 3)).reshape(face_crop.shape)
    x = to_batch(face_crop, shuffled)  # the same pixel values, without a face's layout
    box = detector(x[:1]).best_box.repeat(2, 1)
    face, noise = FacePrior()(x, box).tolist()
    assert face > 0.2 and abs(noise) < 0.1
    assert float(FacePrior()(x[:1], torch.zeros(1, 4))[0]) == 0.0  # an empty box says nothing


def test_the_framing_rule_turns_away_a_face_the_canvas_crops(detector):
    """``genome_ensemble`` (an ensemble portrait whose face box runs off the canvas's left edge)
    fails a rule that keeps the face inside the canvas; ``genome_framed`` (the default preset's
    portrait under that rule) passes it, with every member, at the search's sizes."""
    from polyface.render.cairo import render_batch

    cropped, framed = _genome("ensemble"), _genome("framed")
    loose = portrait_problem(detector, search_sizes=(), blazeface=True, prior=0.3)
    strict = portrait_problem(detector, search_sizes=(), blazeface=True, prior=0.3, face_margin=0.0)
    image = render_batch([cropped], 64, antialias=True)
    assert all(loose.judge.votes(image)[1].values())
    readings, votes = strict.judge.votes(image)
    assert not votes["mtcnn"] and float(rule.overhang(readings["mtcnn"].det, 0.0)[0]) > 0
    for size in (64, 128):
        assert strict.judge.votes(render_batch([framed], size, antialias=True))[1] == {
            "mtcnn": True, "blazeface": True, "prior": True,
        }
    scores = strict.score_batch([cropped, framed], None).scores
    assert scores[0] < score.PASS_TIER <= scores[1]


class _OneBox:
    """A stand-in MTCNN that finds one sure face at a fixed box (in canvas units) in every image:
    only to check which frame the search and the final check apply, not a detector."""

    device = torch.device("cpu")

    def __init__(self, box):
        self.box = box

    def __call__(self, images, thresholds=None, skip_below=None):
        from polyface.detect.types import dense_detections

        b, size = images.shape[0], images.shape[-1]
        boxes = torch.tensor([[*(v * size for v in self.box), 0.9999]] * b)
        return dense_detections(boxes, torch.arange(b), torch.zeros(b, 5, 2), torch.full((b,), 12.0), b,
                                tuple(images.shape[2:]))

    def detect_depth(self, images, thresholds=None, skip_below=None, depth_side=0.0):
        return self(images), torch.ones(images.shape[0])

    def onet_logit(self, images):
        return torch.zeros(images.shape[0])


def test_the_search_frames_the_face_tighter_than_the_final_check():
    """A face box 1% inside the canvas's left edge passes the final check's frame
    (``face_margin`` 0) but not the search's, which keeps ``FRAME_SLACK`` to spare for the box's
    drift from one size to the next; with 5% to spare it passes both."""
    from polyface.render.cairo import render_batch

    genome = _genome("framed")
    image = render_batch([genome], 64, antialias=True)
    for left, search_ok in ((0.01, False), (0.05, True)):
        problem = portrait_problem(_OneBox((left, 0.1, left + 0.8, 0.9)), search_sizes=(), face_margin=0.0, target=0.99)
        assert problem.judge.votes(image)[1]["mtcnn"]
        assert (problem.score_batch([genome], None).scores[0] >= score.PASS_TIER) == search_ok
    unframed = portrait_problem(_OneBox((0.0, 0.0, 1.0, 1.0)), search_sizes=())  # no framing rule: no slack either
    assert unframed.score_batch([genome], None).scores[0] >= score.PASS_TIER


def test_the_search_asks_more_of_the_prior_than_the_final_check():
    """A correlation with the mean face just over the gate passes the final check's prior vote
    but not the search, which asks ``PRIOR_SLACK`` more (the correlation moves a little from one
    size and render to the next); well over the gate it passes both."""
    from polyface.detect.prior import FacePrior
    from polyface.render.cairo import render_batch

    genome = _genome("framed")
    box = (0.1, 0.1, 0.9, 0.9)
    image = render_batch([genome], 64, antialias=True)
    corr = float(FacePrior()(image, torch.tensor([[v * 64 for v in box]]))[0])
    assert corr > 0.2
    for gate, search_ok in ((corr - 0.005, False), (corr - SEARCH.prior - 0.03, True)):
        problem = portrait_problem(_OneBox(box), search_sizes=(), target=0.99, prior=gate)
        assert problem.judge.votes(image)[1]["prior"]
        assert (problem.score_batch([genome], None).scores[0] >= score.PASS_TIER) == search_ok
