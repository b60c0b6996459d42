"""The rule that turns detections into one score per candidate.

Scores live on a tiered scale so that every candidate that passes the portrait rule beats
every one that fails it, and progress stays measurable on both sides:

* ``[0, 1)``  no face found: O-Net's face probability on the whole canvas, squashed;
* ``[1, 2)``  a face found, but not exactly one face filling ``min_box`` of the canvas;
* ``[2, 3]``  the portrait rule met: margin (face log-odds) and the number of search sizes
  that also pass push the score towards 3.
"""

from __future__ import annotations

import torch

from polyface.detect.mtcnn import Detections

PASS_TIER = 2.0
FACE_TIER = 1.0
LOGIT_SCALE = 20.0  # face log-odds at which the margin term saturates


def portrait_rule(det: Detections, min_box: float = 0.5) -> torch.Tensor:
    """(B,) bool: exactly one face, and its box spans at least ``min_box`` of width and height."""
    h, w = det.size
    bw = det.best_box[:, 2] - det.best_box[:, 0]
    bh = det.best_box[:, 3] - det.best_box[:, 1]
    return (det.count == 1) & (bw >= min_box * w) & (bh >= min_box * h)


def coverage(det: Detections, min_box: float = 0.5) -> torch.Tensor:
    """(B,) in [0, 1]: how far the best face's box is towards spanning ``min_box`` of the canvas."""
    h, w = det.size
    bw = (det.best_box[:, 2] - det.best_box[:, 0]).clamp(min=0) / (min_box * w)
    bh = (det.best_box[:, 3] - det.best_box[:, 1]).clamp(min=0) / (min_box * h)
    return torch.minimum(bw, bh).clamp(max=1.0)


def margin(logit: torch.Tensor) -> torch.Tensor:
    """Face log-odds mapped to [0, 1]: 0 at even odds, 1 at ``LOGIT_SCALE``."""
    return (logit / LOGIT_SCALE).clamp(0.0, 1.0)


def tiered_score(
    det: Detections, canvas_logit: torch.Tensor, min_box: float = 0.5, landmark_weight: float = 0.0
) -> torch.Tensor:
    """(B,) scores on the tiered scale for one image size.

    ``canvas_logit`` is O-Net's log-odds on the whole canvas (``FaceDetector.onet_logit``).
    Candidates that pass get ``2 + margin`` of the best face's log-odds, scaled down by
    implausible landmarks when ``landmark_weight`` > 0.
    """
    passes = portrait_rule(det, min_box)
    fallback = torch.sigmoid(canvas_logit / 4.0) * 0.999
    found = FACE_TIER + 0.999 * det.best_prob * coverage(det, min_box) / det.count.clamp(min=1).float()
    m = margin(det.best_logit)
    if landmark_weight > 0:
        m = m * ((1 - landmark_weight) + landmark_weight * landmark_plausibility(det))
    passed = PASS_TIER + m
    return torch.where(passes, passed, torch.where(det.count > 0, found, fallback))


def combine_sizes(per_size: list[torch.Tensor]) -> torch.Tensor:
    """Fold tiered scores taken at several sizes (smallest first) into one (B,) score.

    A candidate's score is its first size's score until it passes there; passing sizes
    then count: ``2 + (j - 1 + m) / n`` where j sizes passed in a row and m is the lowest
    margin among them. Sizes after the first failure are ignored (and need not be scored:
    pass NaN there).
    """
    n = len(per_size)
    first = per_size[0]
    stacked = torch.stack(per_size)  # (n,B)
    ok = stacked >= PASS_TIER
    run = torch.cumprod(ok.long(), dim=0)  # 1 while every size so far passed
    j = run.sum(0)
    m = torch.where(run.bool(), stacked - PASS_TIER, torch.full_like(stacked, 2.0)).amin(0).clamp(max=1.0)
    multi = PASS_TIER + (j.float() - 1 + m) / n
    return torch.where(j > 0, multi, first)


def full_pass_score(n_sizes: int) -> float:
    """The lowest score of a candidate that passes at every one of ``n_sizes`` search sizes
    (``combine_sizes`` with every size passing and a zero margin)."""
    return PASS_TIER + (n_sizes - 1) / n_sizes


def landmark_plausibility(det: Detections) -> torch.Tensor:
    """(B,) in [0, 1]: how much the best face's five landmarks are laid out like a face's.

    Eyes level and about 0.4 of the box apart, the nose between and below them, the mouth
    below the nose and centred under it. 0 where no face was found.
    """
    box, pts = det.best_box, det.best_landmarks
    bw = (box[:, 2] - box[:, 0]).clamp(min=1e-3)
    le, re, nose, ml, mr = (pts[:, i] for i in range(5))
    eye_y = (le[:, 1] + re[:, 1]) / 2
    mouth = (ml + mr) / 2
    level = torch.exp(-(((le[:, 1] - re[:, 1]) / bw / 0.08) ** 2))
    apart = torch.exp(-((((re[:, 0] - le[:, 0]) / bw) - 0.4) / 0.12) ** 2)
    between = torch.exp(-(((nose[:, 0] - (le[:, 0] + re[:, 0]) / 2) / bw / 0.1) ** 2))
    nose_low = torch.sigmoid(((nose[:, 1] - eye_y) / bw - 0.08) / 0.03)
    mouth_low = torch.sigmoid(((mouth[:, 1] - nose[:, 1]) / bw - 0.06) / 0.03)
    mouth_mid = torch.exp(-(((mouth[:, 0] - nose[:, 0]) / bw / 0.1) ** 2))
    score = (level * apart * between * nose_low * mouth_low * mouth_mid) ** (1 / 6)
    return torch.where(det.count > 0, score, torch.zeros_like(score))
