"""Peak memory of a process tree, sampled from /proc while a benchmark runs (Linux only)."""

from __future__ import annotations

import os
import threading
from pathlib import Path


def _kib(text: str, key: str) -> int:
    for line in text.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def tree_memory_mb(root: int) -> tuple[float, float]:
    """Memory of ``root`` and all its descendants in MiB, from /proc: (RSS summed, which counts
    the pages of torch's libraries once per process, and PSS, which shares them out)."""
    parent = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                parent[int(d.name)] = _kib((d / "status").read_text(), "PPid")
            except OSError:
                continue
    tree, frontier = {root}, [root]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parent.items() if pp == p and c not in tree]
        tree.update(kids)
        frontier += kids
    rss = pss = 0
    for p in tree:
        try:
            rollup = Path(f"/proc/{p}/smaps_rollup").read_text()
        except OSError:
            continue
        rss, pss = rss + _kib(rollup, "Rss"), pss + _kib(rollup, "Pss")
    return rss / 1024, pss / 1024


class PeakMemory:
    """Samples the process tree's memory in a thread while the ``with`` block runs."""

    def __init__(self, root: int | None = None, every: float = 0.25) -> None:
        self.root, self.every, self.peak, self.peak_rss = root or os.getpid(), every, 0.0, 0.0
        self._stop = threading.Event()

    def _sample(self) -> None:
        while not self._stop.is_set():
            rss, pss = tree_memory_mb(self.root)
            self.peak, self.peak_rss = max(self.peak, pss), max(self.peak_rss, rss)
            self._stop.wait(self.every)

    def __enter__(self) -> PeakMemory:
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
