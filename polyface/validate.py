"""Checks shared by every reader of untrusted input: files, JSON, fields and paths.

Readers (presets, genomes, images, run folders) use these so that a crafted file ends in one
line naming the file and field, never a traceback, a hang or a read until memory runs out.
A field check raises ``FieldError`` with ``field 'x' must be ..., got ...``; the reader
prefixes the file and raises its own error type. Imports nothing else of polyface.
"""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path
from typing import Any

import numpy as np

KiB, MiB = 1024, 1024 * 1024
MAX_DIGITS = 40  # a random generator's 128-bit state has 39 digits; longer integers are refused
MAX_SHOWN = 60  # characters of a bad value shown in a message


class FieldError(ValueError):
    """A field holds a value of the wrong type, out of range, or a path leading outside its folder."""


class FileKindError(ValueError):
    """An input path is not a regular file of a sensible size."""


def quote(path: str | os.PathLike) -> str:
    """``path`` as text for a one-line message: as is when printable, else Python-quoted."""
    s = os.fspath(path)
    if isinstance(s, bytes):
        s = os.fsdecode(s)
    return s if s.isprintable() else repr(s)


def shown(value: Any) -> str:
    """A short repr of a bad value for a message (never several lines, never megabytes)."""
    try:
        text = repr(value)
    except ValueError:  # an integer too long to print
        return "a huge integer"
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


# ---- types -------------------------------------------------------------------------------


def is_int(x: Any) -> bool:
    """True for an integer that is not a bool (Python's bool is an int)."""
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def is_number(x: Any) -> bool:
    """True for an int or float (numpy's too) that is not a bool; NaN and infinity included."""
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))


def is_finite(x: Any) -> bool:
    """True for a number that is neither NaN nor infinite."""
    return is_number(x) and math.isfinite(x)


def integer(value: Any, field: str, lo: int, hi: int) -> int:
    """``value`` as an int in ``lo..hi``, or FieldError."""
    if not is_int(value) or not lo <= value <= hi:
        raise FieldError(f"field {field!r} must be an integer in {lo}..{hi}, got {shown(value)}")
    return int(value)


def number(value: Any, field: str, lo: float = -math.inf, hi: float = math.inf) -> float:
    """``value`` as a finite float in ``[lo, hi]``, or FieldError."""
    if not is_finite(value) or not lo <= value <= hi:
        span = "" if (lo, hi) == (-math.inf, math.inf) else f" in {lo:g}..{hi:g}"
        raise FieldError(f"field {field!r} must be a finite number{span}, got {shown(value)}")
    return float(value)


def optional(check, value: Any, *args: Any) -> Any:
    """None stays None; anything else goes through ``check``."""
    return None if value is None else check(value, *args)


def boolean(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise FieldError(f"field {field!r} must be true or false, got {shown(value)}")
    return value


def text(value: Any, field: str, max_len: int = 4096) -> str:
    if not isinstance(value, str) or len(value) > max_len:
        raise FieldError(f"field {field!r} must be a string of at most {max_len} characters, got {shown(value)}")
    return value


def table(value: Any, field: str, max_len: int = 1024) -> dict:
    if not isinstance(value, dict) or len(value) > max_len:
        raise FieldError(f"field {field!r} must be an object of at most {max_len} entries, got {shown(value)}")
    return value


def array(value: Any, field: str, max_len: int) -> list:
    if not isinstance(value, list) or len(value) > max_len:
        raise FieldError(f"field {field!r} must be a list of at most {max_len} items, got {shown(value)}")
    return value


def inside(folder: Path, rel: Any, field: str) -> Path:
    """``folder / rel`` when ``rel`` is a relative path that resolves (symlinks followed) inside
    ``folder``; FieldError otherwise."""
    bad = FieldError(f"field {field!r} must be a relative path inside the run folder, got {shown(rel)}")
    if not isinstance(rel, str) or not rel or "\x00" in rel or len(rel) > 4096:
        raise bad
    p = Path(rel)
    if p.is_absolute() or ".." in p.parts:
        raise bad
    root = Path(folder).resolve()
    target = (root / p).resolve()
    if target != root and root not in target.parents:
        raise bad
    return Path(folder) / p


def rng_state(value: Any, field: str, like: dict) -> dict:
    """A numpy bit generator's state read from a file: the same kind and keys as ``like`` (the
    generator's own state), every integer in 0..2**128-1."""

    def same(a: Any, b: Any) -> bool:
        if isinstance(b, dict):
            return isinstance(a, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in b)
        if is_int(b):
            return is_int(a) and 0 <= a < 2**128
        return type(a) is type(b) and a == b if isinstance(b, str) else type(a) is type(b)

    if not same(value, like):
        raise FieldError(f"field {field!r} must be the state of a {like.get('bit_generator', 'numpy')} generator")
    return value


# ---- JSON --------------------------------------------------------------------------------


def _constant(name: str) -> Any:
    raise FieldError(f"{name} is not a number JSON allows")


def _int(literal: str) -> int:
    if len(literal.lstrip("-")) > MAX_DIGITS:
        raise FieldError(f"an integer of {len(literal)} digits is out of range")
    return int(literal)


def _float(literal: str) -> float:
    x = float(literal)
    if not math.isfinite(x):
        raise FieldError(f"the number {literal[:MAX_SHOWN]} is out of range")
    return x


def loads(text: str | bytes) -> Any:
    """Parse JSON strictly: no NaN or Infinity (nor a number that overflows to it), no integer
    longer than ``MAX_DIGITS`` digits.

    Any problem, including nesting too deep, is a FieldError whose message says where.
    """
    try:
        return json.loads(text, parse_constant=_constant, parse_int=_int, parse_float=_float)
    except json.JSONDecodeError as e:
        raise FieldError(f"not valid JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    except FieldError as e:
        raise FieldError(f"not valid JSON: {e}") from None
    except RecursionError:
        raise FieldError("not valid JSON: nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise FieldError(f"not valid JSON ({type(e).__name__})") from None


# ---- files -------------------------------------------------------------------------------

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def read_regular(path: str | os.PathLike, cap: int, what: str = "file") -> bytes:
    """The bytes of ``path`` when it is a regular file (symlinks followed) of at most ``cap``
    bytes; FileKindError (FileNotFoundError when missing) otherwise. Never blocks on a FIFO
    and never reads a device."""
    shown_path = quote(path)
    st = os.stat(path)  # FileNotFoundError / PermissionError pass to the caller
    if not stat.S_ISREG(st.st_mode):
        raise FileKindError(f"{shown_path}: is {_kind(st.st_mode)}, not a regular {what}")
    if st.st_size > cap:
        raise FileKindError(f"{shown_path}: {st.st_size} bytes; a {what} may be at most {cap} bytes")
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    try:
        st = os.fstat(fd)  # the file opened may not be the one checked above
        if not stat.S_ISREG(st.st_mode):
            raise FileKindError(f"{shown_path}: is {_kind(st.st_mode)}, not a regular {what}")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(cap + 1)
    finally:
        os.close(fd)
    if len(data) > cap:
        raise FileKindError(f"{shown_path}: more than {cap} bytes; a {what} may be at most {cap} bytes")
    return data


def check_regular(path: str | os.PathLike, cap: int, what: str = "file") -> None:
    """Like ``read_regular`` without reading: for files a library opens itself (images)."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise FileKindError(f"{quote(path)}: is {_kind(st.st_mode)}, not a regular {what}")
    if st.st_size > cap:
        raise FileKindError(f"{quote(path)}: {st.st_size} bytes; a {what} may be at most {cap} bytes")
