"""The evolution loop: ask the strategy, evaluate through the problem, tell, notify hooks, stop.

Side effects (frames, logs, progress display) are hooks; the loop itself writes nothing.
A generation is one step that either happens whole or not at all: Ctrl-C while it is
computed rewinds the strategy, the problem and the loop to where it began; once it is
complete, Ctrl-C waits until the hooks have written its frames and lines.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from polyface.genome import Genome
from polyface.search.bounds import contenders
from polyface.search.contrast import stretch_portrait
from polyface.search.loop_state import LoopState
from polyface.judge.judge import Verdict
from polyface.judge.score import full_pass_score
from polyface.search.problem import PortraitProblem
from polyface.search.types import Evaluation
from polyface.search.rejects import REJECT_PENALTY
from polyface.search.stop import InterruptGate, StopReason, StopRules, should_stop

__all__ = ["Hook", "LoopState", "Progress", "Result", "StopReason", "StopRules", "run_loop", "step"]

@dataclass
class Progress:
    """The state of a run after one generation."""

    generation: int
    evaluations: int
    best: float
    mean: float  # the batch's mean score (candidates ruled out of its best counted at an upper bound)
    elapsed_s: float
    portrait: bool
    best_prob: float  # face probability of this generation's best candidate
    improved: bool = False
    first_portrait: bool = False  # this generation found the run's first verified portrait

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
    """What a run ends with: the best genome, its score and verdict, and why it stopped.

    ``elapsed_s`` counts the final verification too; ``verify_s`` is the part of it that
    the final verification took (a time limit stops the search, not the verification).
    """

    genome: Genome
    score: float
    portrait: bool
    verdict: Verdict
    generations: int
    evaluations: int
    elapsed_s: float
    status: StopReason
    verify_s: float = 0.0
    portrait_generation: int | None = None  # when the first verified portrait came (polishing goes on after it)
    portrait_s: float | None = None
    contrast: float = 1.0  # the stretch given to the finished portrait (``search.contrast``)
    extra: dict = field(default_factory=dict)


class Hook(Protocol):
    """Listens to the loop. Any method may be left out."""

    def on_start(self, genome: Genome) -> None: ...
    def on_generation(self, progress: Progress) -> None: ...
    def on_evaluated(self, genomes: list[Genome], scores: np.ndarray) -> None: ...  # each generation's batch
    def on_improve(self, genome: Genome, progress: Progress) -> None: ...
    def on_checkpoint(self, snapshot: dict) -> None: ...
    def on_end(self, result: Result) -> None: ...


def _call(hooks, name: str, *args) -> None:
    for h in hooks:
        fn = getattr(h, name, None)
        if fn is not None:
            fn(*args)


POLISH_CHECK_EVERY = 10  # while polishing, the best is checked every this many generations, and at the end


def worth_checking(st: LoopState, full_pass: float) -> bool:
    """The best passes every search size and is new to the final check."""
    g = st.best
    if g is None or st.best_score < full_pass or g in st.rejects:
        return False
    return st.verified is None or st.verified != g


def check_best(st: LoopState, problem: PortraitProblem, verify_sizes: tuple[int, ...]) -> bool:
    """Check the best at every verify size and keep it when the check accepts it."""
    g, s = st.best, st.best_score
    st.verdict, st.verified = problem.verify(g, verify_sizes), g
    if st.verdict.portrait:
        st.keep(g, s, st.verdict)
    return st.verdict.portrait


def maybe_verify(strategy, st: LoopState, problem: PortraitProblem, verify_sizes: tuple[int, ...], full_pass: float) -> None:
    """Check the best at every verify size when it passes every search size and was not checked
    before. A genome the check rejects is remembered and its score lowered (``rejects``): the
    search goes on from it, and the next candidate that passes every search size and scores as
    well outranks it and is checked in turn. While polishing, only every ``POLISH_CHECK_EVERY``
    generations: the check costs several generations' search."""
    if st.portrait_at is not None and (st.generation - st.portrait_at) % POLISH_CHECK_EVERY:
        return
    if not worth_checking(st, full_pass):
        return
    g = st.best
    if not check_best(st, problem, verify_sizes):
        st.rejects.add(g)
        strategy.penalise(g, REJECT_PENALTY)
        st.best, st.best_score = strategy.best


def step(
    strategy, problem: PortraitProblem, st: LoopState, verify_sizes: tuple[int, ...], gate: InterruptGate | None = None
) -> tuple[list[Genome], Evaluation, bool]:
    """One generation: ask, evaluate, tell, update ``st`` and verify a new best worth it.

    Returns the generation's genomes, their evaluation and whether the best improved. KeyboardInterrupt (or any error)
    inside it rewinds strategy, problem and ``st`` to where the generation began; its last
    act holds ``gate``, so a Ctrl-C after it waits for the generation to be written.
    """
    mark = (strategy.state_dict(), problem.state_dict(), dataclasses.replace(st, rejects=st.rejects.copy()))
    try:
        genomes = strategy.ask()
        full_pass = full_pass_score(len(problem.sizes))
        ev = problem.evaluate(genomes, top_k=contenders(strategy, st.best_score, st.rejects, genomes, full_pass))
        ev.scores = st.rejects.apply(genomes, ev.scores)
        strategy.tell(genomes, ev.scores, ev.boxes)
        st.evaluations += len(genomes)
        st.generation += 1
        g, s = strategy.best
        improved = s > st.best_score or (problem.noisy and (st.best is None or g != st.best))
        if improved:
            if s > st.peak:  # stagnation counts from the best score ever, rejected genomes' included
                st.peak, st.last_improve = s, st.generation
            st.best, st.best_score = g, s
        # Every generation: a rejected best may have handed the lead to a genome not checked yet.
        maybe_verify(strategy, st, problem, verify_sizes, full_pass)
        if gate is not None:
            gate.held = True
    except BaseException:
        strategy.load_state_dict(mark[0])
        problem.load_state_dict(mark[1])
        for f in dataclasses.fields(st):
            setattr(st, f.name, getattr(mark[2], f.name))
        raise
    return genomes, ev, improved


def _progress(st: LoopState, ev: Evaluation, elapsed_s: float, improved: bool) -> Progress:
    i = int(np.argmax(ev.scores))
    return Progress(
        generation=st.generation,
        evaluations=st.evaluations,
        best=st.best_score,
        mean=float(np.mean(ev.scores)),
        elapsed_s=elapsed_s,
        portrait=st.kept is not None,
        best_prob=float(ev.probs[i]),
        improved=improved,
        first_portrait=st.portrait_at == st.generation,
    )


def run_loop(
    strategy,
    problem: PortraitProblem,
    stop: StopRules,
    verify_sizes: tuple[int, ...],
    hooks: list = (),
    state: LoopState | None = None,
    checkpoint_every: float = 5.0,
    clock=time.perf_counter,
    contrast: float = 1.0,
) -> Result:
    """Run ``strategy`` on ``problem`` until a stop rule fires; KeyboardInterrupt ends it cleanly.

    A run reaches its target only when the best genome passes the portrait rule on the
    antialiased render at every size in ``verify_sizes`` (checked when the best improves and
    passes every search size). Every ``checkpoint_every`` seconds, and at the end, hooks'
    ``on_checkpoint(snapshot)`` get plain data from which ``state`` (with the strategy's and
    problem's ``load_state_dict``) continues the run exactly. With ``contrast`` > 1 the finished
    portrait's contrast is stretched as far as the final check accepts (``search.contrast``).
    """
    st = state or LoopState()
    resumed = state is not None
    t0 = clock() - st.elapsed_s
    last_checkpoint = clock()

    def snapshot() -> dict:
        st.elapsed_s = clock() - t0
        return {"loop": st.to_dict(), "strategy": strategy.state_dict(), "problem": problem.state_dict()}

    status: StopReason | None = StopReason.MAX_GENERATIONS if st.generation >= stop.max_generations else None
    gate = InterruptGate()
    try:
        with gate.installed():
            while status is None:
                genomes, ev, improved = step(strategy, problem, st, verify_sizes, gate)
                try:  # the generation is complete: its frames and lines are written whole
                    progress = _progress(st, ev, clock() - t0, improved)
                    if st.portrait_at is not None and st.portrait_s is None:
                        st.portrait_s = progress.elapsed_s
                    if st.generation == 1 and not resumed:
                        _call(hooks, "on_start", st.best)
                    _call(hooks, "on_evaluated", genomes, ev.scores)
                    if improved:
                        _call(hooks, "on_improve", st.best, progress)
                    _call(hooks, "on_generation", progress)
                finally:
                    gate.release()
                status = should_stop(stop, st.generation, st.last_improve, progress.elapsed_s, st.portrait_at)
                if status is None and checkpoint_every and clock() - last_checkpoint >= checkpoint_every:
                    _call(hooks, "on_checkpoint", snapshot())
                    last_checkpoint = clock()
    except KeyboardInterrupt:
        status = StopReason.INTERRUPTED
    return _finish(st, problem, verify_sizes, hooks, snapshot, status, clock, t0, contrast)


def _finish(
    st: LoopState, problem, verify_sizes, hooks, snapshot, status: StopReason, clock, t0: float, contrast: float
) -> Result:
    """Checkpoint, verify the best at every size when not done yet, stretch the portrait's
    contrast where asked, and tell the hooks."""
    if st.best is None:
        raise KeyboardInterrupt  # interrupted before anything was scored: nothing to save
    _call(hooks, "on_checkpoint", snapshot())
    t_verify = clock()
    if st.kept is not None and st.kept != st.best and worth_checking(st, full_pass_score(len(problem.sizes))):
        try:  # polishing's last best, not checked yet
            check_best(st, problem, verify_sizes)
        except KeyboardInterrupt:  # the last portrait the check accepted is still there
            status = StopReason.INTERRUPTED
    genome, score = st.best, st.best_score
    verdict = st.verdict if st.best_verified else Verdict()
    if st.kept is not None and st.kept != st.best:  # polishing moved on from the last portrait the check accepted
        genome, score, verdict = st.kept, st.kept_score, st.kept_verdict
    elif not st.best_verified:
        try:
            verdict = problem.verify(st.best, verify_sizes, stop_early=False)
        except KeyboardInterrupt:  # the portrait is still saved, unverified; --resume checks it
            status = StopReason.INTERRUPTED
    k = 1.0
    if contrast > 1.0 and status != StopReason.INTERRUPTED:
        s = stretch_portrait(genome, verdict, lambda g: problem.verify(g, verify_sizes), contrast)
        genome, verdict, k = s.genome, s.verdict, s.k
        if s.interrupted:
            status = StopReason.INTERRUPTED
    now = clock()
    result = Result(
        genome=genome,
        score=float(score),
        portrait=verdict.portrait,
        verdict=verdict,
        generations=st.generation,
        evaluations=st.evaluations,
        elapsed_s=now - t0,
        status=status,
        verify_s=now - t_verify,
        portrait_generation=st.portrait_at,
        portrait_s=st.portrait_s,
        contrast=k,
    )
    _call(hooks, "on_end", result)
    return result
