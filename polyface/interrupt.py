"""Ctrl-C's exit: the code and the one quiet line, with nothing heavy imported.

SIGTERM and SIGHUP (a ``kill``, a closed terminal, a service manager stopping the command) are
handled as Ctrl-C is, once ``install_terminators`` has run: each is passed to whatever handles
SIGINT at that moment (the loop's gate, Python's KeyboardInterrupt), so the run saves its best
and a checkpoint; the command then exits 128 + the signal's number (143, 129), not 130.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import sys
from contextlib import contextmanager

EXIT_INTERRUPTED = 130  # the shell's code for a command ended by Ctrl-C
TERMINATORS = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n))
HELD = (signal.SIGINT, *TERMINATORS)  # what ``deferred`` holds
EXIT_CODES = frozenset({EXIT_INTERRUPTED, *(128 + int(s) for s in TERMINATORS)})

received: int | None = None  # the first SIGTERM or SIGHUP that arrived, if any


def exit_code() -> int:
    """The code an interrupted command exits with: 130 for Ctrl-C, 128 + N for signal N."""
    return EXIT_INTERRUPTED if received is None else 128 + int(received)


def message() -> str:
    """The one line an interrupted command prints."""
    if received is None:
        return "polyface: interrupted"
    return f"polyface: interrupted ({signal.Signals(received).name})"


def _as_interrupt(signum, frame) -> None:
    """A SIGTERM or SIGHUP: remember it, then do what a Ctrl-C would do now."""
    global received
    if received is None:
        received = signum
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)
    else:  # SIGINT ignored (a background job) or default: a SIGTERM must still end the run, saved
        raise KeyboardInterrupt


def install_terminators() -> None:
    """Handle SIGTERM and SIGHUP as Ctrl-C (main thread only). A signal the process was started
    with ignored (``nohup``) stays ignored."""
    for sig in TERMINATORS:
        current = signal.getsignal(sig)
        if current is signal.SIG_IGN or current is _as_interrupt:
            continue
        signal.signal(sig, _as_interrupt)


def quiet_exit(code: int | None = None) -> None:
    """Say "polyface: interrupted" and leave at once (``exit_code()`` unless ``code``), ignoring
    a second Ctrl-C, SIGTERM or SIGHUP."""
    for sig in HELD:  # a second signal must not print a traceback either
        signal.signal(sig, signal.SIG_IGN)
    if code is None:
        code = exit_code()
    try:
        sys.stderr.write(message() + "\n")
        sys.stderr.flush()
    finally:
        os._exit(code)


@contextmanager
def deferred():
    """Hold Ctrl-C (and SIGTERM, SIGHUP) while native extensions (torch, ONNX Runtime, OpenCV)
    are imported: a KeyboardInterrupt raised inside one's initialisation aborts the process. A
    signal sent meanwhile arrives when the block ends, as an ordinary KeyboardInterrupt."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, set(HELD))
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
