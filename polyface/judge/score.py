"""The whole composition of a score: every tier, every member's term, the consensus over
members, views and sizes, and every constant they use, in one place (docs/scoring.md).

Scores live on a tiered scale, so that every candidate that passes the portrait rule beats
every one that fails it, and progress stays measurable on both sides:

* ``[0, 1)``  no face found: how far towards one (a member's smooth signal below detection);
* ``[1, 2)``  a face found, but not exactly one face of the rule's size inside the frame, or
  not sure enough;
* ``[2, 3]``  the portrait rule met: the margin above the bar pushes the score towards 3.

A batch's score: each member's tier (``detector_tier``, ``prior_tier``, ``gate_tier``), their
consensus (``ensemble_score``: the lowest, lifted by the others' lead), the mean over the views
of robust scoring, then the sizes folded smallest first (``combine_sizes``).
"""

from __future__ import annotations

import torch

from polyface.detect.types import Detections
from polyface.judge.rule import coverage, log_odds, portrait_rule
from polyface.limits import NO_MARGIN

FACE_TIER = 1.0  # the lowest score of a candidate in which a member finds a face
PASS_TIER = 2.0  # the lowest score of a candidate that passes the portrait rule
TOP = 3.0  # the highest score
BELOW = 0.999  # a slope below a tier stays this share short of the next tier
LOGIT_SCALE = 20.0  # MTCNN face log-odds above the bar at which the margin term saturates
BLAZE_LOGIT_SCALE = 10.0  # the same for BlazeFace (its logits are clipped at 100)
FALLBACK_LOGIT_SCALE = 4.0  # below a face, a network's whole-canvas log-odds squashed by sigmoid(logit / this)
TIE_BREAK = 0.4  # share of the room left in the lowest member's tier that the others' lead can fill
TIE_ROOM = 0.9999  # below the pass tier, the lift stops this far into the lowest member's tier
SIZE_MARGIN_CAP = 0.999  # passing sizes' margin term held below 1: one size more always ranks higher


def detector_tier(
    det: Detections,
    fallback_logit: torch.Tensor | None,
    min_box: float = 0.5,
    logit_scale: float = LOGIT_SCALE,
    shape: torch.Tensor | None = None,
    min_prob: float = 0.5,
    face_margin: float = NO_MARGIN,
    depth: torch.Tensor | None = None,
) -> torch.Tensor:
    """(B,) one detector's scores on the tiered scale, for any detector's ``Detections``.

    ``fallback_logit`` is the detector's face log-odds where it found no face (a smooth
    slope below detection); ``depth`` in [0, 1], where given, is how far each image got
    towards a face (``FaceDetector.detect_depth``): the slope is then the mean of the two, or
    the depth alone without log-odds. A candidate passes when the portrait rule holds and the best
    face's probability reaches ``min_prob``; a face below that bar climbs through ``[1, 2)`` by
    its log-odds and by how far its box is towards the rule's size and frame (``coverage``).
    Passing candidates get ``2 + margin`` of the log-odds above the bar (saturating
    ``logit_scale`` above it), scaled by ``shape`` in [0, 1] when given.
    """
    bar = log_odds(min_prob)
    passes = portrait_rule(det, min_box, face_margin) & (det.best_logit >= bar)
    if depth is None:
        fallback = torch.sigmoid(fallback_logit / FALLBACK_LOGIT_SCALE)
    elif fallback_logit is None:
        fallback = depth.clamp(0.0, 1.0)
    else:  # both: the whole image's look and how far the detector's own windows got
        fallback = (torch.sigmoid(fallback_logit / FALLBACK_LOGIT_SCALE) + depth.clamp(0.0, 1.0)) / 2
    fallback = fallback * BELOW
    strength = (det.best_logit / bar).clamp(0.0, 1.0) if bar > 0 else det.best_prob
    found = FACE_TIER + BELOW * strength * coverage(det, min_box, face_margin) / det.count.clamp(min=1).float()
    m = ((det.best_logit - bar) / logit_scale).clamp(0.0, 1.0)
    if shape is not None:
        m = m * shape
    return torch.where(passes, PASS_TIER + m, torch.where(det.count > 0, found, fallback))


def mtcnn_tier(
    det: Detections,
    canvas_logit: torch.Tensor | None,
    min_box: float = 0.5,
    landmark_weight: float = 0.0,
    min_prob: float = 0.5,
    face_margin: float = NO_MARGIN,
    depth: torch.Tensor | None = None,
) -> torch.Tensor:
    """(B,) MTCNN's term: ``detector_tier`` with O-Net's whole-canvas log-odds and the cascade's
    depth below a face, and the margin scaled down by implausible landmarks (``shape_weight``)."""
    shape = shape_weight(det, landmark_weight)
    return detector_tier(det, canvas_logit, min_box, LOGIT_SCALE, shape, min_prob, face_margin, depth)


def prior_tier(corr: torch.Tensor, gate: float) -> torch.Tensor:
    """(B,) the face-layout prior on the tiered scale: a correlation with the mean face of at
    least ``gate`` passes with margin ``corr``; below it the score climbs through ``[1, 2)``."""
    below = FACE_TIER + BELOW * ((corr + 1) / (gate + 1)).clamp(0.0, 1.0)
    return torch.where(corr >= gate, PASS_TIER + corr.clamp(0.0, 1.0), below)


def gate_tier(depth: torch.Tensor, found: torch.Tensor) -> torch.Tensor:
    """(B,) a yes/no detector (Haar) on the tiered scale: ``TOP`` where it finds the face, and
    ``1 + depth`` below (``depth`` in [0, 1]: how far into the cascade the best window got)."""
    return torch.where(found, torch.full_like(depth, TOP), FACE_TIER + BELOW * depth.clamp(0.0, 1.0))


def ensemble_score(tiers: list[torch.Tensor]) -> torch.Tensor:
    """(B,) the consensus of several members' tiered scores: the lowest, so that no member
    can be maxed out while another still says no, lifted towards the top of its tier by the
    others' lead (so every member's progress counts), at most ``TIE_BREAK`` of the way.

    Every candidate that one member rejects (below ``PASS_TIER``) therefore ranks below every
    candidate that all of them accept.
    """
    stacked = torch.stack(tiers)  # (D,B)
    low = stacked.amin(0)
    if len(tiers) == 1:
        return low
    tier = low.floor().clamp(max=PASS_TIER)
    cap = torch.where(tier >= PASS_TIER, torch.full_like(low, TOP), tier + TIE_ROOM)
    gap = (stacked.mean(0) - low) / (TOP - low).clamp(min=1e-6)  # in [0, 1]: how far the others are ahead
    return low + (cap - low).clamp(min=0.0) * TIE_BREAK * gap


def combine_sizes(per_size: list[torch.Tensor]) -> torch.Tensor:
    """Fold tiered scores taken at several sizes (smallest first) into one (B,) score.

    A candidate's score is its first size's score until it passes there; passing sizes
    then count: ``2 + (j - 1 + m) / n`` where j sizes passed in a row and m is the lowest
    margin among them, held below 1 so that passing one size more always ranks higher.
    Sizes after the first failure are ignored (and need not be scored: pass NaN there).
    """
    n = len(per_size)
    first = per_size[0]
    stacked = torch.stack(per_size)  # (n,B)
    ok = stacked >= PASS_TIER
    run = torch.cumprod(ok.long(), dim=0)  # 1 while every size so far passed
    j = run.sum(0)
    m = torch.where(run.bool(), stacked - PASS_TIER, torch.full_like(stacked, 2.0)).amin(0).clamp(max=SIZE_MARGIN_CAP)
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


def shape_weight(det: Detections, landmark_weight: float) -> torch.Tensor | None:
    """(B,) the factor on MTCNN's margin from how face-like its landmarks lie (None: no factor)."""
    if landmark_weight <= 0:
        return None
    return (1 - landmark_weight) + landmark_weight * landmark_plausibility(det)
