"""A second detector of another family: OpenCV's Viola-Jones Haar cascade (frontal face).

Its weights ship inside ``opencv-python-headless<5`` (``cv2.data.haarcascades``); 5.x no
longer ships them. A cascade says yes or no, which gives a search no slope to climb, so
``HaarDepth`` also runs the cascade cut after fewer stages: the deepest cut that still finds
a large face is a graded score in [0, 1].
"""

from __future__ import annotations

import xml.parsers.expat
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from polyface.detect.types import Detections, dense_detections

CASCADE = "haarcascade_frontalface_default.xml"
STAGE_NUM = b"<stageNum>%d</stageNum>"


class HaarUnavailable(RuntimeError):
    """OpenCV (with its shipped Haar cascades) is not installed."""


def _cv2():
    try:
        import cv2
    except ImportError:
        raise HaarUnavailable(
            "the Haar ensemble needs OpenCV: pip install 'opencv-python-headless<5' (or 'polyface[ensemble]')"
        ) from None
    if not hasattr(cv2, "data") or not (Path(cv2.data.haarcascades) / CASCADE).is_file():
        raise HaarUnavailable("this OpenCV ships no Haar cascades: pip install 'opencv-python-headless<5'")
    return cv2


@lru_cache(maxsize=1)
def _cascade_text() -> tuple[bytes, tuple[int, ...], int]:
    """The frontal-face cascade's XML, the byte offset of each stage's element and that of the
    end of its list of stages (found by the XML parser, not by matching text)."""
    path = Path(_cv2().data.haarcascades) / CASCADE
    data = path.read_bytes()
    parser = xml.parsers.expat.ParserCreate()
    depth, stages_depth, starts, end = 0, -1, [], -1

    def start(name: str, attrs: dict) -> None:
        nonlocal depth, stages_depth
        depth += 1
        if name == "stages" and stages_depth < 0:
            stages_depth = depth
        elif stages_depth > 0 and depth == stages_depth + 1 and end < 0:
            starts.append(parser.CurrentByteIndex)

    def stop(name: str) -> None:
        nonlocal depth, end
        if name == "stages" and depth == stages_depth and end < 0:
            end = parser.CurrentByteIndex
        depth -= 1

    parser.StartElementHandler, parser.EndElementHandler = start, stop
    parser.Parse(data, True)
    if not starts or end < 0 or data.count(STAGE_NUM % len(starts)) != 1:
        raise HaarUnavailable(f"{path}: not the stages of a Haar cascade")
    return data, tuple(starts), end


def _cut_text(stages: int) -> str:
    """The cascade's XML with only its first ``stages`` stages."""
    data, starts, end = _cascade_text()
    if not 0 < stages < len(starts):
        raise ValueError(f"stages must be in 1..{len(starts) - 1}, got {stages}")
    cut = data[: starts[stages]] + data[end:]
    return cut.replace(STAGE_NUM % len(starts), STAGE_NUM % stages, 1).decode("utf-8")


def _load(stages: int | None):
    """A new classifier of the frontal-face cascade, cut after ``stages`` stages (None: whole).
    The cuts are read from memory: parsing and writing the XML once a cut took 0.1 s each."""
    cv2 = _cv2()
    if stages is None:
        return cv2.CascadeClassifier(str(Path(cv2.data.haarcascades) / CASCADE))
    storage = cv2.FileStorage(_cut_text(stages), cv2.FILE_STORAGE_READ | cv2.FILE_STORAGE_MEMORY)
    clf = cv2.CascadeClassifier()
    if not clf.read(storage.getFirstTopLevelNode()) or clf.empty():
        raise HaarUnavailable(f"could not load the Haar cascade cut at {stages} stages")
    return clf


_cascade = lru_cache(maxsize=8)(_load)  # the classifiers one thread shares (HaarDepth's ``shared``)


def _gray(images: torch.Tensor) -> np.ndarray:
    """(B,3,H,W) floats in [0, 1] -> (B,H,W) uint8 luma."""
    rgb = (images.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    # ITU-R BT.601 luma, as cv2.cvtColor(..., COLOR_RGB2GRAY) computes it
    return (rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114).round().astype(np.uint8)


class HaarDetector:
    """The whole frontal-face cascade as a ``Detector``: (B,3,H,W) in [0, 1] -> ``Detections``.

    A cascade says yes or no: every face found has probability 1 and log-odds +inf, and no
    landmarks (NaN). Faces smaller than ``min_share`` of the shorter side are not looked for.
    Runs on the CPU; the detections are returned on the CPU.
    """

    name = "haar"

    def __init__(self, min_share: float = 0.0, scale_factor: float = 1.1, min_neighbors: int = 1) -> None:
        self.clf = _cascade(None)
        self.min_share = min_share
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    def __call__(self, images: torch.Tensor) -> Detections:
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"images must have shape (B, 3, H, W), got {tuple(images.shape)}")
        found, inds = [], []
        for i, g in enumerate(_gray(images)):
            side = max(1, int(self.min_share * min(g.shape)))
            for x, y, w, h in self.clf.detectMultiScale(g, self.scale_factor, self.min_neighbors, minSize=(side, side)):
                found.append([x, y, x + w, y + h, 1.0])
                inds.append(i)
        k = len(found)
        boxes = torch.tensor(found, dtype=torch.float32).reshape(k, 5)
        points = torch.full((k, 5, 2), float("nan"))
        logits = torch.full((k,), float("inf"))
        return dense_detections(boxes, torch.tensor(inds, dtype=torch.long), points, logits, images.shape[0],
                                tuple(images.shape[2:]))


class HaarDepth:
    """Graded Haar evidence of one large face per image: (B,) scores in [0, 1].

    1 means the whole cascade finds a face box of at least ``min_box`` of the canvas; a
    lower value is the share of stages that the best such window survives.
    """

    def __init__(self, min_box: float = 0.5, cuts: tuple[int, ...] = (5, 10, 15, 20, 25), shared: bool = True) -> None:
        self.cv2 = _cv2()
        self.min_box = min_box
        self.cuts = cuts
        self.total = cuts[-1]
        # A cascade keeps per-call state: threads that run at once need one each (``shared=False``).
        load = _cascade if shared else _load
        self.cascades = [(load(c if c < 25 else None), c) for c in cuts]

    def _gray(self, images: torch.Tensor) -> np.ndarray:
        return _gray(images)

    def found(self, images: torch.Tensor, stages_index: int = -1) -> np.ndarray:
        """(B,) bool: the cascade cut at ``cuts[stages_index]`` finds a large face."""
        clf, _ = self.cascades[stages_index]
        out = np.zeros(images.shape[0], bool)
        for i, g in enumerate(self._gray(images)):
            side = int(self.min_box * 0.8 * min(g.shape))
            out[i] = len(clf.detectMultiScale(g, 1.1, 1, minSize=(side, side))) > 0
        return out

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        grays = self._gray(images)
        scores = np.zeros(len(grays), np.float32)
        whole, cuts = self.cascades[-1][0], self.cascades[:-1]
        for i, g in enumerate(grays):
            side = int(self.min_box * 0.8 * min(g.shape))
            # The whole cascade first: once a search finds faces, most images it scores pass,
            # and one pass of the whole cascade costs a quarter of climbing through every cut.
            if len(whole.detectMultiScale(g, 1.1, 1, minSize=(side, side))):
                scores[i] = 1.0
                continue
            for clf, cut in cuts:  # deeper cuts only for windows that passed shallower ones
                if len(clf.detectMultiScale(g, 1.1, 1, minSize=(side, side))) == 0:
                    break
                scores[i] = cut / self.total
        return torch.from_numpy(scores)
