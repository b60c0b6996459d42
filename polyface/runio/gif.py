"""Animated GIFs of a run's improvements (Pillow).

GIF palette: one adaptive palette (Pillow's fast octree, 255 colours) shared by every frame and
built from a sample of up to 16 frames, without dithering. Against per-frame palettes and
median cut this gave the best size for the quality on evolved portraits (about a third of
Pillow's default encoding at similar PSNR) and keeps flat polygons free of dither speckle and
colour flicker. Runs whose frames are all grey are written as greyscale, which is lossless.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from polyface import limits
from polyface.atomic import atomic_path
from polyface.runio.frames import AnimationInfo, check_animation, frame_durations, prepare

DEFAULT_GIF = "evolution.gif"
GIF_MAX_FPS = int(limits.GIF_FPS.hi)
GIF_COLOURS = 255  # one palette index stays free, so Pillow can mark unchanged pixels transparent
PALETTE_SAMPLE = 16


def quantize(pictures: Sequence[np.ndarray], colours: int = GIF_COLOURS) -> list[Image.Image]:
    """Palette images for a GIF: greyscale ("L") when every picture is grey, else "P" images
    sharing one adaptive palette (fast octree over a sample of pictures), without dithering."""
    if all(np.array_equal(p[..., 0], p[..., 1]) and np.array_equal(p[..., 0], p[..., 2]) for p in pictures):
        return [Image.fromarray(np.ascontiguousarray(p[..., 0]), "L") for p in pictures]
    idx = np.unique(np.linspace(0, len(pictures) - 1, min(PALETTE_SAMPLE, len(pictures))).round().astype(int))
    sample = Image.fromarray(np.concatenate([pictures[i] for i in idx], axis=0))
    palette = sample.quantize(colours, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    return [Image.fromarray(p).quantize(palette=palette, dither=Image.Dither.NONE) for p in pictures]


def make_gif(
    run_dir: str | Path,
    out: str | Path | None = None,
    fps: float = 10,
    size: int | None = None,
    frames: int | None = None,
    hold: float = 2.0,
    loop: bool = True,
    caption: bool = False,
) -> AnimationInfo:
    """Write an animated GIF of the run's improvements (default ``RUN/evolution.gif``), atomically.

    ``fps`` pictures a second (at most 50), ``size`` px re-rendered from the genomes (None: the
    frame PNGs), ``frames`` pictures spread over the run (None: every improvement), ``hold``
    extra seconds on the final portrait, ``loop`` forever or play once, ``caption`` a
    ``gen N  score S`` bar. Consecutive pictures that come out identical are merged into one
    longer picture. Raises RunFolderError for a folder that cannot be animated.
    """
    check_animation(fps, hold, size, frames)
    limits.check(limits.GIF_FPS, "fps", fps, "for a GIF (delays are whole centiseconds)")
    run_dir = Path(run_dir)
    out = run_dir / DEFAULT_GIF if out is None else Path(out)
    _, pictures = prepare(run_dir, size, frames, caption)
    images = quantize(pictures)
    durations = frame_durations(len(images), fps, hold)
    kept: list[Image.Image] = []
    kept_ms: list[int] = []
    last_bytes = b""
    for im, ms in zip(images, durations):
        data = im.tobytes()
        if kept and data == last_bytes:  # shared palette: equal indices are equal pictures
            kept_ms[-1] += ms
            continue
        kept.append(im)
        kept_ms.append(ms)
        last_bytes = data
    options: dict[str, Any] = {"format": "GIF", "save_all": True, "append_images": kept[1:], "optimize": True}
    options["duration"] = kept_ms if len(kept) > 1 else kept_ms[0]
    if loop:
        options["loop"] = 0
    with atomic_path(out) as tmp:
        kept[0].save(tmp, **options)
    return AnimationInfo(out, len(kept), kept_ms, out.stat().st_size)


class GifHook:
    """A loop hook that writes ``folder/evolution.gif`` when a run ends (not when interrupted);
    ``polyface.run.evolve`` adds it, after the run folder, when the config says ``gif``."""

    def __init__(self, folder: str | Path, **options: Any) -> None:
        self.folder = Path(folder)
        self.options = options
        self.info: AnimationInfo | None = None

    def on_end(self, result: Any) -> None:
        if result.status != "interrupted":
            self.info = make_gif(self.folder, **self.options)
