"""One gallery seed, as every engine runs it: skip it when done, lock its folder, resume it
when unfinished, and write its evolution.gif."""

from __future__ import annotations

import contextlib
import ctypes
import os
from collections.abc import Iterator
from pathlib import Path

from polyface.config import Config
from polyface.engines.base import SeedOutcome
from polyface import validate as v
from polyface.runio import readers
from polyface.runio.layout import CHECKPOINT, CONFIG, RESULT, RunFolderError
from polyface.runio.run_lock import held


def release_free_heap() -> bool:
    """Hand the heap's free pages back to the system (glibc's ``malloc_trim``); False where the
    C library has no such call.

    A worker runs seed after seed. A run allocates and frees buffers of ever-changing sizes (the
    detectors' batches change with each generation, the checks go up to the print size), and
    glibc keeps the freed pages: over six seeds a worker grew from 0.96 to 1.5 GB resident, and
    back to 0.84 GB once trimmed. (Trimming every generation would cap a run's own peak too, but
    made a run 25% slower.)
    """
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return False
    trim(0)
    return True


def is_done(run_dir: Path) -> bool:
    """True when the run folder holds a finished run's result.json (read as every run file is:
    a regular file under its size cap, checked; anything else is not done)."""
    if not os.path.lexists(run_dir / RESULT):
        return False
    try:
        return readers.read_result(run_dir).get("status") == "done"
    except (OSError, ValueError):  # RunFolderError is both
        return False


def seed_folder(out_dir: Path, seed: int) -> Path:
    """``out_dir/<seed>``, refused when it is a link leading out of the gallery folder (the
    whole run would be written there)."""
    run_dir = Path(out_dir) / str(seed)
    try:
        v.inside(Path(out_dir), str(seed), "seed folder")
    except v.FieldError:
        raise RunFolderError(
            f"{v.quote(run_dir)}: is a link leading outside the gallery folder {v.quote(out_dir)}; remove it"
        ) from None
    return run_dir



@contextlib.contextmanager
def seed_lock(run_dir: Path) -> Iterator[bool]:
    """Hold the lock on ``run_dir``; yields False when another process has it."""
    with held(run_dir) as got:
        yield got


def run_seed(
    cfg: Config, out_dir: Path, seed: int, threads: int = 0, gif: bool = True, hooks: list = ()
) -> SeedOutcome:
    """Run one seed into ``out_dir/<seed>`` unless it is done already or locked by another process;
    an unfinished run there continues from its checkpoint. With ``gif``, also its evolution.gif
    (40 frames) for the gallery page. Every engine runs a seed through this call."""
    from polyface.run import evolve, resume

    run_dir = seed_folder(out_dir, seed)
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
        try:
            if (run_dir / CHECKPOINT).exists() or (run_dir / CONFIG).exists():
                r = resume(run_dir, hooks=hooks)  # an interrupted gallery continues each unfinished seed
            else:
                r = evolve(cfg.replace(seed=seed), out=run_dir, hooks=hooks)
        finally:
            release_free_heap()  # the next seed runs in this process too
        status = "interrupted" if r.status == "interrupted" else "done"
        if status == "done" and gif:
            from polyface.runio.gif import make_gif

            make_gif(run_dir, frames=40)
        return SeedOutcome(seed, status, f"score {r.score:.3f} portrait {r.portrait} {r.elapsed_s:.1f}s")
