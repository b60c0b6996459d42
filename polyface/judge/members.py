"""The members of the ensemble behind one protocol: images in, a dense named ``Reading`` out.

A member reads a batch in two steps. ``sense`` runs its network or cascade on one lane's share
of the batch (the judge splits a batch between threads) and returns raw ``Signals``; ``read``
turns the whole batch's signals into its ``Reading`` under the rule and the slack, after the
lanes' shares are joined, so that a score never depends on how the batch was split.

The judge loops over members and names none. A member whose ``gate`` is True (Haar, a costly
yes or no on the CPU) is asked in the search only about the images every other member accepts.
A member may read what the members before it sensed (the prior reads MTCNN's face box).
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, fields
from typing import Protocol

import torch

from polyface.detect.blazeface import KEYPOINTS, BlazeFace, blaze_input
from polyface.detect.haar import HaarDepth
from polyface.detect.mtcnn import FaceDetector
from polyface.detect.types import Detections, concat_detections
from polyface.judge import score
from polyface.judge.rule import Rule
from polyface.judge.slack import Slack
from polyface.detect.prior import FacePrior


@dataclass
class Signals:
    """What a member sensed on one lane's images: its detections, its log-odds on the whole
    canvas where it found no face, its depth (how far towards a face), its own value."""

    det: Detections | None = None
    logit: torch.Tensor | None = None
    depth: torch.Tensor | None = None
    value: torch.Tensor | None = None


def join(parts: list[Signals]) -> Signals:
    """One ``Signals`` for the lanes' shares of a batch, in order."""
    if len(parts) == 1:
        return parts[0]
    out = {}
    for f in fields(Signals):
        got = [getattr(p, f.name) for p in parts]
        if got[0] is None:
            out[f.name] = None
        else:
            out[f.name] = concat_detections(got) if f.name == "det" else torch.cat(got)
    return Signals(**out)


@dataclass
class Reading:
    """One member's reading of B images: ``tier`` (B,) on the tiered scale (``judge.score``);
    ``passes`` (B,) bool, its yes or no to a portrait; ``det`` its faces (detectors only);
    ``value`` (B,) its own measure (the prior's correlation, Haar's depth, MTCNN's depth)."""

    tier: torch.Tensor
    passes: torch.Tensor
    det: Detections | None = None
    value: torch.Tensor | None = None


class Member(Protocol):
    """A member of the ensemble. ``name`` keys its reading; ``label`` and ``colour`` show it on pages."""

    name: str
    label: str
    colour: str
    gate: bool
    points: tuple[str, ...]  # a detector's face keypoints, in order (empty: not a face detector)
    value_name: str  # what ``Reading.value`` measures

    def sense(self, images: torch.Tensor, rule: Rule, slack: Slack, before: dict[str, Signals], lane: int) -> Signals: ...

    def read(self, s: Signals, rule: Rule, slack: Slack) -> Reading: ...


def _margin(rule: Rule, slack: Slack) -> float:
    """The face margin the slack asks for (the rule's, tighter by ``slack.frame`` when it frames)."""
    return rule.face_margin + slack.frame if rule.framed else rule.face_margin


class Mtcnn:
    """MTCNN: the search's detector (on the lanes' backend, the slack's thresholds and trimmed
    pyramid) and the reference detector (torch, its own thresholds, the whole pyramid) for the
    final check. Below a face, how far its cascade got (``detect_depth``, windows near the
    portrait's size only) and O-Net's log-odds on the whole canvas, which keeps the face the
    size of the canvas; passing faces' margins are scaled by how face-like their landmarks lie."""

    name, label, colour, gate, value_name = "mtcnn", "MTCNN", "#4fc3f7", False, "depth"
    points = ("left eye", "right eye", "nose", "mouth left", "mouth right")

    def __init__(self, search: FaceDetector, reference: FaceDetector | None = None, landmarks: float = 0.0) -> None:
        self.search, self.reference = search, reference or search
        self.landmarks = landmarks

    def sense(self, images, rule, slack, before, lane) -> Signals:
        side = rule.min_box * images.shape[-1]
        net = self.reference if slack.reference else self.search
        det, depth = net.detect_depth(
            images, thresholds=slack.thresholds, skip_below=slack.skip_below * side, depth_side=slack.depth_side * side
        )
        logit = torch.zeros(images.shape[0], device=images.device)
        none = det.count == 0
        if bool(none.any()):
            logit[none] = net.onet_logit(images[none])
        return Signals(det=det, logit=logit, depth=depth)

    def read(self, s, rule, slack) -> Reading:
        tier = score.mtcnn_tier(s.det, s.logit, rule.min_box, self.landmarks, rule.target, _margin(rule, slack), s.depth)
        return Reading(tier, tier >= score.PASS_TIER, s.det, s.depth)


class Blaze:
    """MediaPipe's BlazeFace, on its 128 px input; below a face, its top anchor logit."""

    name, label, colour, gate, value_name = "blazeface", "BlazeFace", "#ffb74d", False, ""
    points = KEYPOINTS

    def __init__(self, net: BlazeFace) -> None:
        self.net = net

    def sense(self, images, rule, slack, before, lane) -> Signals:
        det, top = self.net.detect(blaze_input(images))
        return Signals(det=det, logit=top)

    def read(self, s, rule, slack) -> Reading:
        tier = score.detector_tier(s.det, s.logit, rule.min_box, score.BLAZE_LOGIT_SCALE, face_margin=_margin(rule, slack))
        return Reading(tier, tier >= score.PASS_TIER, s.det)


class Prior:
    """The mean-face prior: the correlation of MTCNN's face box with the mean of real faces. It
    passes at ``rule.prior`` (plus the slack's); where MTCNN found no face it has nothing to
    judge: it says no, and its tier is the top, so that it holds nothing back (MTCNN does)."""

    name, label, colour, gate, value_name = "prior", "mean-face prior", "#ce93d8", False, "correlation"
    points = ()

    def __init__(self, prior: FacePrior) -> None:
        self.prior = prior

    def sense(self, images, rule, slack, before, lane) -> Signals:
        det = before["mtcnn"].det
        return Signals(det=det, value=self.prior(images, det.best_box))

    def read(self, s, rule, slack) -> Reading:
        found = s.det.count > 0
        gate = rule.prior + slack.prior
        tier = torch.where(found, score.prior_tier(s.value, gate), torch.full_like(s.value, score.TOP))
        return Reading(tier, found & (s.value >= gate), None, s.value)


class Haar:
    """OpenCV's Haar frontal-face cascade, a yes or no: in the search graded by how far into the
    cascade the best large window got (``HaarDepth``), in the final check the whole cascade."""

    name, label, colour, gate, value_name = "haar", "Haar cascade", "#aed581", True, "depth"
    points = ()

    def __init__(self, min_box: float, lanes: int = 1) -> None:
        # A cascade keeps per-call state: each lane of each judge has its own (about 0.04 s to
        # load), so that two judges in two threads (a run's and its live page's) never share one.
        self.lanes = [HaarDepth(min_box, shared=False) for _ in range(lanes)]

    def sense(self, images, rule, slack, before, lane) -> Signals:
        haar = self.lanes[lane]
        depth = torch.as_tensor(haar.found(images)).float() if slack.reference else torch.as_tensor(haar(images))
        return Signals(value=depth)

    def read(self, s, rule, slack) -> Reading:
        found = s.value >= 1.0
        return Reading(score.gate_tier(s.value, found), found, None, s.value)


def section(timings, name: str) -> AbstractContextManager:
    """``timings.section(name)``, or nothing without timings."""
    return nullcontext() if timings is None else timings.section(name)
