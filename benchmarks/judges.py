"""Face detectors that judge finished portraits. A judge counts for a preset only when the
preset's fitness does not use it, so a portrait it accepts is a face it was never bred for.

- ``lbp``: scikit-image's LBP frontal-face cascade (``skimage.data.lbp_frontal_face_cascade_filename``),
  a family no polyface run ever scores with;
- ``haar``: OpenCV's Haar frontal-face cascade, the whole cascade (independent for presets
  without ``haar = true``);
- ``blazeface``: MediaPipe's short-range BlazeFace, polyface's own torch module (independent for
  presets without ``blazeface = true``; it matches the original model, see tests/test_blazeface.py);
- ``hog``: dlib's HOG + linear SVM frontal-face detector (``dlib.get_frontal_face_detector``), a
  family no polyface run ever scores with;
- ``mmod``: dlib's max-margin CNN face detector (``mmod_human_face_detector.dat``, carried by the
  ``face-recognition-models`` package), a CNN of another architecture and training set than any
  detector in the fitness; with ``hog`` it needs ``pip install 'polyface[judges]'``;
- ``mtcnn``: polyface's MTCNN at its default thresholds (every preset uses it, so never a judge
  here; listed for completeness).

Each judge accepts an image when it finds a face whose box side is at least ``MIN_SIDE`` of the
portrait's side (a face, not a detail of one).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch
from PIL import Image

MIN_SIDE = 0.3


def _grey(rgb: np.ndarray) -> np.ndarray:
    return (rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114).round().astype(np.uint8)


class LBPJudge:
    name = "lbp"

    def __init__(self) -> None:
        import skimage.data
        from skimage.feature import Cascade

        self.cascade = Cascade(skimage.data.lbp_frontal_face_cascade_filename())

    def side(self, rgb: np.ndarray) -> float:
        """The largest face's box side in pixels (0: none)."""
        g = _grey(rgb).astype(np.float64) / 255.0
        n = min(g.shape)
        found = self.cascade.detect_multi_scale(g, 1.1, 1.0, (max(24, n // 8),) * 2, (n, n), min_neighbor_number=2)
        return float(max((min(d["width"], d["height"]) for d in found), default=0))


class HaarJudge:
    name = "haar"

    def __init__(self) -> None:
        import cv2

        self.cv2 = cv2
        self.clf = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")

    def side(self, rgb: np.ndarray) -> float:
        g = _grey(rgb)
        n = min(g.shape)
        found = self.clf.detectMultiScale(g, 1.1, 3, minSize=(max(24, n // 8),) * 2)
        return float(max((min(w, h) for _, _, w, h in found), default=0))


def _dlib():
    try:
        import dlib
    except ImportError:
        raise SystemExit("judges hog and mmod need dlib: pip install 'polyface[judges]'") from None
    return dlib


def _upsample(rgb: np.ndarray) -> int:
    """dlib's detectors look for faces of about 80 px and up: double images under 256 px."""
    return 1 if min(rgb.shape[:2]) < 256 else 0


class HOGJudge:
    name = "hog"

    def __init__(self) -> None:
        self.det = _dlib().get_frontal_face_detector()

    def side(self, rgb: np.ndarray) -> float:
        found = self.det(np.ascontiguousarray(rgb), _upsample(rgb))
        return float(max((min(r.width(), r.height()) for r in found), default=0))

    def margin(self, rgb: np.ndarray, share: float = 1.0, floor: float = -1.5) -> float:
        """The SVM score of the best box at least ``MIN_SIDE`` of the portrait's side (``share`` of
        the image's): >= 0 where ``side`` accepts it, ``floor`` where no box comes near."""
        rects, scores, _ = self.det.run(np.ascontiguousarray(rgb), _upsample(rgb), floor)
        least = MIN_SIDE * rgb.shape[0] * share
        return float(max((s for r, s in zip(rects, scores) if min(r.width(), r.height()) >= least), default=floor))


def mmod_weights() -> Path:
    """dlib's MMOD face detector weights inside the installed ``face_recognition_models`` package,
    found without importing it (its ``__init__`` needs ``pkg_resources``)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("judge mmod needs face-recognition-models: pip install 'polyface[judges]'")
    return Path(next(iter(spec.submodule_search_locations))) / "models" / "mmod_human_face_detector.dat"


class MMODJudge:
    name = "mmod"

    def __init__(self) -> None:
        self.det = _dlib().cnn_face_detection_model_v1(str(mmod_weights()))

    def side(self, rgb: np.ndarray) -> float:
        found = self.det(np.ascontiguousarray(rgb), _upsample(rgb))
        return float(max((min(d.rect.width(), d.rect.height()) for d in found), default=0))


class TorchJudge:
    """BlazeFace or MTCNN from polyface, at their default thresholds."""

    def __init__(self, name: str) -> None:
        self.name = name
        if name == "blazeface":
            from polyface.detect.blazeface import BlazeFace

            self.det = BlazeFace()
        else:
            from polyface.detect.mtcnn import FaceDetector

            self.det = FaceDetector()

    def side(self, rgb: np.ndarray) -> float:
        x = torch.from_numpy(np.array(rgb)).permute(2, 0, 1)[None].float() / 255.0
        scale = 1.0
        if self.name == "blazeface":  # area-averaged down to its input, as polyface does
            from polyface.detect.blazeface import blaze_input

            small = blaze_input(x)
            scale, x = x.shape[-1] / small.shape[-1], small
        d = self.det(x)
        boxes, _, _ = d.for_image(0)
        if not len(boxes):
            return 0.0
        sides = torch.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
        return float(sides.max()) * scale


JUDGES = {"lbp": LBPJudge, "haar": HaarJudge, "hog": HOGJudge, "mmod": MMODJudge}


def make_judges(names: list[str]) -> list:
    return [JUDGES[n]() if n in JUDGES else TorchJudge(n) for n in names]


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
