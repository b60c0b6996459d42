"""Limits on sizes and counts, stated once.

The config's fields (``polyface.config.FIELDS``), the CLI's option types (derived from these
specs) and the library's argument checks (GIF, MP4, contact sheet) all read this table, so a
range is the same wherever it is enforced.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Spec:
    """A setting's type and allowed values: a range ``lo..hi``, or one of ``choices``."""

    kind: type
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] = ()
    items: int | None = None  # fixed length for tuples; None for any length >= 1
    help: str = ""

    def describe(self) -> str:
        if self.choices:
            return "one of " + ", ".join(self.choices)
        noun = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}[self.kind]
        if self.lo is not None and self.hi is not None:
            noun += f" in {fmt(self.lo)}..{fmt(self.hi)}"
        return noun

    def admits(self, value: Any) -> bool:
        """True when ``value`` has this spec's type (an int for a float spec too) and range."""
        if self.kind in (int, float):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer, float, np.floating)):
                return False
            if self.kind is int and not isinstance(value, (int, np.integer)):
                return False
            if not math.isfinite(value):
                return False
            return self.lo is None or self.lo <= value <= self.hi
        if self.kind is str:
            return isinstance(value, str) and (not self.choices or value in self.choices)
        return isinstance(value, self.kind)


def fmt(x: float) -> str:
    """A limit as written in messages: ``16``, ``0.05``."""
    return str(int(x)) if float(x).is_integer() else str(x)


def check(spec: Spec, name: str, value: Any, unit: str = "") -> Any:
    """``value`` when ``spec`` admits it, else ValueError: ``NAME must be ... in LO..HI UNIT, got V``."""
    if not spec.admits(value):
        raise ValueError(f"{name} must be {spec.describe()}{' ' + unit if unit else ''}, got {value!r}")
    return value


# Pictures
RENDER_SIZE = Spec(int, 16, 16384, help="Output size in px.")  # best.png/svg, `polyface render`
FRAME_SIZE = Spec(int, 16, 4096, help="Frame size in px.")  # frames, GIF/MP4 re-renders, contact-sheet tiles
# Animations
FPS = Spec(float, 1, 60, help="Frames per second.")
GIF_FPS = Spec(float, 1, 50)  # GIF delays are whole centiseconds; browsers slow delays under 20 ms to 100 ms
FRAMES = Spec(int, 1, 10000, help="Pick this many frames spread over the run.")
HOLD = Spec(float, 0, 60, help="Seconds on the final portrait.")
# Galleries and machines
GALLERY_RUNS = Spec(int, 1, 100000, help="Number of portraits.")
SEED = Spec(int, 0, 2**63 - 1)
SEED_START = Spec(int, 0, 2**62, help="First seed.")
WORKERS = Spec(int, 0, 256)
PORT = Spec(int, 0, 65535, help="Port of the page (0: any free one).")
THREADS = Spec(int, 0, 256)
# Scoring
CONTRAST = Spec(
    float, 1.0, 4.0,
    help="The finished portrait's shapes moved up to this many times as far from the ground, as far as the final check accepts (1: as evolved).",
)
MIN_BOX = Spec(float, 0.05, 1.0, help="Face box share of the canvas.")
NO_MARGIN = -1.0  # face_margin at which a face box may run off the canvas by a whole side: no framing rule
FACE_MARGIN = Spec(
    float, NO_MARGIN, 0.2,
    help="Share of the canvas side the face box keeps clear of every edge (negative: may run off by that much; -1: anywhere).",
)
