"""The run folder: a hook that writes frames, history, log and the final portrait.

Layout::

    RUN/config.toml      every resolved setting, seed, versions, device
    RUN/genome.json      the best genome
    RUN/best.png         the portrait at the output size (antialiased, from the genome)
    RUN/best.svg
    RUN/frames/000001.png  a frame each time the best improved
    RUN/history.jsonl    one line per frame: generation, evaluations, best, elapsed_s, genome
    RUN/log.jsonl        one line per generation (every ``log_every``)
    RUN/checkpoint.json  everything needed to continue the run exactly (every few seconds, at exit)
    RUN/result.json      the summary, written last

Every whole file is written atomically; the two .jsonl files grow one complete line per write.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

from polyface import atomic
from polyface.genome import Genome
from polyface.render import cairo as cairo_render
from polyface.search.loop import Progress, Result

RESULT = "result.json"
CHECKPOINT = "checkpoint.json"
CHECKPOINT_FORMAT = "polyface-checkpoint"
CHECKPOINT_VERSION = 1


class RunFolderError(OSError):
    """The run folder cannot be made or written."""


def prepare(out: Path) -> Path:
    """Make the run folder (refusing a file in the way), and check that it can be written."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise RunFolderError(f"{out}: exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "frames").mkdir(exist_ok=True)
    except OSError as e:
        raise RunFolderError(f"{out}: cannot create the run folder ({e.strerror})") from None
    if not os.access(out, os.W_OK):
        raise RunFolderError(f"{out}: folder is not writable")
    return out


def _append_line(path: Path, obj: dict[str, Any]) -> None:
    line = (json.dumps(obj, separators=(",", ":")) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def _truncate(path: Path, size: int) -> None:
    if path.exists() and path.stat().st_size > size:
        with open(path, "r+b") as f:
            f.truncate(size)
            f.flush()
            os.fsync(f.fileno())


def read_checkpoint(run_dir: Path) -> dict[str, Any]:
    """The checkpoint of a run folder, checked for its format; RunFolderError names what is wrong."""
    run_dir = Path(run_dir)
    path = run_dir / CHECKPOINT
    if not run_dir.is_dir():
        raise RunFolderError(f"{run_dir}: no such run folder")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunFolderError(f"{path}: no checkpoint to resume from (not a polyface run folder?)") from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise RunFolderError(f"{path}: not a readable checkpoint ({type(e).__name__})") from None
    if not isinstance(doc, dict) or doc.get("format") != CHECKPOINT_FORMAT:
        raise RunFolderError(f"{path}: field 'format' must be {CHECKPOINT_FORMAT!r}")
    if doc.get("version") != CHECKPOINT_VERSION:
        raise RunFolderError(f"{path}: field 'version' must be {CHECKPOINT_VERSION}, got {doc.get('version')!r}")
    for key in ("config", "files", "loop", "strategy", "problem", "n_frames", "improvements"):
        if key not in doc:
            raise RunFolderError(f"{path}: field {key!r} is missing")
    return doc


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
            raise RunFolderError(
                f"{self.out}: cannot write the run folder ({e.strerror or e}); the last checkpoint is kept: "
                f"make room, then continue with: polyface evolve --resume {self.out}"
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
        self.out = prepare(out)
        self.config = dict(config or {})
        self.size = size
        self.frame_size = frame_size
        self.frame_every = frame_every
        self.log_every = log_every
        self.summary = dict(summary or {})
        self.n_frames = 0
        self._improvements = 0
        for stale in self.out.glob(".*.tmp"):  # a temp file left by a killed process: never complete
            stale.unlink(missing_ok=True)
        for stale in (self.out / "frames").glob(".*.tmp"):
            stale.unlink(missing_ok=True)
        if resume is not None:
            # Back to the checkpoint: drop log lines and frames written after it.
            for name, size in resume["files"].items():
                _truncate(self.out / name, int(size))
            self.n_frames = int(resume["n_frames"])
            self._improvements = int(resume["improvements"])
            (self.out / RESULT).unlink(missing_ok=True)
        else:
            if (self.out / CHECKPOINT).exists() or (self.out / RESULT).exists():
                raise RunFolderError(
                    f"{self.out}: already holds a run; continue it with --resume or choose another --out"
                )
            for name in ("log.jsonl", "history.jsonl"):  # left by a run killed before its first checkpoint
                (self.out / name).unlink(missing_ok=True)
        atomic.write_text(self.out / "config.toml", config_toml)

    @_writes
    def on_checkpoint(self, snapshot: dict[str, Any]) -> None:
        """Write checkpoint.json atomically: the loop's snapshot plus this folder's file positions."""
        files = {}
        for name in ("log.jsonl", "history.jsonl"):
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
        name = f"frames/{self.n_frames:06d}.png"
        cairo_render.save(genome, self.out / name, self.frame_size)
        _append_line(
            self.out / "history.jsonl",
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
        if p.generation % self.log_every == 0 or p.portrait:
            _append_line(self.out / "log.jsonl", p.to_dict())

    @_writes
    def write_portrait(self, genome: Genome) -> None:
        atomic.write_text(self.out / "genome.json", genome.to_json() + "\n")
        cairo_render.save(genome, self.out / "best.png", self.size)
        cairo_render.save(genome, self.out / "best.svg", self.size)

    @_writes
    def on_end(self, r: Result) -> None:
        self.write_portrait(r.genome)
        summary = {
            **self.summary,
            "status": "done" if r.status != "interrupted" else "interrupted",
            "stop": r.status,
            "best": round(r.score, 6),
            "best_prob": round(r.verdict.min_prob, 6),
            "portrait": r.portrait,
            "verdict": r.verdict.to_dict(),
            "generations": r.generations,
            "evaluations": r.evaluations,
            "elapsed_s": round(r.elapsed_s, 3),
            "size": self.size,
        }
        _append_line(
            self.out / "log.jsonl",
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
