"""The evolution loop: ask the strategy, evaluate through the problem, tell, notify hooks, stop.

Side effects (frames, logs, progress display) are hooks; the loop itself writes nothing.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from polyface.genome import Genome
from polyface.search.problem import PortraitProblem, Verdict


@dataclass
class Progress:
    """The state of a run after one generation."""

    generation: int
    evaluations: int
    best: float
    mean: float
    elapsed_s: float
    portrait: bool
    best_prob: float
    improved: bool = False

    @property
    def evals_per_s(self) -> float:
        return self.evaluations / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_dict(self) -> dict:
        return {
            "generation": self.generation,
            "evaluations": self.evaluations,
            "best": round(self.best, 6),
            "mean": round(self.mean, 6),
            "elapsed_s": round(self.elapsed_s, 4),
            "portrait": self.portrait,
            "best_prob": round(self.best_prob, 6),
        }


@dataclass
class Result:
    """What a run ends with: the best genome, its score and verdict, and why it stopped."""

    genome: Genome
    score: float
    portrait: bool
    verdict: Verdict
    generations: int
    evaluations: int
    elapsed_s: float
    status: str  # "target", "max_generations", "stagnation", "time_limit", "interrupted"
    extra: dict = field(default_factory=dict)


class Hook(Protocol):
    """Listens to the loop. Any method may be left out."""

    def on_start(self, genome: Genome) -> None: ...
    def on_generation(self, progress: Progress) -> None: ...
    def on_improve(self, genome: Genome, progress: Progress) -> None: ...
    def on_end(self, result: Result) -> None: ...


@dataclass(frozen=True)
class StopRules:
    max_generations: int = 20000
    stagnation: int = 0  # generations without improvement; 0 = off
    time_limit: float = 0.0  # seconds; 0 = off


def _call(hooks, name: str, *args) -> None:
    for h in hooks:
        fn = getattr(h, name, None)
        if fn is not None:
            fn(*args)


def run_loop(
    strategy,
    problem: PortraitProblem,
    stop: StopRules,
    verify_sizes: tuple[int, ...],
    hooks: list = (),
    clock=time.perf_counter,
    start_generation: int = 0,
    start_evaluations: int = 0,
    elapsed_before: float = 0.0,
) -> Result:
    """Run ``strategy`` on ``problem`` until a stop rule fires; KeyboardInterrupt ends it cleanly.

    A run reaches its target only when the best genome passes the portrait rule on the
    antialiased render at every size in ``verify_sizes`` (checked when the best improves and
    passes every search size).
    """
    t0 = clock() - elapsed_before
    generation, evaluations = start_generation, start_evaluations
    best_g, best_s = None, -math.inf
    verdict, verified_for = Verdict(), None
    last_improve = generation
    status = "max_generations"
    full_pass = 2.0 + (len(problem.sizes) - 1) / len(problem.sizes)
    first = True
    try:
        while generation < stop.max_generations:
            genomes = strategy.ask()
            ev = problem.evaluate(genomes)
            strategy.tell(genomes, ev.scores, ev.boxes)
            evaluations += len(genomes)
            generation += 1
            g, s = strategy.best
            improved = s > best_s or (problem.noisy and g is not best_g)
            if improved:
                if s > best_s:
                    last_improve = generation
                best_g, best_s = g, s
                if s >= full_pass and verified_for is not g:
                    verdict, verified_for = problem.verify(g, verify_sizes), g
            i = int(np.argmax(ev.scores))
            progress = Progress(
                generation=generation,
                evaluations=evaluations,
                best=best_s,
                mean=float(np.mean(ev.scores)),
                elapsed_s=clock() - t0,
                portrait=verdict.portrait and verified_for is best_g,
                best_prob=float(ev.probs[i]),
                improved=improved,
            )
            if first:
                _call(hooks, "on_start", best_g)
                first = False
            if improved:
                _call(hooks, "on_improve", best_g, progress)
            _call(hooks, "on_generation", progress)
            if progress.portrait:
                status = "target"
                break
            if stop.stagnation and generation - last_improve >= stop.stagnation:
                status = "stagnation"
                break
            if stop.time_limit and progress.elapsed_s >= stop.time_limit:
                status = "time_limit"
                break
    except KeyboardInterrupt:
        status = "interrupted"
    if best_g is None:
        best_g, best_s = strategy.best
        if best_g is None:
            raise KeyboardInterrupt  # interrupted before anything was scored
    if verified_for is not best_g:
        verdict, verified_for = problem.verify(best_g, verify_sizes, stop_early=False), best_g
    result = Result(
        genome=best_g,
        score=float(best_s),
        portrait=verdict.portrait,
        verdict=verdict,
        generations=generation,
        evaluations=evaluations,
        elapsed_s=clock() - t0,
        status=status,
    )
    _call(hooks, "on_end", result)
    return result
