"""Ctrl-C's exit: the code and the one quiet line, with nothing heavy imported."""

from __future__ import annotations

import os
import signal
import sys

EXIT_INTERRUPTED = 130  # the shell's code for a command ended by Ctrl-C


def quiet_exit(code: int = EXIT_INTERRUPTED) -> None:
    """Say "polyface: interrupted" and leave at once, ignoring a second Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not print a traceback either
    try:
        sys.stderr.write("polyface: interrupted\n")
        sys.stderr.flush()
    finally:
        os._exit(code)
