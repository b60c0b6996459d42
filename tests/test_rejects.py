"""Genomes the final check rejects stop blocking the search (mechanics on a stand-in scorer)."""

import numpy as np
import pytest

from polyface.genome import random_genome
from polyface.search.loop import LoopState, StopRules
from problems import portrait_loop
from polyface.search.mutate import MutationSettings
from polyface.search.problem import Evaluation, Verdict
from polyface.search.rejects import REJECT_PENALTY, Rejects, fingerprint
from polyface.search.strategies import HillClimbStrategy, PopulationStrategy
from polyface.validate import FieldError

SETTINGS = MutationSettings(n_vertices=4, max_polygons=30)


class PlateauProblem:
    """Scores rise as polygons gather at the centre, up to a plateau at 2.5 (every search size
    passes); the final check accepts only genomes whose first polygon is light, a property the
    score knows nothing of, as a check at a size the search never saw."""

    sizes = (64,)
    noisy = False

    def __init__(self):
        self.checked = []

    def evaluate(self, genomes, top_k=None):
        scores = np.array([min(2.5, 2.9 - np.abs(g.vertices.mean(1) - 0.5).sum(1).mean()) for g in genomes])
        n = len(genomes)
        return Evaluation(scores, np.zeros(n), np.full((n, 4), np.nan))

    def verify(self, genome, sizes, stop_early=True):
        ok = bool(genome.colours[0, :3].mean() > 0.5)
        self.checked.append(ok)
        return Verdict({64: (ok, 1.0, 1)})

    def state_dict(self):
        return {}

    def load_state_dict(self, d):
        pass


def _dark_first(seed: int):
    g = random_genome(np.random.default_rng(seed), 8, 4)
    g.colours[0, :3] = 0.1  # the check fails until a mutation lightens the first polygon
    return g


def test_a_rejected_best_on_a_plateau_gives_way_to_one_that_passes():
    """The best reaches the plateau and fails the check; without rejects it stays the best and
    nothing else is ever checked. With them, equal-scoring children outrank it and get checked."""
    prob = PlateauProblem()
    st = LoopState()
    strat = PopulationStrategy([_dark_first(0)], np.random.default_rng(1), SETTINGS, population=8, elites=2)
    r = portrait_loop(strat, prob, StopRules(max_generations=600), (64,), state=st)
    assert r.status == "target" and r.portrait
    assert prob.checked[-1] and prob.checked.count(False) >= 1  # it got there past rejected genomes
    assert len(st.rejects) == prob.checked.count(False)
    assert r.genome not in st.rejects


def test_rejected_genomes_lose_the_penalty_wherever_they_are_scored():
    a, b = _dark_first(1), _dark_first(2)
    rej = Rejects()
    rej.add(a)
    out = rej.apply([a, b, a.copy()], np.array([2.6, 2.6, 2.4]))
    assert out == pytest.approx([2.6 - REJECT_PENALTY, 2.6, 2.4 - REJECT_PENALTY])
    assert a in rej and b not in rej and len(rej) == 1


def test_strategies_penalise_a_kept_genome():
    prob = PlateauProblem()
    pop = PopulationStrategy([_dark_first(3), _dark_first(4)], np.random.default_rng(1), SETTINGS, population=4, elites=2)
    first = pop.ask()
    pop.tell(first, prob.evaluate(first).scores)
    top, score = pop.best
    other = pop.state.parents[1]
    pop.penalise(top, 1.0)
    assert pop.state.parents[0] is other and pop.state.scores[1] == pytest.approx(score - 1.0)
    hc = HillClimbStrategy(_dark_first(5), np.random.default_rng(1), SETTINGS)
    g0 = hc.ask()
    hc.tell(g0, prob.evaluate(g0).scores)
    before = hc.best[1]
    hc.penalise(g0[0], 0.5)
    assert hc.best[1] == pytest.approx(before - 0.5) and hc.state.current_score == pytest.approx(before - 0.5)


def test_fingerprint_tells_genomes_apart_and_survives_a_checkpoint():
    a = _dark_first(6)
    b = a.copy()
    assert fingerprint(a) == fingerprint(b)
    b.vertices[0, 0, 0] = np.nextafter(b.vertices[0, 0, 0], np.float32(1))
    assert fingerprint(a) != fingerprint(b)
    rej = Rejects()
    rej.add(a)
    st = LoopState(best=a, best_score=2.0, rejects=rej, peak=2.3)
    back = LoopState.from_dict(st.to_dict())
    assert a in back.rejects and b not in back.rejects and back.peak == 2.3


@pytest.mark.parametrize("rows", [["zz"], ["0" * 31 + "g"], [["0" * 32]], "0" * 32, [None]])
def test_malformed_rejects_are_refused(rows):
    with pytest.raises(FieldError, match="loop.rejected"):
        Rejects.from_list(rows)
