"""Validating readers, one per kind of run-folder file: checkpoint, history, log, result, config.

Everything in a run folder is untrusted: it may have been edited, cut short or crafted. Each
reader accepts regular files only (capped in size), parses JSON strictly (no NaN, no
Infinity, no huge integers) and checks every field it returns for type, range and, for
paths, that they stay inside the folder. Any problem is one ``RunFolderError`` naming the
file and the field; nothing is changed on disk here.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polyface import limits
from polyface import validate as v
from polyface.config import PROVENANCE, ConfigError, flatten
from polyface.runio.layout import APPENDED, CHECKPOINT, CONFIG, FRAMES, HISTORY, LOG, RESULT, WRITTEN, RunFolderError
from polyface.search.stop import RunStatus, StopReason

CHECKPOINT_FORMAT = "polyface-checkpoint"
CHECKPOINT_VERSION = 1
CAPS = {  # bytes: far above what a real run writes, far below what hurts to read
    CHECKPOINT: 256 * v.MiB,
    HISTORY: 1024 * v.MiB,
    LOG: 1024 * v.MiB,
    RESULT: 1 * v.MiB,
    CONFIG: 1 * v.MiB,
}
MAX_FILE_SIZE = 1 << 50


def _where(path: Path, line: int | None = None) -> str:
    return v.quote(path) + (f": line {line}" if line is not None else "")


def read_text(path: Path, what: str, missing: str | None = None) -> str:
    """The UTF-8 text of a run-folder file, checked to be a regular file under its size cap."""
    try:
        data = v.read_regular(path, CAPS.get(path.name, 16 * v.MiB), what)
    except FileNotFoundError:
        raise RunFolderError(f"{v.quote(path)}: {missing or 'missing'}") from None
    except v.FileKindError as e:
        raise RunFolderError(str(e)) from None
    except OSError as e:
        raise RunFolderError(f"{v.quote(path)}: cannot be read ({e.strerror or type(e).__name__})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise RunFolderError(f"{v.quote(path)}: not a readable {what} (not UTF-8 text)") from None


def read_json(path: Path, what: str, missing: str | None = None) -> Any:
    text = read_text(path, what, missing)
    try:
        return v.loads(text)
    except v.FieldError as e:
        raise RunFolderError(f"{v.quote(path)}: {e}") from None


def _folder(run_dir: str | Path) -> Path:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunFolderError(f"{v.quote(run_dir)}: no such run folder")
    return run_dir


# ---- checkpoint.json ---------------------------------------------------------------------


def read_checkpoint(run_dir: str | Path) -> dict[str, Any]:
    """The checkpoint of a run folder with its own fields checked (``loop``, ``strategy`` and
    ``problem`` are checked by what loads them). ``files`` names only the appended files, each
    inside the folder, with a size."""
    run_dir = _folder(run_dir)
    path = run_dir / CHECKPOINT
    try:
        doc = v.loads(read_text(path, "checkpoint", "no checkpoint to resume from (not a polyface run folder?)"))
    except v.FieldError as e:
        raise RunFolderError(f"{v.quote(path)}: not a readable checkpoint ({e})") from None
    if not isinstance(doc, dict) or doc.get("format") != CHECKPOINT_FORMAT:
        raise RunFolderError(f"{v.quote(path)}: field 'format' must be {CHECKPOINT_FORMAT!r}")
    version = doc.get("version")
    if not v.is_int(version) or version != CHECKPOINT_VERSION:
        raise RunFolderError(f"{v.quote(path)}: field 'version' must be {CHECKPOINT_VERSION}, got {v.shown(version)}")
    for key in ("config", "files", "loop", "strategy", "problem", "n_frames", "improvements"):
        if key not in doc:
            raise RunFolderError(f"{v.quote(path)}: field {key!r} is missing")
    try:
        v.table(doc["config"], "config", 256)
        v.table(doc.get("summary", {}), "summary", 256)
        doc["files"] = _files(run_dir, v.table(doc["files"], "files", len(APPENDED)))
        doc["n_frames"] = v.integer(doc["n_frames"], "n_frames", 0, 10**9)
        doc["improvements"] = v.integer(doc["improvements"], "improvements", 0, 10**12)
    except v.FieldError as e:
        raise RunFolderError(f"{v.quote(path)}: {e}") from None
    check_links(run_dir)
    return doc


def check_links(run_dir: Path) -> None:
    """Refuse a run folder whose files (or frames/) are links leading out of it: writes and
    truncations on resume must stay inside the folder."""
    for name in (*WRITTEN, FRAMES):
        if os.path.lexists(run_dir / name):
            try:
                v.inside(run_dir, name, name)
            except v.FieldError:
                raise RunFolderError(f"{v.quote(run_dir / name)}: is a link leading outside the run folder") from None


def _files(run_dir: Path, files: dict) -> dict[str, int]:
    out = {}
    for name, size in files.items():
        if name not in APPENDED:
            raise v.FieldError(f"field 'files' may name only {', '.join(APPENDED)}, got {v.shown(name)}")
        v.inside(run_dir, name, "files")
        out[name] = v.integer(size, f"files.{name}", 0, MAX_FILE_SIZE)
    return out


# ---- history.jsonl and log.jsonl ---------------------------------------------------------


def _lines(path: Path, what: str) -> list[tuple[int, Any]]:
    """(line number, parsed JSON) of each line; a last line without its newline that does not
    parse is an append the run did not finish (cut mid-write) and is skipped."""
    lines = read_text(path, what).split("\n")
    out = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            out.append((number, v.loads(raw)))
        except v.FieldError as e:
            if number == len(lines):
                continue
            raise RunFolderError(f"{_where(path, number)} is {e}") from None
    return out


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
    """Parse ``run_dir/history.jsonl``; RunFolderError naming the file and line when malformed."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunFolderError(f"{v.quote(run_dir)}: not a run folder (no such directory)")
    path = run_dir / HISTORY
    if not path.exists():
        raise RunFolderError(f"{v.quote(path)}: missing; a run folder needs the history the evolution loop writes")
    entries = []
    for number, data in _lines(path, "history file"):
        try:
            entries.append(_history_entry(run_dir, number, data))
        except v.FieldError as e:
            raise RunFolderError(f"{_where(path, number)}: {e}") from None
    if not entries:
        raise RunFolderError(f"{v.quote(path)}: no frames (the history is empty)")
    return entries


def _history_entry(run_dir: Path, number: int, data: Any) -> HistoryEntry:
    if not isinstance(data, dict):
        raise v.FieldError(f"must be a JSON object, got {type(data).__name__}")
    frame = data.get("frame")
    if frame is not None:
        v.inside(run_dir, frame, "frame")
    genome = data.get("genome")
    if genome is not None and not isinstance(genome, dict):
        raise v.FieldError(f"field 'genome' must be a genome object, got {type(genome).__name__}")
    if frame is None and genome is None:
        raise v.FieldError("has neither 'frame' nor 'genome', so there is nothing to show")
    return HistoryEntry(
        number,
        frame,
        v.optional(v.integer, data.get("generation"), "generation", 0, 10**15),
        v.optional(v.integer, data.get("evaluations"), "evaluations", 0, 10**15),
        v.number(data.get("best"), "best"),
        v.optional(v.number, data.get("elapsed_s"), "elapsed_s", 0.0, 1e12),
        genome,
    )


def read_log(run_dir: str | Path) -> list[dict[str, Any]]:
    """The lines of ``run_dir/log.jsonl``, each checked: counts, finite scores and times."""
    path = _folder(run_dir) / LOG
    out = []
    for number, d in _lines(path, "log file"):
        try:
            v.table(d, "line", 32)
            v.integer(d.get("generation"), "generation", 0, 10**15)
            v.integer(d.get("evaluations"), "evaluations", 0, 10**15)
            v.number(d.get("best"), "best")
            v.optional(v.number, d.get("mean"), "mean")
            v.number(d.get("elapsed_s"), "elapsed_s", 0.0, 1e12)
            v.boolean(d.get("portrait"), "portrait")
            v.optional(v.number, d.get("best_prob"), "best_prob", 0.0, 1.0)
        except v.FieldError as e:
            raise RunFolderError(f"{_where(path, number)}: {e}") from None
        out.append(d)
    return out


# ---- result.json -------------------------------------------------------------------------


def read_result(run_dir: str | Path) -> dict[str, Any]:
    """``run_dir/result.json`` with every known field checked."""
    path = _folder(run_dir) / RESULT
    d = read_json(path, "result file")
    try:
        v.table(d, "result", 256)
        checks = {
            "seed": lambda x, f: v.integer(x, f, 0, 2**63 - 1),
            "preset": lambda x, f: v.text(x, f, 256),
            "status": lambda x, f: RunStatus(v.text(x, f, 64)),
            "stop": lambda x, f: StopReason(v.text(x, f, 64)),
            "best": v.number,
            "min_prob": lambda x, f: v.number(x, f, 0.0, 1.0),
            "portrait": v.boolean,
            "generations": lambda x, f: v.integer(x, f, 0, 10**15),
            "evaluations": lambda x, f: v.integer(x, f, 0, 10**15),
            "elapsed_s": lambda x, f: v.number(x, f, 0.0, 1e12),
            "verify_s": lambda x, f: v.number(x, f, 0.0, 1e12),
            "contrast": lambda x, f: v.number(x, f, limits.CONTRAST.lo, limits.CONTRAST.hi),
            "size": lambda x, f: v.integer(x, f, 1, 1 << 16),
        }
        for key, check in checks.items():
            if d.get(key) is not None:
                try:
                    d[key] = check(d[key], key)
                except ValueError as e:  # an unknown status or stop reason
                    raise v.FieldError(str(e) if isinstance(e, v.FieldError) else f"field {key!r} has an unknown value {v.shown(d[key])}") from None
    except v.FieldError as e:
        raise RunFolderError(f"{v.quote(path)}: {e}") from None
    return d


# ---- config.toml -------------------------------------------------------------------------


def read_config(run_dir: str | Path) -> dict[str, Any]:
    """The flat settings of ``run_dir/config.toml``'s settings tree (not yet validated:
    ``config.apply`` does that), without the provenance record (versions, device) before them."""
    path = _folder(run_dir) / CONFIG
    try:
        data = tomllib.loads(read_text(path, "config file"))
    except tomllib.TOMLDecodeError as e:
        raise RunFolderError(f"{v.quote(path)}: not valid TOML ({e})") from None
    try:
        return flatten({k: val for k, val in data.items() if k not in PROVENANCE}, v.quote(path))
    except ConfigError as e:
        raise RunFolderError(str(e)) from None


# ---- cutting appended files back ---------------------------------------------------------


def cut_to_last_line(path: Path, size: int) -> None:
    """Truncate ``path`` to at most ``size`` bytes, ending after its last complete line."""
    if not path.exists():
        return
    try:
        v.check_regular(path, MAX_FILE_SIZE, "run file")
    except v.FileKindError as e:
        raise RunFolderError(str(e)) from None
    with open(path, "r+b") as f:
        end = min(size, os.fstat(f.fileno()).st_size)
        keep = end
        while keep > 0:
            start = max(0, keep - 65536)
            f.seek(start)
            chunk = f.read(keep - start)
            i = chunk.rfind(b"\n")
            if i >= 0:
                keep = start + i + 1
                break
            keep = start
        if end and keep == end and end == os.fstat(f.fileno()).st_size:
            return
        f.truncate(keep)
        f.flush()
        os.fsync(f.fileno())
