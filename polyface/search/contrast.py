"""The last step of a run: the finished portrait with more contrast, as far as the final check allows.

Independent face detectors see a polished portrait more readily when its shapes stand further
from the ground (docs/decisions.md). Every shape's colour is moved ``k``
times as far from the background (``genome.stretch_contrast``), for k in steps of
``CONTRAST_STEP`` up to the preset's ``contrast``, and the largest k that the run's own final
check accepts at every size is kept. The portrait stays polygons only, and stays verified.

The largest stretch is tried first and the others in turn below it: a polished portrait
usually takes the whole stretch, so one passing check (every size up to the print, the costly
kind) settles it, where trying from the smallest paid for a passing check at every step.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

from polyface.genome import Genome, stretch_contrast
from polyface.judge.judge import Verdict

CONTRAST_STEP = 0.25  # the stretches tried: 1 + CONTRAST_STEP, 1 + 2 * CONTRAST_STEP, ... up to the preset's contrast


def contrast_steps(most: float) -> list[float]:
    """The stretch factors tried, smallest first: every ``CONTRAST_STEP`` above 1, and ``most`` itself."""
    n = math.ceil(round((most - 1.0) / CONTRAST_STEP, 6)) if most > 1.0 else 0
    return [min(1.0 + CONTRAST_STEP * i, most) for i in range(1, n + 1)]


@dataclass(frozen=True)
class Stretched:
    """What ``stretch_portrait`` kept: the genome, its verdict, the factor and whether Ctrl-C cut it short."""

    genome: Genome
    verdict: Verdict
    k: float = 1.0
    interrupted: bool = False


def stretch_portrait(
    genome: Genome, verdict: Verdict, check: Callable[[Genome], Verdict], most: float
) -> Stretched:
    """The largest stretch of ``genome`` up to ``most`` that ``check`` accepts.

    Stretches are tried from the largest down, and the first that ``check`` accepts is kept;
    without one, ``genome`` and ``verdict`` come back with k = 1. Ctrl-C during a check keeps
    ``genome`` as it was (``interrupted``). Unverified portraits, empty ones and palette
    genomes are not stretched.
    """
    best = Stretched(genome, verdict)
    if not verdict.portrait or genome.palette is not None or genome.n_polygons == 0:
        return best
    steps = contrast_steps(most)
    drawn = [stretch_contrast(genome, k) for k in steps]
    for i in reversed(range(len(steps))):
        candidate = drawn[i]
        if candidate == genome or (i + 1 < len(steps) and candidate == drawn[i + 1]):
            continue  # every colour clipped already: the same genome as a larger k, refused, or none at all
        try:
            v = check(candidate)
        except KeyboardInterrupt:
            return dataclasses.replace(best, interrupted=True)
        if v.portrait:
            while i > 0 and drawn[i - 1] == candidate:  # the smallest k that draws it
                i -= 1
            return Stretched(candidate, v, steps[i])
    return best


class Contrast:
    """The finishing step of a run: the portrait stretched up to ``most`` as far as ``problem``'s
    final check at ``verify_sizes`` accepts (``stretch_portrait``)."""

    def __init__(self, problem, verify_sizes: tuple[int, ...], most: float) -> None:
        self.problem, self.verify_sizes, self.most = problem, tuple(verify_sizes), most

    def __call__(self, genome: Genome, verdict: Verdict) -> Stretched:
        return stretch_portrait(genome, verdict, lambda g: self.problem.verify(g, self.verify_sizes), self.most)
