"""What the evolution loop itself remembers between generations, and how it is checkpointed."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from polyface import validate as v
from polyface.genome import Genome
from polyface.genome_json import from_dict
from polyface.search.rejects import Rejects
from polyface.search.types import Verdict

MAX_COUNT = 10**15  # generations and evaluations a checkpoint may claim


@dataclass
class LoopState:
    """What the loop itself remembers between generations (the strategy keeps the rest)."""

    generation: int = 0
    evaluations: int = 0
    elapsed_s: float = 0.0
    best: Genome | None = None
    best_score: float = -math.inf
    last_improve: int = 0
    peak: float = -math.inf  # the best score the search has seen (a rejected genome keeps its own)
    verdict: Verdict = field(default_factory=Verdict)
    verified: Genome | None = None  # the genome ``verdict`` belongs to
    rejects: Rejects = field(default_factory=Rejects)  # genomes the final check turned down

    @property
    def best_verified(self) -> bool:
        return self.verified is not None and self.verified is self.best

    def to_dict(self) -> dict:
        return {
            "generation": self.generation,
            "evaluations": self.evaluations,
            "elapsed_s": self.elapsed_s,
            "best": self.best.to_dict() if self.best is not None else None,
            "best_score": self.best_score if math.isfinite(self.best_score) else None,
            "last_improve": self.last_improve,
            "peak": self.peak if math.isfinite(self.peak) else None,
            "verdict": [[s, ok, p, n] for s, (ok, p, n) in sorted(self.verdict.sizes.items())],
            "verified_is_best": self.best_verified,
            "rejected": self.rejects.to_list(),
        }

    @classmethod
    def from_dict(cls, d: Any) -> LoopState:
        """Read a checkpoint's ``loop`` table; FieldError (or GenomeError) names a bad field."""
        d = v.table(d, "loop")
        get = _getter(d, "loop")
        best = from_dict(get("best")) if get("best") is not None else None
        verdict = Verdict()
        for row in v.array(get("verdict"), "loop.verdict", 64):
            if not isinstance(row, list) or len(row) != 4:
                raise v.FieldError(f"field 'loop.verdict' must hold [size, ok, prob, faces] rows, got {v.shown(row)}")
            size, ok, prob, n = row
            verdict.sizes[v.integer(size, "loop.verdict", 1, 1 << 16)] = (
                v.boolean(ok, "loop.verdict"), v.number(prob, "loop.verdict", 0.0, 1.0), v.integer(n, "loop.verdict", 0, 1 << 20)
            )
        generation = v.integer(get("generation"), "loop.generation", 0, MAX_COUNT)
        return cls(
            generation=generation,
            evaluations=v.integer(get("evaluations"), "loop.evaluations", 0, MAX_COUNT),
            elapsed_s=v.number(get("elapsed_s"), "loop.elapsed_s", 0.0, 1e12),
            best=best,
            best_score=-math.inf if get("best_score") is None else v.number(get("best_score"), "loop.best_score"),
            last_improve=v.integer(get("last_improve"), "loop.last_improve", 0, generation),
            peak=(-math.inf if get("best_score") is None else float(get("best_score"))) if d.get("peak") is None
            else v.number(d["peak"], "loop.peak"),
            verdict=verdict,
            verified=best if v.boolean(get("verified_is_best"), "loop.verified_is_best") else None,
            # Checkpoints written before rejects were remembered have none.
            rejects=Rejects.from_list(d.get("rejected", []), "loop.rejected"),
        )


def _getter(d: dict, prefix: str):
    def get(key: str) -> Any:
        if key not in d:
            raise v.FieldError(f"field '{prefix}.{key}' is missing")
        return d[key]

    return get
