"""Bounds on a candidate's score part way through scoring it, so that a batch's best can be
scored exactly while the rest are scored only as far as it takes to rule them out.

A batch is scored in stages: at each search size (smallest first) the networks (MTCNN,
BlazeFace, the prior), then the Haar cascade on the copies the networks accept. The state is
two ``(S, C, B)`` tensors, S sizes by C copies of robust scoring by B candidates, NaN where not
known yet: ``pre``, each copy's consensus of the networks, and ``post``, the same after the Haar
gate (equal to ``pre`` below the pass tier, where the gate is not asked). A candidate's score is
``score.combine_sizes`` of its per-size means over the copies, and both steps only move up
when a per-size score does, so:

* ``upper``: a size not scored counts as a perfect 3, and a size the networks scored but the
  gate did not counts at the networks' score (the gate can only lower it);
* ``settled``: the score is exact once every size up to the first failing one is known, and
  ``upper`` is then that score.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from polyface.judge import score

FILL = 12  # a network call of fewer candidates than this takes in more (docs/decisions.md)


def _known(t: torch.Tensor) -> torch.Tensor:
    """(S, B) bool: every copy of the size known."""
    return ~torch.isnan(t).any(1)


def upper(pre: torch.Tensor, post: torch.Tensor) -> torch.Tensor:
    """(B,) the highest score each candidate can still get (its exact score once ``settled``)."""
    value = torch.where(_known(pre), pre.mean(1), torch.full_like(pre[:, 0], score.TOP))  # nothing known: nothing ruled out
    value = torch.where(_known(post), post.mean(1), value)
    return score.combine_sizes(list(value))


def settled(post: torch.Tensor) -> torch.Tensor:
    """(B,) bool: the score is exact (every size known up to the first whose mean fails, or all)."""
    known = _known(post)
    failed = post.mean(1) < score.PASS_TIER  # NaN (unknown) compares False
    prefix = torch.cumprod(known.long(), 0).bool()
    return (prefix & failed).any(0) | prefix[-1]


def next_stage(pre: torch.Tensor, post: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B,) the first size not known exactly, and (B,) bool: whether its networks already ran
    (so the Haar gate is what is left). Meaningless for settled candidates."""
    known = _known(post)
    size = (~known).long().argmax(0)  # the first unknown size (0 where all are known)
    cols = torch.arange(pre.shape[-1])
    return size, _known(pre)[size, cols]


def contenders(strategy, best_score: float, rejects, genomes: list, full_pass: float) -> int | None:
    """How many of the batch's best need exact scores: those the strategy keeps (``selects``),
    and one more for each genome of the batch in ``rejects``, whose penalty may drop it below
    the next. None (all of them) for a strategy that reads every score, and while the best
    scores under ``full_pass`` (some search size still fails): there, most candidates that pass
    the working size fail a larger one, all of them are scored there anyway, and seeking the
    best first only splits the work into more network calls (docs/decisions.md)."""
    k = getattr(strategy, "selects", None)
    if k is None or best_score < full_pass:
        return None
    return k + (sum(g in rejects for g in genomes) if len(rejects) else 0)


def stages(pre: torch.Tensor, post: torch.Tensor, top_k: int | None = None) -> Iterator[tuple[int, bool, torch.Tensor]]:
    """The stages that score a batch, as ``(size, gated, idx)``: run the networks at ``size`` on
    the candidates ``idx`` (``gated`` False) or the Haar gate on them (True), then fill in
    ``pre`` and ``post`` before asking for the next stage (they are read afresh each time).

    First the working size for every candidate: the networks, then the Haar gate on the copies
    they accept. Then, without ``top_k``, each candidate's next stage until every score is
    settled, all of them at once. With ``top_k``, best first: the next stage of the candidates
    whose upper bounds are the ``top_k`` highest (ties included), a network call of fewer than
    ``FILL`` filled with the next highest bounds, until those ``top_k`` are all settled. Their
    scores are then exact and the batch's best: every other score lies below its own bound,
    below theirs. The working size is always scored whole, so ``passes`` there is exact.
    """
    b = pre.shape[-1]
    yield 0, False, torch.arange(b)
    size, gated = next_stage(pre, post)
    gate = (~settled(post) & (size == 0) & gated).nonzero().flatten()
    if gate.numel():
        yield 0, True, gate
    while True:
        unsettled = ~settled(post)
        open_, highs = unsettled, None
        if top_k is not None and top_k < b:
            highs = upper(pre, post)
            open_ = unsettled & (highs >= highs.topk(top_k).values[-1])
        idx = open_.nonzero().flatten()
        if idx.numel() == 0:
            return
        size, gated = next_stage(pre, post)
        for s in range(pre.shape[0]):  # one call per kind of stage, the smallest size first
            for g in (True, False):
                part = idx[(size[idx] == s) & (gated[idx] == g)]
                if highs is not None and not g and 0 < part.numel() < FILL:
                    # A network call costs as much again for a few candidates as for several:
                    # fill it with the next highest bounds that need the same stage.
                    more = (unsettled & ~open_ & (size == s) & ~gated).nonzero().flatten()
                    more = more[torch.argsort(-highs[more], stable=True)[: FILL - part.numel()]]
                    part = torch.cat([part, more])
                if part.numel():
                    yield s, g, part
