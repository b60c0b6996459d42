"""Where a run's work runs: the device, and the lanes that split each batch in this process."""

from __future__ import annotations

import torch

from polyface.config import Config
from polyface.detect import ort


class DeviceError(ValueError):
    """The requested device is not available."""


def pick_device(name: str) -> torch.device:
    """'auto' -> cuda, then mps, then cpu; an explicit device must exist."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceError("device 'cuda' requested but no CUDA GPU is available (use --device cpu or auto)")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise DeviceError("device 'mps' requested but Apple's MPS is not available (use --device cpu or auto)")
    return torch.device(name)


def n_lanes(cfg: Config, device: torch.device) -> int:
    """Threads that split each batch's detector work in this process (``detect.lanes``): one
    per torch thread on the CPU with ONNX Runtime installed, each lane running the networks on
    it with one thread; 1 otherwise (a GPU, or torch alone: its lanes were no faster than its
    own two threads)."""
    if device.type != "cpu" or not ort.available():
        return 1
    return torch.get_num_threads()
