"""Reading finished runs: each ``DIR/<seed>/result.json`` as a ``RunSummary``, in seed or score order.

Used by the contact sheet, the index page and gallery batches.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polyface.runio import readers
from polyface.runio.layout import RESULT

log = logging.getLogger(__name__)

_SEED_DIR = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class RunSummary:
    """One run of a gallery, from its ``result.json``; fields the file lacks are None.

    ``finished`` is False for a run that stopped early (status other than ``done``).
    """

    path: Path
    seed: int | None
    preset: str | None
    status: str | None
    best: float | None
    min_prob: float | None  # the lowest face probability over the final check's sizes
    portrait: bool | None
    generations: int | None
    evaluations: int | None
    elapsed_s: float | None

    @property
    def name(self) -> str:
        """The run folder's name (the seed as a decimal string)."""
        return self.path.name

    @property
    def finished(self) -> bool:
        return self.status == "done"

    def file(self, name: str) -> Path | None:
        """``path / name`` when that file exists, else None."""
        p = self.path / name
        return p if p.is_file() else None

    @property
    def png(self) -> Path | None:
        return self.file("best.png")

    @property
    def svg(self) -> Path | None:
        return self.file("best.svg")

    @property
    def gif(self) -> Path | None:
        return self.file("evolution.gif")

    @property
    def genome(self) -> Path | None:
        return self.file("genome.json")


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    try:
        return float(v) if math.isfinite(v) else None
    except OverflowError:  # an integer too long for a float
        return None


def _integer(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _text(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def read_summary(run_dir: str | Path) -> RunSummary:
    """Read ``run_dir/result.json`` through the validating reader (a regular file under its
    cap, every known field checked); raises RunFolderError (an OSError and a ValueError) when
    it is missing or malformed."""
    run_dir = Path(run_dir)
    data = readers.read_result(run_dir)
    seed = _integer(data.get("seed"))
    if seed is None and _SEED_DIR.fullmatch(run_dir.name):
        seed = int(run_dir.name)
    portrait = data.get("portrait")
    return RunSummary(
        path=run_dir,
        seed=seed,
        preset=_text(data.get("preset")),
        status=None if data.get("status") is None else str(data["status"]),  # a RunStatus, as its plain value
        best=_number(data.get("best")),
        min_prob=_number(data.get("min_prob")),
        portrait=portrait if isinstance(portrait, bool) else None,
        generations=_integer(data.get("generations")),
        evaluations=_integer(data.get("evaluations")),
        elapsed_s=_number(data.get("elapsed_s")),
    )


def collect(gallery_dir: str | Path) -> list[RunSummary]:
    """Every run of ``gallery_dir`` (sub-folders named by a seed), in seed order.

    Folders without ``result.json`` (still running, or not runs) and unreadable results are
    skipped with a log message; runs that stopped early are kept, with ``finished`` False.
    """
    gallery_dir = Path(gallery_dir)
    if not gallery_dir.is_dir():
        raise FileNotFoundError(f"{gallery_dir}: no such gallery folder")
    runs: list[RunSummary] = []
    for sub in sorted(gallery_dir.iterdir(), key=lambda p: (len(p.name), p.name)):
        if not sub.is_dir() or not _SEED_DIR.fullmatch(sub.name):
            continue
        if not (sub / RESULT).is_file():
            log.info("skipping %s: no %s (unfinished or not a run)", sub, RESULT)
            continue
        try:
            run = read_summary(sub)
        except (OSError, UnicodeDecodeError, ValueError) as e:
            log.warning("skipping %s: unreadable %s (%s)", sub, RESULT, e)
            continue
        if not run.finished:
            log.info("run %s is unfinished (status %r)", sub, run.status)
        runs.append(run)
    return runs


def by_score(runs: Iterable[RunSummary]) -> list[RunSummary]:
    """Best score first; runs without a score last; ties by seed."""

    def key(r: RunSummary) -> tuple[int, float, int, str]:
        return (r.best is None, -(r.best or 0.0), r.seed if r.seed is not None else 2**63, r.name)

    return sorted(runs, key=key)
