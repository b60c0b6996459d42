"""Gradient refinement of genomes, and a search that writes refined genomes back (Lamarckian).

``Surrogate`` is a differentiable stand-in for the judge's score of soft-rendered images, built
from the members that have gradients, run as torch modules with autograd:

* MTCNN: O-Net's face log-odds on the crop of the face box MTCNN finds on the detached image,
  grown to the portrait rule's size (``rule.min_box``) and squared, or on the whole canvas where
  it finds none;
* BlazeFace: its top anchor logit, clipped as it clips (its input's 8-bit rounding passes the
  gradient straight through);
* the mean-face prior: the correlation with the mean face in the same box (its crop
  area-resized, as the prior's ``roi_align`` passes no gradient).

Each member's signal is squashed to (0, 1) and the members are folded by a soft minimum, so
that the weakest member is pushed most. Haar is a gate and has no gradient. The signal is
averaged over random views (shift, scale, small rotation, blur: ``search.augment``), so that a
step follows what the views share rather than one network's blind spot.

``Refiner`` takes a few Adam steps on vertices, colours and alpha of packed genomes
(``render.soft``) and writes them back. ``RefiningStrategy`` wraps ``PopulationStrategy``: each
generation the best few parents are refined and join the batch that the real judge scores; a
refined genome is kept only where the real judge scores it above its parent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from polyface import validate as v
from polyface.detect.blazeface import blaze_input
from polyface.detect.blazeface_decode import SCORE_CLIP, letterbox
from polyface.detect.crops import crop_resize
from polyface.detect.prior import SIDE
from polyface.genome import Genome
from polyface.judge.judge import Judge
from polyface.judge.score import FALLBACK_LOGIT_SCALE
from polyface.render.soft import pack, unpack
from polyface.search.augment import AugmentSettings, augment
from polyface.search.strategies import PopulationStrategy

PRIOR_SCALE = 0.1  # the prior's correlation above its gate is squashed by sigmoid(excess / this)


@dataclass(frozen=True)
class RefineSettings:
    """``steps`` Adam steps at ``lr_vertices`` (canvas units) and ``lr_colours``; ``views``
    random views a step (the first as rendered; robust scoring's shifts, scales, turns and blur,
    ``search.augment``, without its colour jitter) of a ``size`` px soft render at ``sharpness``;
    ``softness`` the temperature of the soft minimum over members."""

    steps: int = 8
    lr_vertices: float = 0.004
    lr_colours: float = 0.02
    views: int = 4
    size: int = 64
    sharpness: float = 6.0
    softness: float = 0.05


class Surrogate:
    """(B,) a differentiable score in (0, 1) of images (B,3,H,W) in [0, 1], from ``judge``'s
    members that have gradients (MTCNN always; BlazeFace and the prior where the judge has them)."""

    def __init__(self, judge: Judge, softness: float = 0.05) -> None:
        found = {m.name: m for m in judge.members}
        self.mtcnn = found["mtcnn"].search
        self.blaze = found["blazeface"].net if "blazeface" in found else None
        self.prior = found["prior"].prior if "prior" in found else None
        self.rule, self.slack = judge.rule, judge.slack
        self.softness = softness

    @property
    def device(self) -> torch.device:
        return self.mtcnn.device

    def boxes(self, images: torch.Tensor) -> torch.Tensor:
        """(B,4) integer pixel boxes x0, y0, x1, y1: MTCNN's best face on the detached images,
        grown about its centre to at least the rule's size and squared, else the whole canvas."""
        h, w = images.shape[-2:]
        det, _ = self.mtcnn.detect_depth(images.detach(), thresholds=self.slack.thresholds)
        box, found = det.best_box.clone().float(), det.count.clone() > 0
        side = torch.maximum(box[:, 2] - box[:, 0], box[:, 3] - box[:, 1]).clamp(min=self.rule.min_box * min(h, w))
        side = side.clamp(max=min(h, w))
        cx, cy = (box[:, 0] + box[:, 2]) / 2, (box[:, 1] + box[:, 3]) / 2
        x0 = torch.minimum((cx - side / 2).clamp(min=0), w - side).round()
        y0 = torch.minimum((cy - side / 2).clamp(min=0), h - side).round()
        grown = torch.stack([x0, y0, x0 + side.round(), y0 + side.round()], 1)
        whole = torch.tensor([0.0, 0.0, float(w), float(h)], device=box.device).expand_as(grown)
        return torch.where(found[:, None], grown, whole).long().clamp(min=0)

    def signals(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each member's raw signal (B,): log-odds, or the prior's correlation."""
        images = images.to(self.device, torch.float32)
        b = images.shape[0]
        box = self.boxes(images)
        crops = crop_resize(images * 255.0, torch.arange(b, device=images.device), box[:, 1], box[:, 3], box[:, 0], box[:, 2], 48)
        _, _, logits = self.mtcnn.onet((crops - 127.5) * 0.0078125)
        out = {"mtcnn": logits[:, 1] - logits[:, 0]}
        if self.blaze is not None:
            x = blaze_input(images)
            hard, _ = letterbox(x.detach())
            soft = F.interpolate(x, size=hard.shape[-2:], mode="bilinear", align_corners=False) * 2.0 - 1.0
            _, top = self.blaze.net(soft + (hard - soft).detach())
            out["blazeface"] = top.clamp(-SCORE_CLIP, SCORE_CLIP).amax(1)
        if self.prior is not None:
            out["prior"] = self.correlation(images, box)
        return out

    def correlation(self, images: torch.Tensor, box: torch.Tensor) -> torch.Tensor:
        """(B,) the prior's correlation with the mean face in integer boxes ``box`` (B,4), with
        its crop area-resized (the prior's own ``roi_align`` passes no gradient)."""
        b = images.shape[0]
        grey = self.prior.grey(images)
        crop = crop_resize(grey, torch.arange(b, device=images.device), box[:, 1], box[:, 3], box[:, 0], box[:, 2], SIDE)
        return self.prior.correlate(crop)[0]

    def squash(self, signals: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Each member's signal in (0, 1)."""
        gate = self.rule.prior + self.slack.prior
        return {
            k: torch.sigmoid((s - gate) / PRIOR_SCALE) if k == "prior" else torch.sigmoid(s / FALLBACK_LOGIT_SCALE)
            for k, s in signals.items()
        }

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        s = torch.stack(list(self.squash(self.signals(images)).values()))  # (members, B)
        t = self.softness
        return -t * (torch.logsumexp(-s / t, 0) - math.log(s.shape[0]))


class Refiner:
    """Refines genomes by ``settings.steps`` Adam steps of gradient ascent on ``Surrogate(judge)``,
    averaged over ``settings.views`` random views a step. Every draw comes from ``seed`` and the
    call's ``key``: the same genomes, seed and key give the same genomes on the same device."""

    def __init__(self, judge: Judge, settings: RefineSettings = RefineSettings(), seed: int = 0) -> None:
        self.settings = settings
        self.seed = int(seed)
        self.surrogate = Surrogate(judge, settings.softness)
        self.views = AugmentSettings(copies=settings.views, colour=0.0)  # robust scoring's views, no colour jitter

    def _generator(self, key: int) -> torch.Generator:
        state = np.random.SeedSequence([self.seed, int(key)]).generate_state(2, np.uint32)
        return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))

    def score(self, batch, gen: torch.Generator) -> torch.Tensor:
        """(B,) the surrogate of a packed batch, averaged over this step's views."""
        s = self.settings
        images = batch.render(s.size, s.sharpness)
        views = augment(images, self.views, gen) if s.views > 1 else images
        return self.surrogate(views).view(max(1, s.views), -1).mean(0)

    def refine(self, genomes: list[Genome], key: int = 0) -> list[Genome]:
        """The genomes after the steps: each at the step where its surrogate was highest."""
        s = self.settings
        if not genomes or s.steps <= 0:
            return list(genomes)
        batch = pack(genomes, self.surrogate.device, requires_grad=True)
        leaves = [batch.vertices, batch.colours]
        grey = torch.tensor([g.mode == "grey" for g in genomes], device=batch.colours.device)[:, None, None]
        palette = torch.tensor([g.palette is not None for g in genomes], device=batch.colours.device)[:, None, None]
        fixed_rgb = batch.colours.detach()[..., :3].clone()
        opt = torch.optim.Adam([{"params": [batch.vertices], "lr": s.lr_vertices}, {"params": [batch.colours], "lr": s.lr_colours}])
        best = [t.detach().clone() for t in leaves]
        best_score = torch.full((len(genomes),), -math.inf, device=batch.colours.device)
        gen = self._generator(key)
        for step in range(s.steps + 1):
            value = self.score(batch, gen)
            better = value.detach() > best_score
            best_score = torch.where(better, value.detach(), best_score)
            for kept, t in zip(best, leaves):
                kept[better] = t.detach()[better]
            if step == s.steps:
                break
            grads = torch.autograd.grad(-value.sum(), leaves)
            opt.zero_grad(set_to_none=True)
            for t, g in zip(leaves, grads):
                t.grad = g
            opt.step()
            with torch.no_grad():  # back to what a genome can hold
                batch.vertices.clamp_(-0.5, 1.5)
                rgb = batch.colours[..., :3].clamp(0.0, 1.0)
                rgb = torch.where(grey, rgb.mean(-1, keepdim=True).expand_as(rgb), rgb)
                batch.colours[..., :3] = torch.where(palette, fixed_rgb, rgb)
                batch.colours[..., 3].clamp_(0.0, 1.0)
        with torch.no_grad():
            batch.vertices.copy_(best[0])
            batch.colours.copy_(best[1])
        self.last_scores = best_score.cpu()
        return unpack(genomes, batch, background=False)


class RefiningStrategy:
    """``PopulationStrategy`` with Lamarckian refinement: each generation after the first, its
    ``top`` best parents are refined (``Refiner``, keyed by the generation) and join the batch
    the problem scores. A refined genome is kept only where the real judge scores it above its
    parent; then it competes for survival like any child. Counts of refined genomes tried and
    kept are part of the state."""

    def __init__(self, inner: PopulationStrategy, refiner: Refiner, top: int = 1) -> None:
        self.inner = inner
        self.refiner = refiner
        self.top = max(1, int(top))
        self.tried = 0
        self.kept = 0
        self._refined: list[Genome] = []
        self._parents_at: list[int] = []  # each refined genome's parent: its index in the batch, or -1 - its rank

    def ask(self) -> list[Genome]:
        batch = self.inner.ask()
        st = self.inner.state
        self._refined, self._parents_at = [], []
        if self.inner._n_children == 0:  # the first generation: the parents have no score yet
            return batch
        k = min(self.top, len(st.parents))
        self._refined = self.refiner.refine(st.parents[:k], key=st.generation)
        n = self.inner._n_children
        self._parents_at = [n + i if self.inner.reevaluate else -1 - i for i in range(k)]
        return batch + self._refined

    @property
    def selects(self) -> int:
        return self.inner.selects

    def tell(self, genomes: list[Genome], scores: np.ndarray, boxes: np.ndarray | None = None) -> None:
        scores = np.asarray(scores, dtype=np.float64)
        k = len(self._refined)
        if k:
            n = len(genomes) - k
            parent = [scores[i] if i >= 0 else self.inner.state.scores[-1 - i] for i in self._parents_at]
            keep = [j for j in range(k) if scores[n + j] > parent[j]]
            self.tried += k
            self.kept += len(keep)
            idx = list(range(n)) + [n + j for j in keep]
            genomes, scores = [genomes[i] for i in idx], scores[idx]
            boxes = None if boxes is None else np.asarray(boxes)[idx]
        self._refined, self._parents_at = [], []
        self.inner.tell(genomes, scores, boxes)

    @property
    def best(self) -> tuple[Genome, float]:
        return self.inner.best

    def penalise(self, genome: Genome, amount: float) -> None:
        self.inner.penalise(genome, amount)

    def state_dict(self) -> dict:
        """The population's state, and the counts of refined genomes tried and kept."""
        return {**self.inner.state_dict(), "refine": {"tried": self.tried, "kept": self.kept}}

    def load_state_dict(self, d: dict) -> None:
        counts = v.table(v.table(d, "strategy").get("refine", {"tried": 0, "kept": 0}), "strategy.refine")
        tried = v.integer(counts.get("tried"), "strategy.refine.tried", 0, 10**15)
        kept = v.integer(counts.get("kept"), "strategy.refine.kept", 0, tried)
        self.inner.load_state_dict({k: x for k, x in d.items() if k != "refine"})
        self.tried, self.kept = tried, kept


def settings_for(steps: int, size: int = 64) -> RefineSettings:
    """The default settings with ``steps`` steps at ``size`` px."""
    return replace(RefineSettings(), steps=int(steps), size=int(size))
