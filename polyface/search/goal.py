"""The portrait goal: what a run is for beyond a high score, as a hook on the generic loop.

The search's score is all the search knows; a portrait is what the judge's final check accepts
(``Problem.verify``) at every size up to the print. The goal decides when the best is worth that
check, keeps the last genome the check accepted, turns the check's rejects into a small penalty
(``search.rejects``), stops the run ``polish`` generations after the first portrait, and at the
end hands back the kept portrait. Its state lives in ``LoopState`` (so a checkpoint holds it).
"""

from __future__ import annotations

from polyface.genome import Genome
from polyface.judge.judge import Verdict
from polyface.judge.score import full_pass_score
from polyface.search.bounds import contenders
from polyface.search.loop_state import LoopState
from polyface.search.rejects import REJECT_PENALTY
from polyface.search.stop import StopReason
from polyface.search.types import Problem

POLISH_CHECK_EVERY = 10  # while polishing, the best is checked every this many generations, and at the end


class PortraitGoal:
    """A verified portrait at every one of ``verify_sizes``, polished ``polish`` generations on."""

    def __init__(self, problem: Problem, verify_sizes: tuple[int, ...], polish: int = 0) -> None:
        self.problem = problem
        self.verify_sizes = tuple(verify_sizes)
        self.polish = polish
        self.full_pass = full_pass_score(len(problem.sizes))

    def top_k(self, strategy, st: LoopState, genomes: list[Genome]) -> int | None:
        """How many of the batch's best need exact scores (``bounds.contenders``)."""
        return contenders(strategy, st.best_score, st.rejects, genomes, self.full_pass)

    def adjust(self, st: LoopState, genomes: list[Genome], scores):
        """The batch's scores with the final check's rejects penalised."""
        return st.rejects.apply(genomes, scores)

    def worth_checking(self, st: LoopState) -> bool:
        """The best passes every search size and is new to the final check."""
        g = st.best
        if g is None or st.best_score < self.full_pass or g in st.rejects:
            return False
        return st.verified is None or st.verified != g

    def check_best(self, st: LoopState) -> bool:
        """Check the best at every verify size and keep it when the check accepts it."""
        g, s = st.best, st.best_score
        st.verdict, st.verified = self.problem.verify(g, self.verify_sizes), g
        if st.verdict.portrait:
            st.keep(g, s, st.verdict)
        return st.verdict.portrait

    def after_tell(self, strategy, st: LoopState) -> None:
        """Check the best at every verify size when it passes every search size and was not checked
        before. A genome the check rejects is remembered and its score lowered (``rejects``): the
        search goes on from it, and the next candidate that passes every search size and scores as
        well outranks it and is checked in turn. While polishing, only every ``POLISH_CHECK_EVERY``
        generations: the check costs several generations' search."""
        if st.portrait_at is not None and (st.generation - st.portrait_at) % POLISH_CHECK_EVERY:
            return
        if not self.worth_checking(st):
            return
        g = st.best
        if not self.check_best(st):
            st.rejects.add(g)
            strategy.penalise(g, REJECT_PENALTY)
            st.best, st.best_score = strategy.best

    def stop(self, st: LoopState) -> StopReason | None:
        """TARGET ``polish`` generations after the first verified portrait."""
        if st.portrait_at is not None and st.generation >= st.portrait_at + self.polish:
            return StopReason.TARGET
        return None

    def finish(self, st: LoopState, status: StopReason) -> tuple[Genome, float, Verdict, StopReason]:
        """The run's portrait: polishing's last best when the check accepts it, else the last
        genome the check accepted, else the best checked at every size (a Ctrl-C during the check
        leaves the portrait unverified; ``--resume`` checks it)."""
        if st.kept is not None and st.kept != st.best and self.worth_checking(st):
            try:  # polishing's last best, not checked yet
                self.check_best(st)
            except KeyboardInterrupt:  # the last portrait the check accepted is still there
                status = StopReason.INTERRUPTED
        genome, score = st.best, st.best_score
        verdict = st.verdict if st.best_verified else Verdict()
        if st.kept is not None and st.kept != st.best:  # polishing moved on from the last portrait the check accepted
            genome, score, verdict = st.kept, st.kept_score, st.kept_verdict
        elif not st.best_verified:
            try:
                verdict = self.problem.verify(st.best, self.verify_sizes, stop_early=False)
            except KeyboardInterrupt:
                status = StopReason.INTERRUPTED
        return genome, score, verdict, status
