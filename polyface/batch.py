"""Gallery batch generation: many seeds, one run folder each, resumable, on a chosen engine.

``run_gallery`` runs seeds S .. S+N-1 into ``DIR/<seed>/``: seeds already done are skipped
(so an interrupted gallery resumes), unfinished ones continue from their checkpoint, the
others start. The seeds run on an engine (:mod:`polyface.engines`: ``local`` process pool
or ``ray``); a failed seed is reported and the others go on. The contact sheet and
``index.html`` are rebuilt every ``pages_every`` finished seeds and at the end.
A seed folder is locked while it runs, so two galleries on one folder never write the same run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from polyface.config import Config
from polyface.engines.base import Engine, GalleryJob, SeedOutcome
from polyface.engines.seed import is_done


@dataclass
class GalleryProgress:
    """Counts of a running gallery; ``per_minute``: seeds this call finished per minute (each one
    portrait of the gallery, whether or not it passed the rule before its limits)."""

    total: int
    done: int = 0
    running: int = 0
    failed: int = 0
    skipped: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def per_minute(self) -> float:
        minutes = (time.monotonic() - self.started) / 60
        return self.done / minutes if minutes > 0 else 0.0

    def line(self) -> str:
        return (
            f"gallery: {self.done + self.skipped}/{self.total} done ({self.skipped} before), "
            f"{self.running} running, {self.failed} failed, {self.per_minute:.2f} portraits/min"
        )


def run_gallery(
    cfg: Config,
    n: int,
    out_dir: Path,
    seed_start: int = 0,
    workers: int = 0,
    on_done: Callable[[SeedOutcome], None] | None = None,
    gif: bool = True,
    engine: str | Engine = "local",
    address: str | None = None,
    on_event: Callable[[SeedOutcome, GalleryProgress], None] | None = None,
    pages_every: int = 10,
    pages_interval_s: float = 60.0,
) -> list[SeedOutcome]:
    """Run ``n`` seeds from ``seed_start`` into ``out_dir`` on ``engine``; then write the pages.

    ``on_done`` gets each seed's final outcome, ``on_event`` every event with the counts.
    The pages are also rebuilt after every ``pages_every`` finished seeds, but not more often
    than every ``pages_interval_s`` seconds (a rebuild reads every run of the gallery).
    With the local engine and ``workers`` > 1 the seeds run in spawned processes, so a script
    that calls this must do so under ``if __name__ == "__main__":``.
    """
    from polyface.engines import get_engine

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    seeds = list(range(seed_start, seed_start + n))
    runner = get_engine(engine, workers, address) if isinstance(engine, str) else engine
    progress = GalleryProgress(total=n)
    outcomes: dict[int, SeedOutcome] = {}
    running: set[int] = set()
    pages = {"done": 0, "at": time.monotonic()}

    def note(o: SeedOutcome) -> None:
        if o.status == "running":
            running.add(o.seed)
        elif o.final:
            running.discard(o.seed)
            outcomes[o.seed] = o
            progress.done += o.status == "done"
            progress.failed += o.status == "failed"
            progress.skipped += o.status == "skipped"
            if on_done:
                on_done(o)
            now = time.monotonic()
            if pages_every and progress.done - pages["done"] >= pages_every and now - pages["at"] >= pages_interval_s:
                write_pages(out_dir)
                pages.update(done=progress.done, at=now)
        progress.running = len(running)
        if on_event:
            on_event(o, progress)

    todo = []
    for s in seeds:
        if is_done(out_dir / str(s)):
            note(SeedOutcome(s, "skipped"))
        else:
            todo.append(s)
    try:
        if todo:
            for o in runner.run(GalleryJob(cfg, out_dir, gif), todo):
                note(o)
    except KeyboardInterrupt:
        for s in sorted(running):
            note(SeedOutcome(s, "interrupted", "the gallery was interrupted; run it again to continue"))
    finally:
        runner.close()
    write_pages(out_dir)
    return sorted(outcomes.values(), key=lambda o: o.seed)


def write_pages(out_dir: Path) -> tuple[Path, Path] | None:
    """Write ``contact-sheet.png`` and ``index.html`` for the finished runs in ``out_dir``."""
    from polyface.runio.contact_sheet import contact_sheet
    from polyface.runio.index_page import write_index
    from polyface.runio.results import collect

    runs = collect(out_dir)
    if not runs:
        return None
    sheet = contact_sheet(runs, out_dir / "contact-sheet.png")
    index = write_index(out_dir, runs)
    return sheet, index
