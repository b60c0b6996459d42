"""``polyface show RUN``: a run folder (finished or still running) as a page source.

The folder is untrusted input: every line of history.jsonl and log.jsonl is checked, and a
bad one is a ``ShowError`` naming the file, the line and the field. A line still being
written (no newline yet) is left for the next read; the files are read again when they grow.
"""

from __future__ import annotations

import json
import math
import threading
import time
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import Any

from polyface.genome import Genome, GenomeError
from polyface.genome_io import from_dict
from polyface.runio.live import page_meta
from polyface.runio import readers
from polyface.runio.layout import RunFolderError
from polyface.runio.live_server import PageServer, existing_files

MAX_BYTES = 512 * 2**20  # history.jsonl or log.jsonl larger than this is refused
MAX_LINE = 16 * 2**20


class ShowError(ValueError):
    """A run folder that cannot be shown; one line naming the file and what is wrong."""


def _number(d: dict, key: str, where: str, nullable: bool = False) -> float | None:
    v = d.get(key)
    if v is None and nullable:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ShowError(f"{where}: field {key!r} must be a finite number, got {str(v)[:40]!r}")
    return float(v)


def _generation(d: dict, where: str) -> int:
    g = d.get("generation")
    if isinstance(g, bool) or not isinstance(g, int) or not 0 <= g <= 10**12:
        raise ShowError(f"{where}: field 'generation' must be an integer in 0..10^12, got {str(g)[:40]!r}")
    return g


class _Lines:
    """Complete lines of a growing .jsonl file, each parsed to a JSON object."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset, self.lineno = path, 0, 0

    def new(self) -> list[tuple[str, dict]]:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return []
        except OSError as e:
            raise ShowError(f"{self.path}: cannot be read ({e.strerror})") from None
        if size > MAX_BYTES:
            raise ShowError(f"{self.path}: {size} bytes; allowed at most {MAX_BYTES}")
        if size < self.offset:
            raise ShowError(f"{self.path}: shrank while being read (the run was resumed?); show it again")
        if size == self.offset:
            return []
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read(size - self.offset)
        end = data.rfind(b"\n") + 1
        self.offset += end
        out = []
        for raw in data[:end].splitlines():
            self.lineno += 1
            where = f"{self.path}: line {self.lineno}"
            if len(raw) > MAX_LINE:
                raise ShowError(f"{where}: longer than {MAX_LINE} bytes")
            try:
                d = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError, RecursionError):
                raise ShowError(f"{where}: not a JSON object") from None
            if not isinstance(d, dict):
                raise ShowError(f"{where}: not a JSON object")
            out.append((where, d))
        return out


class RunReader:
    """A run folder as the page sees it: frames from history.jsonl, the curve from log.jsonl."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise ShowError(f"{self.folder}: not a run folder (no such folder)")
        cfg = self.folder / "config.toml"
        if not cfg.is_file():
            raise ShowError(f"{cfg}: missing (not a polyface run folder?)")
        try:
            values = readers.read_config(self.folder)
        except (RunFolderError, OSError, ValueError) as e:
            raise ShowError(str(e)) from None
        self._meta = page_meta("show", self.folder, values)
        self._history = _Lines(self.folder / "history.jsonl")
        self._log = _Lines(self.folder / "log.jsonl")
        self.frames: list[list[float]] = []
        self.genomes: list[Genome] = []
        self.points: list[list[float | None]] = []
        self.lock = threading.Lock()
        self.error: str | None = None
        self._refresh()
        if not self.frames:
            raise ShowError(f"{self.folder / 'history.jsonl'}: missing or empty (no frame to show yet)")

    def _refresh(self) -> None:
        for where, d in self._history.new():
            gen = _generation(d, where)
            t = _number(d, "elapsed_s", where)
            best = _number(d, "best", where)
            try:
                g = from_dict(d.get("genome"))
            except GenomeError as e:
                raise ShowError(f"{where}: field 'genome': {e}") from None
            self.genomes.append(g)
            self.frames.append([gen, t, best])
        for where, d in self._log.new():
            gen = _generation(d, where)
            t = _number(d, "elapsed_s", where)
            self.points.append([gen, t, _number(d, "best", where), _number(d, "mean", where, nullable=True)])

    def _ended(self) -> dict[str, Any] | None:
        path = self.folder / "result.json"
        try:
            doc = readers.read_json(path, "result file")  # a regular file under its cap
        except RunFolderError:
            return None
        if not isinstance(doc, dict):
            return None
        keep = {"stop": str, "portrait": bool, "best": (int, float), "generations": int, "elapsed_s": (int, float)}
        out = {k: doc[k] for k, t in keep.items() if isinstance(doc.get(k), t)}
        out["status"] = out.pop("stop", "done")
        return out

    # ---- page source ----------------------------------------------------------------------
    def meta(self) -> dict[str, Any]:
        return self._meta

    def state(self, since_points: int, since_frames: int) -> dict[str, Any]:
        with self.lock:
            try:
                self._refresh()
            except ShowError as e:  # the page keeps what it had, and says why it stopped following
                self.error = str(e)
            ended = self._ended()
            last = self.points[-1] if self.points else (self.frames[-1] + [None])
            return {
                "status": "ended" if ended else "running",
                "ended": ended,
                "error": self.error,
                "generation": int(last[0]),
                "evaluations": None,
                "elapsed_s": last[1],
                "best": max((f[2] for f in self.frames), default=None),
                "evals_per_s": None,
                "points": self.points[since_points:],
                "n_points": len(self.points),
                "frames": self.frames[since_frames:],
                "n_frames": len(self.frames),
                "population": None,
                "files": existing_files(self.folder),
            }

    def frame(self, k: int) -> Genome | None:
        return self.genomes[k] if k < len(self.genomes) else None

    def population(self) -> None:
        return None


def show_run(folder: Path, port: int = 0, open_browser: bool = False, echo: Callable[[str], None] = print,
             serve_s: float | None = None) -> None:
    """Serve the page of a run folder until Ctrl-C (or ``serve_s`` seconds); bad folders raise ShowError."""
    reader = RunReader(Path(folder))
    server = PageServer(reader, port=port).start()
    echo(server.url)
    if open_browser:
        webbrowser.open(server.url)
    try:
        if serve_s is None:
            while True:
                time.sleep(3600)
        time.sleep(serve_s)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
