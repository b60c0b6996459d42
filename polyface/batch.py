"""Gallery batch generation: many seeds, one run folder each, resumable, one worker per core.

``run_gallery`` runs seeds S .. S+N-1 into ``DIR/<seed>/``, skipping seeds already done
(so an interrupted gallery resumes), holding a lock on each seed folder while it runs (so
two gallery processes on one folder never write the same run), then writes the contact
sheet and ``index.html``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import multiprocessing as mp
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from polyface.config import Config
from polyface.runio.layout import CHECKPOINT, CONFIG, LOCK, RESULT


@dataclass
class SeedOutcome:
    seed: int
    status: str  # "done", "skipped" (finished before), "busy" (another process has it), "interrupted", "failed"
    detail: str = ""


def is_done(run_dir: Path) -> bool:
    """True when the run folder holds a finished run's result.json."""
    try:
        return json.loads((run_dir / RESULT).read_text()).get("status") == "done"
    except (OSError, ValueError, AttributeError):
        return False


@contextlib.contextmanager
def seed_lock(run_dir: Path) -> Iterator[bool]:
    """Hold an exclusive, non-blocking lock on ``run_dir``; yields False when another process has it."""
    run_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(run_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def run_seed(cfg: Config, out_dir: Path, seed: int, threads: int = 0, gif: bool = True) -> SeedOutcome:
    """Run one seed into ``out_dir/<seed>`` unless it is done already or locked by another process;
    with ``gif``, also its evolution.gif (40 frames) for the gallery page."""
    from polyface.run import evolve, resume

    run_dir = out_dir / str(seed)
    if is_done(run_dir):
        return SeedOutcome(seed, "skipped")
    with seed_lock(run_dir) as got:
        if not got:
            return SeedOutcome(seed, "busy", "another process is running this seed")
        if is_done(run_dir):
            return SeedOutcome(seed, "skipped")
        if threads:
            import torch

            torch.set_num_threads(threads)
        if (run_dir / CHECKPOINT).exists() or (run_dir / CONFIG).exists():
            r = resume(run_dir)  # an interrupted gallery continues each unfinished seed where it stopped
        else:
            r = evolve(cfg.replace(seed=seed), out=run_dir)
        status = "interrupted" if r.status == "interrupted" else "done"
        if status == "done" and gif:
            from polyface.runio.animate import make_gif

            make_gif(run_dir, frames=40)
        return SeedOutcome(seed, status, f"score {r.score:.3f} portrait {r.portrait} {r.elapsed_s:.1f}s")


def _worker(args: tuple[Config, Path, int, int, bool]) -> SeedOutcome:
    cfg, out_dir, seed, threads, gif = args
    try:
        return run_seed(cfg, out_dir, seed, threads, gif)
    except KeyboardInterrupt:
        return SeedOutcome(seed, "interrupted")
    except Exception as e:  # one failing seed must not end the gallery; it is reported
        return SeedOutcome(seed, "failed", f"{type(e).__name__}: {e}")


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def run_gallery(
    cfg: Config,
    n: int,
    out_dir: Path,
    seed_start: int = 0,
    workers: int = 0,
    on_done: Callable[[SeedOutcome], None] | None = None,
    gif: bool = True,
) -> list[SeedOutcome]:
    """Run ``n`` seeds from ``seed_start`` into ``out_dir``; then write contact sheet and index.

    With ``workers`` > 1 the seeds run in spawned processes, so a script that calls this
    must do so under ``if __name__ == "__main__":`` (as with any multiprocessing code).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    workers = workers or default_workers()
    seeds = list(range(seed_start, seed_start + n))
    threads = max(1, (os.cpu_count() or 1) // workers)
    if workers > 1:
        cfg = cfg.replace(workers=1)  # the cores are shared between seeds, not within one
    jobs = [(cfg, out_dir, s, threads, gif) for s in seeds]
    outcomes: list[SeedOutcome] = []
    if workers == 1:
        for job in jobs:
            outcomes.append(_worker(job))
            if on_done:
                on_done(outcomes[-1])
            if outcomes[-1].status == "interrupted":
                break
    else:
        ctx = mp.get_context("spawn")
        with ctx.Pool(workers) as pool:
            for o in pool.imap_unordered(_worker, jobs):
                outcomes.append(o)
                if on_done:
                    on_done(o)
    write_pages(out_dir)
    return sorted(outcomes, key=lambda o: o.seed)


def write_pages(out_dir: Path) -> tuple[Path, Path] | None:
    """Write ``contact-sheet.png`` and ``index.html`` for the finished runs in ``out_dir``."""
    from polyface.runio import gallery

    runs = gallery.collect(out_dir)
    if not runs:
        return None
    sheet = gallery.contact_sheet(runs, out_dir / "contact-sheet.png")
    index = gallery.write_index(out_dir, runs)
    return sheet, index
