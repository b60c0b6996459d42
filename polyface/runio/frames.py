"""Frames of an animation: which improvements to show (``select_frames``), for how long
(``frame_durations``), their pictures (the frame PNGs, or re-rendered from the genomes) and
their captions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from polyface import limits
from polyface.genome import GenomeError
from polyface.genome_io import from_dict
from polyface.render.cairo import render_rgb
from polyface.runio.layout import HISTORY, RunFolderError
from polyface.runio.readers import HistoryEntry, read_history
from polyface.runio.text import font as _font
from polyface.runio.text import format_score
from polyface.validate import FileKindError, check_regular

MAX_FRAME_BYTES = 64 * 2**20  # a frame PNG of ours is a few hundred KB at most

DEFAULT_FRAME_SIZE = 256


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
    if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1):
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


def check_animation(fps: float, hold: float, size: int | None, frames: int | None = None) -> None:
    """ValueError unless the animation settings are within ``polyface.limits``."""
    limits.check(limits.FPS, "fps", fps)
    limits.check(limits.HOLD, "hold", hold, "seconds")
    if size is not None:
        limits.check(limits.FRAME_SIZE, "size", size, "pixels (or None)")
    if frames is not None:
        limits.check(limits.FRAMES, "frames", frames, "(or None)")


def _frame_path(run_dir: Path, entry: HistoryEntry) -> Path | None:
    if entry.frame is None:
        return None
    rel = Path(entry.frame)
    where = f"{run_dir / HISTORY}: line {entry.line}"
    if rel.is_absolute() or ".." in rel.parts:
        raise RunFolderError(f"{where}: field 'frame' must be a path inside the run folder, got {entry.frame!r}")
    return run_dir / rel


def _render(run_dir: Path, entry: HistoryEntry, size: int) -> np.ndarray:
    try:
        genome = from_dict(entry.genome)
    except GenomeError as e:
        raise RunFolderError(f"{run_dir / HISTORY}: line {entry.line}: bad genome: {e}") from None
    return render_rgb(genome, size)


def _read_png(path: Path, size: int | None) -> np.ndarray:
    try:
        check_regular(path, MAX_FRAME_BYTES, "frame image")
        with Image.open(path) as im:
            im = im.convert("RGB")
            if size is not None and im.size != (size, size):
                im = im.resize((size, size), Image.Resampling.LANCZOS)
            return np.asarray(im).copy()
    except (OSError, ValueError, Image.DecompressionBombError, FileKindError) as e:
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
                    check_regular(p, MAX_FRAME_BYTES, "frame image")
                    with Image.open(p) as im:
                        size = max(im.size)
                except (OSError, FileKindError) as e:
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


def caption_text(entry: HistoryEntry) -> str:
    """The caption for a frame: ``gen N  score S``."""
    gen = "?" if entry.generation is None else str(entry.generation)
    return f"gen {gen}  score {format_score(entry.best)}"


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


def prepare(
    run_dir: str | Path, size: int | None, frames: int | None, caption: bool
) -> tuple[list[HistoryEntry], list[np.ndarray]]:
    """The history entries ``frames`` picks and their pictures (captioned when asked)."""
    entries = read_history(run_dir)
    picked = [entries[i] for i in select_frames([e.best for e in entries], frames)]
    pictures = load_frames(run_dir, picked, size)
    if caption:
        pictures = [add_caption(p, caption_text(e)) for p, e in zip(pictures, picked)]
    return picked, pictures
