"""What the evolution loop itself remembers between generations, and how it is checkpointed."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from polyface import validate as v
from polyface.genome import Genome
from polyface.genome_io import from_dict
from polyface.search.rejects import Rejects
from polyface.judge.judge import Verdict

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
    portrait_at: int | None = None  # the generation of the first verified portrait
    portrait_s: float | None = None  # and the run's elapsed seconds then
    kept: Genome | None = None  # the last genome the final check accepted (what a polishing run ends with)
    kept_score: float = -math.inf
    kept_verdict: Verdict = field(default_factory=Verdict)

    def keep(self, genome: Genome, score: float, verdict: Verdict) -> None:
        """Remember a genome the final check accepted; the first one marks the portrait's generation."""
        self.kept, self.kept_score, self.kept_verdict = genome, score, verdict
        if self.portrait_at is None:
            self.portrait_at = self.generation

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
            "verdict": _verdict_rows(self.verdict),
            "verified_is_best": self.best_verified,
            "rejected": self.rejects.to_list(),
            "portrait_at": self.portrait_at,
            "portrait_s": self.portrait_s,
            "kept": None if self.kept is None else {
                "genome": self.kept.to_dict(), "score": self.kept_score, "verdict": _verdict_rows(self.kept_verdict)
            },
        }

    @classmethod
    def from_dict(cls, d: Any) -> LoopState:
        """Read a checkpoint's ``loop`` table; FieldError (or GenomeError) names a bad field."""
        d = v.table(d, "loop")
        get = _getter(d, "loop")
        best = from_dict(get("best")) if get("best") is not None else None
        verdict = _read_verdict(get("verdict"), "loop.verdict")
        generation = v.integer(get("generation"), "loop.generation", 0, MAX_COUNT)
        st = cls(
            generation=generation,
            evaluations=v.integer(get("evaluations"), "loop.evaluations", 0, MAX_COUNT),
            elapsed_s=v.number(get("elapsed_s"), "loop.elapsed_s", 0.0, 1e12),
            best=best,
            best_score=-math.inf if get("best_score") is None else v.number(get("best_score"), "loop.best_score"),
            last_improve=v.integer(get("last_improve"), "loop.last_improve", 0, generation),
            peak=-math.inf if get("peak") is None else v.number(get("peak"), "loop.peak"),
            verdict=verdict,
            verified=best if v.boolean(get("verified_is_best"), "loop.verified_is_best") else None,
            rejects=Rejects.from_list(get("rejected"), "loop.rejected"),
            portrait_at=None if get("portrait_at") is None else v.integer(get("portrait_at"), "loop.portrait_at", 0, generation),
            portrait_s=None if get("portrait_s") is None else v.number(get("portrait_s"), "loop.portrait_s", 0.0, 1e12),
            **_read_kept(get("kept")),
        )
        if (st.portrait_at is None) != (st.kept is None):
            raise v.FieldError("fields 'loop.portrait_at' and 'loop.kept' must be given together")
        return st


def _verdict_rows(verdict: Verdict) -> list[list]:
    return [[s, ok, p, n] for s, (ok, p, n) in sorted(verdict.sizes.items())]


def _read_verdict(rows: Any, name: str) -> Verdict:
    verdict = Verdict()
    for row in v.array(rows, name, 64):
        if not isinstance(row, list) or len(row) != 4:
            raise v.FieldError(f"field '{name}' must hold [size, ok, prob, faces] rows, got {v.shown(row)}")
        size, ok, prob, n = row
        verdict.sizes[v.integer(size, name, 1, 1 << 16)] = (
            v.boolean(ok, name), v.number(prob, name, 0.0, 1.0), v.integer(n, name, 0, 1 << 20)
        )
    return verdict


def _read_kept(d: Any) -> dict:
    """The ``kept`` table as LoopState fields; a kept genome must be one the final check accepted."""
    if d is None:
        return {}
    d = v.table(d, "loop.kept")
    get = _getter(d, "loop.kept")
    verdict = _read_verdict(get("verdict"), "loop.kept.verdict")
    if not verdict.portrait:
        raise v.FieldError("field 'loop.kept.verdict' must be a passing verdict at every size")
    return {"kept": from_dict(get("genome")), "kept_score": v.number(get("score"), "loop.kept.score"), "kept_verdict": verdict}


def _getter(d: dict, prefix: str):
    def get(key: str) -> Any:
        if key not in d:
            raise v.FieldError(f"field '{prefix}.{key}' is missing")
        return d[key]

    return get
