"""The final check: one genome's antialiased Cairo render judged at each size by every member
of the ensemble, with the final check's own rules (the search's slack left out).

``FinalCheck`` is a part of ``PortraitProblem``, which holds the detectors it reads:
``accept`` (MTCNN at its default thresholds), ``blaze``, ``prior``, ``haar`` (None where
the problem leaves a member out), the rule's ``min_box``, ``face_margin``, ``target`` and
``prior_gate``, and its ``timings`` and ``lanes``.
"""

from __future__ import annotations

import torch

from polyface import fitness
from polyface.detect.blazeface import blaze_input
from polyface.detect.mtcnn import Detections
from polyface.genome import Genome
from polyface.render.cairo import render_batch
from polyface.search.types import Verdict


class FinalCheck:
    """``verify`` and ``judge`` for a problem that holds the detectors named above."""

    def verify(self, genome: Genome, sizes: tuple[int, ...], stop_early: bool = True) -> Verdict:
        """Check the portrait rule on the antialiased Cairo render at each size, smallest first,
        with every member of the ensemble (see ``judge``)."""
        with self.timings.section("verify"), self.lanes.whole():
            return self._verify(genome, sizes, stop_early)

    def _verify(self, genome: Genome, sizes: tuple[int, ...], stop_early: bool) -> Verdict:
        verdict = Verdict()
        for size in sorted(set(sizes)):
            with self.timings.section("verify: render"):
                image = render_batch([genome], size, antialias=True)
            det, votes = self.judge(image)
            ok = all(votes.values())
            verdict.sizes[size] = (ok, float(det.best_prob[0]), int(det.count[0]))
            if stop_early and not ok:
                break
        return verdict

    def judge(self, image: torch.Tensor) -> tuple[Detections, dict[str, bool]]:
        """Each ensemble member's yes or no on one image (1,3,H,W): MTCNN's portrait rule with
        ``prob >= target`` at its default thresholds, BlazeFace's portrait rule, the face-layout
        prior's gate and the whole Haar cascade, as the problem enables them."""
        t = self.timings
        with t.section("verify: mtcnn"):
            det = self.accept(image)
        rule = (self.min_box, self.face_margin)
        votes = {"mtcnn": bool(fitness.portrait_rule(det, *rule)[0]) and float(det.best_prob[0]) >= self.target}
        if self.blaze is not None:
            with t.section("verify: blazeface"):
                votes["blazeface"] = bool(fitness.portrait_rule(self.blaze(blaze_input(image)), *rule)[0])
        if self.prior is not None:
            with t.section("verify: prior"):
                corr = float(self.prior(image, det.best_box)[0]) if int(det.count[0]) else -1.0
            votes["prior"] = corr >= self.prior_gate
        if self.haar is not None:
            with t.section("verify: haar"):
                votes["haar"] = bool(self.haar.found(image)[0])
        return det, votes
