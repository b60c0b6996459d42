"""Run-folder files between machines that share no disk: what changed on the worker, and a
careful write of what came back on the gallery side.

A worker sends ``(name, offset, data)`` entries: ``offset`` 0 replaces the file, a positive
offset appends ``data`` to a file that must be exactly that long (the .jsonl logs grow that
way). Names come from another machine and are treated as untrusted: a relative POSIX path of
at most two plain parts (``frames/000001.png``), no ``..``, no hidden files, no absolute
path, nothing outside the seed folder.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from polyface import atomic, validate
from polyface.runio.layout import CHECKPOINT, RESULT

Entry = tuple[str, int, bytes]

_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
LAST = (CHECKPOINT, RESULT)  # written after the files they describe
MAX_FILE = 512 * 2**20


class TransferError(ValueError):
    """A file that came back from a worker is refused."""


def check_name(name: object) -> str:
    """``name`` when it is a safe relative path inside a seed folder; TransferError otherwise."""
    if not isinstance(name, str) or not name or "\\" in name or "\x00" in name:
        raise TransferError(f"file name {name!r} is not a plain relative path")
    parts = PurePosixPath(name).parts
    if name.startswith("/") or not 1 <= len(parts) <= 2 or any(not _PART.fullmatch(p) for p in parts):
        raise TransferError(f"file name {name!r} is not allowed (relative, at most one folder, no '..' or hidden parts)")
    if "/".join(parts) != name:
        raise TransferError(f"file name {name!r} is not in canonical form")
    return name


def _order(entries: Iterable[Entry]) -> list[Entry]:
    return sorted(entries, key=lambda e: (LAST.index(e[0]) + 1 if e[0] in LAST else 0, e[0]))


def apply(seed_dir: Path, entries: Iterable[Entry]) -> list[str]:
    """Write ``entries`` into ``seed_dir``, each file atomically, checkpoint.json and result.json
    last; returns the names written. Raises TransferError on a refused name or a gap."""
    seed_dir = Path(seed_dir)
    checked = []
    for entry in entries:
        if not (isinstance(entry, tuple) and len(entry) == 3):
            raise TransferError(f"malformed file entry {type(entry).__name__}")
        name, offset, data = entry
        check_name(name)
        if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset <= MAX_FILE:
            raise TransferError(f"{name}: offset {offset!r} out of range 0..{MAX_FILE}")
        if not isinstance(data, bytes) or offset + len(data) > MAX_FILE:
            raise TransferError(f"{name}: data must be at most {MAX_FILE} bytes")
        checked.append((name, offset, data))
    root = seed_dir.resolve()
    written = []
    for name, offset, data in _order(checked):
        path = seed_dir / name
        if root not in path.resolve().parents:
            raise TransferError(f"{name}: resolves outside {seed_dir}")
        if offset:
            try:  # the gallery's copy: a regular file within the cap, never a FIFO or a device
                have = validate.read_regular(path, MAX_FILE, "run file") if path.exists() else b""
            except (OSError, validate.FileKindError) as e:
                raise TransferError(f"{name}: the gallery copy cannot be appended to ({e})") from None
            if len(have) != offset:
                raise TransferError(f"{name}: append at byte {offset} but the gallery copy has {len(have)} bytes")
            data = have + data
        atomic.write_bytes(path, data)
        written.append(name)
    return written


def read_folder(seed_dir: Path) -> dict[str, bytes]:
    """Every plain file of a seed folder (not hidden, at most one folder deep), by name."""
    seed_dir = Path(seed_dir)
    files: dict[str, bytes] = {}
    if not seed_dir.is_dir():
        return files
    for path in sorted(seed_dir.rglob("*")):
        name = path.relative_to(seed_dir).as_posix()
        if path.is_file() and not path.is_symlink():
            try:
                files[check_name(name)] = validate.read_regular(path, MAX_FILE, "run file")
            except TransferError:
                continue  # the lock, temp files, anything not part of the run
    return files


class FolderSync:
    """Worker side: the entries that bring the gallery's copy of ``folder`` up to date.

    ``known`` are the files the gallery already holds (sent to the worker at start). A .jsonl
    file whose start is still what the gallery holds is sent as an append; any other change
    (a log cut back on resume, a rewritten frame) sends the whole file.
    """

    def __init__(self, folder: Path, known: dict[str, bytes] | None = None) -> None:
        self.folder = Path(folder)
        self.sent: dict[str, tuple[int, bytes]] = {n: (len(d), _digest(d)) for n, d in (known or {}).items()}

    def changes(self) -> list[Entry]:
        out: list[Entry] = []
        for name, data in read_folder(self.folder).items():
            old = self.sent.get(name)
            digest = _digest(data)
            if old == (len(data), digest):
                continue
            if old is not None and name.endswith(".jsonl") and len(data) > old[0] and _digest(data[: old[0]]) == old[1]:
                out.append((name, old[0], data[old[0] :]))  # the log grew: send the new lines only
            else:
                out.append((name, 0, data))
            self.sent[name] = (len(data), digest)
        return _order(out)


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()
