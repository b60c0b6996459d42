"""The local engine: a pool of spawned processes on this machine, one seed per process at a time.

Workers die with the gallery: on Linux each one asks the kernel for SIGKILL when its parent
dies (``prctl(PR_SET_PDEATHSIG)``); elsewhere a watchdog thread exits when the parent's pid
changes. Without this a gallery killed with SIGKILL left its workers evolving (and holding
their seeds' locks) until they finished.
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence

from polyface.engines.seed import run_seed
from polyface.engines.base import GalleryJob, SeedOutcome

PR_SET_PDEATHSIG = 1


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def die_with_parent(parent: int) -> None:
    """Pool initializer: end this process when ``parent`` (the gallery process) dies."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    else:
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    if os.getppid() != parent:  # the parent died before the request above took effect
        os._exit(1)


def _worker(args: tuple[GalleryJob, int, int]) -> SeedOutcome:
    job, seed, threads = args
    try:
        outcome = run_seed(job.cfg, job.out_dir, seed, threads, job.gif)
    except KeyboardInterrupt:
        outcome = SeedOutcome(seed, "interrupted")
    except Exception as e:  # one failing seed must not end the gallery; it is reported
        outcome = SeedOutcome(seed, "failed", f"{type(e).__name__}: {e}")
    outcome.where = f"pid {os.getpid()}"
    return outcome


class LocalEngine:
    """Seeds in ``workers`` spawned processes (one per core by default); in this process when 1."""

    name = "local"

    def __init__(self, workers: int = 0) -> None:
        self.workers = workers or default_workers()

    def start(self) -> None:
        pass

    def run(self, job: GalleryJob, seeds: Sequence[int]) -> Iterator[SeedOutcome]:
        seeds = list(seeds)
        workers = max(1, min(self.workers, len(seeds)))
        threads = max(1, (os.cpu_count() or 1) // self.workers)
        if workers == 1:
            yield from self._serial(job, seeds, threads)
            return
        jobs = [(job, s, threads) for s in seeds]
        ctx = mp.get_context("spawn")
        # Pool hands seeds out in order: the first `workers` start now, one more per finished seed.
        for s in seeds[:workers]:
            yield SeedOutcome(s, "running")
        waiting = iter(seeds[workers:])
        with ctx.Pool(workers, initializer=die_with_parent, initargs=(os.getpid(),)) as pool:
            for outcome in pool.imap_unordered(_worker, jobs):
                yield outcome
                nxt = next(waiting, None)
                if nxt is not None:
                    yield SeedOutcome(nxt, "running")

    def _serial(self, job: GalleryJob, seeds: list[int], threads: int) -> Iterator[SeedOutcome]:
        for s in seeds:
            yield SeedOutcome(s, "running", where="this process")
            outcome = _worker((job, s, threads))
            yield outcome
            if outcome.status == "interrupted":
                return

    def close(self) -> None:
        pass
