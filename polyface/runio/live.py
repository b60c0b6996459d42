"""The live page of a run: ``LiveState`` is a loop hook that keeps what the page shows in
memory (nothing is written for it), and ``LivePage`` serves it while the run lasts.

    page = LivePage(port=0, open_browser=False)      # prints the URL first
    result = evolve(cfg, out, hooks=[page.attach(out)])
    page.close()                                     # lets the page see the end, then stops

``live_show.show_run(folder)`` serves the same page for a run folder.
"""

from __future__ import annotations

import threading
import time
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from polyface.judge.score import PASS_TIER
from polyface.limits import NO_MARGIN
from polyface.genome import Genome
from polyface.runio import readers
from polyface.runio.layout import CONFIG, RunFolderError
from polyface.runio.live_server import PageServer, existing_files

POLL_MS = 1000
LINGER_S = 3.0  # after the run ends, how long the server waits for the page to see it


def _inside(face_margin: float) -> str:
    """The framing rule in words ('' where there is none)."""
    if face_margin <= NO_MARGIN:
        return ""
    if face_margin >= 0:
        return f", inside the canvas with {face_margin:.0%} to spare"
    return f", running off the canvas by at most {-face_margin:.0%}"


def describe(values: dict[str, Any]) -> tuple[dict[str, Any], list[str], int]:
    """Settings (as given), the stop rules in words, and the working size, from config values."""
    from polyface.config import FIELDS, Config, ConfigError, apply
    from polyface.judge.judge import verify_sizes

    known = {k: v for k, v in values.items() if k in FIELDS}
    try:
        cfg = apply(Config(), known, "config.toml")
    except ConfigError:
        cfg = Config()
    rules = [
        f"a portrait: exactly one face covering {cfg.min_box:.0%} of the canvas{_inside(cfg.face_margin)}, "
        f"face p >= {cfg.target}, "
        f"at {', '.join(f'{s}px' for s in verify_sizes(cfg))}"
    ]
    rules.append(f"{cfg.max_generations} generations")
    if cfg.time_limit:
        rules.append(f"{cfg.time_limit:g} s")
    if cfg.stagnation:
        rules.append(f"{cfg.stagnation} generations without improvement")
    rules.append("Ctrl-C (the best so far is saved)")
    return known, rules, cfg.work_size


def page_meta(mode: str, folder: Path | None, values: dict[str, Any]) -> dict[str, Any]:
    settings, rules, work = describe(values)
    shown = {k: (", ".join(map(str, v)) if isinstance(v, (list, tuple)) else v) for k, v in settings.items()}
    return {
        "mode": mode,
        "title": folder.name if folder is not None else "polyface",
        "settings": shown,
        "config": settings,  # the checked values, for the page's judge
        "stop_rules": rules,
        "work_size": work,
        "pass_tier": PASS_TIER,
        "poll_ms": POLL_MS,
    }


class LiveState:
    """Hook: the run as the page sees it, in memory. The server thread only reads it."""

    def __init__(self, folder: Path | None = None, values: dict[str, Any] | None = None) -> None:
        self.folder = Path(folder) if folder is not None else None
        self._meta = page_meta("live", self.folder, values or {})
        self.points: list[list[float | None]] = []  # [generation, elapsed_s, best, mean]
        self.frames: list[list[float]] = []  # [generation, elapsed_s, best] per improvement
        self.genomes: list[Genome] = []
        self.current: tuple[int, list[Genome], np.ndarray] | None = None  # the last generation's batch
        self.progress = None
        self.ended: dict[str, Any] | None = None
        self.end_seen = threading.Event()
        self.watched = False  # a page has asked for the state at least once

    # ---- hook ---------------------------------------------------------------------------
    def on_evaluated(self, genomes: list[Genome], scores: np.ndarray) -> None:
        gen = self.progress.generation + 1 if self.progress is not None else 1
        self.current = (gen, genomes, scores)

    def on_improve(self, genome: Genome, p) -> None:
        self.genomes.append(genome)
        self.frames.append([p.generation, round(p.elapsed_s, 3), round(p.best, 5)])

    def on_generation(self, p) -> None:
        self.progress = p
        self.points.append([p.generation, round(p.elapsed_s, 3), round(p.best, 5), round(p.mean, 5)])

    def on_end(self, r) -> None:
        self.ended = {"status": r.status, "portrait": bool(r.portrait), "score": round(r.score, 5),
                      "generations": r.generations, "elapsed_s": round(r.elapsed_s, 2)}
        if not self.genomes or self.genomes[-1] is not r.genome:
            self.genomes.append(r.genome)
            self.frames.append([r.generations, round(r.elapsed_s, 3), round(r.score, 5)])

    # ---- page source ----------------------------------------------------------------------
    def meta(self) -> dict[str, Any]:
        return self._meta

    def state(self, since_points: int, since_frames: int) -> dict[str, Any]:
        self.watched = True
        p, pop, ended = self.progress, self.current, self.ended
        n_points, n_frames = len(self.points), len(self.frames)
        out = {
            "status": "ended" if ended else "running",
            "ended": ended,
            "generation": p.generation if p else 0,
            "evaluations": p.evaluations if p else 0,
            "elapsed_s": round(p.elapsed_s, 2) if p else 0.0,
            "best": round(p.best, 5) if p else None,
            "evals_per_s": round(p.evals_per_s, 1) if p else 0.0,
            "points": self.points[since_points:n_points],
            "n_points": n_points,
            "frames": self.frames[since_frames:n_frames],
            "n_frames": n_frames,
            "population": None if pop is None else {"generation": pop[0], "scores": [round(float(s), 4) for s in pop[2]]},
            "files": existing_files(self.folder) if ended else [],
        }
        if ended:
            self.end_seen.set()
        return out

    def frame(self, k: int) -> Genome | None:
        return self.genomes[k] if k < len(self.genomes) else None

    def population(self) -> tuple[int, list[Genome], np.ndarray] | None:
        return self.current


def _read_values(folder: Path | None) -> dict[str, Any]:
    if folder is None or not (folder / CONFIG).is_file():
        return {}
    try:
        return readers.read_config(folder)
    except (RunFolderError, OSError, ValueError):
        return {}


class LivePage:
    """A page server for one run: ``attach(folder, values)`` gives the hook, ``close()`` stops it."""

    def __init__(self, port: int = 0, open_browser: bool = False, echo: Callable[[str], None] = print) -> None:
        self.port, self.open_browser, self.echo = port, open_browser, echo
        self.state: LiveState | None = None
        self.server: PageServer | None = None

    def attach(self, folder: Path | None, values: dict[str, Any] | None = None) -> LiveState:
        """Start serving (the URL is echoed first) and return the hook to add to the run."""
        folder = Path(folder) if folder is not None else None
        self.state = LiveState(folder, values if values is not None else _read_values(folder))
        self.server = PageServer(self.state, port=self.port).start()
        self.echo(self.server.url)
        if self.open_browser:
            webbrowser.open(self.server.url)
        return self.state

    def close(self) -> None:
        if self.server is None:
            return
        if self.state is not None and self.state.ended is not None and self.state.watched:
            self.state.end_seen.wait(LINGER_S)
            time.sleep(0.2)  # the page's last requests (the final portrait) after its last state
        self.server.stop()
        self.server = None
