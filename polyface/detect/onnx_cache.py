"""Exported ONNX models kept between runs, so that a run's start does not export them again.

Exporting the detectors' networks (``ort.export``) took about 1.1 s of every run's start on 2
cores, most of it torch's exporter getting ready. The export of a network is the same bytes
every time for the same weights, code and versions, so it is kept in a cache folder under a
name made from all of them: ``$POLYFACE_CACHE_DIR``, else ``$XDG_CACHE_HOME/polyface`` (when absolute), else
``~/.cache/polyface`` (``POLYFACE_CACHE_DIR=""`` turns the cache off).

A cached file is read from disk, so it is not trusted: ``OrtNet`` checks that the model it
builds gives the torch network's outputs on a test input, and exports afresh (and rewrites the
file) when it does not, or when the file is missing, too large or not a model. Files are
written atomically; a folder that cannot be written only means no cache.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
import os
from pathlib import Path

import torch
from torch import nn

from polyface import atomic

CACHE_ENV = "POLYFACE_CACHE_DIR"
MAX_MODEL_BYTES = 64 << 20  # the largest model file read back (the detectors' are 0.03-1.6 MB)
FORMAT = 1  # raise when what is exported changes in a way the key below does not see


def cache_dir() -> Path | None:
    """The folder the exported models are kept in, or None where the cache is off."""
    if CACHE_ENV in os.environ:
        value = os.environ[CACHE_ENV]
        return Path(value).expanduser() / "onnx" if value else None
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # the XDG spec: a relative path there is invalid and ignored
        base = str(Path.home() / ".cache")
    return Path(base) / "polyface" / "onnx"


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "none"


def model_key(net: nn.Module, example: torch.Tensor, outputs: list[str], dynamic: dict[int, str], opset: int) -> str:
    """A name for ``net``'s export: a digest of its weights, the source of the module that
    defines it, the export's settings and the versions of torch and onnx."""
    h = hashlib.sha256()
    source = inspect.getsourcefile(type(net))
    parts = [
        FORMAT,
        torch.__version__,
        _version("onnx"),
        opset,
        type(net).__module__,
        type(net).__qualname__,
        tuple(example.shape),
        str(example.dtype),
        outputs,
        sorted(dynamic.items()),
    ]
    h.update(repr(parts).encode())
    if source:
        h.update(Path(source).read_bytes())
    for name, value in net.state_dict().items():
        t = value.detach().cpu().reshape(-1).contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(value.shape)}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return f"{type(net).__name__.lower()}-{h.hexdigest()[:24]}"


def model_path(key: str) -> Path | None:
    folder = cache_dir()
    return None if folder is None else folder / f"{key}.onnx"


def read(key: str) -> bytes | None:
    """The cached model for ``key``, or None (no file, the cache off, unreadable or too large)."""
    path = model_path(key)
    if path is None:
        return None
    try:
        if not path.is_file() or path.stat().st_size > MAX_MODEL_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    return data if 0 < len(data) <= MAX_MODEL_BYTES else None


def write(key: str, data: bytes) -> None:
    """Keep ``data`` as ``key``'s model; nothing happens where the folder cannot be written."""
    path = model_path(key)
    if path is None:
        return
    try:
        atomic.write_bytes(path, data)
    except OSError:
        pass
