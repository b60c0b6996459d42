"""Genomes that the final check turned down, so that the search stops leaning on them.

The search scores at a few small sizes; the final check renders with Cairo at every size up to
the print. A genome that passes every search size but fails the check would otherwise stay the
best (its score is all the search knows) and hide every later candidate that scores a little
lower but would pass. A rejected genome's score is lowered by ``REJECT_PENALTY`` whenever it is
scored: it can stay a parent (it is close to a portrait), its children that score as well as it
did outrank it and are checked in turn, and the search still climbs towards larger margins.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np

from polyface import validate as v
from polyface.genome import Genome

MAX_REJECTS = 512  # rejected genomes remembered (the oldest are forgotten first)
REJECT_PENALTY = 0.05  # taken off a rejected genome's score (the tiered scale's units)
DIGEST_BYTES = 16


def fingerprint(g: Genome) -> str:
    """A hex digest of everything that decides how ``g`` is drawn."""
    h = hashlib.blake2b(digest_size=DIGEST_BYTES)
    h.update(f"{g.mode}|{int(g.symmetric)}|{g.vertices.shape}".encode())
    for arr in (g.background, g.vertices, g.colours):
        h.update(np.ascontiguousarray(arr, np.float32).tobytes())
    if g.palette is not None:
        h.update(np.ascontiguousarray(g.palette, np.float32).tobytes())
        h.update(np.ascontiguousarray(g.index, np.int64).tobytes())
    return h.hexdigest()


class Rejects:
    """The fingerprints of the genomes the final check rejected, oldest first."""

    def __init__(self) -> None:
        self.keys: OrderedDict[str, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self.keys)

    def __contains__(self, g: Genome) -> bool:
        return fingerprint(g) in self.keys

    def add(self, g: Genome) -> None:
        self.keys[fingerprint(g)] = None
        while len(self.keys) > MAX_REJECTS:
            self.keys.popitem(last=False)

    def copy(self) -> Rejects:
        r = Rejects()
        r.keys = OrderedDict(self.keys)
        return r

    def apply(self, genomes: list[Genome], scores: np.ndarray) -> np.ndarray:
        """``scores`` with every rejected genome's score lowered by ``REJECT_PENALTY`` (a new array)."""
        out = np.array(scores, dtype=np.float64)
        if self.keys:
            for i, g in enumerate(genomes):
                if fingerprint(g) in self.keys:
                    out[i] -= REJECT_PENALTY
        return out

    def to_list(self) -> list[str]:
        return list(self.keys)

    @classmethod
    def from_list(cls, rows, field: str = "loop.rejected") -> Rejects:
        """Read ``to_list()``'s rows; FieldError names a malformed one."""
        r = cls()
        for key in v.array(rows, field, MAX_REJECTS):
            if not isinstance(key, str) or len(key) != 2 * DIGEST_BYTES or any(c not in "0123456789abcdef" for c in key):
                raise v.FieldError(f"field {field!r} must hold fingerprints of {2 * DIGEST_BYTES} hex digits, got {v.shown(key)}")
            r.keys[key] = None
        return r
