"""A small real run, interrupted early, shared by the tests that craft run folders from it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from polyface.preset import load_preset


def small(**kw):
    base = dict(seed=3, work_size=48, search_sizes=(), polygons=20, population=8, elites=2, size=96,
                frame_size=48, verify_sizes=(48,), max_generations=30, threads=2)
    base.update(kw)
    return load_preset("default").replace(**base)


class StopAt:
    def __init__(self, generation: int) -> None:
        self.generation = generation

    def on_generation(self, p) -> None:
        if p.generation == self.generation:
            raise KeyboardInterrupt


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory) -> Path:
    """A real run folder, interrupted at generation 4 (so it holds a checkpoint to resume)."""
    from polyface.run import evolve

    out = tmp_path_factory.mktemp("runs") / "cut"
    r = evolve(small(), out=out, hooks=[StopAt(4)], checkpoint_every=0)
    assert r.status == "interrupted"
    return out


def copy_run(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, symlinks=True)
    return dst
