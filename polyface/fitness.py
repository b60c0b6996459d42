"""The rule that turns detections into one score per candidate.

Scores live on a tiered scale so that every candidate that passes the portrait rule beats
every one that fails it, and progress stays measurable on both sides:

* ``[0, 1)``  no face found: how far towards one (for MTCNN, the mean of how far its cascade
  got and O-Net's face probability on the whole canvas, squashed);
* ``[1, 2)``  a face found, but not exactly one face filling ``min_box`` of the canvas;
* ``[2, 3]``  the portrait rule met: margin (face log-odds) and the number of search sizes
  that also pass push the score towards 3.
"""

from __future__ import annotations

import math

import torch

from polyface.detect.mtcnn import Detections
from polyface.limits import NO_MARGIN

PASS_TIER = 2.0
FACE_TIER = 1.0
LOGIT_SCALE = 20.0  # MTCNN face log-odds at which the margin term saturates
BLAZE_LOGIT_SCALE = 10.0  # the same for BlazeFace (its logits are clipped at 100)
TIE_BREAK = 0.4  # share of the room left in the lowest member's tier that the others' lead can fill


FRAME_SLACK = 0.03  # how much tighter the search frames the face than the final check (box jitter across sizes)
PRIOR_SLACK = 0.03  # how much more the search asks of the mean-face correlation than the final check
OVERHANG_SLOPE = 0.25  # overhang (share of the side) at which ``framing`` reaches 0


def overhang(det: Detections, face_margin: float = NO_MARGIN) -> torch.Tensor:
    """(B,) how far the best face's box reaches past the frame that keeps ``face_margin`` of the
    canvas clear on every side, as a share of the canvas side (0: inside the frame)."""
    h, w = det.size
    box = det.best_box / torch.tensor([w, h, w, h], dtype=det.best_box.dtype, device=det.best_box.device)
    over = torch.cat([face_margin - box[:, :2], box[:, 2:] - (1.0 - face_margin)], 1)
    return over.amax(1).clamp(min=0.0)


def framing(det: Detections, face_margin: float = NO_MARGIN) -> torch.Tensor:
    """(B,) in [0, 1]: 1 where the best face's box lies inside the frame (``overhang`` 0), falling
    to 0 at an overhang of ``OVERHANG_SLOPE`` of the side; always 1 without a framing rule."""
    if face_margin <= NO_MARGIN:
        return torch.ones(det.best_box.shape[0], device=det.best_box.device)
    return (1.0 - overhang(det, face_margin) / OVERHANG_SLOPE).clamp(0.0, 1.0)


def portrait_rule(det: Detections, min_box: float = 0.5, face_margin: float = NO_MARGIN) -> torch.Tensor:
    """(B,) bool: exactly one face, its box spans at least ``min_box`` of width and height, and
    (with ``face_margin`` > ``NO_MARGIN``) it keeps that share of the canvas clear on every side: the
    whole face in the picture, as a portrait frames it, not cropped by the canvas's edges."""
    h, w = det.size
    bw = det.best_box[:, 2] - det.best_box[:, 0]
    bh = det.best_box[:, 3] - det.best_box[:, 1]
    ok = (det.count == 1) & (bw >= min_box * w) & (bh >= min_box * h)
    if face_margin > NO_MARGIN:
        ok &= overhang(det, face_margin) <= 0.0
    return ok


def coverage(det: Detections, min_box: float = 0.5, face_margin: float = NO_MARGIN) -> torch.Tensor:
    """(B,) in [0, 1]: how far the best face's box is towards spanning ``min_box`` of the canvas
    (and, with a framing rule, towards lying inside the frame)."""
    h, w = det.size
    bw = (det.best_box[:, 2] - det.best_box[:, 0]).clamp(min=0) / (min_box * w)
    bh = (det.best_box[:, 3] - det.best_box[:, 1]).clamp(min=0) / (min_box * h)
    return torch.minimum(bw, bh).clamp(max=1.0) * framing(det, face_margin)


def margin(logit: torch.Tensor) -> torch.Tensor:
    """Face log-odds mapped to [0, 1]: 0 at even odds, 1 at ``LOGIT_SCALE``."""
    return (logit / LOGIT_SCALE).clamp(0.0, 1.0)


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
    face's probability reaches ``min_prob`` (the same bar as the final check); a face below
    that bar climbs through ``[1, 2)`` by its log-odds and by how far its box is towards the
    rule's size and frame (``coverage``). Passing candidates get ``2 + margin``
    of the log-odds above the bar (saturating ``logit_scale`` above it), scaled by ``shape``
    in [0, 1] when given.
    """
    bar = math.log(min_prob / (1.0 - min_prob)) if 0.0 < min_prob < 1.0 else 0.0
    passes = portrait_rule(det, min_box, face_margin) & (det.best_logit >= bar)
    if depth is None:
        fallback = torch.sigmoid(fallback_logit / 4.0)
    elif fallback_logit is None:
        fallback = depth.clamp(0.0, 1.0)
    else:  # both: the whole image's look and how far the detector's own windows got
        fallback = (torch.sigmoid(fallback_logit / 4.0) + depth.clamp(0.0, 1.0)) / 2
    fallback = fallback * 0.999
    strength = (det.best_logit / bar).clamp(0.0, 1.0) if bar > 0 else det.best_prob
    found = FACE_TIER + 0.999 * strength * coverage(det, min_box, face_margin) / det.count.clamp(min=1).float()
    m = ((det.best_logit - bar) / logit_scale).clamp(0.0, 1.0)
    if shape is not None:
        m = m * shape
    return torch.where(passes, PASS_TIER + m, torch.where(det.count > 0, found, fallback))


def tiered_score(
    det: Detections,
    canvas_logit: torch.Tensor | None,
    min_box: float = 0.5,
    landmark_weight: float = 0.0,
    min_prob: float = 0.5,
    face_margin: float = NO_MARGIN,
    depth: torch.Tensor | None = None,
) -> torch.Tensor:
    """(B,) MTCNN's scores on the tiered scale for one image size.

    Below a face: ``canvas_logit``, O-Net's log-odds on the whole canvas
    (``FaceDetector.onet_logit``), and ``depth``, how far the cascade got
    (``FaceDetector.detect_depth``), as ``detector_tier`` combines them.
    Candidates that pass (the face at least ``min_prob`` likely) get ``2 + margin`` of the best
    face's log-odds, scaled down by implausible landmarks when ``landmark_weight`` > 0.
    """
    shape = None
    if landmark_weight > 0:
        shape = (1 - landmark_weight) + landmark_weight * landmark_plausibility(det)
    return detector_tier(det, canvas_logit, min_box, LOGIT_SCALE, shape, min_prob, face_margin, depth)


def prior_tier(corr: torch.Tensor, gate: float) -> torch.Tensor:
    """(B,) the face-layout prior on the tiered scale: a correlation with the mean face of at
    least ``gate`` passes with margin ``corr``; below it the score climbs through ``[1, 2)``."""
    below = FACE_TIER + 0.999 * ((corr + 1) / (gate + 1)).clamp(0.0, 1.0)
    return torch.where(corr >= gate, PASS_TIER + corr.clamp(0.0, 1.0), below)


def gate_tier(depth: torch.Tensor, found: torch.Tensor) -> torch.Tensor:
    """(B,) a yes/no detector (Haar) on the tiered scale: ``3`` where it finds the face, and
    ``1 + depth`` below (``depth`` in [0, 1]: how far into the cascade the best window got)."""
    return torch.where(found, torch.full_like(depth, 3.0), FACE_TIER + 0.999 * depth.clamp(0.0, 1.0))


def ensemble_score(tiers: list[torch.Tensor]) -> torch.Tensor:
    """(B,) the consensus of several detectors' tiered scores: the lowest, so that no detector
    can be maxed out while another still says no, lifted towards the top of its tier by the
    others' lead (so every member's progress counts), at most ``TIE_BREAK`` of the way.

    Every candidate that one detector rejects (below ``PASS_TIER``) therefore ranks below every
    candidate that all of them accept.
    """
    stacked = torch.stack(tiers)  # (D,B)
    low = stacked.amin(0)
    if len(tiers) == 1:
        return low
    tier = low.floor().clamp(max=PASS_TIER)
    cap = torch.where(tier >= PASS_TIER, torch.full_like(low, 3.0), tier + 0.9999)
    gap = (stacked.mean(0) - low) / (3.0 - low).clamp(min=1e-6)  # in [0, 1]: how far the others are ahead
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
    m = torch.where(run.bool(), stacked - PASS_TIER, torch.full_like(stacked, 2.0)).amin(0).clamp(max=0.999)
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
