"""Shared fixtures: the real MTCNN detector on CPU (and on cuda when one is present)."""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import tempfile

import numpy as np
import pytest
import torch

from polyface.detect import FaceDetector

torch.set_num_threads(2)

# The exported ONNX models a run keeps between runs go to a folder of this session's own (the runs
# it starts inherit it), not to the user's cache: tests start from none and leave none behind.
if "POLYFACE_CACHE_DIR" not in os.environ:
    _cache = tempfile.mkdtemp(prefix="polyface-test-cache-")
    os.environ["POLYFACE_CACHE_DIR"] = _cache
    atexit.register(shutil.rmtree, _cache, True)

# Tests press Ctrl-C on runs, in this process and in the runs they start. A session started
# with SIGINT ignored (a background job of a shell without job control) would hand that on to
# every run it starts, and no Ctrl-C would arrive: give this process Python's own handler
# (a run started from it gets the default disposition back, and installs that handler too).
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU"))]


@pytest.fixture(params=DEVICES)
def device(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def detector() -> FaceDetector:
    return FaceDetector(device="cpu")


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    skimage_data = pytest.importorskip("skimage.data")
    return skimage_data.astronaut()


@pytest.fixture(scope="session")
def face_crop(astronaut) -> np.ndarray:
    """The astronaut's face, filling most of a square canvas: a portrait by the rule."""
    return np.ascontiguousarray(astronaut[40:200, 145:305])


def to_batch(*images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float().div(255.0)
