"""Independent face detectors that judge finished portraits; no run ever scores with them.

``blazeface``: MediaPipe's BlazeFace short-range model (a single-shot CNN, a different family
and training set from MTCNN), shipped inside the ``mediapipe`` wheel. Install for the
benchmarks only (its own requirements pin an OpenCV build that clashes with polyface's):

    pip install --no-deps 'mediapipe==0.10.14' && pip install absl-py attrs flatbuffers 'protobuf>=4.25.3,<5' matplotlib
"""

from __future__ import annotations

import numpy as np
from PIL import Image


class BlazeFaceJudge:
    """Accepts an image when BlazeFace finds a face with score >= ``min_score`` whose box is at
    least ``min_side`` of the image side."""

    name = "blazeface"

    def __init__(self, min_score: float = 0.5, min_side: float = 0.3) -> None:
        import mediapipe as mp

        self.fd = mp.solutions.face_detection.FaceDetection(model_selection=0, min_detection_confidence=min_score)
        self.min_score = min_score
        self.min_side = min_side

    def best(self, rgb: np.ndarray) -> tuple[float, float]:
        """(score, relative box side) of the largest qualifying face, or (0, 0)."""
        res = self.fd.process(np.ascontiguousarray(rgb))
        best = (0.0, 0.0)
        for d in res.detections or []:
            box = d.location_data.relative_bounding_box
            side = min(box.width, box.height)
            if d.score[0] >= self.min_score and side > best[1]:
                best = (float(d.score[0]), float(side))
        return best

    def accepts(self, rgb: np.ndarray) -> bool:
        return self.best(rgb)[1] >= self.min_side


def framed(path, size: int, margin: float = 0.3) -> tuple[np.ndarray, float]:
    """The portrait at ``size`` px on a border of ``margin`` of its side in its own corner colour,
    as a print hangs on a wall; returns (image, portrait share of the framed side)."""
    with Image.open(path) as im:
        im = im.convert("RGB").resize((size, size), Image.LANCZOS)
    border = int(round(size * margin))
    out = Image.new("RGB", (size + 2 * border, size + 2 * border), im.getpixel((0, 0)))
    out.paste(im, (border, border))
    return np.asarray(out), size / (size + 2 * border)


def load_png(path, size: int | None = None) -> np.ndarray:
    with Image.open(path) as im:
        im = im.convert("RGB")
        if size is not None and im.size != (size, size):
            im = im.resize((size, size), Image.LANCZOS)
        return np.asarray(im)
