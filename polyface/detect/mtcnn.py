"""The MTCNN face detector as a module: (B,3,H,W) images in, dense detections out.

The cascade follows facenet-pytorch's ``MTCNN.detect`` step for step (same pyramid, same
thresholds, same NMS) so that its boxes and probabilities match it, but every stage works
on the whole batch at once: the crops for R-Net and O-Net are cut and area-resized by two
batched matrix products instead of a Python loop per box.
"""

from __future__ import annotations

import torch
from torch import nn
from polyface.detect.vision_ops import batched_nms

from polyface.detect.batching import in_powers_of_two, in_slices, padded
from polyface.detect.boxes import bbreg, generate_boxes, nms_min, rerec
from polyface.detect.crops import crop_resize, crops, resize_area
from polyface.detect.nets import load_nets
from polyface.detect.ort import OrtNet, resolve
from polyface.detect.types import Detections, dense_detections as _dense

# Detections moved to detect.types; resize_area and crop_resize to detect.crops.
__all__ = ["Detections", "FaceDetector", "crop_resize", "resize_area"]

# backend="auto" runs onnx on the CPU (onnxruntime installed) with at most this many torch
# threads: never. The three small networks ran 0.7-0.8x as fast on onnx with one thread
# and real runs with two were no faster (docs/decisions.md).
AUTO_ONNX_THREADS = 0
# R-Net and O-Net crops per ONNX Runtime call, unpadded: two lanes ran O-Net 1.41x and R-Net
# 1.17x as fast as in batches padded to 16 crops, with the same outputs bit for bit
# (docs/decisions.md).
ORT_CHUNK = 8


def _best_per_image(score: torch.Tensor, inds: torch.Tensor, b: int, boxes: torch.Tensor, side: float) -> torch.Tensor:
    """(B,) the highest of ``score`` (K,) among each image's windows whose ``boxes`` (K,4+) are
    at least ``side`` px wide (0 where it has none)."""
    score = torch.where(boxes[:, 2] - boxes[:, 0] >= side, score, torch.zeros_like(score))
    return score.new_zeros(b).scatter_reduce_(0, inds.long(), score, reduce="amax", include_self=True)


def _climb(depth: torch.Tensor, best: torch.Tensor, stage: int, th: float) -> torch.Tensor:
    """``depth`` raised, for the images whose windows reached ``stage``, to that stage's share
    plus how close its best window came to the stage's threshold ``th``."""
    reached = best > 0
    return torch.where(reached, (stage + (best / th).clamp(max=1.0)) / 3.0, depth)


class FaceDetector(nn.Module):
    """MTCNN over a batch: ``forward(images)`` with images (B,3,H,W) RGB floats in [0, 1].

    Defaults equal facenet-pytorch's MTCNN: min face 20 px, thresholds (0.6, 0.7, 0.7),
    pyramid factor 0.709. ``min_face_size`` may also be given per call. Implements
    ``polyface.detect.types.Detector``. ``backend`` runs the three networks on torch or on
    ONNX Runtime ("onnx", CPU only); "auto" takes onnx on the CPU when onnxruntime is installed
    and torch has at most ``AUTO_ONNX_THREADS`` threads, torch otherwise.
    """

    name = "mtcnn"

    def __init__(
        self,
        min_face_size: float = 20.0,
        thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
        factor: float = 0.709,
        device: str | torch.device = "cpu",
        backend: str = "auto",
    ) -> None:
        super().__init__()
        if not 0.0 < factor < 1.0:
            raise ValueError(f"factor must be in (0, 1), got {factor}")
        if min_face_size < 12:
            raise ValueError(f"min_face_size must be at least 12 px, got {min_face_size}")
        self.min_face_size = float(min_face_size)
        self.thresholds = tuple(float(t) for t in thresholds)
        self.factor = float(factor)
        self.pnet, self.rnet, self.onet = load_nets(device)
        self.backend = resolve(backend, self.device, AUTO_ONNX_THREADS)
        self._onnx: tuple[OrtNet, OrtNet, OrtNet] | None = None
        if self.backend == "onnx":
            self._onnx = (
                OrtNet(self.pnet, torch.zeros(2, 3, 24, 24), ["reg", "logits"], {0: "batch", 2: "h", 3: "w"}),
                OrtNet(self.rnet, torch.zeros(2, 3, 24, 24), ["reg", "logits"]),
                OrtNet(self.onet, torch.zeros(2, 3, 48, 48), ["reg", "marks", "logits"]),
            )

    def nets(self) -> tuple:
        """P-Net, R-Net and O-Net as this detector runs them (torch modules or ONNX Runtime networks)."""
        return self._onnx or (self.pnet, self.rnet, self.onet)

    def _crops_net(self, k: int, data: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """R-Net (``k`` = 1) or O-Net (2) on ``data``: on torch padded to few batch shapes, on
        ONNX Runtime in small unpadded slices (``polyface.detect.batching``)."""
        net = self.nets()[k]
        return in_slices(net, data, ORT_CHUNK) if self._onnx is not None else padded(net, data)

    @property
    def device(self) -> torch.device:
        return next(self.pnet.parameters()).device

    def scales(self, h: int, w: int, min_face_size: float | None = None, skip_below: float = 0.0) -> list[float]:
        """The image pyramid's scales for an h x w image.

        ``skip_below`` drops the fine levels whose 12 px window sees faces smaller than that
        many pixels, leaving the other levels exactly where the full pyramid has them.
        """
        m = 12.0 / (min_face_size or self.min_face_size)
        minl = min(h, w) * m
        out, s = [], m
        while minl >= 12:
            if 12.0 / s >= skip_below:
                out.append(s)
            s *= self.factor
            minl *= self.factor
        return out

    @torch.inference_mode()
    def forward(
        self,
        images: torch.Tensor,
        min_face_size: float | None = None,
        thresholds: tuple[float, float, float] | None = None,
        skip_below: float = 0.0,
    ) -> Detections:
        """Detect faces in images (B,3,H,W) RGB in [0, 1]; see ``scales`` for ``skip_below``."""
        return self.detect_depth(images, min_face_size, thresholds, skip_below)[0]

    @torch.inference_mode()
    def detect_depth(
        self,
        images: torch.Tensor,
        min_face_size: float | None = None,
        thresholds: tuple[float, float, float] | None = None,
        skip_below: float = 0.0,
        depth_side: float = 0.0,
    ) -> tuple[Detections, torch.Tensor]:
        """``forward``'s detections and how far each image got through the cascade: (B,) in
        [0, 1], 1 where a face was found, else ``(stage + best / threshold) / 3`` with ``stage``
        the number of stages passed (0-2) and ``best`` the best probability the next stage gave
        any window of the image at least ``depth_side`` px wide. It costs nothing beyond the
        detection: every stage scores those windows anyway."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"images must have shape (B, 3, H, W), got {tuple(images.shape)}")
        th = thresholds or self.thresholds
        imgs = images.to(self.device, torch.float32) * 255.0
        b, _, h, w = imgs.shape
        depth = imgs.new_zeros(b)
        boxes, inds, best = self._propose(imgs, self.scales(h, w, min_face_size, skip_below), th[0], depth_side)
        depth = _climb(depth, best, 0, th[0])
        if boxes.shape[0]:
            boxes, inds, best = self._refine(imgs, boxes, inds, th[1], depth_side)
            depth = _climb(depth, best, 1, th[1])
        if boxes.shape[0]:
            boxes, inds, points, face_logits, best = self._output(imgs, boxes, inds, th[2], depth_side)
            depth = _climb(depth, best, 2, th[2])
        else:
            points, face_logits = imgs.new_zeros((0, 5, 2)), imgs.new_zeros((0,))
        if boxes.shape[0] == 0:
            face_logits = imgs.new_zeros((0,))
        det = _dense(boxes, inds, points, face_logits, b, (h, w))
        return det, torch.where(det.count > 0, torch.ones_like(depth), depth)

    def _propose(
        self, imgs: torch.Tensor, scales: list[float], th: float, side: float = 0.0
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Stage 1: P-Net over the pyramid, NMS per scale and image, then per image.

        ``imgs`` (B,3,H,W) in 0..255; returns squared boxes (K,5: x0, y0, x1, y1, prob), their
        image index (K,) and each image's best probability of a window at least ``side`` px (B,).
        """
        h, w = imgs.shape[2:]
        best = imgs.new_zeros(imgs.shape[0])
        boxes, inds, picks, offset = [], [], [], 0
        for scale in scales:
            data = resize_area(imgs, (int(h * scale + 1), int(w * scale + 1)))
            reg, logits = in_powers_of_two(self.nets()[0], (data - 127.5) * 0.0078125)
            probs = torch.softmax(logits, dim=1)
            if 12.0 / scale >= side:
                best = torch.maximum(best, probs[:, 1].amax(dim=(1, 2)))
            bs, ii = generate_boxes(reg, probs[:, 1], scale, th)
            boxes.append(bs)
            inds.append(ii)
            picks.append(batched_nms(bs[:, :4], bs[:, 4], ii, 0.5) + offset)
            offset += bs.shape[0]
        if boxes:
            boxes, inds, picks = torch.cat(boxes), torch.cat(inds), torch.cat(picks)
            boxes, inds = boxes[picks], inds[picks]
        else:
            boxes = imgs.new_zeros((0, 9))
            inds = torch.zeros(0, dtype=torch.long, device=imgs.device)
        pick = batched_nms(boxes[:, :4], boxes[:, 4], inds, 0.7)
        boxes, inds = boxes[pick], inds[pick]
        regw = boxes[:, 2] - boxes[:, 0]
        regh = boxes[:, 3] - boxes[:, 1]
        boxes = torch.stack(
            [
                boxes[:, 0] + boxes[:, 5] * regw,
                boxes[:, 1] + boxes[:, 6] * regh,
                boxes[:, 2] + boxes[:, 7] * regw,
                boxes[:, 3] + boxes[:, 8] * regh,
                boxes[:, 4],
            ],
            dim=1,
        )
        return rerec(boxes), inds, best

    def _refine(
        self, imgs: torch.Tensor, boxes: torch.Tensor, inds: torch.Tensor, th: float, side: float = 0.0
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Stage 2: R-Net on 24x24 crops; returns the surviving boxes, regressed and squared,
        their image index and each image's best R-Net probability of a box at least ``side`` px (B,)."""
        data, keep = crops(imgs, boxes, inds, 24)
        boxes, inds = boxes[keep], inds[keep]
        reg, logits = self._crops_net(1, data)
        score = torch.softmax(logits, dim=1)[:, 1]
        best = _best_per_image(score, inds, imgs.shape[0], boxes, side)
        ok = score > th
        boxes = torch.cat([boxes[ok, :4], score[ok, None]], dim=1)
        inds, reg = inds[ok], reg[ok]
        pick = batched_nms(boxes[:, :4], boxes[:, 4], inds, 0.7)
        boxes, inds, reg = boxes[pick], inds[pick], reg[pick]
        return rerec(bbreg(boxes, reg)), inds, best

    def _output(
        self, imgs: torch.Tensor, boxes: torch.Tensor, inds: torch.Tensor, th: float, side: float = 0.0
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Stage 3: O-Net on 48x48 crops, landmarks, NMS by the smaller area.

        Returns boxes (K,5), image index (K,), landmarks (K,5,2), face log-odds (K,) and each
        image's best O-Net probability of a box at least ``side`` px (B,).
        """
        data, keep = crops(imgs, boxes, inds, 48)
        boxes, inds = boxes[keep], inds[keep]
        reg, marks, logits = self._crops_net(2, data)
        score = torch.softmax(logits, dim=1)[:, 1]
        best = _best_per_image(score, inds, imgs.shape[0], boxes, side)
        ok = score > th
        boxes = torch.cat([boxes[ok, :4], score[ok, None]], dim=1)
        inds, reg, marks = inds[ok], reg[ok], marks[ok]
        face_logits = (logits[:, 1] - logits[:, 0])[ok]
        bw = boxes[:, 2] - boxes[:, 0] + 1
        bh = boxes[:, 3] - boxes[:, 1] + 1
        px = bw[:, None] * marks[:, :5] + boxes[:, 0:1] - 1
        py = bh[:, None] * marks[:, 5:] + boxes[:, 1:2] - 1
        points = torch.stack([px, py], dim=2)
        boxes = bbreg(boxes, reg)
        pick = nms_min(boxes[:, :4], boxes[:, 4], inds, 0.7)
        return boxes[pick], inds[pick], points[pick], face_logits[pick], best

    @torch.inference_mode()
    def onet_logit(self, images: torch.Tensor) -> torch.Tensor:
        """O-Net's face log-odds for each whole image area-resized to 48x48: (B,) floats.

        A smooth signal for the search before the full cascade finds any face.
        """
        imgs = images.to(self.device, torch.float32) * 255.0
        data = resize_area(imgs, (48, 48))
        _, _, logits = self._crops_net(2, (data - 127.5) * 0.0078125)
        return logits[:, 1] - logits[:, 0]
