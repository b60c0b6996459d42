"""Where a run's time goes: named sections timed from the run itself.

``Timings.section(name)`` is a context manager that adds the *self* time of the block to
``name`` (time spent in a nested section counts for the nested one only), so the sections
never count a second twice and their sum is the time they cover. A disabled ``Timings``
(``OFF``) hands back one shared do-nothing context manager: the hot path pays a method
call and nothing else.

``TimedStrategy`` and ``TimedHook`` wrap a strategy and the loop's hooks, so the loop
itself needs no timing code.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any


class Timings:
    """Seconds and call counts per section name; ``enabled=False`` records nothing."""

    def __init__(self, enabled: bool = True, clock=time.perf_counter) -> None:
        self.enabled = enabled
        self.clock = clock
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._stack: list[list[float]] = []  # [start, time in nested sections]

    def section(self, name: str) -> contextlib.AbstractContextManager:
        if not self.enabled:
            return _NULL
        return self._timed(name)

    @contextlib.contextmanager
    def _timed(self, name: str) -> Iterator[None]:
        frame = [self.clock(), 0.0]
        self._stack.append(frame)
        try:
            yield
        finally:
            total = self.clock() - frame[0]
            self._stack.pop()
            self.add(name, total - frame[1])
            if self._stack:
                self._stack[-1][1] += total

    def add(self, name: str, seconds: float, calls: int = 1) -> None:
        """Count ``seconds`` under ``name`` (and as nested time of the open section, if any)."""
        if not self.enabled:
            return
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds
        self.calls[name] = self.calls.get(name, 0) + calls

    def add_nested(self, seconds: float) -> None:
        """Tell the open section that ``seconds`` of it were counted elsewhere (by ``add``)."""
        if self.enabled and self._stack:
            self._stack[-1][1] += seconds

    def total(self) -> float:
        return sum(self.seconds.values())

    def to_dict(self) -> dict[str, Any]:
        return {"seconds": dict(self.seconds), "calls": dict(self.calls)}

    def reset(self) -> None:
        self.seconds, self.calls = {}, {}


OFF = Timings(enabled=False)
_NULL = contextlib.nullcontext()


def merge_workers(timings: Timings, wall: float, reports: list[dict[str, Any]]) -> None:
    """Account one pool call of ``wall`` seconds from the main process's view.

    Each worker's ``report`` holds its sections (``seconds``) and ``busy`` time. The workers
    run side by side, so each section counts the mean over workers; ``worker idle`` is the
    wait for the slowest worker beyond the mean, and ``worker ipc`` the rest of the wall time
    (encoding, pipes, waking the processes up). These add up to ``wall`` exactly.
    """
    if not timings.enabled or not reports:
        return
    n = len(reports)
    busy = [float(r["busy"]) for r in reports]
    for r in reports:
        for name, s in r["seconds"].items():
            timings.add(name, s / n, calls=r.get("calls", {}).get(name, 0))
    mean, slowest = sum(busy) / n, max(busy)
    timings.add("worker idle", slowest - mean)
    timings.add("worker ipc", wall - slowest)
    timings.add_nested(wall)


class TimedStrategy:
    """A strategy whose ``ask`` and ``tell`` are timed; everything else is the strategy's own."""

    def __init__(self, strategy: Any, timings: Timings) -> None:
        object.__setattr__(self, "_inner", strategy)
        object.__setattr__(self, "_timings", timings)

    def ask(self):
        with self._timings.section("search (ask/tell)"):
            return self._inner.ask()

    def tell(self, *args, **kwargs):
        with self._timings.section("search (ask/tell)"):
            return self._inner.tell(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._inner, name, value)


class TimedHook:
    """A hook whose ``on_*`` methods are timed as ``write: <Hook>.<method>``; methods the hook
    lacks stay missing, as the loop expects."""

    def __init__(self, hook: Any, timings: Timings) -> None:
        self._inner = hook
        self._timings = timings

    def __getattr__(self, name: str) -> Any:
        fn = getattr(self._inner, name)
        if not (name.startswith("on_") and callable(fn)):
            return fn
        label = f"write: {type(self._inner).__name__}.{name}"

        def timed(*args, **kwargs):
            with self._timings.section(label):
                return fn(*args, **kwargs)

        return timed


def breakdown(timings: Timings, wall: float) -> dict[str, Any]:
    """The profile.json document: each section's seconds, share of ``wall`` and calls, largest
    first, and what no section covered (``unaccounted``)."""
    rows = sorted(timings.seconds.items(), key=lambda kv: -kv[1])
    return {
        "wall_s": round(wall, 4),
        "sections": [
            {
                "section": k,
                "seconds": round(v, 4),
                "share": round(v / wall, 4) if wall > 0 else 0.0,
                "calls": timings.calls.get(k, 0),
            }
            for k, v in rows
        ],
        "accounted_s": round(timings.total(), 4),
        "unaccounted_s": round(wall - timings.total(), 4),
    }


def format_table(doc: dict[str, Any]) -> str:
    """profile.json as a short text table."""
    lines = [f"{'section':<40} {'seconds':>9} {'share':>7} {'calls':>7}"]
    for r in doc["sections"]:
        lines.append(f"{r['section']:<40} {r['seconds']:>9.3f} {r['share']:>6.1%} {r['calls']:>7}")
    wall = doc["wall_s"]
    share = doc["unaccounted_s"] / wall if wall > 0 else 0.0
    lines.append(f"{'(not in any section)':<40} {doc['unaccounted_s']:>9.3f} {share:>6.1%}")
    lines.append(f"{'wall time of the run':<40} {wall:>9.3f}")
    return "\n".join(lines)
