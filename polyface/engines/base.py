"""What every gallery engine shares: the job, the outcome of a seed and the Engine protocol.

An engine only runs seeds; :mod:`polyface.batch` decides which seeds (skipping finished
ones), reports, and rebuilds the contact sheet and index.html.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from polyface.config import Config

FINAL = ("done", "skipped", "busy", "interrupted", "failed")
"""Statuses that end a seed. Engines also yield progress events before it ends:
``running`` (started, ``where`` names the worker or node), ``saved`` (files came back to the
gallery folder) and ``retrying`` (its worker was lost; it continues from its last checkpoint)."""

INSTALL_RAY = "pip install 'polyface[ray]'"


class EngineUnavailable(RuntimeError):
    """The engine asked for cannot run here (its optional dependency is missing)."""


@dataclass
class SeedOutcome:
    seed: int
    status: str  # one of FINAL, or a progress event: "running", "saved", "retrying"
    detail: str = ""
    where: str = ""  # worker process or Ray node that ran it, when known

    @property
    def final(self) -> bool:
        return self.status in FINAL


@dataclass(frozen=True)
class GalleryJob:
    """The settings every seed of one gallery shares."""

    cfg: Config
    out_dir: Path
    gif: bool = True


class Engine(Protocol):
    """Runs seeds of a gallery; yields each seed's progress events and exactly one final outcome."""

    name: str
    workers: int

    def start(self) -> None:
        """Get ready (Ray: join or start a cluster); run() calls it when it was not called."""

    def run(self, job: GalleryJob, seeds: Sequence[int]) -> Iterator[SeedOutcome]: ...

    def close(self) -> None: ...
