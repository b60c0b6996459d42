"""MP4 (H.264) of a run's improvements, through imageio's ffmpeg plugin (``polyface[video]``)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from polyface.atomic import atomic_path
from polyface.runio.frames import AnimationInfo, check_animation, prepare

DEFAULT_VIDEO = "evolution.mp4"
INSTALL_HINT = "pip install imageio-ffmpeg  (or: pip install 'polyface[video]')"


class MissingDependency(RuntimeError):
    """An optional package is not installed; the message says how to install it."""


def _require_ffmpeg() -> None:
    try:
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        raise MissingDependency(f"writing an MP4 needs the optional package imageio-ffmpeg: {INSTALL_HINT}") from None


def make_video(
    run_dir: str | Path,
    out: str | Path | None = None,
    fps: float = 10,
    size: int | None = None,
    frames: int | None = None,
    hold: float = 2.0,
    caption: bool = False,
    quality: float = 8,
) -> AnimationInfo:
    """Write an H.264 MP4 (yuv420p) of the run's improvements (default ``RUN/evolution.mp4``).

    Goes through imageio's ffmpeg plugin, which needs the optional ``imageio-ffmpeg`` package
    (``polyface[video]``); without it raises MissingDependency. One video frame per picture at
    ``fps``, the last repeated for ``hold`` seconds; odd sizes get one edge pixel repeated so
    both dimensions are even. ``quality`` is imageio's 0..10 scale. Written atomically.
    """
    check_animation(fps, hold, size, frames)
    _require_ffmpeg()
    import imageio.v2 as imageio

    run_dir = Path(run_dir)
    out = run_dir / DEFAULT_VIDEO if out is None else Path(out)
    _, pictures = prepare(run_dir, size, frames, caption)
    h, w = pictures[0].shape[:2]
    pad = ((0, h % 2), (0, w % 2), (0, 0))
    if any(pad[0] + pad[1]):
        pictures = [np.pad(p, pad, mode="edge") for p in pictures]
    extra = int(round(hold * fps))
    period = 1000.0 / fps
    durations = [int(round(period))] * (len(pictures) - 1) + [int(round(period * (1 + extra)))]
    with atomic_path(out) as tmp:
        # imageio picks the writer by extension, and the temporary name ends in .tmp
        video_tmp = tmp.with_name(tmp.name + ".mp4")
        try:
            writer = imageio.get_writer(
                video_tmp, format="FFMPEG", mode="I", fps=fps, codec="libx264", pixelformat="yuv420p",
                quality=quality, macro_block_size=1, ffmpeg_log_level="error",
                output_params=["-movflags", "+faststart"],
            )
            try:
                for p in pictures:
                    writer.append_data(p)
                for _ in range(extra):
                    writer.append_data(pictures[-1])
            finally:
                writer.close()
            os.replace(video_tmp, tmp)
        finally:
            if video_tmp.exists():
                video_tmp.unlink()
    return AnimationInfo(out, len(pictures), durations, out.stat().st_size)
