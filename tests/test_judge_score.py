"""The fitness rule on hand-made detections: passing always beats failing."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from polyface.judge import rule, score
from polyface.detect.mtcnn import Detections

tier = st.floats(0.0, 3.0, allow_nan=False)


def make_det(faces, b=None, size=(64, 64)):
    """faces: list of (image, box, prob, logit)."""
    b = b if b is not None else (max(f[0] for f in faces) + 1 if faces else 1)
    boxes = torch.tensor([f[1] for f in faces], dtype=torch.float32).reshape(-1, 4)
    probs = torch.tensor([f[2] for f in faces], dtype=torch.float32)
    logits = torch.tensor([f[3] for f in faces], dtype=torch.float32)
    inds = torch.tensor([f[0] for f in faces], dtype=torch.long)
    count = torch.bincount(inds, minlength=b)
    best_prob, best_box, best_logit = torch.zeros(b), torch.zeros(b, 4), torch.zeros(b)
    for i in range(b):
        sel = [k for k, f in enumerate(faces) if f[0] == i]
        if sel:
            k = max(sel, key=lambda k: faces[k][2])
            best_prob[i], best_box[i], best_logit[i] = probs[k], boxes[k], logits[k]
    return Detections(
        boxes, probs, logits, torch.zeros(len(faces), 5, 2), inds, count, best_prob, best_box,
        torch.zeros(b, 5, 2), best_logit, size,
    )


BIG = [8, 8, 56, 56]
SMALL = [10, 10, 30, 30]


def test_rule_needs_exactly_one_large_face():
    det = make_det(
        [(0, BIG, 0.99, 5.0), (1, SMALL, 0.99, 5.0), (2, BIG, 0.99, 5.0), (2, SMALL, 0.8, 1.0)], b=4
    )
    assert rule.portrait_rule(det, 0.5).tolist() == [True, False, False, False]
    # min_box is configurable: the small face passes a lenient rule
    assert rule.portrait_rule(det, 0.3).tolist()[1]


def test_rule_checks_width_and_height():
    det = make_det([(0, [0, 0, 60, 20], 0.99, 5.0), (1, [0, 0, 20, 60], 0.99, 5.0)])
    assert rule.portrait_rule(det).tolist() == [False, False]


@pytest.mark.parametrize("seed", range(5))
def test_passing_always_beats_failing(seed):
    rng = np.random.default_rng(seed)
    faces = []
    for i in range(40):
        kind = rng.integers(0, 4)
        if kind == 1:
            faces.append((i, BIG, float(rng.uniform(0.7, 1)), float(rng.uniform(0.8, 30))))
        elif kind == 2:
            faces.append((i, SMALL, float(rng.uniform(0.7, 1)), float(rng.uniform(0.8, 30))))
        elif kind == 3:
            faces += [(i, BIG, 1.0, 30.0), (i, SMALL, 1.0, 30.0)]
    det = make_det(faces, b=40)
    canvas = torch.tensor(rng.uniform(-20, 40, 40), dtype=torch.float32)  # even a huge fallback logit
    s = score.mtcnn_tier(det, canvas)
    passes = rule.portrait_rule(det)
    assert passes.any() and (~passes).any()
    assert s[passes].min() > s[~passes].max()
    # a face found but failing the rule beats no face at all
    found = (det.count > 0) & ~passes
    assert s[found].min() > s[det.count == 0].max()


def test_cascade_depth_is_part_of_the_slope_below_a_face():
    """Where MTCNN found no face, the cascade's depth orders the scores (alone, or averaged with
    O-Net's squashed whole-canvas log-odds), all below the face tier; a found face is unaffected."""
    det = make_det([(3, BIG, 0.995, 6.0)], b=4)
    depth = torch.tensor([0.2, 0.5, 0.9, 0.1])
    alone = score.mtcnn_tier(det, None, depth=depth)
    assert alone[0] < alone[1] < alone[2] < score.FACE_TIER <= alone[3]
    torch.testing.assert_close(alone[:3], depth[:3] * 0.999)
    logit = torch.tensor([8.0, 0.0, -4.0, 0.0])
    both = score.mtcnn_tier(det, logit, depth=depth)
    torch.testing.assert_close(both[:3], (depth[:3] + torch.sigmoid(logit[:3] / 4)) / 2 * 0.999)
    same = score.mtcnn_tier(det, torch.full((4,), 3.0), depth=depth)
    assert same[0] < same[1] < same[2] < score.FACE_TIER  # at equal log-odds the depth orders them
    assert alone[3] == both[3] == score.mtcnn_tier(det, torch.zeros(4))[3]


def test_score_keeps_climbing_after_the_probability_saturates():
    det = make_det([(0, BIG, 1.0, 17.0), (1, BIG, 1.0, 19.0)])
    s = score.mtcnn_tier(det, torch.zeros(2))
    assert s[1] > s[0] > score.PASS_TIER


def test_combine_sizes_rewards_passing_more_sizes():
    first = torch.tensor([0.5, 1.5, 2.4, 2.4, 2.9])
    second = torch.tensor([float("nan"), float("nan"), 1.2, 2.1, 2.9])
    s = score.combine_sizes([first, second])
    assert s[0] == 0.5 and s[1] == 1.5  # failing at the first size keeps the first size's score
    assert score.PASS_TIER <= s[2] < s[3] < s[4] <= 3.0


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(tier, tier, tier), min_size=2, max_size=12))
def test_combine_sizes_ranks_by_sizes_passed_first(rows):
    per_size = [torch.tensor(c, dtype=torch.float64) for c in zip(*rows)]
    s = score.combine_sizes(per_size)
    passed = [next((k for k, x in enumerate(r) if x < score.PASS_TIER), len(r)) for r in rows]
    for a in range(len(rows)):
        for b in range(len(rows)):
            if passed[a] > passed[b] >= 1 or passed[a] >= 1 > passed[b]:
                assert s[a] > s[b]


def test_landmark_plausibility_prefers_a_face_layout():
    det = make_det([(0, BIG, 0.99, 5.0), (1, BIG, 0.99, 5.0)])
    good = torch.tensor([[22.0, 25], [42, 25], [32, 35], [25, 45], [39, 45]])
    bad = torch.tensor([[22.0, 45], [42, 20], [10, 10], [25, 15], [50, 50]])
    det.best_landmarks = torch.stack([good, bad])
    p = score.landmark_plausibility(det)
    assert p[0] > 0.7 and p[1] < 0.2


def test_framing_rule_keeps_the_whole_face_in_the_picture():
    # the same large face inside the canvas, touching its edge, and running off it by 8 px (1/8)
    inside, edge, off = [8, 8, 56, 56], [0, 8, 48, 56], [-8, 8, 40, 56]
    det = make_det([(0, inside, 0.99, 5.0), (1, edge, 0.99, 5.0), (2, off, 0.99, 5.0)])
    assert rule.portrait_rule(det).tolist() == [True, True, True]  # no framing rule by default
    assert rule.portrait_rule(det, 0.5, 0.0).tolist() == [True, True, False]
    assert rule.portrait_rule(det, 0.5, 0.1).tolist() == [True, False, False]  # 6.4 px to spare
    assert rule.portrait_rule(det, 0.5, -0.125).tolist() == [True, True, True]  # may run off by 8 px
    assert rule.overhang(det, 0.0).tolist() == pytest.approx([0.0, 0.0, 0.125])


def test_framing_rule_gives_a_slope_and_ranks_cropped_faces_below_framed_ones():
    boxes = [[8, 8, 56, 56], [-4, 8, 44, 56], [-8, 8, 40, 56], [-12, 8, 36, 56]]
    det = make_det([(i, b, 0.999, 8.0) for i, b in enumerate(boxes)])
    s = score.mtcnn_tier(det, torch.zeros(4), face_margin=0.0)
    assert s[0] >= score.PASS_TIER > s[1] > s[2] > s[3] > score.FACE_TIER
    # without the rule all four pass alike
    assert (score.mtcnn_tier(det, torch.zeros(4)) >= score.PASS_TIER).all()
