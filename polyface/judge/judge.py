"""One judge defines a portrait, and everything that needs a verdict asks it: the search (its
scores, under the search's ``Slack``), the final check, ``polyface score`` and the run pages.

``Judge.readings`` reads a batch with every member (``judge.members``), split between the lanes;
``consensus`` folds the members' tiers into one score (``judge.score``); ``gate`` adds the gate
members' no where the others accept; ``votes`` and ``verify`` give the final check's verdict:
each member's yes or no on the antialiased Cairo render, without the search's slack.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from polyface.config import Config
from polyface.detect import ort
from polyface.detect.blazeface import BlazeFace
from polyface.detect.lanes import Lanes
from polyface.detect.mtcnn import FaceDetector
from polyface.genome import Genome
from polyface.judge import members, score
from polyface.judge.members import Member, Reading, join, section
from polyface.judge.rule import Rule
from polyface.judge.slack import NONE, SEARCH, Slack
from polyface.detect.prior import FacePrior
from polyface.render.cairo import render_batch


MAX_VERIFY = 1024  # the final check's largest size: a larger print is judged at this size


def verify_sizes(cfg: Config) -> tuple[int, ...]:
    """Sizes at which the final portrait must pass: working size, preset sizes, output size (<= 1024)."""
    return tuple(sorted({cfg.work_size, *cfg.verify_sizes, min(cfg.size, MAX_VERIFY)}))


@dataclass
class Verdict:
    """The final check at each size: size -> (passes, MTCNN's face probability, MTCNN's faces)."""

    sizes: dict[int, tuple[bool, float, int]] = field(default_factory=dict)

    @property
    def portrait(self) -> bool:
        return bool(self.sizes) and all(ok for ok, _, _ in self.sizes.values())

    @property
    def min_prob(self) -> float:
        return min((p for _, p, _ in self.sizes.values()), default=0.0)

    def to_dict(self) -> dict:
        return {str(s): {"portrait": ok, "prob": p, "faces": n} for s, (ok, p, n) in sorted(self.sizes.items())}


class Judge:
    """The ensemble ``members`` (MTCNN first: the others may read its face), the portrait ``rule``
    and the search's ``slack``, reading batches split between ``lanes``."""

    def __init__(self, members: list[Member], rule: Rule, slack: Slack = SEARCH, lanes: Lanes | None = None) -> None:
        if not members or members[0].name != "mtcnn":
            raise ValueError("a judge's first member is MTCNN (the others read its face box)")
        self.members = list(members)
        self.rule = rule
        self.slack = slack
        self.lanes = lanes or Lanes(1)

    @property
    def names(self) -> list[str]:
        return [m.name for m in self.members]

    def readings(self, images: torch.Tensor, slack: Slack | None = None, timings=None, gates: bool = False) -> dict[str, Reading]:
        """Each member's reading of ``images`` (B,3,H,W) under ``slack`` (the search's by default),
        split between the lanes; the gate members only with ``gates``."""
        slack = slack or self.slack
        members = [m for m in self.members if gates or not m.gate]

        def lane(x: torch.Tensor, i: int) -> dict:
            t = None if i else timings
            sensed = {}
            for m in members:
                with section(t, m.name):
                    sensed[m.name] = m.sense(x, self.rule, slack, sensed, i)
            return sensed

        parts = self.lanes.map(lane, images, section(timings, "lanes: waiting for the other thread"))
        return {m.name: m.read(join([p[m.name] for p in parts]), self.rule, slack) for m in members}

    def consensus(self, readings: dict[str, Reading]) -> torch.Tensor:
        """(B,) the members' tiers folded into one score (``score.ensemble_score``)."""
        return score.ensemble_score([r.tier for r in readings.values()])

    def gate(self, images: torch.Tensor, pre: torch.Tensor, timings=None) -> torch.Tensor:
        """``pre`` (the other members' consensus) lowered by each gate member where it says no,
        asked only about the images ``pre`` accepts: a gate's no holds them back, its yes adds nothing."""
        post = pre.clone()
        ok = (pre >= score.PASS_TIER).nonzero().flatten()
        for m in self.members:
            if m.gate and ok.numel():
                with section(timings, m.name):
                    x = images[ok]
                    parts = self.lanes.map(lambda y, i: m.sense(y, self.rule, self.slack, {}, i), x)
                    tier = m.read(join(parts), self.rule, self.slack).tier
                post[ok] = torch.minimum(post[ok], tier.to(pre.device))
        return post

    def votes(self, image: torch.Tensor, timings=None, prefix: str = "") -> tuple[dict[str, Reading], dict[str, bool]]:
        """Every member's reading of one image (1,3,H,W) without the search's slack, and its yes
        or no: the final check's verdict, and ``polyface score``'s."""
        sensed, readings = {}, {}
        for m in self.members:
            with section(timings, prefix + m.name):
                sensed[m.name] = m.sense(image, self.rule, NONE, sensed, 0)
                readings[m.name] = m.read(sensed[m.name], self.rule, NONE)
        return readings, {k: bool(r.passes[0]) for k, r in readings.items()}

    def report(self, image: torch.Tensor) -> dict[str, dict]:
        """``votes`` on one image (1,3,H,W) as plain data for ``polyface score`` and the pages:
        per member its yes or no (``portrait``), its tier, and its faces (box and points in
        canvas units, probability) or its own value, named (``value_name``)."""
        readings, votes = self.votes(image)
        h, w = image.shape[-2:]
        out = {}
        for m in self.members:
            r = readings[m.name]
            row = {"label": m.label, "portrait": votes[m.name], "tier": round(float(r.tier[0]), 4)}
            if m.points:  # a detector: its faces
                boxes, probs, points = r.det.for_image(0)
                row["faces"] = [
                    {
                        "box": [round(v / s, 4) for v, s in zip(b, (w, h, w, h))],
                        "prob": round(float(p), 6),
                        "points": [[round(x / w, 4), round(y / h, 4)] for x, y in pts],
                    }
                    for b, p, pts in zip(boxes.tolist(), probs.tolist(), points.tolist())
                ]
            if r.value is not None:
                row[m.value_name] = round(float(r.value[0]), 4)
            out[m.name] = row
        return out

    def verify(self, genome: Genome, sizes: tuple[int, ...], stop_early: bool = True, timings=None) -> Verdict:
        """The final check: the antialiased Cairo render at each size, smallest first, judged by
        every member (``votes``); with ``stop_early``, up to the first size that fails."""
        verdict = Verdict()
        with section(timings, "verify"), self.lanes.whole():
            for size in sorted(set(sizes)):
                with section(timings, "verify: render"):
                    image = render_batch([genome], size, antialias=True)
                readings, votes = self.votes(image, timings, "verify: ")
                det = readings["mtcnn"].det
                ok = all(votes.values())
                verdict.sizes[size] = (ok, float(det.best_prob[0]), int(det.count[0]))
                if stop_early and not ok:
                    break
        return verdict


def judge_for(cfg: Config, device: torch.device | str = "cpu", lanes: int = 1, detector: FaceDetector | None = None) -> Judge:
    """The judge ``cfg`` asks for: MTCNN, and BlazeFace, the mean-face prior and the Haar cascade
    where enabled, with the portrait rule and the search's slack, splitting batches between
    ``lanes`` threads (``n_lanes``)."""
    # In lanes the networks run on ONNX Runtime (it takes the GIL once a pass, not once an op);
    # the final check stays on torch, the reference, with all the lanes' threads.
    device = torch.device(device)
    onnx = lanes > 1 and ort.available()
    detector = detector or FaceDetector(device=device, backend="onnx" if onnx else "auto")
    reference = FaceDetector(device=device, backend="torch") if onnx else None
    team: list[Member] = [members.Mtcnn(detector, reference, cfg.landmarks)]
    if cfg.blazeface:
        team.append(members.Blaze(BlazeFace(device=device)))
    if cfg.prior > 0:
        team.append(members.Prior(FacePrior(device)))
    if cfg.haar:
        team.append(members.Haar(cfg.min_box, lanes))
    rule = Rule(min_box=cfg.min_box, face_margin=cfg.face_margin, target=cfg.target, prior=cfg.prior)
    return Judge(team, rule, Slack(thresholds=tuple(cfg.search_thresholds)), Lanes(lanes))
