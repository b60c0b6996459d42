"""Live progress on a terminal: a loop hook that prints one status line per generation."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


class ProgressLine:
    """Live progress on ``stream`` (stderr): generation, best score, evals/s and the portrait verdict.

    On a terminal the line is redrawn in place every ``every_s`` seconds; elsewhere (a log
    file, a pipe) a new line is printed every 5 s. At the end, one summary line. A stream that
    fails (a pipe whose reader has gone, as with ``| head``) ends the printing, not the run.
    """

    def __init__(self, every_s: float = 0.25, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.every_s = every_s if self.tty else 5.0
        self.last = 0.0
        self.closed = False

    def _write(self, text: str) -> None:
        if self.closed:
            return
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # broken pipe, full disk, or a stream already closed
            self.closed = True

    def _line(self, p: Any) -> str:
        verdict = "PORTRAIT" if p.portrait else ("face" if p.best >= 1 else "searching")
        return (
            f"gen {p.generation:6d}  best {p.best:6.3f}  face p {p.best_prob:6.4f}  "
            f"{p.evals_per_s:7.0f} evals/s  {p.elapsed_s:6.1f}s  {verdict}"
        )

    def on_generation(self, p: Any) -> None:
        now = time.monotonic()
        if now - self.last < self.every_s and not p.first_portrait:
            return
        self.last = now
        self._write("\r" + self._line(p) + "\x1b[K" if self.tty else self._line(p) + "\n")

    def on_end(self, r: Any) -> None:
        if self.tty:
            self._write("\n")
        sizes = ", ".join(f"{s}px {'ok' if ok else 'no'} ({pr:.3f})" for s, (ok, pr, _) in sorted(r.verdict.sizes.items()))
        stretched = f", contrast x{r.contrast:g}" if r.contrast > 1.0 else ""
        self._write(
            f"{r.status}: score {r.score:.3f}, portrait {'yes' if r.portrait else 'no'}{stretched} "
            f"after {r.generations} generations, {r.evaluations} evaluations, {r.elapsed_s:.1f}s [{sizes}]\n"
        )
