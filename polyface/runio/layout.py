"""A run folder's layout: every file name, once, and the one error type for run folders.

::

    RUN/config.toml      every resolved setting, seed, versions, device
    RUN/genome.json      the best genome
    RUN/best.png         the portrait at the output size (antialiased, from the genome)
    RUN/best.svg
    RUN/frames/000001.png  a frame each time the best improved
    RUN/history.jsonl    one line per frame: generation, evaluations, best, elapsed_s, genome
    RUN/log.jsonl        one line per generation (every ``log_every``)
    RUN/checkpoint.json  everything needed to continue the run exactly (every few seconds, at exit)
    RUN/result.json      the summary, written last
    RUN/evolution.gif    the animation (optional)
"""

from __future__ import annotations

CONFIG = "config.toml"
GENOME = "genome.json"
BEST_PNG = "best.png"
BEST_SVG = "best.svg"
FRAMES = "frames"
HISTORY = "history.jsonl"
LOG = "log.jsonl"
CHECKPOINT = "checkpoint.json"
RESULT = "result.json"
GIF = "evolution.gif"
VIDEO = "evolution.mp4"
PROFILE = "profile.json"  # where the run's time went (``--profile``)
LOCK = ".lock"  # held by a gallery process while it runs a seed

APPENDED = (LOG, HISTORY)  # the files that grow a line at a time; a checkpoint records their sizes
WRITTEN = (CONFIG, GENOME, BEST_PNG, BEST_SVG, HISTORY, LOG, CHECKPOINT, RESULT, GIF, VIDEO, LOCK)


def frame_name(n: int) -> str:
    """The relative path of the ``n``-th frame."""
    return f"{FRAMES}/{n:06d}.png"


class RunFolderError(OSError, ValueError):
    """A run folder cannot be read, made or written; the one-line message names the file and field.

    It is an OSError (a folder that cannot be written) and a ValueError (a file that holds bad
    data), so callers catching either keep working.
    """
