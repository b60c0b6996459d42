"""Ctrl-C's exit: the code and the one quiet line, with nothing heavy imported."""

from __future__ import annotations

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
