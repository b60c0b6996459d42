"""Box arithmetic of the MTCNN cascade, as facenet-pytorch does it: candidate boxes from
P-Net's map, regression, squaring, and NMS by the smaller area."""

from __future__ import annotations

import torch


def generate_boxes(reg: torch.Tensor, probs: torch.Tensor, scale: float, thresh: float):
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


def bbreg(boxes: torch.Tensor, reg: torch.Tensor) -> torch.Tensor:
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    out = boxes.clone()
    out[:, 0] = boxes[:, 0] + reg[:, 0] * w
    out[:, 1] = boxes[:, 1] + reg[:, 1] * h
    out[:, 2] = boxes[:, 2] + reg[:, 2] * w
    out[:, 3] = boxes[:, 3] + reg[:, 3] * h
    return out


def rerec(boxes: torch.Tensor) -> torch.Tensor:
    h = boxes[:, 3] - boxes[:, 1]
    w = boxes[:, 2] - boxes[:, 0]
    side = torch.max(w, h)
    out = boxes.clone()
    out[:, 0] = boxes[:, 0] + w * 0.5 - side * 0.5
    out[:, 1] = boxes[:, 1] + h * 0.5 - side * 0.5
    out[:, 2] = out[:, 0] + side
    out[:, 3] = out[:, 1] + side
    return out


def nms_min(boxes: torch.Tensor, scores: torch.Tensor, image_inds: torch.Tensor, threshold: float) -> torch.Tensor:
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
