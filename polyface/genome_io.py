"""Reading genomes as untrusted input: from parsed JSON, JSON text or a file on disk. Every field
is checked and a problem is one GenomeError naming the file and field (``Genome.to_json``
writes the format)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import numpy as np

from polyface.genome import (
    FORMAT,
    MAX_PALETTE,
    MIN_VERTICES,
    MODES,
    VERSIONS,
    Genome,
    GenomeError,
    _shown,
    palette_rgb,
)


def from_dict(data: Any) -> Genome:
    """Build a Genome from parsed JSON, validating every field."""
    if not isinstance(data, dict):
        raise GenomeError(f"a genome must be a JSON object, got {type(data).__name__}")
    if data.get("format") != FORMAT:
        raise GenomeError(f"field 'format' must be {FORMAT!r}, got {_shown(data.get('format'))}")
    version = data.get("version")
    if isinstance(version, bool) or version not in VERSIONS:
        raise GenomeError(f"field 'version' must be one of {', '.join(map(str, VERSIONS))}, got {_shown(version)}")
    known = {"format", "version", "mode", "symmetric", "background", "vertices", "colours"}
    if version >= 2 and "palette" in data:
        known = (known - {"colours"}) | {"palette", "index", "alpha"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise GenomeError(f"unknown field {_shown(unknown[0])}; allowed: {', '.join(sorted(known))}")
    required = ["vertices", "background"] + (["palette", "index", "alpha"] if "palette" in known else ["colours"])
    for key in required:
        if key not in data:
            raise GenomeError(f"field {key!r} is missing")
    palette = index = None
    if "palette" in known:
        palette, index, alpha = _palette_fields(data)
        cols = np.concatenate([palette[index], alpha[:, None]], axis=1)
        data = {**data, "colours": cols.tolist()}
    arrays = {}
    for key in ("vertices", "colours", "background"):
        try:
            arr = np.asarray(data[key], dtype=np.float64)
        except (TypeError, ValueError, OverflowError, RecursionError):
            raise GenomeError(f"field {key!r} must be a (nested) list of numbers of equal lengths") from None
        if arr.dtype == object:
            raise GenomeError(f"field {key!r} must be a (nested) list of numbers of equal lengths")
        arrays[key] = arr
    verts = arrays["vertices"]
    if verts.size == 0:
        verts = verts.reshape(0, MIN_VERTICES, 2)
    cols = arrays["colours"]
    if cols.size == 0:
        cols = cols.reshape(0, 4)
    mode = data.get("mode", "rgba")
    if not isinstance(mode, str):
        raise GenomeError(f"field 'mode' must be one of {', '.join(MODES)}, got {_shown(mode)}")
    sym = data.get("symmetric", False)
    if not isinstance(sym, bool):
        raise GenomeError(f"field 'symmetric' must be true or false, got {_shown(sym)}")
    for key, arr in (("vertices", verts), ("colours", cols), ("background", arrays["background"])):
        if arr.size and np.any(np.abs(arr[np.isfinite(arr)]) > 3.4e38):
            raise GenomeError(f"field {key!r} holds a number too large for float32")
    return Genome(verts, cols, arrays["background"], mode, sym, palette, index)


def _palette_fields(data: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Palette (K,3), index (N,) and alpha (N,) of a version 2 palette genome, checked."""
    hexes, idx, alpha = data["palette"], data["index"], data["alpha"]
    if not isinstance(hexes, list) or not 1 <= len(hexes) <= MAX_PALETTE:
        raise GenomeError(f"field 'palette' must be a list of 1..{MAX_PALETTE} colours #rrggbb")
    palette = palette_rgb(hexes)
    if not isinstance(idx, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in idx):
        raise GenomeError("field 'index' must be a list of integers")
    if any(not 0 <= i < len(palette) for i in idx):
        raise GenomeError(f"field 'index' must be in 0..{len(palette) - 1} (the palette's entries)")
    if not isinstance(alpha, list) or len(alpha) != len(idx):
        raise GenomeError(f"field 'alpha' must be a list of {len(idx)} numbers, one per polygon")
    try:
        a = np.asarray(alpha, dtype=np.float64)
    except (TypeError, ValueError):
        raise GenomeError("field 'alpha' must be a list of numbers") from None
    if a.dtype == object or a.ndim != 1:
        raise GenomeError("field 'alpha' must be a list of numbers")
    return palette, np.asarray(idx, np.int64), a


MAX_DIGITS = 40  # no number of a genome needs a longer integer literal


def _int(literal: str) -> int:
    if len(literal.lstrip("-")) > MAX_DIGITS:
        raise GenomeError(f"not valid JSON: an integer of {len(literal)} digits is out of range")
    return int(literal)


def from_json(text: str) -> Genome:
    """Parse a genome from JSON text (see ``Genome.to_json``). A huge integer literal is refused
    as the reader meets it; NaN and Infinity are read, then refused by ``validate`` naming the field."""
    try:
        data = json.loads(text, parse_int=_int)
    except json.JSONDecodeError as e:
        raise GenomeError(f"not valid JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    except RecursionError:
        raise GenomeError("not valid JSON: nested too deeply") from None
    except GenomeError:
        raise
    except ValueError as e:
        raise GenomeError(f"not valid JSON ({type(e).__name__})") from None
    return from_dict(data)


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
