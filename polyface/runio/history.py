"""A run's history: ``RUN/history.jsonl``, one JSON object per improvement of the best genome,
parsed and checked line by line (the GIF and MP4 are made from it)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HISTORY = "history.jsonl"


class RunFolderError(ValueError):
    """A run folder cannot be animated; the one-line message names the file and what is wrong."""


@dataclass(frozen=True)
class HistoryEntry:
    """One line of ``history.jsonl``: an improvement of the best genome."""

    line: int
    frame: str | None
    generation: int | None
    evaluations: int | None
    best: float
    elapsed_s: float | None
    genome: dict[str, Any] | None


def read_history(run_dir: str | Path) -> list[HistoryEntry]:
    """Parse ``run_dir/history.jsonl``; raise RunFolderError naming the file and line when malformed.

    A last line without its newline that does not parse is taken as an append the run did not
    finish (it was interrupted mid-write) and is skipped; any other bad line is an error.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunFolderError(f"{run_dir}: not a run folder (no such directory)")
    path = run_dir / HISTORY
    if not path.is_file():
        raise RunFolderError(f"{path}: missing; a run folder needs the history the evolution loop writes")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise RunFolderError(f"{path}: cannot be read ({e})") from None
    lines = text.split("\n")
    entries: list[HistoryEntry] = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        unterminated = number == len(lines)  # text after the last newline
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, RecursionError) as e:
            if unterminated:
                continue
            msg = f"{e.msg} at column {e.colno}" if isinstance(e, json.JSONDecodeError) else "nested too deeply"
            raise RunFolderError(f"{path}: line {number} is not valid JSON: {msg}") from None
        entries.append(_entry(path, number, data))
    if not entries:
        raise RunFolderError(f"{path}: no frames (the history is empty)")
    return entries


def _entry(path: Path, number: int, data: Any) -> HistoryEntry:
    where = f"{path}: line {number}"
    if not isinstance(data, dict):
        raise RunFolderError(f"{where}: must be a JSON object, got {type(data).__name__}")
    best = data.get("best")
    if isinstance(best, bool) or not isinstance(best, (int, float)) or not math.isfinite(best):
        raise RunFolderError(f"{where}: field 'best' must be a finite number, got {best!r}")
    frame = data.get("frame")
    if frame is not None and not (isinstance(frame, str) and frame):
        raise RunFolderError(f"{where}: field 'frame' must be a relative path, got {frame!r}")
    genome = data.get("genome")
    if genome is not None and not isinstance(genome, dict):
        raise RunFolderError(f"{where}: field 'genome' must be a genome object, got {type(genome).__name__}")
    if frame is None and genome is None:
        raise RunFolderError(f"{where}: has neither 'frame' nor 'genome', so there is nothing to show")
    ints: dict[str, int | None] = {}
    for key in ("generation", "evaluations"):
        v = data.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
            raise RunFolderError(f"{where}: field {key!r} must be an integer, got {v!r}")
        ints[key] = v
    elapsed = data.get("elapsed_s")
    if elapsed is not None and (isinstance(elapsed, bool) or not isinstance(elapsed, (int, float))):
        raise RunFolderError(f"{where}: field 'elapsed_s' must be a number, got {elapsed!r}")
    return HistoryEntry(
        number, frame, ints["generation"], ints["evaluations"], float(best),
        None if elapsed is None else float(elapsed), genome,
    )
