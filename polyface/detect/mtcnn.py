"""The MTCNN face detector as a module: (B,3,H,W) images in, dense detections out.

The cascade follows facenet-pytorch's ``MTCNN.detect`` step for step (same pyramid, same
thresholds, same NMS) so that its boxes and probabilities match it, but every stage works
on the whole batch at once: the crops for R-Net and O-Net are cut and area-resized by two
batched matrix products instead of a Python loop per box.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torchvision.ops import batched_nms

from polyface.detect.nets import load_nets


@dataclass
class Detections:
    """Faces found in a batch of B images, K faces in all.

    ``boxes`` (K,4) are x0, y0, x1, y1 in pixels, ``probs`` (K,), ``landmarks`` (K,5,2) in pixels
    (left eye, right eye, nose, left mouth corner, right mouth corner), ``image_index`` (K,)
    says which image each face belongs to. Per image: ``count`` (B,), and the most probable
    face's ``best_prob`` (B,; 0 where none), ``best_box`` (B,4; zeros where none) and
    ``best_landmarks`` (B,5,2). ``logits`` (K,) and ``best_logit`` (B,; 0 where none) are
    O-Net's face log-odds, which keep growing where the probability has rounded to 1.
    ``size`` is (H, W) of the images.
    """

    boxes: torch.Tensor
    probs: torch.Tensor
    logits: torch.Tensor
    landmarks: torch.Tensor
    image_index: torch.Tensor
    count: torch.Tensor
    best_prob: torch.Tensor
    best_box: torch.Tensor
    best_landmarks: torch.Tensor
    best_logit: torch.Tensor
    size: tuple[int, int]

    def for_image(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Boxes, probabilities and landmarks of image ``i``, most probable first."""
        sel = (self.image_index == i).nonzero().flatten()
        order = self.probs[sel].argsort(descending=True)
        sel = sel[order]
        return self.boxes[sel], self.probs[sel], self.landmarks[sel]


def _area_weights(start: torch.Tensor, length: torch.Tensor, extent: int, out: int) -> torch.Tensor:
    """(K, out, extent) weights that area-resize the span [start, start+length) to ``out`` cells.

    Equal to ``interpolate(mode="area")`` (adaptive average pooling) on the crop, along one axis.
    """
    i = torch.arange(out, device=start.device)
    lo = (i[None, :] * length[:, None]) // out
    hi = ((i[None, :] + 1) * length[:, None] + out - 1) // out
    pos = torch.arange(extent, device=start.device)[None, None, :] - start[:, None, None]
    inside = (pos >= lo[:, :, None]) & (pos < hi[:, :, None])
    return inside.float() / (hi - lo).clamp(min=1)[:, :, None].float()


def resize_area(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``interpolate(images, size, mode="area")`` as two matrix products: the same averages,
    2-3x faster on the CPU for the small pyramid levels of a batch."""
    _, _, h, w = images.shape
    zero = torch.zeros(1, dtype=torch.long, device=images.device)
    wy = _area_weights(zero, torch.tensor([h], device=images.device), h, size[0])[0].to(images.dtype)
    wx = _area_weights(zero, torch.tensor([w], device=images.device), w, size[1])[0].to(images.dtype)
    return torch.matmul(torch.matmul(wy, images), wx.T)


def crop_resize(images: torch.Tensor, index: torch.Tensor, y0, y1, x0, x1, out: int) -> torch.Tensor:
    """Cut rows [y0,y1) and columns [x0,x1) of ``images[index]`` and area-resize each to out x out.

    All arguments but ``images`` and ``out`` are (K,) integer tensors; returns (K,3,out,out).
    Crops are taken in order of size, a window of the largest in each group at a time.
    """
    _, c, h, w = images.shape
    k = index.shape[0]
    result = images.new_zeros((k, c, out, out))
    if k == 0:
        return result
    hh, ww = y1 - y0, x1 - x0
    order = torch.maximum(hh, ww).argsort()
    budget = 1 << 22
    s = 0
    while s < k:
        # Grow the group while the window of its largest crop fits the memory budget.
        e = s + 1
        side = int(torch.maximum(hh[order[s]], ww[order[s]]))
        step = 1
        while e < k:
            nxt = min(k, e + step)
            side_n = int(torch.maximum(hh[order[nxt - 1]], ww[order[nxt - 1]]))
            if (nxt - s) * c * min(side_n, h) * min(side_n, w) > budget:
                break
            e, side, step = nxt, side_n, step * 2
        sel = order[s:e]
        wh, wwid = min(side, h), min(side, w)
        ys = torch.minimum(y0[sel], torch.full_like(y0[sel], h - wh))
        xs = torch.minimum(x0[sel], torch.full_like(x0[sel], w - wwid))
        rows = ys[:, None] + torch.arange(wh, device=images.device)[None]
        cols = xs[:, None] + torch.arange(wwid, device=images.device)[None]
        win = images[index[sel][:, None, None], :, rows[:, :, None], cols[:, None, :]]  # (k,wh,ww,c)
        win = win.permute(0, 3, 1, 2)
        wy = _area_weights(y0[sel] - ys, hh[sel], wh, out).to(images.dtype)  # (k,out,wh)
        wx = _area_weights(x0[sel] - xs, ww[sel], wwid, out).to(images.dtype)  # (k,out,ww)
        rows_out = torch.matmul(wy[:, None], win)  # (k,c,out,ww)
        result[sel] = torch.matmul(rows_out, wx[:, None].transpose(-1, -2))
        s = e
    return result


def _generate_boxes(reg: torch.Tensor, probs: torch.Tensor, scale: float, thresh: float):
    stride, cellsize = 2, 12
    reg = reg.permute(1, 0, 2, 3)
    mask = probs >= thresh
    mask_inds = mask.nonzero()
    image_inds = mask_inds[:, 0]
    score = probs[mask]
    reg = reg[:, mask].permute(1, 0)
    bb = mask_inds[:, 1:].to(reg.dtype).flip(1)
    q1 = ((stride * bb + 1) / scale).floor()
    q2 = ((stride * bb + cellsize - 1 + 1) / scale).floor()
    return torch.cat([q1, q2, score.unsqueeze(1), reg], dim=1), image_inds


def _bbreg(boxes: torch.Tensor, reg: torch.Tensor) -> torch.Tensor:
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    out = boxes.clone()
    out[:, 0] = boxes[:, 0] + reg[:, 0] * w
    out[:, 1] = boxes[:, 1] + reg[:, 1] * h
    out[:, 2] = boxes[:, 2] + reg[:, 2] * w
    out[:, 3] = boxes[:, 3] + reg[:, 3] * h
    return out


def _rerec(boxes: torch.Tensor) -> torch.Tensor:
    h = boxes[:, 3] - boxes[:, 1]
    w = boxes[:, 2] - boxes[:, 0]
    side = torch.max(w, h)
    out = boxes.clone()
    out[:, 0] = boxes[:, 0] + w * 0.5 - side * 0.5
    out[:, 1] = boxes[:, 1] + h * 0.5 - side * 0.5
    out[:, 2] = out[:, 0] + side
    out[:, 3] = out[:, 1] + side
    return out


def _pad(boxes: torch.Tensor, w: int, h: int):
    b = boxes[:, :4].trunc().int()
    x = b[:, 0].clamp(min=1)
    y = b[:, 1].clamp(min=1)
    ex = b[:, 2].clamp(max=w)
    ey = b[:, 3].clamp(max=h)
    return y, ey, x, ex


def _crops(images, boxes, image_inds, out):
    """Crops of ``boxes`` as facenet-pytorch cuts them; drops boxes whose crop is empty."""
    h, w = images.shape[2:]
    y, ey, x, ex = _pad(boxes, w, h)
    keep = (ey > y - 1) & (ex > x - 1)
    y, ey, x, ex = y[keep], ey[keep], x[keep], ex[keep]
    data = crop_resize(images, image_inds[keep], (y - 1).long(), ey.long(), (x - 1).long(), ex.long(), out)
    return (data - 127.5) * 0.0078125, keep


def _nms_min(boxes: torch.Tensor, scores: torch.Tensor, image_inds: torch.Tensor, threshold: float) -> torch.Tensor:
    """Greedy NMS with overlap measured as intersection over the smaller area, per image."""
    if boxes.shape[0] == 0:
        return torch.empty((0,), dtype=torch.long, device=boxes.device)
    offsets = image_inds.to(boxes) * (boxes.max() + 1)
    b = (boxes + offsets[:, None]).double()
    area = (b[:, 2] - b[:, 0] + 1) * (b[:, 3] - b[:, 1] + 1)
    order = scores.argsort(descending=True, stable=True)
    alive = torch.ones(b.shape[0], dtype=torch.bool, device=b.device)
    keep = []
    for i in order.tolist():
        if not alive[i]:
            continue
        keep.append(i)
        xx1 = torch.maximum(b[i, 0], b[:, 0])
        yy1 = torch.maximum(b[i, 1], b[:, 1])
        xx2 = torch.minimum(b[i, 2], b[:, 2])
        yy2 = torch.minimum(b[i, 3], b[:, 3])
        inter = (xx2 - xx1 + 1).clamp(min=0) * (yy2 - yy1 + 1).clamp(min=0)
        overlap = inter / torch.minimum(area[i], area)
        alive &= overlap <= threshold
        alive[i] = False
    return torch.tensor(keep, dtype=torch.long, device=boxes.device)


class FaceDetector(nn.Module):
    """MTCNN over a batch: ``forward(images)`` with images (B,3,H,W) RGB floats in [0, 1].

    Defaults equal facenet-pytorch's MTCNN: min face 20 px, thresholds (0.6, 0.7, 0.7),
    pyramid factor 0.709. ``min_face_size`` may also be given per call.
    """

    def __init__(
        self,
        min_face_size: float = 20.0,
        thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
        factor: float = 0.709,
        device: str | torch.device = "cpu",
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
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"images must have shape (B, 3, H, W), got {tuple(images.shape)}")
        th = thresholds or self.thresholds
        imgs = images.to(self.device, torch.float32) * 255.0
        b, _, h, w = imgs.shape

        # Stage 1: P-Net over the pyramid, NMS per scale and image, then per image.
        boxes, inds, picks, offset = [], [], [], 0
        for scale in self.scales(h, w, min_face_size, skip_below):
            data = resize_area(imgs, (int(h * scale + 1), int(w * scale + 1)))
            reg, logits = self.pnet((data - 127.5) * 0.0078125)
            probs = torch.softmax(logits, dim=1)
            bs, ii = _generate_boxes(reg, probs[:, 1], scale, th[0])
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
        boxes = _rerec(boxes)

        # Stage 2: R-Net on 24x24 crops.
        if boxes.shape[0]:
            data, keep = _crops(imgs, boxes, inds, 24)
            boxes, inds = boxes[keep], inds[keep]
            reg, logits = self.rnet(data)
            score = torch.softmax(logits, dim=1)[:, 1]
            ok = score > th[1]
            boxes = torch.cat([boxes[ok, :4], score[ok, None]], dim=1)
            inds, reg = inds[ok], reg[ok]
            pick = batched_nms(boxes[:, :4], boxes[:, 4], inds, 0.7)
            boxes, inds, reg = boxes[pick], inds[pick], reg[pick]
            boxes = _rerec(_bbreg(boxes, reg))

        # Stage 3: O-Net on 48x48 crops, landmarks, NMS by the smaller area.
        points = imgs.new_zeros((0, 5, 2))
        face_logits = imgs.new_zeros((0,))
        if boxes.shape[0]:
            data, keep = _crops(imgs, boxes, inds, 48)
            boxes, inds = boxes[keep], inds[keep]
            reg, marks, logits = self.onet(data)
            score = torch.softmax(logits, dim=1)[:, 1]
            ok = score > th[2]
            boxes = torch.cat([boxes[ok, :4], score[ok, None]], dim=1)
            inds, reg, marks = inds[ok], reg[ok], marks[ok]
            face_logits = (logits[:, 1] - logits[:, 0])[ok]
            bw = boxes[:, 2] - boxes[:, 0] + 1
            bh = boxes[:, 3] - boxes[:, 1] + 1
            px = bw[:, None] * marks[:, :5] + boxes[:, 0:1] - 1
            py = bh[:, None] * marks[:, 5:] + boxes[:, 1:2] - 1
            points = torch.stack([px, py], dim=2)
            boxes = _bbreg(boxes, reg)
            pick = _nms_min(boxes[:, :4], boxes[:, 4], inds, 0.7)
            boxes, inds, points, face_logits = boxes[pick], inds[pick], points[pick], face_logits[pick]
        if boxes.shape[0] == 0:
            face_logits = imgs.new_zeros((0,))
        return _dense(boxes, inds, points, face_logits, b, (h, w))

    @torch.inference_mode()
    def onet_logit(self, images: torch.Tensor) -> torch.Tensor:
        """O-Net's face log-odds for each whole image area-resized to 48x48: (B,) floats.

        A smooth signal for the search before the full cascade finds any face.
        """
        imgs = images.to(self.device, torch.float32) * 255.0
        data = resize_area(imgs, (48, 48))
        _, _, logits = self.onet((data - 127.5) * 0.0078125)
        return logits[:, 1] - logits[:, 0]


def _dense(
    boxes: torch.Tensor, inds: torch.Tensor, points: torch.Tensor, logits: torch.Tensor, b: int, size: tuple[int, int]
) -> Detections:
    dev = boxes.device
    inds = inds.long()
    probs = boxes[:, 4].contiguous()
    count = torch.bincount(inds, minlength=b)
    best_prob = torch.zeros(b, device=dev)
    best_box = torch.zeros(b, 4, device=dev)
    best_marks = torch.zeros(b, 5, 2, device=dev)
    best_logit = torch.zeros(b, device=dev)
    if probs.numel():
        best_prob.scatter_reduce_(0, inds, probs, reduce="amax", include_self=True)
        is_best = probs == best_prob[inds]
        # Where two faces tie, the later one wins; ties of float probabilities are vanishingly rare.
        best_box[inds[is_best]] = boxes[is_best, :4]
        best_marks[inds[is_best]] = points[is_best]
        best_logit[inds[is_best]] = logits[is_best]
    return Detections(
        boxes=boxes[:, :4].contiguous(),
        probs=probs,
        logits=logits,
        landmarks=points,
        image_index=inds,
        count=count,
        best_prob=best_prob,
        best_box=best_box,
        best_landmarks=best_marks,
        best_logit=best_logit,
        size=size,
    )
