"""Ctrl-C's exit: the code and the one quiet line, with nothing heavy imported."""

from __future__ import annotations

import importlib.util
import os
import signal
import sys
from contextlib import contextmanager

EXIT_INTERRUPTED = 130  # the shell's code for a command ended by Ctrl-C


def quiet_exit(code: int = EXIT_INTERRUPTED) -> None:
    """Say "polyface: interrupted" and leave at once, ignoring a second Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not print a traceback either
    try:
        sys.stderr.write("polyface: interrupted\n")
        sys.stderr.flush()
    finally:
        os._exit(code)


@contextmanager
def deferred():
    """Hold Ctrl-C while native extensions (torch, ONNX Runtime, OpenCV) are imported: a
    KeyboardInterrupt raised inside one's initialisation aborts the process. A Ctrl-C pressed
    meanwhile arrives when the block ends, as an ordinary KeyboardInterrupt."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def preload(*names: str) -> None:
    """Import the installed ones of the native extensions ``names`` now, inside ``deferred``: the
    library imports them lazily, at a moment when a Ctrl-C would land inside their initialisation
    (ONNX Runtime turns it into an ImportError)."""
    for name in names:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)


def by_ctrl_c(error: BaseException) -> bool:
    """True when ``error`` was raised because of a Ctrl-C: a library that caught the
    KeyboardInterrupt and raised its own error from it (its cause or context, at any depth)."""
    seen: set[int] = set()
    e: BaseException | None = error
    while e is not None and id(e) not in seen:
        if isinstance(e, KeyboardInterrupt):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False
