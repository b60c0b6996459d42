"""Gradient refinement (search.refine): the surrogate's gradients, a real rise of the judge's
score, determinism, the Lamarckian strategy's selection and state, and refine = 0 as before."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from polyface.config import Config
from polyface.genome_io import load_genome
from polyface.judge.judge import judge_for
from polyface.preset import load_preset
from polyface.render.soft import pack
from polyface.run import build
from polyface.search.refine import Refiner, RefineSettings, RefiningStrategy, Surrogate
from polyface.search.strategies import PopulationStrategy

DATA = "tests/data"


# MTCNN alone judging 60 random grey pentagons on near-black: a judge whose first
# population is far below a face.
MONO = Config(polygons=60, vertices=5, colour="grey", background="#101010")


@pytest.fixture(scope="module")
def mono():
    """60 random grey pentagons judged by MTCNN alone at seed 3: the problem and its first
    population, scored."""
    problem, strategy = build(MONO.replace(seed=3))
    genomes = strategy.ask()
    return problem, genomes, problem.score_batch(genomes, None).scores


def test_surrogate_has_gradients_for_every_member_with_one():
    """MTCNN, BlazeFace and the prior each give finite, nonzero gradients to vertices and colours,
    and the surrogate's gradient agrees with a finite difference along it."""
    judge = judge_for(load_preset("default"))
    surrogate = Surrogate(judge)
    genome = load_genome(f"{DATA}/genome_ensemble.json")
    batch = pack([genome], requires_grad=True)
    signals = surrogate.signals(batch.render(64, 6.0))
    assert set(signals) == {"mtcnn", "blazeface", "prior"}
    for name, s in signals.items():
        gv, gc = torch.autograd.grad(s.sum(), [batch.vertices, batch.colours], retain_graph=True)
        assert torch.isfinite(gv).all() and torch.isfinite(gc).all(), name
        assert gv.abs().sum() > 0 and gc.abs().sum() > 0, name
    value = surrogate(batch.render(64, 6.0)).sum()
    gv, gc = torch.autograd.grad(value, [batch.vertices, batch.colours])
    direction = gc / gc.norm()
    eps = 1e-3
    with torch.no_grad():
        batch.colours += eps * direction
        up = surrogate(batch.render(64, 6.0)).sum()
        batch.colours -= 2 * eps * direction
        down = surrogate(batch.render(64, 6.0)).sum()
    fd = float(up - down) / (2 * eps)
    assert fd > 0 and fd == pytest.approx(float(gc.norm()), rel=0.25)


def test_refinement_raises_the_real_judges_score(mono):
    """Seed 3 of mono, its first population's best genome (0.45: no face yet): 12 steps raise
    the real judge's score (Cairo render, all members) to at least 0.6."""
    problem, genomes, scores = mono
    best = genomes[int(np.argmax(scores))]
    refiner = Refiner(problem.judge, RefineSettings(steps=12, views=3), seed=1)
    refined = refiner.refine([best])
    before, after = float(scores.max()), float(problem.score_batch(refined, None).scores[0])
    assert before < 0.5 and after > 0.6, (before, after)
    assert refined[0].mode == "grey" and np.allclose(refined[0].colours[:, 0], refined[0].colours[:, 2])


def test_refinement_is_determined_by_seed_and_key(mono):
    problem, genomes, _ = mono
    settings = RefineSettings(steps=2, views=2)
    a = Refiner(problem.judge, settings, seed=5).refine(genomes[:1], key=7)
    b = Refiner(problem.judge, settings, seed=5).refine(genomes[:1], key=7)
    c = Refiner(problem.judge, settings, seed=5).refine(genomes[:1], key=8)
    assert a == b
    assert a != c and a != genomes[:1]


def _small(refine: int):
    cfg = MONO.replace(seed=11, population=4, elites=2, refine=refine, refine_top=1)
    return build(cfg)


def _generation(problem, strategy):
    genomes = strategy.ask()
    ev = problem.evaluate(genomes, strategy.selects)
    strategy.tell(genomes, ev.scores, ev.boxes)
    return genomes


def test_refine_zero_leaves_the_strategy_as_before():
    """refine = 0 builds the plain population strategy; refine > 0 wraps one that draws the same
    genomes (the refiner's stream is its own)."""
    problem, plain = _small(0)
    _, wrapped = _small(2)
    assert type(plain) is PopulationStrategy and isinstance(wrapped, RefiningStrategy)
    assert plain.ask() == wrapped.ask()  # the starting genomes
    ev = problem.score_batch(plain._pending, None)
    plain.tell(plain._pending, ev.scores)
    wrapped.inner.tell(wrapped.inner._pending, ev.scores)
    assert plain.ask() == wrapped.inner.ask()  # the first children


def test_refined_genomes_join_the_batch_and_stay_only_when_the_judge_prefers_them():
    problem, strategy = _small(1)
    _generation(problem, strategy)
    mark = strategy.state_dict()
    batch = strategy.ask()
    assert len(batch) == strategy.inner.population + 1
    refined, parent_score = batch[-1], float(strategy.inner.state.scores[0])
    children = np.full(len(batch), -1.0)
    worse, better = children.copy(), children.copy()
    worse[-1], better[-1] = parent_score, parent_score + 0.5  # not above the parent, above it
    strategy.tell(batch, worse)
    assert refined not in strategy.inner.state.parents and strategy.kept == 0 and strategy.tried == 1
    strategy.load_state_dict(mark)
    assert strategy.ask() == batch
    strategy.tell(batch, better)
    assert strategy.best == (refined, parent_score + 0.5) and strategy.kept == 1


def test_state_dict_round_trips_and_resumes_exactly():
    problem, strategy = _small(2)
    for _ in range(2):
        _generation(problem, strategy)
    saved = json.loads(json.dumps({"s": strategy.state_dict(), "p": problem.state_dict()}))
    assert saved["s"]["refine"]["tried"] == 1
    problem2, strategy2 = _small(2)
    strategy2.load_state_dict(saved["s"])
    problem2.load_state_dict(saved["p"])
    assert strategy2.state_dict() == strategy.state_dict()
    assert _generation(problem, strategy) == _generation(problem2, strategy2)
    assert strategy2.state_dict() == strategy.state_dict()
