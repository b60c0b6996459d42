"""Reading a genome file from disk as untrusted input: a regular file under a size cap, then
``genome_json.from_json``'s validation. Imports nothing of polyface but the genome modules."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from polyface.genome import Genome, GenomeError
from polyface.genome_json import from_json

MAX_GENOME_BYTES = 64 * 1024 * 1024  # 4096 polygons of 64 vertices take about 8 MB of JSON


def load_genome(path: str | Path) -> Genome:
    """Read a genome file: a regular file of at most ``MAX_GENOME_BYTES`` (never a FIFO, device
    or folder); every problem is one GenomeError naming the file."""
    path = Path(path)
    shown = repr(str(path)) if any(not c.isprintable() for c in str(path)) else str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise GenomeError(f"{shown}: no such genome file") from None
    except IsADirectoryError:
        raise GenomeError(f"{shown}: is a folder, not a regular genome file (JSON)") from None
    except OSError as e:
        raise GenomeError(f"{shown}: cannot be read ({e.strerror or type(e).__name__})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            raise GenomeError(f"{shown}: is {kind}, not a regular genome file (JSON)")
        if st.st_size > MAX_GENOME_BYTES:
            raise GenomeError(f"{shown}: {st.st_size} bytes; a genome file (JSON) may be at most {MAX_GENOME_BYTES} bytes")
        with os.fdopen(fd, "rb") as f:
            fd = -1
            raw = f.read(MAX_GENOME_BYTES + 1)
    except OSError as e:
        raise GenomeError(f"{shown}: cannot be read ({e.strerror or type(e).__name__})") from None
    finally:
        if fd >= 0:
            os.close(fd)
    if len(raw) > MAX_GENOME_BYTES:
        raise GenomeError(f"{shown}: a genome file (JSON) may be at most {MAX_GENOME_BYTES} bytes")
    try:
        return from_json(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise GenomeError(f"{shown}: not a text file (genomes are JSON)") from None
    except GenomeError as e:
        raise GenomeError(f"{shown}: {e}") from None
