"""Shared fixtures: the real MTCNN detector on CPU (and on cuda when one is present)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from polyface.detect import FaceDetector

torch.set_num_threads(2)

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
