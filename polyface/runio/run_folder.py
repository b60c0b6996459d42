"""The run folder: a hook that writes frames, history, log and the final portrait.

The layout and file names are in ``polyface.runio.layout``. Every whole file is written
atomically; the two .jsonl files grow one complete line per write.
"""

from __future__ import annotations

import functools
import json
import os
import re
from pathlib import Path
from typing import Any

from polyface import atomic
from polyface.genome import Genome
from polyface.render import cairo as cairo_render
from polyface.runio import layout
from polyface.runio.layout import CHECKPOINT, CONFIG, FRAMES, HISTORY, LOG, RESULT, RunFolderError
from polyface.runio import readers
from polyface.runio.readers import CHECKPOINT_FORMAT, CHECKPOINT_VERSION, cut_to_last_line
from polyface.search.loop import Progress, Result
from polyface.search.timing import Timings, breakdown
from polyface.validate import quote


# A temporary file of ``atomic`` beside one of ours: ``.<name>.<random>.tmp``, and the MP4 writer's
# own beside it, ``.<name>.<random>.tmp.mp4`` (ffmpeg picks its format by the extension).
_OUR_TEMP = re.compile(r"\.(" + "|".join(re.escape(n) for n in layout.WRITTEN) + r"|[0-9]{6}\.png)\.[^/]*\.tmp(\.mp4)?")
# What a run killed before its first checkpoint (or a gallery's lock) may leave in its folder.
_FRESH_LEFTOVERS = {CONFIG, LOG, HISTORY, FRAMES, layout.GENOME, layout.BEST_PNG, layout.BEST_SVG, layout.LOCK}


def _ours(name: str) -> bool:
    return name in _FRESH_LEFTOVERS or bool(_OUR_TEMP.fullmatch(name))


def check_new(out: Path) -> None:
    """Refuse ``out`` for a new run unless it is missing, empty, or what a run of ours killed
    before its first checkpoint left there; changes nothing on disk."""
    out = Path(out)
    if os.path.lexists(out) and not out.is_dir():
        what = "a dangling link" if out.is_symlink() and not out.exists() else "not a folder"
        raise RunFolderError(f"{quote(out)}: exists and is {what}")
    if not out.is_dir():
        return
    try:
        names = os.listdir(out)
    except OSError as e:
        raise RunFolderError(f"{quote(out)}: cannot be read ({e.strerror})") from None
    if CHECKPOINT in names or RESULT in names:
        raise RunFolderError(f"{quote(out)}: already holds a run; continue it with --resume or choose another --out")
    foreign = sorted(n for n in names if not _ours(n))
    if foreign:
        raise RunFolderError(
            f"{quote(out)}: is not empty and not a polyface run folder (it holds {quote(foreign[0])}); "
            "choose a new or empty --out"
        )


def prepare(out: Path) -> Path:
    """Make the run folder and its frames/ folder, and check that they can be written."""
    out = Path(out)
    if os.path.lexists(out) and not out.is_dir():
        raise RunFolderError(f"{quote(out)}: exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        if not os.access(out, os.W_OK | os.X_OK):
            raise RunFolderError(f"{quote(out)}: folder is not writable")
        (out / FRAMES).mkdir(exist_ok=True)
    except RunFolderError:
        raise
    except OSError as e:
        raise RunFolderError(f"{quote(out)}: cannot create the run folder ({e.strerror or type(e).__name__})") from None
    return out


def _append_line(path: Path, obj: dict[str, Any]) -> None:
    line = (json.dumps(obj, separators=(",", ":")) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def _writes(method):
    """Turn an OSError while writing (a full disk, a folder made read-only) into one clear error;
    the files written before, the last checkpoint among them, stay as they were."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except OSError as e:
            if isinstance(e, RunFolderError):
                raise
            which = f"{Path(e.filename).name}: " if isinstance(e.filename, str) else ""
            raise RunFolderError(
                f"{quote(self.out)}: cannot write the run folder ({which}{e.strerror or e}); the last checkpoint is kept: "
                f"make room, then continue with: polyface evolve --resume {quote(self.out)}"
            ) from None

    return wrapper


class RunFolder:
    """Hook that keeps a run folder up to date while the loop runs."""

    def __init__(
        self,
        out: Path,
        config_toml: str,
        size: int = 512,
        frame_size: int = 256,
        frame_every: int = 1,
        log_every: int = 1,
        summary: dict[str, Any] | None = None,
        config: dict[str, Any] | None = None,
        resume: dict[str, Any] | None = None,
    ) -> None:
        if resume is None:
            check_new(out)
        self.out = Path(out)
        self.config = dict(config or {})
        self.size = size
        self.frame_size = frame_size
        self.frame_every = frame_every
        self.log_every = log_every
        self.summary = dict(summary or {})
        self.n_frames = 0
        self._improvements = 0
        prepare(self.out)
        for folder in (self.out, self.out / FRAMES):  # temp files left by a killed process: never complete
            for stale in [*folder.glob(".*.tmp"), *folder.glob(".*.tmp.mp4")]:
                if _OUR_TEMP.fullmatch(stale.name):
                    stale.unlink(missing_ok=True)
        if resume is not None:
            # Back to the checkpoint: drop log lines and frames written after it, and a line cut mid-write.
            for name in layout.APPENDED:
                cut_to_last_line(self.out / name, resume["files"].get(name, readers.MAX_FILE_SIZE))
            self.n_frames = int(resume["n_frames"])
            self._improvements = int(resume["improvements"])
            (self.out / RESULT).unlink(missing_ok=True)
        else:
            for name in layout.APPENDED:  # left by a run killed before its first checkpoint
                (self.out / name).unlink(missing_ok=True)
        atomic.write_text(self.out / CONFIG, config_toml)

    @_writes
    def on_checkpoint(self, snapshot: dict[str, Any]) -> None:
        """Write checkpoint.json atomically: the loop's snapshot plus this folder's file positions."""
        files = {}
        for name in layout.APPENDED:
            path = self.out / name
            files[name] = path.stat().st_size if path.exists() else 0
        doc = {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "config": self.config,
            "summary": self.summary,
            "files": files,
            "n_frames": self.n_frames,
            "improvements": self._improvements,
            **snapshot,
        }
        atomic.write_text(self.out / CHECKPOINT, json.dumps(doc, separators=(",", ":")) + "\n")

    @_writes
    def on_improve(self, genome: Genome, p: Progress) -> None:
        self._improvements += 1
        if not self.frame_every or (self._improvements - 1) % self.frame_every:
            return
        self.n_frames += 1
        name = layout.frame_name(self.n_frames)
        cairo_render.save(genome, self.out / name, self.frame_size)
        _append_line(
            self.out / HISTORY,
            {
                "frame": name,
                "generation": p.generation,
                "evaluations": p.evaluations,
                "best": round(p.best, 6),
                "elapsed_s": round(p.elapsed_s, 4),
                "genome": genome.to_dict(),
            },
        )

    @_writes
    def on_generation(self, p: Progress) -> None:
        if p.generation % self.log_every == 0 or p.first_portrait:  # the first portrait's line always
            _append_line(self.out / LOG, p.to_dict())

    @_writes
    def write_portrait(self, genome: Genome) -> None:
        atomic.write_text(self.out / layout.GENOME, genome.to_json() + "\n")
        cairo_render.save(genome, self.out / layout.BEST_PNG, self.size)
        cairo_render.save(genome, self.out / layout.BEST_SVG, self.size)

    @_writes
    def on_end(self, r: Result) -> None:
        self.write_portrait(r.genome)
        summary = {
            **self.summary,
            "status": r.status.status.value,
            "stop": r.status.value,
            "best": round(r.score, 6),
            "min_prob": round(r.verdict.min_prob, 6),
            "portrait": r.portrait,
            "verdict": r.verdict.to_dict(),
            "generations": r.generations,
            "evaluations": r.evaluations,
            "elapsed_s": round(r.elapsed_s, 3),
            "verify_s": round(r.verify_s, 3),
            "portrait_generation": r.portrait_generation,
            "portrait_s": None if r.portrait_s is None else round(r.portrait_s, 3),
            "contrast": r.contrast,
            "size": self.size,
        }
        _append_line(
            self.out / LOG,
            {
                "generation": r.generations,
                "evaluations": r.evaluations,
                "best": round(r.score, 6),
                "mean": None,
                "elapsed_s": round(r.elapsed_s, 4),
                "portrait": r.portrait,
                "final": True,
            },
        )
        atomic.write_text(self.out / RESULT, json.dumps(summary, indent=2) + "\n")


def write_profile(
    timings: Timings, wall: float, result: Result, folder: Path | None, lanes: int = 1
) -> dict:
    """The breakdown of a run's wall time; written to ``profile.json`` in the run folder."""
    doc = breakdown(timings, wall)
    doc |= {
        "loop_elapsed_s": round(result.elapsed_s, 4),
        "generations": result.generations,
        "evaluations": result.evaluations,
        "lanes": lanes,
    }
    if folder is not None:
        atomic.write_text(Path(folder) / layout.PROFILE, json.dumps(doc, indent=2) + "\n")
    return doc
