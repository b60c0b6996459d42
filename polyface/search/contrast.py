"""The last step of a run: the finished portrait with more contrast, as far as the final check allows.

Independent face detectors see a polished portrait more readily when its shapes stand further
from the ground (BENCHMARKS.md, rounds eleven and twelve). Every shape's colour is moved ``k``
times as far from the background (``genome.stretch_contrast``), for k in steps of
``CONTRAST_STEP`` up to the preset's ``contrast``, and the largest k that the run's own final
check accepts at every size is kept. The portrait stays polygons only, and stays verified.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

from polyface.genome import Genome, stretch_contrast
from polyface.search.types import Verdict

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

    Stretches are tried from the smallest, and the first that ``check`` rejects ends the
    search, so every kept step was accepted; without one, ``genome`` and ``verdict`` come back
    with k = 1. Ctrl-C during a check keeps the last accepted stretch (``interrupted``).
    Unverified portraits, empty ones and palette genomes are not stretched.
    """
    best = Stretched(genome, verdict)
    if not verdict.portrait or genome.palette is not None or genome.n_polygons == 0:
        return best
    for k in contrast_steps(most):
        candidate = stretch_contrast(genome, k)
        if candidate == best.genome:  # every colour is clipped already: nothing more to stretch
            break
        try:
            v = check(candidate)
        except KeyboardInterrupt:
            return dataclasses.replace(best, interrupted=True)
        if not v.portrait:
            break
        best = Stretched(candidate, v, k)
    return best
