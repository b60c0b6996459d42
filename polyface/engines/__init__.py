"""Where gallery seeds run: ``local`` (a process pool on this machine) or ``ray`` (a Ray cluster).

``ray`` is optional (``pip install 'polyface[ray]'``); only :mod:`polyface.engines.ray`
imports it.
"""

from __future__ import annotations

from polyface.engines.base import INSTALL_RAY, Engine, EngineUnavailable, GalleryJob, SeedOutcome

ENGINES = ("local", "ray")


def get_engine(name: str, workers: int = 0, address: str | None = None, **options) -> Engine:
    """The engine called ``name``; EngineUnavailable when its optional dependency is missing."""
    if name == "local":
        from polyface.engines.local import LocalEngine

        return LocalEngine(workers)
    if name == "ray":
        from polyface.engines.ray import RayEngine

        return RayEngine(workers, address, **options)
    raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {name!r}")


__all__ = ["ENGINES", "INSTALL_RAY", "Engine", "EngineUnavailable", "GalleryJob", "SeedOutcome", "get_engine"]
