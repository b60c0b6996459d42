"""Animations of a run: the best portrait improving, as a GIF (Pillow) or an MP4 (ffmpeg).

Both read ``RUN/history.jsonl`` (one JSON object per improvement of the best genome) and use
either the frame PNGs it names or, when a ``size`` is asked for or a PNG is missing, render each
frame again from the genome stored with it. ``frames=N`` keeps N pictures spread over the run
(see :func:`select_frames`); the last picture stays on screen ``hold`` seconds longer.

The work is split by step: ``history`` (parsing), ``frames`` (which pictures, how long, captions),
``gif`` and ``video``. This module gathers their public names in one place.
"""

from __future__ import annotations

from polyface.runio.frames import (
    DEFAULT_FRAME_SIZE,
    AnimationInfo,
    add_caption,
    caption_text,
    check_animation,
    frame_durations,
    load_frames,
    select_frames,
)
from polyface.runio.gif import DEFAULT_GIF, GIF_COLOURS, GIF_MAX_FPS, PALETTE_SAMPLE, GifHook, make_gif, quantize
from polyface.runio.layout import HISTORY, RunFolderError
from polyface.runio.readers import HistoryEntry, read_history
from polyface.runio.video import DEFAULT_VIDEO, INSTALL_HINT, MissingDependency, make_video

__all__ = [
    "DEFAULT_FRAME_SIZE",
    "DEFAULT_GIF",
    "DEFAULT_VIDEO",
    "GIF_COLOURS",
    "GIF_MAX_FPS",
    "HISTORY",
    "INSTALL_HINT",
    "PALETTE_SAMPLE",
    "AnimationInfo",
    "GifHook",
    "HistoryEntry",
    "MissingDependency",
    "RunFolderError",
    "add_caption",
    "caption_text",
    "check_animation",
    "frame_durations",
    "load_frames",
    "make_gif",
    "make_video",
    "quantize",
    "read_history",
    "select_frames",
]
