"""Atomic file writes: write to a temporary file in the same folder, check it, fsync, then rename.

The check catches what a writer left incomplete without saying so (pycairo's PDF surface on a
full disk writes nothing and raises nothing): a file of a known kind must not be empty and must
end as its format ends (``check_complete``). Any failure is an OSError naming the final path,
saying so when the disk is full; the file it would have replaced stays as it was.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


@contextlib.contextmanager
def atomic_path(path: str | Path, size: int | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one rename.

    Before the rename the file must be complete: ``size`` bytes long when given (bytes the
    caller wrote itself), else whole by ``check_complete``. On any error the temporary file is
    removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual mode
    try:
        try:
            yield tmp_path
            if size is None:
                check_complete(tmp_path, path)
            elif tmp_path.stat().st_size != size:
                raise OSError(errno.EIO, f"came out {tmp_path.stat().st_size} bytes long, not {size}", str(path))
            with open(tmp_path, "rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp_path, path)
        except OSError as e:  # cairo and Pillow name no file: name the output, and a full disk
            named = write_error(e, path, tmp_path)
            if named is e:
                raise
            raise named from e
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise
    _fsync_dir(path.parent)


# What a complete file of each kind starts and ends with (the end after trailing white space
# for text formats); every kind listed must not be empty either.
_SHAPES: dict[str, tuple[bytes, bytes, str]] = {
    ".png": (b"\x89PNG\r\n\x1a\n", b"IEND\xaeB`\x82", "no IEND chunk"),
    ".pdf": (b"%PDF-", b"%%EOF", "no %%EOF trailer"),
    ".svg": (b"", b"</svg>", "no closing </svg> tag"),
    ".gif": (b"GIF8", b";", "no GIF trailer"),
    ".mp4": (b"", b"", ""),
    ".json": (b"", b"", ""),
    ".toml": (b"", b"", ""),
    ".html": (b"", b"", ""),
    ".onnx": (b"", b"", ""),
}
_TEXT = (".svg", ".pdf")  # may end in a newline after their last mark


def check_complete(tmp: Path, path: Path) -> None:
    """Raise OSError unless ``tmp`` holds a whole file of ``path``'s kind (by its extension):
    not empty, and with its format's signature and ending (PNG, PDF, SVG, GIF)."""
    kind = path.suffix.lower()
    if kind not in _SHAPES:
        return
    head, tail, missing = _SHAPES[kind]
    size = tmp.stat().st_size
    if size == 0:
        raise OSError(errno.EIO, "came out empty", str(path))
    with open(tmp, "rb") as f:
        start = f.read(len(head))
        f.seek(max(0, size - 1024))
        end = f.read()
    if kind in _TEXT:
        end = end.rstrip()
    if not start.startswith(head) or not end.endswith(tail):
        raise OSError(errno.EIO, f"came out incomplete ({missing or 'not its format'})", str(path))


def disk_full(folder: str | Path) -> bool:
    """True when the file system of ``folder`` has no free block left."""
    try:
        st = os.statvfs(folder)
    except OSError:
        return False
    return st.f_bavail == 0 or st.f_bfree == 0


def write_error(e: OSError, path: Path, tmp: Path | None = None) -> OSError:
    """``e`` as an OSError that names ``path`` (not its temporary file) and says when the disk
    is full; ``e`` itself when it names another file already."""
    if e.filename not in (None, str(tmp) if tmp is not None else None, str(path)):
        return e
    full = e.errno in (errno.ENOSPC, errno.EDQUOT) or (e.errno in (None, errno.EIO) and disk_full(path.parent))
    if full:
        what = "the disk quota is exceeded (EDQUOT)" if e.errno == errno.EDQUOT else "the disk is full (ENOSPC)"
        return OSError(e.errno if e.errno == errno.EDQUOT else errno.ENOSPC, f"not written: {what}", str(path))
    if e.filename == str(path) and e.errno is not None:
        return e
    return OSError(e.errno or errno.EIO, e.strerror or str(e) or type(e).__name__, str(path))


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    path = Path(path)
    with atomic_path(path, len(data)) as tmp:
        tmp.write_bytes(data)
    return path


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return write_bytes(path, text.encode("utf-8"))


def probe_folder(folder: str | Path) -> None:
    """Raise OSError unless a file can be made in ``folder`` (a read-only mount, /proc and the
    like refuse). The probe is an unnamed temporary file where the system has them, so
    nothing appears in the folder."""
    with tempfile.TemporaryFile(dir=folder):
        pass
