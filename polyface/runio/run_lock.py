"""One writer per run folder: ``.lock`` inside it, held with ``flock`` by whoever writes the run
(``evolve --out``, ``evolve --resume``, a gallery's seed, the Ray driver for a seed it runs
remotely). The kernel drops the lock when its process dies, so a killed run never leaves the
folder locked. Within one process the lock is re-entrant: a gallery seed holds it and the run
it starts takes it again."""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

from polyface.runio.layout import LOCK, RunFolderError
from polyface.validate import quote

_held: dict[tuple[int, int], list[int]] = {}  # (device, inode) of a held lock file -> [fd, holders]
_guard = threading.Lock()


class RunLock:
    """An exclusive, non-blocking lock on a run folder (``.lock`` inside it, made with the folder)."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.key: tuple[int, int] | None = None
        self.run_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.run_dir / LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o666)
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            raise RunFolderError(f"{quote(self.run_dir / LOCK)}: is not a regular file; remove it")
        self.fd: int | None = fd
        self._ino = (st.st_dev, st.st_ino)

    def acquire(self) -> bool:
        """Take the lock; False (and the descriptor closed) when another process holds it."""
        with _guard:
            mine = _held.get(self._ino)
            if mine is not None:  # this process holds it already
                mine[1] += 1
                os.close(self.fd)
                self.fd, self.key = None, self._ino
                return True
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(self.fd)
                self.fd = None
                return False
            _held[self._ino] = [self.fd, 1]
            self.key = self._ino
            with contextlib.suppress(OSError):  # who holds it, for the message of the one refused
                os.ftruncate(self.fd, 0)
                os.pwrite(self.fd, f"{os.getpid()}\n".encode(), 0)
        return True

    def release(self) -> None:
        with _guard:
            if self.key is not None:
                mine = _held[self.key]
                mine[1] -= 1
                if mine[1] == 0:
                    del _held[self.key]
                    os.close(mine[0])  # closing the descriptor drops the lock
                self.key = None
            elif self.fd is not None:
                os.close(self.fd)
            self.fd = None

    def holder(self) -> int | None:
        """The pid the holder wrote into the lock file, when readable."""
        try:
            with open(self.run_dir / LOCK, "rb") as f:
                text = f.read(24)
            return int(text.strip()) if text.strip().isdigit() else None
        except (OSError, ValueError):
            return None


@contextlib.contextmanager
def held(run_dir: Path) -> Iterator[bool]:
    """Hold the lock on ``run_dir`` for the block; yields False when another process has it."""
    lock = RunLock(run_dir)
    try:
        yield lock.acquire()
    finally:
        lock.release()


@contextlib.contextmanager
def writing(run_dir: Path) -> Iterator[None]:
    """Hold the lock on ``run_dir`` while a run writes it; RunFolderError when another process
    holds it. A run that the block refuses (RunFolderError: a checkpoint it cannot load) leaves
    the folder as it found it: a ``.lock`` made here is removed, while still held."""
    fresh = not os.path.lexists(Path(run_dir) / LOCK)
    try:
        lock = RunLock(run_dir)
    except RunFolderError:
        raise
    except OSError as e:
        raise RunFolderError(f"{quote(run_dir)}: cannot lock the run folder ({e.strerror or e})") from None
    try:
        if not lock.acquire():
            pid = lock.holder()
            who = f" (pid {pid})" if pid else ""
            raise RunFolderError(
                f"{quote(run_dir)}: another process{who} is writing this run folder; wait for it to end, or stop it"
            )
        try:
            yield
        except RunFolderError:
            if fresh and lock.key is not None and _held.get(lock.key, [None, 0])[1] == 1:
                with contextlib.suppress(OSError):
                    os.unlink(Path(run_dir) / LOCK)
            raise
    finally:
        lock.release()
