"""BlazeFace's pre- and post-processing, as MediaPipe's short-range face detection graph does it.

- ``letterbox``: MediaPipe's ImageToTensorCalculator (keep aspect ratio, zero border, bilinear,
  8-bit result, range [-1, 1]), two taps per output pixel along each axis.
- ``anchors`` and ``decode``: SsdAnchorsCalculator (4 layers, strides 8, 16, 16, 16, offset 0.5,
  fixed anchor size) and TensorsToDetectionsCalculator (x/y/w/h scale 128, logits clipped to
  +-100, sigmoid, minimum score).
- ``weighted_nms``: NonMaxSuppressionCalculator's WEIGHTED algorithm (IoU above 0.3), for
  the whole batch at once: each round takes every image's best remaining box together.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

SIZE = 128
SCORE_CLIP = 100.0
LAYERS = ((8, 2), (16, 6))  # (stride, anchors per cell): layer 0 alone, layers 1-3 share stride 16


class Letterbox(NamedTuple):
    """Where the 128x128 tensor sits on the image: pixel = offset + normalised * span."""

    x0: float
    y0: float
    span: float


def _taps(n_src: int, offset: float, span: float, device: torch.device) -> tuple[torch.Tensor, ...]:
    """Output pixel i samples source coordinate ``offset + i*span/SIZE``: its two source indices
    (clamped into the image) and their bilinear weights (zero for taps outside the image).

    Pixel centres are at integer coordinates, as in OpenCV's warpPerspective that MediaPipe
    calls with the ROI's corners mapped to the tensor's corners; taps outside read 0 (black).
    """
    u = offset + torch.arange(SIZE, dtype=torch.float64) * (span / SIZE)  # on the CPU: float64 anywhere
    i0 = torch.floor(u)
    frac = u - i0
    i0 = i0.long()
    i1 = i0 + 1
    w0 = ((1.0 - frac) * ((i0 >= 0) & (i0 < n_src))).float()
    w1 = (frac * ((i1 >= 0) & (i1 < n_src))).float()
    return tuple(t.to(device) for t in (i0.clamp(0, n_src - 1), i1.clamp(0, n_src - 1), w0, w1))


def _resize_axis(x: torch.Tensor, dim: int, taps: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """Bilinear resize of axis ``dim`` of ``x`` to SIZE with the two taps of ``_taps``."""
    i0, i1, w0, w1 = taps
    shape = [1] * x.ndim
    shape[dim] = SIZE
    w0, w1 = w0.to(x.dtype).view(shape), w1.to(x.dtype).view(shape)
    return x.index_select(dim, i0) * w0 + x.index_select(dim, i1) * w1


def letterbox(images: torch.Tensor) -> tuple[torch.Tensor, Letterbox]:
    """(B,3,H,W) RGB in [0, 1] -> the model's (B,3,128,128) input in [-1, 1] and its placement.

    The image is centred on a square of side max(H, W) (black bars for a non-square image),
    resized bilinearly and rounded (half up) to 8 bits, as MediaPipe's CPU path does with
    OpenCV on uint8 images; the margin in the rounding absorbs float error on exact halves.
    """
    _, _, h, w = images.shape
    span = float(max(h, w))
    box = Letterbox((w - span) / 2.0, (h - span) / 2.0, span)
    if h == w == SIZE:  # the resize is the identity (weights 1 and 0): skip its passes, same values
        x = images
    else:
        x = _resize_axis(images, 2, _taps(h, box.y0, span, images.device))
        x = _resize_axis(x.transpose(2, 3), 2, _taps(w, box.x0, span, images.device)).transpose(2, 3)  # rows: faster
    x = torch.floor(x.clamp(0.0, 1.0) * 255.0 + 0.501) * (2.0 / 255.0) - 1.0
    return x, box


def anchors(device: torch.device | str = "cpu") -> torch.Tensor:
    """(896, 2) anchor centres (x, y) in [0, 1], in the order of the network's outputs."""
    out = []
    for stride, per_cell in LAYERS:
        g = SIZE // stride
        c = (torch.arange(g, dtype=torch.float32, device=device) + 0.5) / g
        yy, xx = torch.meshgrid(c, c, indexing="ij")
        xy = torch.stack([xx, yy], dim=-1).reshape(-1, 1, 2).expand(-1, per_cell, 2)
        out.append(xy.reshape(-1, 2))
    return torch.cat(out)


class Decoded(NamedTuple):
    """Every anchor's box (B,N,4: x0, y0, x1, y1), keypoints (B,N,6,2) in [0, 1] units of the
    128 tensor, clipped logit (B,N) and score (B,N)."""

    boxes: torch.Tensor
    points: torch.Tensor
    logits: torch.Tensor
    scores: torch.Tensor


def decode(reg: torch.Tensor, logits: torch.Tensor, anchor_xy: torch.Tensor) -> Decoded:
    """The network's regressors (B,896,16) and logits (B,896) -> boxes, keypoints and scores."""
    centre = reg[..., 0:2] / SIZE + anchor_xy
    half = reg[..., 2:4] / (2 * SIZE)
    boxes = torch.cat([centre - half, centre + half], dim=-1)
    points = reg[..., 4:].unflatten(-1, (6, 2)) / SIZE + anchor_xy[:, None, :]
    logits = logits.clamp(-SCORE_CLIP, SCORE_CLIP)
    return Decoded(boxes, points, logits, torch.sigmoid(logits))


def pairwise_iou(boxes: torch.Tensor) -> torch.Tensor:
    """(B,K,4) -> (B,K,K) intersection over union; 0 where boxes do not overlap or have no area."""
    lo = torch.maximum(boxes[:, :, None, :2], boxes[:, None, :, :2])
    hi = torch.minimum(boxes[:, :, None, 2:], boxes[:, None, :, 2:])
    inter = (hi - lo).clamp(min=0).prod(-1)
    area = (boxes[..., 2:] - boxes[..., :2]).prod(-1)
    union = area[:, :, None] + area[:, None, :] - inter
    return torch.where(union > 0, inter / union.clamp(min=1e-12), torch.zeros_like(inter))


class Merged(NamedTuple):
    """Faces after weighted NMS, image-major and best first within an image: boxes (K,4),
    points (K,6,2), logits (K,), scores (K,) and image_index (K,)."""

    boxes: torch.Tensor
    points: torch.Tensor
    logits: torch.Tensor
    scores: torch.Tensor
    image_index: torch.Tensor


def weighted_nms(d: Decoded, min_score: float, iou_threshold: float) -> Merged:
    """MediaPipe's weighted non-max suppression over a batch.

    Boxes scoring at least ``min_score`` with non-negative width and height take part. Each
    round, in every image, the best remaining box and the remaining boxes whose IoU with it
    exceeds ``iou_threshold`` (itself included) leave the pool and become one face: the
    score-weighted mean of their boxes and keypoints, with the best box's score and logit.
    Ties in score (sigmoid rounds to 1 above a logit of about 17) go to the higher logit.
    """
    b = d.logits.shape[0]
    dev = d.logits.device
    valid = (d.scores >= min_score) & (d.boxes[..., 2] >= d.boxes[..., 0]) & (d.boxes[..., 3] >= d.boxes[..., 1])
    k = int(valid.sum(1).max()) if b else 0
    rank = torch.where(valid, d.logits, torch.full_like(d.logits, -torch.inf))
    top = rank.argsort(dim=1, descending=True, stable=True)[:, :k]
    boxes = d.boxes.gather(1, top[..., None].expand(-1, -1, 4))
    points = d.points.gather(1, top[..., None, None].expand(-1, -1, 6, 2))
    logits, scores, left = d.logits.gather(1, top), d.scores.gather(1, top), valid.gather(1, top)
    iou = pairwise_iou(boxes)
    rows = torch.arange(b, device=dev)
    out: list[tuple[torch.Tensor, ...]] = []
    while k and bool(left.any()):
        active = left.any(1)
        first = left.to(torch.uint8).argmax(1)  # sorted, so the first left is the best left
        group = left & (iou[rows, first] > iou_threshold)
        group[rows, first] = active
        w = scores * group
        total = w.sum(1).clamp(min=1e-30)
        box = (w[..., None] * boxes).sum(1) / total[:, None]
        pts = (w[..., None, None] * points).sum(1) / total[:, None, None]
        out.append((box, pts, logits[rows, first], scores[rows, first], active))
        left = left & ~group
    if not out:
        z = d.logits.new_zeros
        return Merged(z((0, 4)), z((0, 6, 2)), z((0,)), z((0,)), torch.zeros(0, dtype=torch.long, device=dev))
    box, pts, lg, sc, act = (torch.stack(t, dim=1) for t in zip(*out))  # (B, rounds, ...)
    index = rows[:, None].expand_as(act)
    return Merged(box[act], pts[act], lg[act], sc[act], index[act])
