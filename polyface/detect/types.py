"""The detector contract: (B,3,H,W) images in [0, 1] in, dense ``Detections`` out.

Every face detector (MTCNN, the Haar cascade, and any added later) implements ``Detector``,
so the judge can combine detectors without knowing which they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch


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




def dense_detections(
    boxes: torch.Tensor, inds: torch.Tensor, points: torch.Tensor, logits: torch.Tensor, b: int, size: tuple[int, int]
) -> Detections:
    """Detections from K faces: ``boxes`` (K,5; x0, y0, x1, y1, prob), ``inds`` (K,) image index,
    ``points`` (K,5,2) landmarks, ``logits`` (K,); ``b`` images of ``size`` (H, W)."""
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


def concat_detections(parts: list[Detections]) -> Detections:
    """One ``Detections`` for the images of ``parts`` (batches of the same size), in order."""
    if len(parts) == 1:
        return parts[0]
    offsets = torch.cumsum(torch.tensor([0] + [len(d.count) for d in parts[:-1]]), 0).tolist()
    cat = {
        name: torch.cat([getattr(d, name) for d in parts])
        for name in ("boxes", "probs", "logits", "landmarks", "count", "best_prob", "best_box", "best_landmarks", "best_logit")
    }
    index = torch.cat([d.image_index + off for d, off in zip(parts, offsets)])
    return Detections(image_index=index, size=parts[0].size, **cat)


@runtime_checkable
class Detector(Protocol):
    """A face detector as a function of a batch: never sees a genome.

    ``__call__(images)`` takes (B,3,H,W) RGB floats in [0, 1] on any device and returns the
    faces it finds as ``Detections`` (tensors on ``device``). ``name`` identifies it in logs
    and settings.
    """

    name: str

    @property
    def device(self) -> torch.device: ...

    def __call__(self, images: torch.Tensor) -> Detections: ...
