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
from polyface.judge.judge import Verdict
from polyface.search.loop_state import LoopState
from polyface.search.stop import InterruptGate, StopReason, StopRules, should_stop
from polyface.search.types import Evaluation, Problem


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


class Goal(Protocol):
    """What a run is for beyond the best score (``search.goal.PortraitGoal``): it reads and
    adjusts each generation inside the generation's transaction, may stop the run, and decides
    what the run ends with."""

    def top_k(self, strategy, st: LoopState, genomes: list[Genome]) -> int | None: ...
    def adjust(self, st: LoopState, genomes: list[Genome], scores: np.ndarray) -> np.ndarray: ...
    def after_tell(self, strategy, st: LoopState) -> None: ...
    def stop(self, st: LoopState) -> StopReason | None: ...
    def finish(self, st: LoopState, status: StopReason) -> tuple[Genome, float, Verdict, StopReason]: ...


def step(strategy, problem: Problem, st: LoopState, goal: Goal | None = None, gate: InterruptGate | None = None
         ) -> tuple[list[Genome], Evaluation, bool]:
    """One generation: ask, evaluate, tell, update ``st``, and let the goal read it.

    Returns the generation's genomes, their evaluation and whether the best improved. KeyboardInterrupt (or any error)
    inside it rewinds strategy, problem and ``st`` to where the generation began; its last
    act holds ``gate``, so a Ctrl-C after it waits for the generation to be written.
    """
    mark = (strategy.state_dict(), problem.state_dict(), dataclasses.replace(st, rejects=st.rejects.copy()))
    try:
        genomes = strategy.ask()
        ev = problem.evaluate(genomes, top_k=goal.top_k(strategy, st, genomes) if goal else None)
        if goal is not None:
            ev.scores = goal.adjust(st, genomes, ev.scores)
        strategy.tell(genomes, ev.scores, ev.boxes)
        st.evaluations += len(genomes)
        st.generation += 1
        g, s = strategy.best
        improved = s > st.best_score or (problem.noisy and (st.best is None or g != st.best))
        if improved:
            if s > st.peak:  # stagnation counts from the best score ever, rejected genomes' included
                st.peak, st.last_improve = s, st.generation
            st.best, st.best_score = g, s
        if goal is not None:  # every generation: a rejected best may have handed the lead to a genome not checked yet
            goal.after_tell(strategy, st)
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
    problem: Problem,
    stop: StopRules,
    hooks: list = (),
    state: LoopState | None = None,
    checkpoint_every: float = 5.0,
    clock=time.perf_counter,
    goal: Goal | None = None,
    finish=None,
) -> Result:
    """Run ``strategy`` on ``problem`` until a stop rule (or the ``goal``) stops it;
    KeyboardInterrupt ends it cleanly.

    Every ``checkpoint_every`` seconds, and at the end, hooks' ``on_checkpoint(snapshot)`` get
    plain data from which ``state`` (with the strategy's and problem's ``load_state_dict``)
    continues the run exactly. The ``goal`` (``search.goal.PortraitGoal``) decides what the run
    ends with; ``finish(genome, verdict)``, where given, is a last step on it (``search.contrast``).
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
                genomes, ev, improved = step(strategy, problem, st, goal, gate)
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
                status = (goal.stop(st) if goal else None) or should_stop(stop, st.generation, st.last_improve, progress.elapsed_s)
                if status is None and checkpoint_every and clock() - last_checkpoint >= checkpoint_every:
                    _call(hooks, "on_checkpoint", snapshot())
                    last_checkpoint = clock()
    except KeyboardInterrupt:
        status = StopReason.INTERRUPTED
    return _finish(st, hooks, snapshot, status, clock, t0, goal, finish)


def _finish(st: LoopState, hooks, snapshot, status: StopReason, clock, t0: float, goal, finish) -> Result:
    """Checkpoint, let the goal pick what the run ends with, finish it where asked (not after a
    Ctrl-C), and tell the hooks."""
    if st.best is None:
        raise KeyboardInterrupt  # interrupted before anything was scored: nothing to save
    _call(hooks, "on_checkpoint", snapshot())
    t_verify = clock()
    genome, score, verdict = st.best, st.best_score, Verdict()
    if goal is not None:
        genome, score, verdict, status = goal.finish(st, status)
    k = 1.0
    if finish is not None and status != StopReason.INTERRUPTED:
        s = finish(genome, verdict)
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
