"""Search strategies with an ask/tell interface. They never call the detector.

``ask()`` returns genomes to evaluate; ``tell(genomes, scores, boxes)`` hands back their
scores (and, for focus, each candidate's best face box in canvas units, NaN where none).
The state of each strategy is a small dataclass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from polyface import validate as v
from polyface.genome import Genome
from polyface.genome_io import from_dict
from polyface.search.mutate import MutationSettings, add_polygon, mutate, remove_polygon


def _score(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _unscore(x: float | None, field: str = "score") -> float:
    return -math.inf if x is None else v.number(x, field)


def _genome(d, field: str, settings: MutationSettings) -> Genome:
    """A genome from a checkpoint that the strategy's mutations can work on."""
    g = from_dict(d)
    if g.n_polygons and (g.n_vertices != settings.n_vertices or g.n_polygons > settings.max_polygons):
        raise v.FieldError(
            f"field {field!r} holds a genome of {g.n_polygons} polygons of {g.n_vertices} vertices; this run "
            f"uses polygons of {settings.n_vertices} vertices, at most {settings.max_polygons}"
        )
    if g.mode != settings.mode or g.symmetric != settings.symmetric:
        raise v.FieldError(f"field {field!r} holds a genome of another colour mode or symmetry than this run")
    return g


def _check_kind(d, kind: str) -> dict:
    v.table(d, "strategy")
    if d.get("kind") != kind:
        raise v.FieldError(f"field 'strategy.kind' must be {kind!r} for this run, got {v.shown(d.get('kind'))}")
    return d


@dataclass
class PopulationState:
    parents: list[Genome]
    scores: np.ndarray
    generation: int = 0


class PopulationStrategy:
    """A (mu + lambda) evolution strategy: ``elites`` parents, ``population`` children a generation.

    Children are mutations of parents picked by rank; the best ``elites`` of parents and
    children survive. With ``reevaluate`` (noisy scoring) parents are scored again each
    generation together with the children, under the same random draws.
    """

    def __init__(
        self,
        initial: list[Genome],
        rng: np.random.Generator,
        settings: MutationSettings,
        population: int = 24,
        elites: int = 4,
        reevaluate: bool = False,
    ) -> None:
        self.rng = rng
        self.settings = settings
        self.population = population
        self.elites = elites
        self.reevaluate = reevaluate
        self.state = PopulationState(list(initial), np.full(len(initial), -np.inf))
        # Until the first generation is scored, the parents are every starting draw (``starts``).
        self.capacity = max(elites, len(initial))
        self._pending: list[Genome] = []
        self._n_children = 0

    def ask(self) -> list[Genome]:
        st = self.state
        if not np.all(np.isfinite(st.scores)):  # first generation: score the initial genomes
            self._pending, self._n_children = list(st.parents), 0
            return self._pending
        ranks = np.arange(len(st.parents))
        weights = 1.0 / (ranks + 1.0)
        weights /= weights.sum()
        picks = self.rng.choice(len(st.parents), size=self.population, p=weights)
        children = [mutate(st.parents[i], self.rng, self.settings) for i in picks]
        self._n_children = len(children)
        self._pending = children + (list(st.parents) if self.reevaluate else [])
        return self._pending

    @property
    def selects(self) -> int:
        """Only the batch's ``elites`` best can survive (among the parents, too, when they are
        not in the batch), so only their scores need be exact."""
        return self.elites

    def tell(self, genomes: list[Genome], scores: np.ndarray, boxes: np.ndarray | None = None) -> None:
        st = self.state
        scores = np.asarray(scores, dtype=np.float64)
        if self._n_children == 0 or self.reevaluate:  # the batch already holds every contender
            pool, pool_scores = list(genomes), scores
        else:
            pool = list(genomes) + st.parents
            pool_scores = np.concatenate([scores, st.scores])
        # Stable sort, parents last among equals, so ties keep the children moving.
        order = np.argsort(-pool_scores, kind="stable")[: self.elites]
        st.parents = [pool[i] for i in order]
        st.scores = pool_scores[order]
        st.generation += 1

    @property
    def best(self) -> tuple[Genome, float]:
        return self.state.parents[0], float(self.state.scores[0])

    def penalise(self, genome: Genome, amount: float) -> None:
        """Lower a parent's kept score by ``amount`` (the final check rejected it) and re-rank."""
        st = self.state
        for i, g in enumerate(st.parents):
            if g == genome:
                st.scores[i] -= amount
        order = np.argsort(-st.scores, kind="stable")
        st.parents, st.scores = [st.parents[i] for i in order], st.scores[order]

    def state_dict(self) -> dict:
        """Plain data (JSON-able): parents, their scores, generation and the RNG state."""
        st = self.state
        return {
            "kind": "population",
            "parents": [g.to_dict() for g in st.parents],
            "scores": [_score(x) for x in st.scores],
            "generation": st.generation,
            "rng": self.rng.bit_generator.state,
        }

    def load_state_dict(self, d: dict) -> None:
        """Restore ``state_dict()``'s data; FieldError (or GenomeError) names a malformed field."""
        _check_kind(d, "population")
        parents = v.array(d["parents"], "strategy.parents", self.capacity)
        scores = v.array(d["scores"], "strategy.scores", self.capacity)
        if not parents or len(scores) != len(parents):
            raise v.FieldError(f"fields 'strategy.parents' and 'strategy.scores' must hold 1..{self.capacity} items each, as many")
        self.state = PopulationState(
            [_genome(g, "strategy.parents", self.settings) for g in parents],
            np.array([_unscore(x, "strategy.scores") for x in scores]),
            v.integer(d["generation"], "strategy.generation", 0, 10**15),
        )
        self.rng.bit_generator.state = v.rng_state(d["rng"], "strategy.rng", self.rng.bit_generator.state)


@dataclass
class HillClimbState:
    current: Genome
    current_score: float = -math.inf
    best: Genome | None = None
    best_score: float = -math.inf
    generation: int = 0
    focus: np.ndarray | None = field(default=None)


class HillClimbStrategy:
    """Pareidoloop's (1+1) hill climbing with simulated annealing.

    Each child adds one polygon (inside the current best face box when there is one, else
    anywhere) or removes one. A worse child is accepted with ``p = exp(5 * delta / T)``,
    ``T = max(0.01, 1 - best / target)``, scores normalised by ``scale``.
    """

    selects = None  # one child a generation, and annealing reads its exact score

    def __init__(
        self,
        initial: Genome,
        rng: np.random.Generator,
        settings: MutationSettings,
        scale: float = 3.0,
        p_remove: float = 0.2,
    ) -> None:
        self.rng = rng
        self.settings = settings
        self.scale = scale
        self.p_remove = p_remove
        self.state = HillClimbState(initial)
        self._pending: list[Genome] = []

    def ask(self) -> list[Genome]:
        st = self.state
        if not math.isfinite(st.current_score):
            self._pending = [st.current]
            return self._pending
        g = st.current
        if g.n_polygons > self.settings.min_polygons and self.rng.random() < self.p_remove:
            child = remove_polygon(g, self.rng, self.settings)
        else:
            child = add_polygon(g, self.rng, self.settings, st.focus)
        self._pending = [child]
        return self._pending

    def tell(self, genomes: list[Genome], scores: np.ndarray, boxes: np.ndarray | None = None) -> None:
        st = self.state
        child, score = genomes[0], float(scores[0])
        box = None if boxes is None or not np.all(np.isfinite(boxes[0])) else np.asarray(boxes[0])
        if not math.isfinite(st.current_score):
            accept = True
        else:
            delta = (score - st.current_score) / self.scale
            temp = max(0.01, 1.0 - max(st.best_score, 0.0) / self.scale)
            accept = delta >= 0 or self.rng.random() < math.exp(5.0 * delta / temp)
        if accept:
            st.current, st.current_score = child, score
            st.focus = box
        if score > st.best_score:
            st.best, st.best_score = child, score
        st.generation += 1

    @property
    def best(self) -> tuple[Genome, float]:
        return self.state.best, self.state.best_score

    def penalise(self, genome: Genome, amount: float) -> None:
        """Lower the kept score of ``genome`` by ``amount`` (the final check rejected it)."""
        st = self.state
        if st.current == genome:
            st.current_score -= amount
        if st.best is not None and st.best == genome:
            st.best_score -= amount

    def state_dict(self) -> dict:
        """Plain data (JSON-able): current and best genomes, scores, focus box and the RNG state."""
        st = self.state
        return {
            "kind": "hillclimb",
            "current": st.current.to_dict(),
            "current_score": _score(st.current_score),
            "best": st.best.to_dict() if st.best is not None else None,
            "best_score": _score(st.best_score),
            "generation": st.generation,
            "focus": None if st.focus is None else [float(v) for v in st.focus],
            "rng": self.rng.bit_generator.state,
        }

    def load_state_dict(self, d: dict) -> None:
        """Restore ``state_dict()``'s data; FieldError (or GenomeError) names a malformed field."""
        _check_kind(d, "hillclimb")
        focus = d["focus"]
        if focus is not None:
            focus = v.array(focus, "strategy.focus", 4)
            if len(focus) != 4:
                raise v.FieldError("field 'strategy.focus' must be null or a box of 4 numbers")
            focus = np.array([v.number(x, "strategy.focus", -1.0, 2.0) for x in focus], np.float32)
        self.state = HillClimbState(
            current=_genome(d["current"], "strategy.current", self.settings),
            current_score=_unscore(d["current_score"], "strategy.current_score"),
            best=_genome(d["best"], "strategy.best", self.settings) if d["best"] is not None else None,
            best_score=_unscore(d["best_score"], "strategy.best_score"),
            generation=v.integer(d["generation"], "strategy.generation", 0, 10**15),
            focus=focus,
        )
        self.rng.bit_generator.state = v.rng_state(d["rng"], "strategy.rng", self.rng.bit_generator.state)
