"""The portrait problem: render a population and score it with the face detector, in batches.

Strategies hand the problem a list of genomes and get one score per genome back; the
problem owns the renderer, the detector, the device and the random draws of robust scoring.
"""

from __future__ import annotations

import numpy as np
import torch

from polyface import fitness, validate
from polyface.detect.blazeface import BlazeFace, blaze_input
from polyface.detect.haar import HaarDepth
from polyface.detect.mtcnn import Detections, FaceDetector
from polyface.detect.types import concat_detections
from polyface.genome import Genome
from polyface.prior import FacePrior
from polyface.render.batch import Renderer, make_renderer
from polyface.search import bounds
from polyface.search.augment import AugmentSettings, augment
from polyface.search.final_check import FinalCheck
from polyface.search.lanes import Lanes
from polyface.search.timing import OFF, Timings, merge_workers
from polyface.search.types import Evaluation, Verdict

# Evaluation and Verdict moved to search.types, Renderer to render.batch.
__all__ = ["Evaluation", "PortraitProblem", "Renderer", "Verdict"]

DEPTH_SIDE = 0.75  # share of the portrait's least face size a window needs for MTCNN's depth to count it


class PortraitProblem(FinalCheck):
    """Scores genomes by the portrait rule at the working size and then at the search sizes
    (and, from ``FinalCheck``, checks a genome at every size of the final check)."""

    def __init__(
        self,
        detector: FaceDetector,
        work_size: int = 64,
        search_sizes: tuple[int, ...] = (96,),
        thresholds: tuple[float, float, float] = (0.8, 0.9, 0.7),
        min_box: float = 0.5,
        face_margin: float = fitness.NO_MARGIN,
        target: float = 0.99,
        augment: AugmentSettings | None = None,
        rng: np.random.Generator | None = None,
        accept_detector: FaceDetector | None = None,
        landmark_weight: float = 0.0,
        blazeface: bool = False,
        haar: bool = False,
        prior: float = 0.0,
        lanes: int = 1,
    ) -> None:
        self.lanes = Lanes(lanes)  # threads that split each batch's detector work: the same scores on any number
        self.landmark_weight = landmark_weight
        self.blaze = BlazeFace(device=detector.device) if blazeface else None
        self.haar = None
        if haar:
            self.haar = HaarDepth(min_box)
        self._haar_lanes = [self.haar]
        self.prior = FacePrior(detector.device) if prior > 0 else None
        self.prior_gate = prior
        self.detector = detector
        self.accept = accept_detector or detector
        self.device = detector.device
        self.render = make_renderer(self.device)
        self.sizes = (work_size, *[s for s in search_sizes if s != work_size])
        self.thresholds = thresholds
        self.min_box = min_box
        self.face_margin = face_margin
        # The search frames the face a little tighter than the final check asks: MTCNN's box
        # shifts by a few percent of the side from one size to the next.
        self.search_margin = face_margin + fitness.FRAME_SLACK if face_margin > fitness.NO_MARGIN else face_margin
        self.target = target
        self.augment = augment if augment and augment.copies > 0 else None
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self.pool = None
        self.batches = 0  # batches evaluated so far (part of the state: it decides where they are scored)
        self.local_batches = 0  # with a pool: how many first batches this process scores itself
        self.timings: Timings = OFF  # set to an enabled Timings to profile where the time goes
        self.settings = dict(
            work_size=work_size,
            search_sizes=tuple(search_sizes),
            thresholds=tuple(thresholds),
            min_box=min_box,
            face_margin=face_margin,
            target=target,
            augment=self.augment,
            landmark_weight=landmark_weight,
            blazeface=blazeface,
            haar=haar,
            prior=prior,
        )

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
    def noisy(self) -> bool:
        """True when scores carry random draws (robust scoring), so elites must be re-scored."""
        return self.augment is not None

    def _networks_at(self, genomes: list[Genome], size: int, seed: int | None) -> tuple[torch.Tensor, Detections, torch.Tensor]:
        """Render ``genomes`` at ``size``, make robust scoring's copies (copy k of genome b at
        ``k * len(genomes) + b``) and score them with the networks: the images, MTCNN's
        detections and each image's consensus of the networks, before the Haar gate."""
        t = self.timings
        with t.section("render"):
            images = self.render(genomes, size)
        if self.augment is not None:
            with t.section("augment"):
                images = augment(images, self.augment, torch.Generator().manual_seed(seed))
        det, tiers = self.member_tiers(images)
        return images, det, fitness.ensemble_score(list(tiers.values()))

    def _gate(self, images: torch.Tensor, pre: torch.Tensor) -> torch.Tensor:
        """The consensus after the Haar cascade (a yes/no detector on the CPU), which judges only
        the images every other member already accepts: its no holds them back, its yes adds nothing."""
        post = pre.clone()
        ok = (pre >= fitness.PASS_TIER).nonzero().flatten()
        if self.haar is not None and ok.numel():
            post[ok] = torch.minimum(pre[ok], self.haar_tiers(images[ok]).to(pre.device))
        return post

    def _members(self, images: torch.Tensor, t: Timings) -> tuple:
        """The networks' and the prior's raw signals on ``images``: MTCNN's detections, how far its
        cascade got and O-Net's whole-canvas log-odds (both only where it found no face),
        BlazeFace's detections and top logit, and the prior's correlation (None for a member the
        problem lacks)."""
        size = images.shape[-1]
        # The acceptance pyramid, less the fine levels that only see faces far too small to count:
        # a different pyramid would align differently with the face and not transfer across sizes.
        with t.section("mtcnn"):
            # Below a face, the search climbs both how far the cascade got (R-Net turns most
            # candidates down there, while O-Net already likes the whole canvas) and O-Net's
            # whole-canvas log-odds, which keeps the face the size of the canvas; the depth counts
            # only windows near the portrait's size, since small faces grow slowly into one.
            det, depth = self.detector.detect_depth(
                images,
                thresholds=self.thresholds,
                skip_below=0.5 * self.min_box * size,
                depth_side=DEPTH_SIDE * self.min_box * size,
            )
            logit = torch.zeros(images.shape[0], device=images.device)
            none = det.count == 0
            if bool(none.any()):
                logit[none] = self.detector.onet_logit(images[none])
        bdet = blogit = corr = None
        if self.blaze is not None:
            with t.section("blazeface"):
                bdet, blogit = self.blaze.detect(blaze_input(images))
        if self.prior is not None:
            with t.section("prior"):
                corr = self.prior(images, det.best_box)
        return det, depth, logit, bdet, blogit, corr

    def member_tiers(self, images: torch.Tensor) -> tuple[Detections, dict[str, torch.Tensor]]:
        """MTCNN's detections and the tiered score of each network and of the prior on
        ``images`` ("mtcnn", "blazeface", "prior", as enabled), as the search reads them, split
        between the lanes. The Haar cascade is not among them: the search asks it only about
        the images the others accept."""
        t = self.timings
        parts = self.lanes.map(
            lambda x, lane: self._members(x, OFF if lane else t), images, t.section("lanes: waiting for the other thread")
        )
        det, depth, logit, bdet, blogit, corr = (
            None if p[0] is None else (concat_detections(p) if isinstance(p[0], Detections) else torch.cat(p))
            for p in zip(*parts)
        )
        tiers = {
            "mtcnn": fitness.tiered_score(
                det, logit, self.min_box, self.landmark_weight, self.target, self.search_margin, depth
            )
        }
        if bdet is not None:
            tiers["blazeface"] = fitness.detector_tier(
                bdet, blogit, self.min_box, fitness.BLAZE_LOGIT_SCALE, face_margin=self.search_margin
            )
        if corr is not None:
            # As with the frame, the search asks a little more than the final check: the
            # correlation moves by a few hundredths from one size and render to the next.
            pt = fitness.prior_tier(corr, self.prior_gate + fitness.PRIOR_SLACK)
            tiers["prior"] = torch.where(det.count > 0, pt, torch.full_like(pt, 3.0))
        return det, tiers

    def haar_tiers(self, images: torch.Tensor) -> torch.Tensor:
        """The Haar cascade's tiered score of each image (split between the lanes): 3 where it
        finds the face, its graded depth in [1, 2) where not."""
        with self.timings.section("haar"):
            haars = self.haars()  # here, not in the lanes: one thread loads the cascades
            depth = torch.cat([torch.as_tensor(d) for d in self.lanes.map(lambda x, lane: haars[lane](x), images)])
        return fitness.gate_tier(depth, depth >= 1.0)

    def haars(self) -> list[HaarDepth]:
        """The Haar cascade of each lane: a cascade keeps per-call state, so the lanes after the
        first get their own, loaded when first needed (0.4 s that runs without a face skip)."""
        while len(self._haar_lanes) < self.lanes.n:
            self._haar_lanes.append(HaarDepth(self.min_box, shared=False))
        return self._haar_lanes

    def evaluate(self, genomes: list[Genome], top_k: int | None = None) -> Evaluation:
        """Score a batch: the first size for all, each further size only for those passing so far;
        with ``top_k``, exactly only as far as it takes to find the batch's ``top_k`` best.

        A candidate shown not to be among them keeps an upper bound of its score, below every
        score of theirs (``Evaluation.exact`` is False there; ``search.bounds``). Scored by the
        worker processes, every score is exact.

        With worker processes the batch is split between them, after the first
        ``local_batches`` batches, scored here while the workers start (a fixed count, so that
        a seed gives the same run whenever the workers are ready); each genome's score depends
        only on the genome and this generation's random draws, wherever it is computed.
        """
        seed = int(self.rng.integers(0, 2**62)) if self.augment is not None else None
        self.batches += 1
        if self.pool is not None and len(genomes) >= 2 * self.pool.size and self.batches > self.local_batches:
            if not self.timings.enabled:
                return self.pool.score(genomes, seed)
            with self.timings.section("workers: waiting for their start-up"):
                getattr(self.pool, "wait_ready", lambda: None)()
            t0 = self.timings.clock()
            ev = self.pool.score(genomes, seed)
            merge_workers(self.timings, self.timings.clock() - t0, self.pool.reports)
            return ev
        return self.score_batch(genomes, seed, top_k)

    def use_pool(self, pool, local_batches: int = 0) -> None:
        """Score large batches in ``pool`` (a ``polyface.search.workers.WorkerPool`` built from
        ``self.settings``) after the first ``local_batches``; ``close`` stops it."""
        self.pool, self.local_batches = pool, local_batches

    def close(self) -> None:
        """Stop worker processes and lane threads, if any."""
        self.lanes.close()
        if self.pool is not None:
            self.pool.close()
            self.pool = None

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
                post[s][:, idx] = self._gate(images[s][:, idx].flatten(0, 1), pre[s][:, idx].flatten()).view(copies, -1)
                continue
            shot, dets, consensus = self._networks_at([genomes[i] for i in rows], size, seed)
            p = pre[s][:, idx] = consensus.cpu().view(copies, -1)
            if self.haar is None:
                post[s][:, idx] = p
            else:  # kept for the gate; below the pass tier it is not asked: those scores are final
                if images[s] is None:
                    images[s] = shot.new_empty((copies, b, *shot.shape[1:]))
                images[s][:, idx] = shot.view(copies, len(rows), *shot.shape[1:])
                post[s][:, idx] = torch.where(p < fitness.PASS_TIER, p, float("nan"))
            if s == 0:  # the first stage: every candidate at the working size
                det = dets
        found = det.count.view(copies, b)[0] > 0
        boxes = det.best_box.view(copies, b, 4)[0] / self.sizes[0]
        boxes = torch.where(found[:, None], boxes, torch.full_like(boxes, float("nan")))
        return Evaluation(
            scores=bounds.upper(pre, post).double().numpy(),
            passes=((post[0] >= fitness.PASS_TIER).float().mean(0) >= 0.5).numpy(),
            probs=det.best_prob.view(copies, b)[0].cpu().numpy(),
            boxes=boxes.cpu().numpy(),
            exact=bounds.settled(post).numpy(),
        )
