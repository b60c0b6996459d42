"""The portrait problem: render a population and score it with the face detector, in batches.

Strategies hand the problem a list of genomes and get one score per genome back; the
problem owns the renderer, the detector, the device and the random draws of robust scoring.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from polyface import fitness, validate
from polyface.detect.mtcnn import FaceDetector
from polyface.search.augment import AugmentSettings, augment
from polyface.genome import Genome
from polyface.render.cairo import BatchRenderer


@dataclass
class Evaluation:
    """Scores of one batch: ``scores`` (B,), ``passes`` (B,) at the working size,
    ``probs`` (B,) best face probability, ``boxes`` (B,4) best face box in canvas units (NaN: none)."""

    scores: np.ndarray
    passes: np.ndarray
    probs: np.ndarray
    boxes: np.ndarray


@dataclass
class Verdict:
    """The portrait rule checked on the antialiased render at each size: size -> (passes, prob, faces)."""

    sizes: dict[int, tuple[bool, float, int]] = field(default_factory=dict)

    @property
    def portrait(self) -> bool:
        return bool(self.sizes) and all(ok for ok, _, _ in self.sizes.values())

    @property
    def min_prob(self) -> float:
        return min((p for _, p, _ in self.sizes.values()), default=0.0)

    def to_dict(self) -> dict:
        return {str(s): {"portrait": ok, "prob": p, "faces": n} for s, (ok, p, n) in sorted(self.sizes.items())}


class Renderer:
    """Renders genomes to (B,3,H,W) tensors on the problem's device: Cairo on CPU, torch on cuda."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._cairo: dict[int, BatchRenderer] = {}

    def __call__(self, genomes: list[Genome], size: int) -> torch.Tensor:
        if self.device.type == "cuda":
            from polyface.render import torch as torch_render

            return torch_render.render(torch_render.pack(genomes, self.device), size)
        if size not in self._cairo:
            self._cairo[size] = BatchRenderer(size, antialias=False)
        return self._cairo[size].render_tensor(genomes).to(self.device)


class PortraitProblem:
    """Scores genomes by the portrait rule at the working size and then at the search sizes."""

    def __init__(
        self,
        detector: FaceDetector,
        work_size: int = 64,
        search_sizes: tuple[int, ...] = (96,),
        thresholds: tuple[float, float, float] = (0.8, 0.9, 0.7),
        min_box: float = 0.5,
        target: float = 0.99,
        augment: AugmentSettings | None = None,
        rng: np.random.Generator | None = None,
        accept_detector: FaceDetector | None = None,
        landmark_weight: float = 0.0,
        ensemble_weight: float = 0.0,
    ) -> None:
        self.landmark_weight = landmark_weight
        self.ensemble_weight = ensemble_weight
        self.haar = None
        if ensemble_weight > 0:
            from polyface.detect.haar import HaarDepth

            self.haar = HaarDepth(min_box)
        self.detector = detector
        self.accept = accept_detector or detector
        self.device = detector.device
        self.render = Renderer(self.device)
        self.sizes = (work_size, *[s for s in search_sizes if s != work_size])
        self.thresholds = thresholds
        self.min_box = min_box
        self.target = target
        self.augment = augment if augment and augment.copies > 0 else None
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self.pool = None
        self.settings = dict(
            work_size=work_size,
            search_sizes=tuple(search_sizes),
            thresholds=tuple(thresholds),
            min_box=min_box,
            target=target,
            augment=self.augment,
            landmark_weight=landmark_weight,
            ensemble_weight=ensemble_weight,
        )

    def state_dict(self) -> dict:
        """The random state of robust scoring, as plain data."""
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, d: dict) -> None:
        state = validate.table(d, "problem").get("rng")
        self.rng.bit_generator.state = validate.rng_state(state, "problem.rng", self.rng.bit_generator.state)

    @property
    def noisy(self) -> bool:
        """True when scores carry random draws (robust scoring), so elites must be re-scored."""
        return self.augment is not None

    def _score_at(self, genomes: list[Genome], size: int, seed: int | None) -> tuple[torch.Tensor, ...]:
        images = self.render(genomes, size)
        copies = 1
        if self.augment is not None:
            gen = torch.Generator().manual_seed(seed)
            images = augment(images, self.augment, gen)
            copies = self.augment.copies
        # The acceptance pyramid, less the fine levels that only see faces far too small to count:
        # a different pyramid would align differently with the face and not transfer across sizes.
        det = self.detector(images, thresholds=self.thresholds, skip_below=0.5 * self.min_box * size)
        # The whole-canvas O-Net signal only matters where the cascade found no face at all.
        logit = torch.zeros(images.shape[0], device=images.device)
        none = det.count == 0
        if bool(none.any()):
            logit[none] = self.detector.onet_logit(images[none])
        scores = fitness.tiered_score(det, logit, self.min_box, self.landmark_weight)
        passes = fitness.portrait_rule(det, self.min_box)
        b = len(genomes)
        if self.haar is not None:
            # The second detector judges the unaltered render of the candidates that pass MTCNN.
            ok = passes[:b].nonzero().flatten()
            if ok.numel():
                depth = self.haar(images[ok]).to(scores.device)
                factor = (1 - self.ensemble_weight) + self.ensemble_weight * depth
                for k in range(copies):
                    idx = ok + k * b
                    scores[idx] = fitness.PASS_TIER + (scores[idx] - fitness.PASS_TIER) * factor
        if copies > 1:
            scores = scores.view(copies, b).mean(0)
            passes = passes.view(copies, b).float().mean(0) >= 0.5
            probs, boxes = det.best_prob.view(copies, b)[0], det.best_box.view(copies, b, 4)[0]
            found = det.count.view(copies, b)[0] > 0
        else:
            probs, boxes, found = det.best_prob, det.best_box, det.count > 0
        return scores, passes, probs, boxes / size, found

    def evaluate(self, genomes: list[Genome]) -> Evaluation:
        """Score a batch: the first size for all, each further size only for those passing so far.

        With worker processes the batch is split between them; each genome's score depends
        only on the genome and this generation's random draws, wherever it is computed.
        """
        seed = int(self.rng.integers(0, 2**62)) if self.augment is not None else None
        if self.pool is not None and len(genomes) >= 2 * self.pool.size:
            return self.pool.score(genomes, seed)
        return self.score_batch(genomes, seed)

    def start_workers(self, n: int) -> None:
        """Score batches in ``n`` CPU worker processes (each with one torch thread)."""
        from polyface.search.workers import WorkerPool

        if n > 1 and self.device.type == "cpu" and self.pool is None:
            self.pool = WorkerPool(n, self.settings)

    def close(self) -> None:
        """Stop worker processes, if any."""
        if self.pool is not None:
            self.pool.close()
            self.pool = None

    def score_batch(self, genomes: list[Genome], seed: int | None) -> Evaluation:
        """Score genomes under the random draws of ``seed`` (None without robust scoring)."""
        scores0, passes0, probs, boxes, found = self._score_at(genomes, self.sizes[0], seed)
        per_size = [scores0]
        alive = passes0.clone()
        for size in self.sizes[1:]:
            idx = alive.nonzero().flatten().tolist()
            col = torch.full_like(scores0, float("nan"))
            if idx:
                s, p, *_ = self._score_at([genomes[i] for i in idx], size, seed)
                col[idx] = s
                alive[idx] = p
            per_size.append(col)
        scores = fitness.combine_sizes(per_size)
        boxes = torch.where(found[:, None], boxes, torch.full_like(boxes, float("nan")))
        return Evaluation(
            scores=scores.double().cpu().numpy(),
            passes=passes0.cpu().numpy(),
            probs=probs.cpu().numpy(),
            boxes=boxes.cpu().numpy(),
        )

    def verify(self, genome: Genome, sizes: tuple[int, ...], stop_early: bool = True) -> Verdict:
        """Check the portrait rule on the antialiased Cairo render at each size, with the
        accepting detector's default thresholds and ``prob >= target``."""
        from polyface.render.cairo import render_batch

        verdict = Verdict()
        for size in sorted(set(sizes)):
            image = render_batch([genome], size, antialias=True)
            det = self.accept(image)
            ok = bool(fitness.portrait_rule(det, self.min_box)[0]) and float(det.best_prob[0]) >= self.target
            if ok and self.haar is not None:  # with the ensemble, the second detector must agree too
                ok = bool(self.haar.found(image)[0])
            verdict.sizes[size] = (ok, float(det.best_prob[0]), int(det.count[0]))
            if stop_early and not ok:
                break
        return verdict
