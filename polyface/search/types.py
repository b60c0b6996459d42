"""The contracts of the search: what the loop asks of a problem and of a strategy, and the
plain results they exchange.

``Problem`` and ``Strategy`` are structural (``typing.Protocol``): any class with these
methods fits, without inheriting from anything here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from polyface.genome import Genome
from polyface.judge.judge import Verdict


@dataclass
class Evaluation:
    """Scores of one batch: ``scores`` (B,), ``probs`` (B,) best face probability, ``boxes`` (B,4) best face box in canvas units (NaN: none).

    ``exact`` (B,) is False where a score is only an upper bound: the problem was asked for the
    batch's best few and showed that this candidate is not among them (None: all exact)."""

    scores: np.ndarray
    probs: np.ndarray
    boxes: np.ndarray
    exact: np.ndarray | None = None


@runtime_checkable
class Problem(Protocol):
    """Scores genomes; owns the renderer, the detector, the device and its own random draws."""

    sizes: tuple[int, ...]  # the working size first, then the search sizes

    @property
    def noisy(self) -> bool:
        """True when scores carry random draws, so a strategy must re-score its elites."""
        ...

    def evaluate(self, genomes: list[Genome], top_k: int | None = None) -> Evaluation:
        """One score per genome (higher is better), with the best face's probability and box.
        With ``top_k``, only the ``top_k`` best scores need be exact: any other may be an upper
        bound that stays below them (``Evaluation.exact``)."""
        ...

    def verify(self, genome: Genome, sizes: tuple[int, ...], stop_early: bool = True) -> Verdict:
        """The portrait rule on the final, antialiased render at each of ``sizes``."""
        ...

    def state_dict(self) -> dict:
        """The random state, as plain JSON-able data."""
        ...

    def load_state_dict(self, d: dict) -> None: ...


@runtime_checkable
class Strategy(Protocol):
    """Ask/tell search over genomes; never calls the fitness itself."""

    def ask(self) -> list[Genome]:
        """The genomes to score this generation."""
        ...

    @property
    def selects(self) -> int | None:
        """How many of a batch's best decide what ``tell`` keeps (the rest only need to rank
        below them), or None when every score counts."""
        ...

    def tell(self, genomes: list[Genome], scores: np.ndarray, boxes: np.ndarray | None = None) -> None:
        """The scores (and best face boxes, canvas units) of the genomes ``ask`` gave."""
        ...

    @property
    def best(self) -> tuple[Genome, float]:
        """The best genome so far and its score."""
        ...

    def penalise(self, genome: Genome, amount: float) -> None:
        """Lower the score kept for ``genome`` by ``amount`` (the final check rejected it)."""
        ...

    def state_dict(self) -> dict:
        """Everything needed to continue exactly (random state included), as plain data."""
        ...

    def load_state_dict(self, d: dict) -> None: ...
