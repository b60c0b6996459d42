"""Animations of a run: the best portrait improving, as a GIF (Pillow) or an MP4 (ffmpeg).

Both read ``RUN/history.jsonl`` (one JSON object per improvement of the best genome) and use
either the frame PNGs it names or, when a ``size`` is asked for or a PNG is missing, render each
frame again from the genome stored with it. ``frames=N`` keeps N pictures spread over the run
(see :func:`select_frames`); the last picture stays on screen ``hold`` seconds longer.

GIF palette: one adaptive palette (Pillow's fast octree, 255 colours) shared by every frame and
built from a sample of up to 16 frames, without dithering. Against per-frame palettes and
median cut this gave the best size for the quality on evolved portraits (about a third of
Pillow's default encoding at similar PSNR) and keeps flat polygons free of dither speckle and
colour flicker. Runs whose frames are all grey are written as greyscale, which is lossless.

This module imports Cairo (and, through it, torch) only when a frame must be re-rendered.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from polyface.atomic import atomic_path
from polyface.runio.layout import GIF as DEFAULT_GIF
from polyface.runio.layout import HISTORY, RunFolderError
from polyface.runio.layout import VIDEO as DEFAULT_VIDEO
from polyface.runio.readers import HistoryEntry, read_history
from polyface.validate import is_finite, is_int

DEFAULT_FRAME_SIZE = 256
GIF_MAX_FPS = 50  # GIF delays are whole centiseconds; browsers slow delays under 20 ms to 100 ms
GIF_COLOURS = 255  # one palette index stays free, so Pillow can mark unchanged pixels transparent
PALETTE_SAMPLE = 16
INSTALL_HINT = "pip install imageio-ffmpeg  (or: pip install 'polyface[video]')"


class MissingDependency(RuntimeError):
    """An optional package is not installed; the message says how to install it."""


@dataclass(frozen=True)
class AnimationInfo:
    """What was written: the file, how many pictures it shows, for how long each, its size.

    ``durations_ms[i]`` is how long picture ``i`` stays on screen; the last one includes the
    hold. For an MP4 every duration is a whole number of frame periods, so the file holds
    ``sum(durations_ms) * fps / 1000`` video frames.
    """

    path: Path
    n_frames: int
    durations_ms: list[int]
    bytes: int


def select_frames(bests: Sequence[float], n: int | None) -> list[int]:
    """Indices of ``n`` improvements to show, spread over the run; all of them when ``n`` is None.

    Each improvement gets a position in [0, 1]: the mean of its rank among the improvements
    and of the score progress so far (running best, from first to last). Left to right, each
    pick is the improvement nearest the next step of an even spacing of the positions still
    ahead (never the same twice), so the picks cover both the big early jumps and the long
    tail of small gains, and a jump does not pile picks up at its edges. The first and last
    improvements are always kept (with ``n == 1``, only the last: the final portrait). Asking
    for more frames than there are improvements gives every improvement once.
    """
    k = len(bests)
    if n is not None and (not is_int(n) or n < 1):
        raise ValueError(f"frames must be a positive integer or None, got {n!r}")
    if n is None or n >= k:
        return list(range(k))
    if n == 1:
        return [k - 1]
    rank = np.arange(k, dtype=np.float64) / (k - 1)
    running = np.maximum.accumulate(np.asarray(bests, dtype=np.float64))
    span = running[-1] - running[0]
    progress = (running - running[0]) / span if span > 0 else rank
    pos = 0.5 * rank + 0.5 * progress
    chosen = [0]
    for i in range(1, n):
        left = n - i  # picks still to make, this one included
        prev = chosen[-1]
        target = pos[prev] + (1.0 - pos[prev]) / left  # spread what is left evenly over the rest
        lo, hi = prev + 1, k - left  # leave one improvement for each pick still to come
        chosen.append(lo + int(np.argmin(np.abs(pos[lo : hi + 1] - target))))
    return chosen


def frame_durations(n: int, fps: float, hold: float, tick_ms: int = 10, min_ms: int = 20) -> list[int]:
    """Durations (ms) for ``n`` pictures at ``fps``; the last is longer by ``hold`` seconds.

    Durations are whole ``tick_ms`` (GIF stores centiseconds) and follow the ideal timeline,
    so e.g. 30 fps gives 30, 40, 30, 30, 40 ... ms rather than drifting; none is under ``min_ms``.
    """
    if n < 1:
        return []
    period = 1000.0 / fps
    starts = [int(round(i * period / tick_ms)) * tick_ms for i in range(n)]
    out = [max(min_ms, b - a) for a, b in zip(starts, starts[1:])]
    out.append(max(min_ms, int(round((period + hold * 1000.0) / tick_ms)) * tick_ms))
    return out


def _check_common(fps: float, hold: float, size: int | None) -> None:
    if not is_finite(fps) or fps <= 0:
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    if not is_finite(hold) or hold < 0:
        raise ValueError(f"hold must be a number of seconds >= 0, got {hold!r}")
    if size is not None and (not is_int(size) or not 1 <= size <= 16384):
        raise ValueError(f"size must be an integer in 1..16384 pixels or None, got {size!r}")


def _frame_path(run_dir: Path, entry: HistoryEntry) -> Path | None:
    if entry.frame is None:
        return None
    rel = Path(entry.frame)
    where = f"{run_dir / HISTORY}: line {entry.line}"
    if rel.is_absolute() or ".." in rel.parts:
        raise RunFolderError(f"{where}: field 'frame' must be a path inside the run folder, got {entry.frame!r}")
    return run_dir / rel


def _render(run_dir: Path, entry: HistoryEntry, size: int) -> np.ndarray:
    from polyface.genome import GenomeError, from_dict
    from polyface.render.cairo import render_rgb

    try:
        genome = from_dict(entry.genome)
    except GenomeError as e:
        raise RunFolderError(f"{run_dir / HISTORY}: line {entry.line}: bad genome: {e}") from None
    return render_rgb(genome, size)


def _read_png(path: Path, size: int | None) -> np.ndarray:
    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            if size is not None and im.size != (size, size):
                im = im.resize((size, size), Image.Resampling.LANCZOS)
            return np.asarray(im).copy()
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise RunFolderError(f"{path}: not a readable image ({e})") from None


def load_frames(run_dir: str | Path, entries: Sequence[HistoryEntry], size: int | None = None) -> list[np.ndarray]:
    """The pictures for ``entries`` as (H, W, 3) uint8 arrays, all of one size.

    With ``size``, each is rendered from its genome at ``size`` px (an entry without a genome
    falls back to its PNG, resized). Without, the frame PNGs are used; missing ones are rendered
    at the size of the first PNG found (or 256 px when there is none).
    """
    run_dir = Path(run_dir)
    paths = [_frame_path(run_dir, e) for e in entries]
    if size is None:
        for p in paths:
            if p is not None and p.is_file():
                try:
                    with Image.open(p) as im:
                        size = max(im.size)
                except OSError as e:
                    raise RunFolderError(f"{p}: not a readable image ({e})") from None
                break
        else:
            size = DEFAULT_FRAME_SIZE
        prefer_png = True
    else:
        prefer_png = False
    out = []
    for entry, p in zip(entries, paths):
        have_png = p is not None and p.is_file()
        if entry.genome is not None and (not prefer_png or not have_png):
            out.append(_render(run_dir, entry, size))
        elif have_png:
            assert p is not None
            out.append(_read_png(p, size))
        else:
            raise RunFolderError(
                f"{p}: missing, and line {entry.line} of {run_dir / HISTORY} has no genome to render it from"
            )
    return out


def _font(px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=px)
    except (TypeError, OSError, ImportError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def caption_text(entry: HistoryEntry) -> str:
    """The caption for a frame: ``gen N  score S``."""
    gen = "?" if entry.generation is None else str(entry.generation)
    score = f"{entry.best:.3f}" if abs(entry.best) < 1e4 else f"{entry.best:.4g}"
    return f"gen {gen}  score {score}"


def add_caption(rgb: np.ndarray, text: str) -> np.ndarray:
    """``rgb`` with ``text`` in white on a darkened bar along the bottom edge (same size)."""
    h, w = rgb.shape[:2]
    px = max(9, round(h * 0.06))
    pad = max(2, px // 3)
    font = _font(px)
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    while px > 6 and probe.textlength(text, font=font) > w - 2 * pad:
        px -= 1
        font = _font(px)
    left, top, right, bottom = probe.textbbox((0, 0), text, font=font)
    bar = min(h, (bottom - top) + 2 * pad)
    out = rgb.copy()
    region = out[h - bar :].astype(np.uint16)
    out[h - bar :] = (region * 3 // 10).astype(np.uint8)  # 30 % of the picture shows through
    im = Image.fromarray(out)
    ImageDraw.Draw(im).text((pad - left, h - bar + pad - top), text, fill=(255, 255, 255), font=font)
    return np.asarray(im)


def _prepare(
    run_dir: str | Path, size: int | None, frames: int | None, caption: bool
) -> tuple[list[HistoryEntry], list[np.ndarray]]:
    entries = read_history(run_dir)
    picked = [entries[i] for i in select_frames([e.best for e in entries], frames)]
    pictures = load_frames(run_dir, picked, size)
    if caption:
        pictures = [add_caption(p, caption_text(e)) for p, e in zip(pictures, picked)]
    return picked, pictures


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
    _check_common(fps, hold, size)
    if fps > GIF_MAX_FPS:
        raise ValueError(f"fps must be at most {GIF_MAX_FPS} for a GIF (delays are whole centiseconds), got {fps!r}")
    run_dir = Path(run_dir)
    out = run_dir / DEFAULT_GIF if out is None else Path(out)
    _, pictures = _prepare(run_dir, size, frames, caption)
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
    _check_common(fps, hold, size)
    _require_ffmpeg()
    import imageio.v2 as imageio

    run_dir = Path(run_dir)
    out = run_dir / DEFAULT_VIDEO if out is None else Path(out)
    _, pictures = _prepare(run_dir, size, frames, caption)
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
