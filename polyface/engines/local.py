"""The local engine: a pool of spawned processes on this machine, one seed per process at a time.

Workers die with the gallery: on Linux each one asks the kernel for SIGKILL when its parent
dies (``prctl(PR_SET_PDEATHSIG)``); elsewhere a watchdog thread exits when the parent's pid
changes. Without this a gallery killed with SIGKILL left its workers evolving (and holding
their seeds' locks) until they finished.

A gallery stopped by SIGTERM or SIGHUP passes the signal on to its workers (a Ctrl-C in a
terminal reaches them by itself): each saves its seed as a Ctrl-C would, takes no further seed,
and the gallery waits for them (``WIND_DOWN_S`` at most) before it writes its pages.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence

from polyface import interrupt
from polyface.engines.seed import run_seed
from polyface.engines.base import GalleryJob, SeedOutcome

PR_SET_PDEATHSIG = 1
WIND_DOWN_S = 300.0  # how long an interrupted gallery waits for its workers to save their seeds

# This worker process's state: running a seed, or stopped by a signal (it takes no further seed).
_worker_state = {"busy": False, "stopping": False}


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
    for sig in interrupt.TERMINATORS:
        signal.signal(sig, _on_terminate)


def _on_terminate(signum, frame) -> None:
    """SIGTERM or SIGHUP in a worker: a running seed saves as on Ctrl-C; an idle worker just ends."""
    _worker_state["stopping"] = True
    if _worker_state["busy"]:
        interrupt._as_interrupt(signum, frame)
    else:
        os._exit(128 + int(signum))


def _worker(args: tuple[GalleryJob, int, int]) -> SeedOutcome:
    job, seed, threads = args
    if _worker_state["stopping"]:  # the gallery is being stopped: leave this seed for the next run
        return SeedOutcome(seed, "interrupted", "not started: the gallery was stopped", where=f"pid {os.getpid()}")
    _worker_state["busy"] = True
    try:
        with interrupt.deferred():  # torch's import: a signal inside a native extension's start aborts
            import polyface.run  # noqa: F401
        outcome = run_seed(job.cfg, job.out_dir, seed, threads, job.gif)
    except KeyboardInterrupt:
        outcome = SeedOutcome(seed, "interrupted")
    except Exception as e:  # one failing seed must not end the gallery; it is reported
        outcome = SeedOutcome(seed, "failed", f"{type(e).__name__}: {e}")
    finally:
        _worker_state["busy"] = False
    if outcome.status == "interrupted":
        _worker_state["stopping"] = True
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
            results = pool.imap_unordered(_worker, jobs)
            try:
                for outcome in results:
                    yield outcome
                    nxt = next(waiting, None)
                    if nxt is not None:
                        yield SeedOutcome(nxt, "running")
            except KeyboardInterrupt:
                yield from self._wind_down(pool, results)
                raise

    @staticmethod
    def _wind_down(pool, results) -> Iterator[SeedOutcome]:
        """The gallery was interrupted: pass a SIGTERM or SIGHUP on to the workers (a terminal's
        Ctrl-C reached them already) and collect the outcomes of the seeds they save."""
        if interrupt.received is not None:
            for proc in list(getattr(pool, "_pool", ())):
                with contextlib.suppress(OSError):
                    os.kill(proc.pid, interrupt.received)
        deadline = time.monotonic() + WIND_DOWN_S
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                try:
                    outcome = results.next(timeout=left)
                except (StopIteration, mp.TimeoutError):
                    return
                if outcome.detail.startswith("not started"):
                    continue  # never begun: nothing to report, the next run starts it
                yield outcome
        except KeyboardInterrupt:  # a second signal: stop waiting
            return

    def _serial(self, job: GalleryJob, seeds: list[int], threads: int) -> Iterator[SeedOutcome]:
        for s in seeds:
            yield SeedOutcome(s, "running", where="this process")
            outcome = _worker((job, s, threads))
            yield outcome
            if outcome.status == "interrupted":
                return

    def close(self) -> None:
        pass
