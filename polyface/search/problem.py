"""The portrait problem: render a population and score it with the judge, in batches.

Strategies hand the problem a list of genomes and get one score per genome back; the
problem owns the renderer, the judge, the device and the random draws of robust scoring.
"""

from __future__ import annotations

import numpy as np
import torch

from polyface import validate
from polyface.genome import Genome
from polyface.judge import score
from polyface.judge.judge import Judge, Verdict
from polyface.render.batch import make_renderer
from polyface.search import bounds
from polyface.search.augment import AugmentSettings, augment
from polyface.search.timing import OFF, Timings
from polyface.search.types import Evaluation


class PortraitProblem:
    """Scores genomes with the ``judge`` at the working size and then at the search sizes, on
    fast renders and robust scoring's views; ``verify`` is the judge's final check."""

    def __init__(
        self,
        judge: Judge,
        work_size: int = 64,
        search_sizes: tuple[int, ...] = (96,),
        augment: AugmentSettings | None = None,
        rng: np.random.Generator | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        self.judge = judge
        self.device = torch.device(device)
        self.render = make_renderer(self.device)
        self.sizes = (work_size, *[s for s in search_sizes if s != work_size])
        self.augment = augment if augment and augment.copies > 0 else None
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self.batches = 0  # batches evaluated so far (part of the state)
        self.timings: Timings = OFF  # set to an enabled Timings to profile where the time goes

    def state_dict(self) -> dict:
        """The random state of robust scoring, as plain data."""
        return {"rng": self.rng.bit_generator.state, "batches": self.batches}

    def load_state_dict(self, d: dict) -> None:
        state = validate.table(d, "problem").get("rng")
        self.rng.bit_generator.state = validate.rng_state(state, "problem.rng", self.rng.bit_generator.state)
        batches = d.get("batches", 0)
        if not validate.is_int(batches) or batches < 0:
            got = validate.shown(batches)
            raise validate.FieldError(f"field 'problem.batches' must be a whole number >= 0, got {got}")
        self.batches = int(batches)

    @property
    def gated(self) -> bool:
        """True when the judge has gate members, asked only about what the others accept."""
        return any(m.gate for m in self.judge.members)

    @property
    def noisy(self) -> bool:
        """True when scores carry random draws (robust scoring), so elites must be re-scored."""
        return self.augment is not None

    def _networks_at(self, genomes: list[Genome], size: int, seed: int | None):
        """Render ``genomes`` at ``size``, make robust scoring's copies (copy k of genome b at
        ``k * len(genomes) + b``) and read them with the judge's members other than its gates:
        the images, MTCNN's detections and each image's consensus, before the gates."""
        t = self.timings
        with t.section("render"):
            images = self.render(genomes, size)
        if self.augment is not None:
            with t.section("augment"):
                images = augment(images, self.augment, torch.Generator().manual_seed(seed))
        readings = self.judge.readings(images, timings=t)
        return images, readings["mtcnn"].det, self.judge.consensus(readings)

    def evaluate(self, genomes: list[Genome], top_k: int | None = None) -> Evaluation:
        """Score a batch: the first size for all, each further size only for those passing so far;
        with ``top_k``, exactly only as far as it takes to find the batch's ``top_k`` best.

        A candidate shown not to be among them keeps an upper bound of its score, below every
        score of theirs (``Evaluation.exact`` is False there; ``search.bounds``). Each genome's
        score depends only on the genome and this generation's random draws.
        """
        seed = int(self.rng.integers(0, 2**62)) if self.augment is not None else None
        self.batches += 1
        return self.score_batch(genomes, seed, top_k)

    def verify(self, genome: Genome, sizes: tuple[int, ...], stop_early: bool = True) -> Verdict:
        """The judge's final check of ``genome`` at each of ``sizes``."""
        return self.judge.verify(genome, sizes, stop_early, self.timings)

    def close(self) -> None:
        """Stop the judge's lane threads."""
        self.judge.lanes.close()

    def score_batch(self, genomes: list[Genome], seed: int | None, top_k: int | None = None) -> Evaluation:
        """Score genomes under the random draws of ``seed`` (None without robust scoring), exactly
        or, with ``top_k``, exactly for the ``top_k`` best (``evaluate``)."""
        with self.timings.section("fitness (combine)"):
            return self._score_batch(genomes, seed, top_k)

    def _score_batch(self, genomes: list[Genome], seed: int | None, top_k: int | None = None) -> Evaluation:
        copies, b, n_sizes = (self.augment.copies if self.augment else 1), len(genomes), len(self.sizes)
        pre = torch.full((n_sizes, copies, b), float("nan"))
        post = pre.clone()
        images: list[torch.Tensor | None] = [None] * n_sizes
        det = None
        for s, gated, idx in bounds.stages(pre, post, top_k):
            size, rows = self.sizes[s], idx.tolist()
            if gated:  # the networks ran here: the Haar gate is what is left
                post[s][:, idx] = self.judge.gate(images[s][:, idx].flatten(0, 1), pre[s][:, idx].flatten(), self.timings).view(copies, -1)
                continue
            shot, dets, consensus = self._networks_at([genomes[i] for i in rows], size, seed)
            p = pre[s][:, idx] = consensus.cpu().view(copies, -1)
            if not self.gated:
                post[s][:, idx] = p
            else:  # kept for the gate; below the pass tier it is not asked: those scores are final
                if images[s] is None:
                    images[s] = shot.new_empty((copies, b, *shot.shape[1:]))
                images[s][:, idx] = shot.view(copies, len(rows), *shot.shape[1:])
                post[s][:, idx] = torch.where(p < score.PASS_TIER, p, float("nan"))
            if s == 0:  # the first stage: every candidate at the working size
                det = dets
        found = det.count.view(copies, b)[0] > 0
        boxes = det.best_box.view(copies, b, 4)[0] / self.sizes[0]
        boxes = torch.where(found[:, None], boxes, torch.full_like(boxes, float("nan")))
        return Evaluation(
            scores=bounds.upper(pre, post).double().numpy(),
            probs=det.best_prob.view(copies, b)[0].cpu().numpy(),
            boxes=boxes.cpu().numpy(),
            exact=bounds.settled(post).numpy(),
        )
