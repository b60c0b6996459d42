"""The Ray engine: one Ray task per seed, on a local Ray instance or on a cluster.

No shared disk is assumed. A seed's task runs :func:`polyface.engines.seed.run_seed` (the call a
local seed runs) in a temporary folder on whichever node Ray picks, with one torch thread,
and streams the run folder back as it changes (a Ray generator task yields the new and
changed files at every checkpoint and at the end). The driver writes them into ``--out``,
each file atomically, checkpoint.json and result.json last, so ``--out`` always holds a
resumable run.

Lost tasks: the tasks run with Ray's ``max_retries=0``, because a Ray retry re-runs a task
with the arguments it was first given, i.e. from the start of the seed (or from the
checkpoint it was submitted with). Instead, when a task dies with its worker or node, the
driver submits the seed again with the files it holds, so the seed continues from its last
checkpoint on another node, up to ``retries`` times. An exception inside a seed is not
retried: the seed is reported as failed, the others go on.

Only this module imports ``ray``.
"""

from __future__ import annotations

import logging
import os
import queue
import shutil
import socket
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polyface.engines.seed import run_seed, seed_folder
from polyface.runio.run_lock import RunLock
from polyface.runio.layout import RunFolderError
from polyface.config import Config
from polyface.engines import transfer
from polyface.engines.base import INSTALL_RAY, EngineUnavailable, GalleryJob, SeedOutcome

try:
    import ray
except ImportError:
    ray = None

OBJECT_STORE_MB = 256
OUTCOMES = ("done", "interrupted", "failed", "busy")  # what a seed's task may report


class _Stream:
    """Hook: at each checkpoint, queue the run folder's changed files for the driver."""

    def __init__(self, sync: transfer.FolderSync, out: queue.Queue) -> None:
        self.sync, self.out = sync, out

    def on_checkpoint(self, snapshot: dict) -> None:
        self.out.put(("files", self.sync.changes()))


def seed_task(cfg: Config, seed: int, gif: bool, files: dict[str, bytes]) -> Iterator[dict[str, Any]]:
    """Body of the Ray task: run ``seed`` from ``files`` (the driver's copy of its folder);
    yields ``{"node", "files", "outcome"}`` messages, the outcome in the last one."""
    node = ray.get_runtime_context().get_node_id() if ray is not None and ray.is_initialized() else ""
    root = Path(tempfile.mkdtemp(prefix=f"polyface-seed{seed}-"))
    try:
        run_dir = root / str(seed)
        transfer.apply(run_dir, [(name, 0, data) for name, data in files.items()])
        sync = transfer.FolderSync(run_dir, files)
        messages: queue.Queue = queue.Queue()

        def work() -> None:
            try:
                outcome = run_seed(cfg, root, seed, threads=1, gif=gif, hooks=[_Stream(sync, messages)])
            except Exception as e:  # reported as this seed's failure; the gallery goes on
                outcome = SeedOutcome(seed, "failed", f"{type(e).__name__}: {e}")
            messages.put(("end", outcome))

        threading.Thread(target=work, daemon=True, name=f"seed-{seed}").start()
        yield {"node": node, "files": [], "outcome": None}
        while True:
            kind, item = messages.get()
            if kind == "files":
                yield {"node": node, "files": item, "outcome": None}
            else:
                yield {"node": node, "files": sync.changes(), "outcome": (item.status, item.detail)}
                return
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """A HOST:PORT address must accept a connection (ray.init would wait minutes for one)."""
    host, sep, port = address.rpartition(":")
    if not sep or "/" in address or not port.isdigit():
        return  # "auto", "ray://...": left to Ray
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as e:
        raise EngineUnavailable(
            f"--address {address}: no Ray cluster answers there ({e.strerror or e}); start one with `ray start --head`"
        ) from None


@dataclass
class _Seed:
    seed: int
    lock: RunLock
    attempts: int = 0
    node: str = ""
    started: bool = False
    finished: bool = False


def _check_message(msg: object) -> tuple[str, list, tuple[str, str] | None]:
    """(node, file entries, outcome) of a task's message, checked like anything from another machine."""
    if not isinstance(msg, dict) or not isinstance(msg.get("files"), list) or not isinstance(msg.get("node"), str):
        raise transfer.TransferError(f"malformed message {type(msg).__name__}")
    outcome = msg.get("outcome")
    if outcome is not None:
        if not (isinstance(outcome, tuple) and len(outcome) == 2 and outcome[0] in OUTCOMES):
            raise transfer.TransferError(f"malformed outcome {outcome!r:.80}")
        outcome = (outcome[0], str(outcome[1])[:1000])
    return msg["node"], msg["files"], outcome


class RayEngine:
    """Seeds as Ray tasks; ``workers`` caps the seeds in flight (default: the cluster's CPUs)."""

    name = "ray"

    def __init__(
        self, workers: int = 0, address: str | None = None, object_store_mb: int = OBJECT_STORE_MB, retries: int = 3
    ) -> None:
        if ray is None:
            raise EngineUnavailable(f"--engine ray needs Ray, which is not installed: {INSTALL_RAY}")
        self.workers = workers
        self.address = address
        self.object_store_mb = object_store_mb
        self.retries = retries
        self._started_ray = False
        self._remote = None

    def start(self) -> None:
        """Join the cluster (``address``, else $RAY_ADDRESS) or start a local Ray; no-op if connected."""
        if ray.is_initialized():
            return
        address = self.address or os.environ.get("RAY_ADDRESS")
        quiet = dict(log_to_driver=False, logging_level=logging.WARNING)
        if address:
            _check_reachable(address)
            try:
                ray.init(address=address, **quiet)
            except Exception as e:  # refused token, version mismatch, ...: Ray's message, on one line
                first = next((x.strip() for x in str(e).splitlines() if x.strip()), type(e).__name__)
                hint = " (a cluster with token authentication needs RAY_AUTH_MODE=token and its token)"
                chain = f"{e} {e.__cause__} {e.__context__}".lower()
                raise EngineUnavailable(f"--address {address}: cannot join the Ray cluster: {first[:300]}"
                                        + (hint if "auth" in chain else "")) from None
        else:
            ray.init(
                num_cpus=self.workers or os.cpu_count() or 1,
                object_store_memory=self.object_store_mb * 2**20,
                include_dashboard=False,
                **quiet,
            )
        self._started_ray = True

    def _limit(self) -> int:
        return self.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))

    def _submit(self, job: GalleryJob, st: _Seed):
        if self._remote is None:
            self._remote = ray.remote(num_cpus=1, max_retries=0, num_returns="streaming")(seed_task)
        st.attempts += 1
        files = transfer.read_folder(job.out_dir / str(st.seed))
        return self._remote.remote(job.cfg, st.seed, job.gif, files)

    def run(self, job: GalleryJob, seeds: Sequence[int]) -> Iterator[SeedOutcome]:
        self.start()
        pending = deque(seeds)
        active: dict[Any, _Seed] = {}
        limit, limit_at = self._limit(), time.monotonic()
        try:
            while pending or active:
                if time.monotonic() - limit_at > 5.0:  # nodes may join or leave
                    limit, limit_at = self._limit(), time.monotonic()
                while pending and len(active) < limit:
                    seed = pending.popleft()
                    try:
                        seed_dir = seed_folder(job.out_dir, seed)
                    except RunFolderError as e:
                        yield SeedOutcome(seed, "failed", str(e))
                        continue
                    lock = RunLock(seed_dir)
                    if not lock.acquire():
                        yield SeedOutcome(seed, "busy", "another process is running this seed")
                        continue
                    for stale in [*seed_dir.glob(".*.tmp"), *seed_dir.glob("frames/.*.tmp")]:
                        stale.unlink(missing_ok=True)  # left by a driver killed mid-write
                    st = _Seed(seed, lock)
                    active[self._submit(job, st)] = st
                ready, _ = ray.wait(list(active), num_returns=1, timeout=1.0)
                for gen in ready:
                    st = active.pop(gen)
                    events, again = self._step(job, gen, st)
                    yield from events
                    if again is not None:
                        active[again] = st
                    elif not st.finished:
                        active[gen] = st
        finally:
            for gen, st in active.items():
                ray.cancel(gen, force=True)
                st.lock.release()

    def _step(self, job: GalleryJob, gen, st: _Seed) -> tuple[list[SeedOutcome], Any]:
        """Take the next message of ``st``'s task: (events, a resubmitted task or None)."""
        try:
            msg = ray.get(next(gen))
        except StopIteration:
            return self._end(st, "failed", "the task ended without a result"), None
        except ray.exceptions.RayTaskError as e:
            return self._end(st, "failed", f"{type(e.cause).__name__}: {e.cause}" if e.cause else str(e)), None
        except ray.exceptions.RayError as e:  # the worker or its node was lost
            if st.attempts > self.retries:
                return self._end(st, "failed", f"lost {st.attempts} times, last: {type(e).__name__}"), None
            event = SeedOutcome(st.seed, "retrying", f"lost on node {st.node[:8]} ({type(e).__name__}); "
                                f"continuing from its last checkpoint", st.node)
            return [event], self._submit(job, st)
        events = []
        try:
            node, files, outcome = _check_message(msg)
            if not st.started or node != st.node:
                st.started, st.node = True, node
                events.append(SeedOutcome(st.seed, "running", where=node))
            if transfer.apply(job.out_dir / str(st.seed), files):
                events.append(SeedOutcome(st.seed, "saved", where=node))
        except transfer.TransferError as e:
            ray.cancel(gen, force=True)
            return events + self._end(st, "failed", f"refused what node {st.node[:8]} sent: {e}"), None
        if outcome is not None:
            events += self._end(st, *outcome)
        return events, None

    def _end(self, st: _Seed, status: str, detail: str) -> list[SeedOutcome]:
        st.finished = True
        st.lock.release()
        return [SeedOutcome(st.seed, status, detail, st.node)]

    def close(self) -> None:
        if self._started_ray and ray.is_initialized():
            ray.shutdown()
        self._started_ray = False
