"""Why a run stopped, the one status vocabulary of loop, run folder and gallery, and how
Ctrl-C reaches the loop.

``StopReason`` is what the loop returns (``Result.status``) and result.json's ``stop``;
``RunStatus`` is result.json's ``status`` and a gallery seed's outcome. Both are ``str``
enums, so they compare equal to, and serialise as, their plain values.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum


class RunStatus(str, Enum):
    """Where a run (or a gallery seed) stands."""

    DONE = "done"  # stopped by a stop rule: the run is finished
    INTERRUPTED = "interrupted"  # Ctrl-C: resumable
    SKIPPED = "skipped"  # gallery: finished before
    BUSY = "busy"  # gallery: another process runs it
    FAILED = "failed"  # gallery: an error ended it

    def __str__(self) -> str:
        return self.value


class StopReason(str, Enum):
    """Why the loop ended."""

    TARGET = "target"
    MAX_GENERATIONS = "max_generations"
    STAGNATION = "stagnation"
    TIME_LIMIT = "time_limit"
    INTERRUPTED = "interrupted"

    @property
    def status(self) -> RunStatus:
        """The run's status after stopping for this reason."""
        return RunStatus.INTERRUPTED if self is StopReason.INTERRUPTED else RunStatus.DONE

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class StopRules:
    max_generations: int = 20000
    stagnation: int = 0  # generations without improvement; 0 = off
    time_limit: float = 0.0  # seconds; 0 = off


def should_stop(rules: StopRules, generation: int, last_improve: int, elapsed_s: float) -> StopReason | None:
    """The first stop rule that fires after a generation, or None to go on (the goal's own
    target, ``search.goal``, comes first)."""
    if rules.stagnation and generation - last_improve >= rules.stagnation:
        return StopReason.STAGNATION
    if rules.time_limit and elapsed_s >= rules.time_limit:
        return StopReason.TIME_LIMIT
    if generation >= rules.max_generations:
        return StopReason.MAX_GENERATIONS
    return None


class InterruptGate:
    """Ctrl-C while a generation is computed raises at once (the step rewinds); once the
    generation is complete (``held``) it waits until its frames and lines are written."""

    def __init__(self) -> None:
        self.held = False
        self.pending = False

    def _handler(self, signum, frame) -> None:
        if self.held:
            self.pending = True
        else:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def installed(self) -> Iterator[InterruptGate]:
        """Handle SIGINT for the block (only in the main thread, over Python's own handler)."""
        own = threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        if own:
            signal.signal(signal.SIGINT, self._handler)
        try:
            yield self
        finally:
            if own:
                signal.signal(signal.SIGINT, signal.default_int_handler)

    def release(self) -> None:
        """Open again; raise the Ctrl-C that came while held."""
        self.held = False
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt
