"""What a portrait is: exactly one face, large enough, inside the frame, and sure enough.

``Rule`` holds the final check's bars; the search asks a little more of some of them
(``judge.slack``). The functions read any detector's ``Detections``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from polyface.detect.types import Detections
from polyface.limits import NO_MARGIN

OVERHANG_SLOPE = 0.25  # overhang (share of the side) at which ``framing`` reaches 0


@dataclass(frozen=True)
class Rule:
    """The bars a portrait clears at every size of the final check.

    ``min_box``: the face box spans at least this share of the canvas's width and height.
    ``face_margin``: it keeps this share of the canvas clear on every side (``NO_MARGIN``: it may
    run off the canvas). ``target``: MTCNN's face probability at least this. ``prior``: the
    face box's correlation with the mean face at least this (0: the prior is not a member).
    """

    min_box: float = 0.5
    face_margin: float = NO_MARGIN
    target: float = 0.99
    prior: float = 0.0

    @property
    def framed(self) -> bool:
        return self.face_margin > NO_MARGIN


def log_odds(p: float) -> float:
    """The face log-odds of probability ``p`` (0 at the ends, where the bar is no bar)."""
    return math.log(p / (1.0 - p)) if 0.0 < p < 1.0 else 0.0


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
