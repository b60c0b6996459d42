"""MediaPipe's short-range BlazeFace as a module: (B,3,H,W) images in, dense detections out.

The same steps as MediaPipe's ``face_detection_short_range`` graph (letterbox to 128x128,
the network, 896 SSD anchors, clipped sigmoid scores, weighted non-max suppression), on the
whole batch at once, with numpy and torch only. Results come as MTCNN's ``Detections`` with
six keypoints per face instead of five.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from polyface.detect.batching import in_slices
from polyface.detect.blazeface_decode import SCORE_CLIP, anchors, decode, letterbox, weighted_nms
from polyface.detect.blazeface_net import INPUT_SIZE, WEIGHTS_FILE, load_net
from polyface.detect.ort import OrtNet, resolve
from polyface.detect.types import Detections

CPU_CHUNK = 8  # images per pass of the torch network on the CPU
ORT_CHUNK = 8  # images per pass of the onnx network: 8 ran fastest with 1 thread, 8/16/56 alike with 2
# backend="auto" runs onnx on the CPU (onnxruntime installed) with at most this many torch
# threads: real runs of the default with one thread made 1.15x and 1.29x the generations/s so
# (medians of two sets of 7 rounds); with two they were no faster (docs/decisions.md).
AUTO_ONNX_THREADS = 1

KEYPOINTS = ("right eye", "left eye", "nose tip", "mouth centre", "right ear tragion", "left ear tragion")
"""The order of BlazeFace's six keypoints; right and left are the subject's (the right eye
appears on the left of an upright, unmirrored photo)."""


def blaze_input(images: torch.Tensor, side: int = 128) -> torch.Tensor:
    """Images larger than BlazeFace's 128 px input, area-averaged down to it first (its own
    resize is bilinear, which aliases a large render into noise); smaller ones as they are."""
    if images.shape[-1] <= side and images.shape[-2] <= side:
        return images
    return torch.nn.functional.interpolate(images, size=(side, side), mode="area")


class BlazeFace(nn.Module):
    """BlazeFace over a batch: ``forward(images)`` with images (B,3,H,W) RGB floats in [0, 1].

    Defaults equal MediaPipe's: a face needs a score of at least ``min_score`` = 0.5, and
    boxes overlapping by an IoU above ``iou_threshold`` = 0.3 merge. ``weights`` is the .npz
    written by ``scripts/convert_blazeface.py`` (the one shipped in the package by default).
    Implements ``polyface.detect.types.Detector``. ``backend`` runs the network on torch or on
    ONNX Runtime ("onnx", CPU only); "auto" takes onnx on the CPU when onnxruntime is installed
    and torch has at most ``AUTO_ONNX_THREADS`` threads, torch otherwise.
    """

    name = "blazeface"

    def __init__(
        self,
        min_score: float = 0.5,
        iou_threshold: float = 0.3,
        weights: str | Path = WEIGHTS_FILE,
        device: str | torch.device = "cpu",
        backend: str = "auto",
    ) -> None:
        super().__init__()
        if not 0.0 <= min_score <= 1.0:
            raise ValueError(f"min_score must be in [0, 1], got {min_score}")
        if not 0.0 <= iou_threshold <= 1.0:
            raise ValueError(f"iou_threshold must be in [0, 1], got {iou_threshold}")
        self.min_score = float(min_score)
        self.iou_threshold = float(iou_threshold)
        self.net = load_net(weights, device)
        self.register_buffer("anchor_xy", anchors(device), persistent=False)
        self.backend = resolve(backend, self.device, AUTO_ONNX_THREADS)
        self._onnx: OrtNet | None = None
        self.chunk = CPU_CHUNK
        if self.backend == "onnx":
            self._onnx = OrtNet(self.net, torch.zeros(2, 3, INPUT_SIZE, INPUT_SIZE), ["reg", "logits"])
            self.chunk = ORT_CHUNK

    @property
    def device(self) -> torch.device:
        return self.anchor_xy.device

    def _inputs(self, images: torch.Tensor) -> torch.Tensor:
        if images.ndim != 4 or images.shape[1] != 3 or images.shape[2] < 1 or images.shape[3] < 1:
            raise ValueError(f"images must have shape (B, 3, H, W), got {tuple(images.shape)}")
        if not images.is_floating_point():
            raise ValueError(f"images must be floats in [0, 1], got dtype {images.dtype}")
        return images.to(self.device, torch.float32)

    def _net(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The network over ``x`` in slices of ``self.chunk`` images on the CPU (their activations
        stay in cache: about 1.7x faster per image than one batch of 56 on 2 cores)."""
        run = self._onnx or self.net
        if x.device.type != "cpu":
            return run(x)
        return in_slices(run, x, self.chunk)

    @torch.inference_mode()
    def raw(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The network's unclipped outputs for images (B,3,H,W) in [0, 1]: regressors
        (B,896,16) and logits (B,896), as the .tflite model gives them."""
        x, _ = letterbox(self._inputs(images))
        return self._net(x)

    @torch.inference_mode()
    def max_logit(self, images: torch.Tensor) -> torch.Tensor:
        """(B,) the highest anchor logit of each image (clipped to +-100), thresholds aside:
        a smooth signal that keeps rising below detection (a face needs at least 0 at the
        default ``min_score`` of 0.5)."""
        _, logits = self.raw(images)
        return logits.clamp(-SCORE_CLIP, SCORE_CLIP).amax(dim=1)

    @torch.inference_mode()
    def forward(self, images: torch.Tensor, min_score: float | None = None) -> Detections:
        """Detect faces in images (B,3,H,W) RGB in [0, 1].

        Boxes (K,4) are x0, y0, x1, y1 and keypoints (K,6,2) x, y (order in ``KEYPOINTS``), in
        pixels of the input images; ``probs`` are scores, ``logits`` their clipped logits.
        """
        return self.detect(images, min_score)[0]

    @torch.inference_mode()
    def detect(self, images: torch.Tensor, min_score: float | None = None) -> tuple[Detections, torch.Tensor]:
        """``forward``'s detections and ``max_logit`` from one pass of the network."""
        imgs = self._inputs(images)
        b, _, h, w = imgs.shape
        x, box = letterbox(imgs)
        reg, logits = self._net(x)
        th = self.min_score if min_score is None else float(min_score)
        m = weighted_nms(decode(reg, logits, self.anchor_xy), th, self.iou_threshold)
        scale = torch.tensor([box.span, box.span], device=self.device)
        offset = torch.tensor([box.x0, box.y0], device=self.device)
        boxes = m.boxes * scale.repeat(2) + offset.repeat(2)
        points = m.points * scale + offset
        top = logits.clamp(-SCORE_CLIP, SCORE_CLIP).amax(dim=1)
        return _assemble(boxes, m.scores, m.logits, points, m.image_index, b, (h, w)), top


def _assemble(boxes, probs, logits, points, index, b: int, size: tuple[int, int]) -> Detections:
    """Per-image counts and best faces; faces of an image come best first, so its first is its best."""
    count = torch.bincount(index, minlength=b)
    first = torch.cumsum(count, 0) - count
    has = count > 0
    pick = first.clamp(max=max(len(index) - 1, 0))

    def best(t: torch.Tensor) -> torch.Tensor:
        if len(index) == 0:
            return t.new_zeros((b, *t.shape[1:]))
        mask = has.view(-1, *([1] * (t.ndim - 1)))
        return torch.where(mask, t[pick], torch.zeros_like(t[pick]))

    return Detections(
        boxes=boxes,
        probs=probs,
        logits=logits,
        landmarks=points,
        image_index=index,
        count=count,
        best_prob=best(probs),
        best_box=best(boxes),
        best_landmarks=best(points),
        best_logit=best(logits),
        size=size,
    )
