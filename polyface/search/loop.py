"""The evolution loop: ask the strategy, evaluate through the problem, tell, notify hooks, stop.

Side effects (frames, logs, progress display) are hooks; the loop itself writes nothing.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from polyface.genome import Genome, from_dict
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
    def on_evaluated(self, genomes: list[Genome], scores: np.ndarray) -> None: ...  # each generation's batch
    def on_improve(self, genome: Genome, progress: Progress) -> None: ...
    def on_end(self, result: Result) -> None: ...


VERIFY_STEP = 0.02  # score gain over the last failed verification before the next one


@dataclass(frozen=True)
class StopRules:
    max_generations: int = 20000
    stagnation: int = 0  # generations without improvement; 0 = off
    time_limit: float = 0.0  # seconds; 0 = off


@dataclass
class LoopState:
    """What the loop itself remembers between generations (the strategy keeps the rest)."""

    generation: int = 0
    evaluations: int = 0
    elapsed_s: float = 0.0
    best: Genome | None = None
    best_score: float = -math.inf
    last_improve: int = 0
    verdict: Verdict = field(default_factory=Verdict)
    verified: Genome | None = None  # the genome ``verdict`` belongs to
    verify_floor: float = -math.inf  # score of the last genome that failed verification

    def to_dict(self) -> dict:
        return {
            "generation": self.generation,
            "evaluations": self.evaluations,
            "elapsed_s": self.elapsed_s,
            "best": self.best.to_dict() if self.best is not None else None,
            "best_score": self.best_score if math.isfinite(self.best_score) else None,
            "last_improve": self.last_improve,
            "verdict": [[s, ok, p, n] for s, (ok, p, n) in sorted(self.verdict.sizes.items())],
            "verified_is_best": self.verified is not None and self.verified is self.best,
            "verify_floor": self.verify_floor if math.isfinite(self.verify_floor) else None,
        }

    @classmethod
    def from_dict(cls, d: dict) -> LoopState:
        best = from_dict(d["best"]) if d["best"] is not None else None
        verdict = Verdict({int(s): (bool(ok), float(p), int(n)) for s, ok, p, n in d["verdict"]})
        return cls(
            generation=int(d["generation"]),
            evaluations=int(d["evaluations"]),
            elapsed_s=float(d["elapsed_s"]),
            best=best,
            best_score=-math.inf if d["best_score"] is None else float(d["best_score"]),
            last_improve=int(d["last_improve"]),
            verdict=verdict,
            verified=best if d["verified_is_best"] else None,
            verify_floor=-math.inf if d.get("verify_floor") is None else float(d["verify_floor"]),
        )


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
    state: LoopState | None = None,
    checkpoint_every: float = 5.0,
    clock=time.perf_counter,
) -> Result:
    """Run ``strategy`` on ``problem`` until a stop rule fires; KeyboardInterrupt ends it cleanly.

    A run reaches its target only when the best genome passes the portrait rule on the
    antialiased render at every size in ``verify_sizes`` (checked when the best improves and
    passes every search size). Every ``checkpoint_every`` seconds, and at the end, hooks'
    ``on_checkpoint(snapshot)`` get plain data from which ``state`` (with the strategy's and
    problem's ``load_state_dict``) continues the run exactly.
    """
    st = state or LoopState()
    resumed = state is not None
    t0 = clock() - st.elapsed_s
    last_checkpoint = clock()
    status = "max_generations"
    full_pass = 2.0 + (len(problem.sizes) - 1) / len(problem.sizes)

    def snapshot() -> dict:
        st.elapsed_s = clock() - t0
        return {"loop": st.to_dict(), "strategy": strategy.state_dict(), "problem": problem.state_dict()}

    pre = None
    try:
        while st.generation < stop.max_generations:
            pre = (strategy.rng.bit_generator.state, problem.state_dict())
            genomes = strategy.ask()
            ev = problem.evaluate(genomes)
            strategy.tell(genomes, ev.scores, ev.boxes)
            pre = None
            st.evaluations += len(genomes)
            st.generation += 1
            g, s = strategy.best
            improved = s > st.best_score or (problem.noisy and (st.best is None or g != st.best))
            if improved:
                if s > st.best_score:
                    st.last_improve = st.generation
                st.best, st.best_score = g, s
                # Checking every size up to the print is costly: after a failure, wait for a clear gain.
                worth = s >= full_pass and s >= st.verify_floor + VERIFY_STEP
                if worth and not (st.verified is not None and st.verified == g):
                    st.verdict, st.verified = problem.verify(g, verify_sizes), g
                    if not st.verdict.portrait:
                        st.verify_floor = s
            i = int(np.argmax(ev.scores))
            progress = Progress(
                generation=st.generation,
                evaluations=st.evaluations,
                best=st.best_score,
                mean=float(np.mean(ev.scores)),
                elapsed_s=clock() - t0,
                portrait=st.verdict.portrait and st.verified is st.best,
                best_prob=float(ev.probs[i]),
                improved=improved,
            )
            if st.generation == 1 and not resumed:
                _call(hooks, "on_start", st.best)
            _call(hooks, "on_evaluated", genomes, ev.scores)
            if improved:
                _call(hooks, "on_improve", st.best, progress)
            _call(hooks, "on_generation", progress)
            if progress.portrait:
                status = "target"
                break
            if stop.stagnation and st.generation - st.last_improve >= stop.stagnation:
                status = "stagnation"
                break
            if stop.time_limit and progress.elapsed_s >= stop.time_limit:
                status = "time_limit"
                break
            if checkpoint_every and clock() - last_checkpoint >= checkpoint_every:
                _call(hooks, "on_checkpoint", snapshot())
                last_checkpoint = clock()
    except KeyboardInterrupt:
        status = "interrupted"
        if pre is not None:  # interrupted mid-generation: rewind the random draws of that generation
            strategy.rng.bit_generator.state = pre[0]
            problem.load_state_dict(pre[1])
    if st.best is None:
        raise KeyboardInterrupt  # interrupted before anything was scored: nothing to save
    _call(hooks, "on_checkpoint", snapshot())
    if not (st.verified is not None and st.verified is st.best):
        st.verdict, st.verified = problem.verify(st.best, verify_sizes, stop_early=False), st.best
    result = Result(
        genome=st.best,
        score=float(st.best_score),
        portrait=st.verdict.portrait,
        verdict=st.verdict,
        generations=st.generation,
        evaluations=st.evaluations,
        elapsed_s=clock() - t0,
        status=status,
    )
    _call(hooks, "on_end", result)
    return result
