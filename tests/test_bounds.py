"""Scoring exactly only a batch's best: the bounds hold, the best come out exact, and a real
problem ranks its best as a full scoring does while running fewer images through the networks.

``genome_polished.json`` is a portrait of the default preset part way through polishing (seed
10), so most of its one-step mutations pass every search size: the case the bounds are for.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from polyface.judge import score
from polyface.genome_io import from_dict
from polyface.preset import load_preset
from polyface.run import build, mutation_settings
from polyface.search import bounds
from polyface.search.bounds import contenders
from polyface.search.mutate import mutate
from polyface.search.rejects import Rejects

DATA = Path(__file__).parent / "data"
NAN = float("nan")


def _case(draw, n_sizes: int, copies: int, b: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every copy's score before the Haar gate and after it, as a problem would find them."""
    tier = st.floats(0.0, 3.0, allow_nan=False, width=32)
    pre = torch.tensor(draw(st.lists(tier, min_size=n_sizes * copies * b, max_size=n_sizes * copies * b)))
    gate = torch.tensor(draw(st.lists(st.floats(1.0, 3.0, width=32), min_size=pre.numel(), max_size=pre.numel())))
    pre = pre.view(n_sizes, copies, b)
    post = torch.where(pre >= score.PASS_TIER, torch.minimum(pre, gate.view_as(pre)), pre)
    return pre, post


def _exact(post: torch.Tensor) -> torch.Tensor:
    return score.combine_sizes(list(post.mean(1)))


def _partial(pre, post, stages_known):
    """What is known after each candidate's first ``stages_known[i]`` stages (networks, then the
    gate, size by size)."""
    p, q = torch.full_like(pre, NAN), torch.full_like(post, NAN)
    for i, n in enumerate(stages_known):
        for s in range(pre.shape[0]):
            if n > 2 * s:
                p[s, :, i] = pre[s, :, i]
                q[s, :, i] = torch.where(pre[s, :, i] < score.PASS_TIER, pre[s, :, i], NAN)
            if n > 2 * s + 1:
                q[s, :, i] = post[s, :, i]
    return p, q


@settings(max_examples=300, deadline=None)
@given(st.data(), st.integers(1, 3), st.integers(1, 3), st.integers(1, 6))
def test_the_bounds_hold_at_every_stage_and_meet_once_settled(data, n_sizes, copies, b):
    pre, post = _case(data.draw, n_sizes, copies, b)
    exact = _exact(post)
    known = data.draw(st.lists(st.integers(0, 2 * n_sizes), min_size=b, max_size=b))
    p, q = _partial(pre, post, known)
    hi = bounds.upper(p, q)
    assert (exact <= hi + 1e-6).all()
    done = bounds.settled(q)
    torch.testing.assert_close(hi[done], exact[done])
    assert done[torch.tensor(known) == 2 * n_sizes].all()  # every stage known: settled


def _drive(pre, post, top_k):
    """Run ``bounds.stages`` as the problem does, filling in the answers from the full scores."""
    p, q = torch.full_like(pre, NAN), torch.full_like(post, NAN)
    runs = 0
    for s, gated, idx in bounds.stages(p, q, top_k):
        if gated:
            q[s][:, idx] = post[s][:, idx]
        else:
            p[s][:, idx] = pre[s][:, idx]
            q[s][:, idx] = torch.where(pre[s][:, idx] < score.PASS_TIER, pre[s][:, idx], NAN)
        runs += idx.numel()
    return bounds.upper(p, q), bounds.settled(q), runs


@settings(max_examples=300, deadline=None)
@given(st.data(), st.integers(1, 3), st.integers(1, 2), st.integers(2, 30), st.integers(1, 6))
def test_the_stages_find_the_exact_best_and_rank_the_rest_below(data, n_sizes, copies, b, k):
    pre, post = _case(data.draw, n_sizes, copies, b)
    exact = _exact(post)
    scores, done, _ = _drive(pre, post, k)
    best = np.argsort(-exact.numpy(), kind="stable")[:k]
    np.testing.assert_array_equal(np.argsort(-scores.numpy(), kind="stable")[:k], best)
    assert done[best].all()
    torch.testing.assert_close(scores[done], exact[done])
    if (~done).any():  # a ruled-out candidate ranks below the k-th best, and its bound holds
        assert scores[~done].max() < exact[best].min()
        assert (scores[~done] >= exact[~done] - 1e-6).all()
    full, all_done, _ = _drive(pre, post, None)
    assert all_done.all()
    torch.testing.assert_close(full, exact)


@pytest.fixture(scope="module")
def polishing():
    cfg = load_preset("default")
    problem, _ = build(cfg, torch.device("cpu"), lanes=1)
    g = from_dict(json.loads((DATA / "genome_polished.json").read_text()))
    rng = np.random.default_rng(0)
    batch = [g] + [mutate(g, rng, mutation_settings(cfg)) for _ in range(15)]
    return problem, batch


def test_a_real_problem_scores_its_best_exactly_and_fewer_images(polishing, monkeypatch):
    problem, batch = polishing
    seen = []
    real = type(problem)._networks_at

    def counted(self, genomes, size, seed):
        seen.append(len(genomes))
        return real(self, genomes, size, seed)

    monkeypatch.setattr(type(problem), "_networks_at", counted)
    full = problem.score_batch(batch, seed=3)
    n_full, seen[:] = sum(seen), []
    lazy = problem.score_batch(batch, seed=3, top_k=4)
    n_lazy = sum(seen)
    assert full.exact.all()
    best = np.argsort(-full.scores, kind="stable")[:4]
    np.testing.assert_array_equal(np.argsort(-lazy.scores, kind="stable")[:4], best)
    np.testing.assert_allclose(lazy.scores[lazy.exact], full.scores[lazy.exact], rtol=1e-6)
    assert lazy.exact[best].all() and not lazy.exact.all()
    assert (lazy.scores[~lazy.exact] >= full.scores[~lazy.exact] - 1e-6).all()
    assert lazy.scores[~lazy.exact].max() < full.scores[best].min()
    assert n_lazy < n_full  # the point of it: candidates ruled out skip the larger sizes


def test_the_loop_seeks_the_best_first_only_while_polishing(polishing):
    _, batch = polishing

    class Keeps4:
        selects = 4

    full = score.full_pass_score(3)
    rejects = Rejects()
    assert contenders(Keeps4(), full, rejects, batch, full) == 4
    rejects.add(batch[0])
    rejects.add(batch[5])
    assert contenders(Keeps4(), full, rejects, batch, full) == 6
    assert contenders(object(), full, rejects, batch, full) is None  # a strategy that reads every score
    assert contenders(Keeps4(), full - 0.01, rejects, batch, full) is None  # still searching: every score exact
