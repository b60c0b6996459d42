"""A distribution strategy: PGPE (parameter-exploring policy gradients) with the ClipUp optimizer.

Where the population strategy keeps a few genomes and mutates them, PGPE keeps a Gaussian over
one genome's parameters (every vertex, colour and alpha, in their own units) and moves its
centre along the gradient its samples estimate, as es-clip did for triangles. Each generation:

* ``pairs`` noise vectors ``eps`` from N(0, stdev^2), and the genomes ``centre + eps`` and
  ``centre - eps`` (symmetric sampling), plus the centre itself and the best genome so far,
  scored again, so that a lucky draw under noisy scoring does not stay the best;
* the pairs' scores are turned into centred ranks in [-0.5, 0.5] (fitness shaping);
* the centre's gradient ``mean((f+ - f-) / 2 * eps)`` goes to ClipUp: a velocity of momentum
  ``MOMENTUM`` plus ``max_speed / 2`` times the unit gradient, its length held to
  ``max_speed``, added to the centre;
* each stdev follows its own gradient ``mean(((f+ + f-) / 2 - mean f) * (eps^2 - stdev^2) / stdev)``
  at rate ``STDEV_LR``, by at most ``STDEV_MAX_CHANGE`` of itself a generation.

Samples are decoded into the run's limits: vertices inside the oval, colours in [0, 1], alpha in
the preset's range. The genome keeps its polygon count (PGPE moves shapes; it cannot add or drop
them). Every draw comes from the strategy's generator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from polyface import validate as v
from polyface.genome import Genome
from polyface.search.mutate import MutationSettings, confine
from polyface.search.strategies import _check_kind, _genome, _score, _unscore

MAX_SPEED = 0.15  # ClipUp's speed limit: the centre moves at most this far (Euclidean) a generation
MOMENTUM = 0.9  # ClipUp's momentum
STDEV = 0.05  # the starting stdev of every parameter (canvas units for vertices; colour and alpha units)
STDEV_LR = 0.1  # the stdevs' learning rate
STDEV_MAX_CHANGE = 0.2  # share of itself a stdev may change by in one generation
STDEV_RANGE = (0.005, 0.25)  # every stdev stays inside this range


@dataclass
class PGPEState:
    centre: np.ndarray  # (D,) the distribution's mean
    stdev: np.ndarray  # (D,) its per-parameter standard deviation
    velocity: np.ndarray  # (D,) ClipUp's velocity
    best: Genome
    best_score: float = -math.inf
    generation: int = 0


class PGPEStrategy:
    """PGPE with ClipUp over the parameters of ``initial`` (its vertices, colours and alpha), with
    ``pairs`` symmetric samples a generation."""

    selects = None  # fitness shaping ranks every sample: every score must be exact

    def __init__(self, initial: Genome, rng: np.random.Generator, settings: MutationSettings, pairs: int = 12) -> None:
        self.rng = rng
        self.settings = settings
        self.pairs = max(1, pairs)
        self.template = initial
        centre = self.encode(initial)
        self.state = PGPEState(centre, np.full_like(centre, STDEV), np.zeros_like(centre), initial)
        self._eps: np.ndarray | None = None  # the last ask's noise (None: the first generation)

    # ---- genome <-> parameters ---------------------------------------------------------------

    def _colour_columns(self) -> list[int]:
        """The columns of ``Genome.colours`` the strategy moves: alpha always, red, green and
        blue in rgba mode, red (standing for all three) in grey mode, none more for a palette."""
        g = self.template
        if g.palette is not None:
            return [3]
        return [0, 3] if g.mode == "grey" else [0, 1, 2, 3]

    def encode(self, g: Genome) -> np.ndarray:
        """(D,) the parameters of ``g``: its vertices, then its moved colour columns."""
        return np.concatenate([g.vertices.reshape(-1), g.colours[:, self._colour_columns()].reshape(-1)]).astype(np.float64)

    def decode(self, x: np.ndarray) -> Genome:
        """The genome of parameters ``x``, inside the run's limits (oval, colour range, alpha range)."""
        g, s = self.template, self.settings
        nv = g.vertices.size
        verts = confine(np.clip(x[:nv].reshape(g.vertices.shape), -0.5, 1.5), s.oval).astype(np.float32)
        cols = g.colours.copy()
        cc = self._colour_columns()
        moved = x[nv:].reshape(len(cols), len(cc))
        for j, c in enumerate(cc):
            lo, hi = s.alpha if c == 3 else (0.0, 1.0)
            cols[:, c] = np.clip(moved[:, j], lo, hi)
        if g.palette is None and g.mode == "grey":
            cols[:, 1] = cols[:, 2] = cols[:, 0]
        if g.palette is None and s.grey_values == "bw" and g.mode == "grey":
            cols[:, :3] = np.round(cols[:, :3])
        return g.replaced(verts, cols, g.index)

    # ---- ask / tell -------------------------------------------------------------------------

    def ask(self) -> list[Genome]:
        st = self.state
        if not math.isfinite(st.best_score):  # first generation: the starting genome alone
            self._eps = None
            return [st.best]
        eps = self.rng.normal(0.0, 1.0, (self.pairs, st.centre.size)) * st.stdev
        self._eps = eps
        samples = [self.decode(st.centre + e) for e in eps] + [self.decode(st.centre - e) for e in eps]
        return [*samples, self.decode(st.centre), st.best]

    def tell(self, genomes: list[Genome], scores: np.ndarray, boxes: np.ndarray | None = None) -> None:
        st = self.state
        scores = np.asarray(scores, dtype=np.float64)
        if self._eps is None:
            st.best, st.best_score = genomes[0], float(scores[0])
            st.generation += 1
            return
        n = self.pairs
        st.best_score = float(scores[-1])  # the best so far, scored again under this generation's draws
        i = int(np.argmax(scores[:-1]))
        if scores[i] > st.best_score:
            st.best, st.best_score = genomes[i], float(scores[i])
        shaped = centred_ranks(scores[: 2 * n])
        plus, minus = shaped[:n], shaped[n:]
        eps = self._eps
        grad = ((plus - minus) / 2.0) @ eps / n
        norm = float(np.linalg.norm(grad))
        if norm > 0:
            st.velocity = MOMENTUM * st.velocity + (MAX_SPEED / 2.0) * grad / norm
            speed = float(np.linalg.norm(st.velocity))
            if speed > MAX_SPEED:
                st.velocity *= MAX_SPEED / speed
            st.centre = st.centre + st.velocity
        base = shaped.mean()
        grad_s = (((plus + minus) / 2.0 - base) @ ((eps**2 - st.stdev**2) / st.stdev)) / n
        step = np.clip(STDEV_LR * grad_s, -STDEV_MAX_CHANGE * st.stdev, STDEV_MAX_CHANGE * st.stdev)
        st.stdev = np.clip(st.stdev + step, *STDEV_RANGE)
        st.generation += 1

    @property
    def best(self) -> tuple[Genome, float]:
        return self.state.best, self.state.best_score

    def penalise(self, genome: Genome, amount: float) -> None:
        """Lower the kept score of ``genome`` by ``amount`` (the final check rejected it)."""
        if self.state.best == genome:
            self.state.best_score -= amount

    # ---- state ------------------------------------------------------------------------------

    def state_dict(self) -> dict:
        """Plain data (JSON-able): the distribution, ClipUp's velocity, the best genome and the RNG state."""
        st = self.state
        return {
            "kind": "pgpe",
            "centre": [float(x) for x in st.centre],
            "stdev": [float(x) for x in st.stdev],
            "velocity": [float(x) for x in st.velocity],
            "best": st.best.to_dict(),
            "best_score": _score(st.best_score),
            "generation": st.generation,
            "rng": self.rng.bit_generator.state,
        }

    def load_state_dict(self, d: dict) -> None:
        """Restore ``state_dict()``'s data; FieldError (or GenomeError) names a malformed field."""
        _check_kind(d, "pgpe")
        size = self.state.centre.size
        vectors = {}
        for key, lo, hi in (("centre", -10.0, 10.0), ("stdev", *STDEV_RANGE), ("velocity", -MAX_SPEED, MAX_SPEED)):
            items = v.array(d[key], f"strategy.{key}", size)
            if len(items) != size:
                raise v.FieldError(f"field 'strategy.{key}' must hold {size} numbers (this run's genome), got {len(items)}")
            vectors[key] = np.array([v.number(x, f"strategy.{key}", lo, hi) for x in items], np.float64)
        best = _genome(d["best"], "strategy.best", self.settings)
        if best.n_polygons != self.template.n_polygons:
            raise v.FieldError(f"field 'strategy.best' must hold {self.template.n_polygons} polygons (this run's genome)")
        self.state = PGPEState(
            vectors["centre"], vectors["stdev"], vectors["velocity"], best,
            _unscore(d["best_score"], "strategy.best_score"),
            v.integer(d["generation"], "strategy.generation", 0, 10**15),
        )
        self.rng.bit_generator.state = v.rng_state(d["rng"], "strategy.rng", self.rng.bit_generator.state)


def centred_ranks(x: np.ndarray) -> np.ndarray:
    """(N,) the ranks of ``x`` mapped onto [-0.5, 0.5] (ties broken by position)."""
    n = len(x)
    if n == 1:
        return np.zeros(1)
    ranks = np.empty(n)
    ranks[np.argsort(x, kind="stable")] = np.arange(n)
    return ranks / (n - 1) - 0.5
