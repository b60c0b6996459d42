"""torchvision's compiled box ops (``nms``, ``batched_nms``, ``roi_align``) without importing
torchvision's Python package.

``import torchvision`` imports its models and, through ``torchvision.ops.roi_align``,
``torch._dynamo``: about 2 s of every run's start on 2 CPU cores, for two small kernels. The
kernels are torchvision's C++ ops, registered with torch when its extension library loads. This
module loads that library alone, as torchvision's own ``extension.py`` does, and calls the ops as
``torchvision.ops`` does (the same kernels, the same results). Where the library cannot be found
or loaded, it falls back to ``torchvision.ops``.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
from functools import lru_cache

import torch

LIBRARIES = ("_C_stable", "_C")  # torchvision's extension library: its name in 0.29, and before
VANILLA_ABOVE = 4000  # torchvision's batched_nms: more box coordinates than this (on the CPU) run per class


@lru_cache(maxsize=1)
def _loaded() -> bool:
    """True when torchvision's ops are registered with torch (its extension library loaded here)."""
    if hasattr(torch.ops.torchvision, "nms"):
        return True
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return False
    folder = next(iter(spec.submodule_search_locations))
    finder = importlib.machinery.FileFinder(
        folder, (importlib.machinery.ExtensionFileLoader, importlib.machinery.EXTENSION_SUFFIXES)
    )
    for name in LIBRARIES:
        found = finder.find_spec(name)
        if found is None or not found.origin or not os.path.isfile(found.origin):
            continue
        try:
            torch.ops.load_library(found.origin)
        except (ImportError, OSError, RuntimeError):
            continue
        if hasattr(torch.ops.torchvision, "nms"):
            return True
    return False


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """``torchvision.ops.nms``: indices of the boxes (N,4: x0, y0, x1, y1) kept, best score first."""
    if not _loaded():
        from torchvision.ops import nms as tv_nms

        return tv_nms(boxes, scores, iou_threshold)
    return torch.ops.torchvision.nms(boxes, scores, float(iou_threshold))


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, idxs: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """``torchvision.ops.batched_nms``: NMS within each value of ``idxs``, best score first."""
    if boxes.numel() > (VANILLA_ABOVE if boxes.device.type == "cpu" else 100_000):
        keep_mask = torch.zeros_like(scores, dtype=torch.bool)
        for class_id in torch.unique(idxs):
            curr = torch.where(idxs == class_id)[0]
            keep_mask[curr[nms(boxes[curr], scores[curr], iou_threshold)]] = True
        keep = torch.where(keep_mask)[0]
        return keep[scores[keep].sort(descending=True)[1]]
    if boxes.numel() == 0:
        return torch.empty((0,), dtype=torch.int64, device=boxes.device)
    offsets = idxs.to(boxes) * (boxes.max() + torch.tensor(1).to(boxes))
    return nms(boxes + offsets[:, None], scores, iou_threshold)


def roi_align(
    images: torch.Tensor,
    rois: torch.Tensor,
    output_size: tuple[int, int],
    spatial_scale: float = 1.0,
    sampling_ratio: int = -1,
    aligned: bool = False,
) -> torch.Tensor:
    """``torchvision.ops.roi_align`` with ``rois`` (K,5: image index, x0, y0, x1, y1)."""
    if not _loaded():
        from torchvision.ops import roi_align as tv_roi_align

        return tv_roi_align(images, rois, output_size, spatial_scale, sampling_ratio, aligned)
    return torch.ops.torchvision.roi_align(
        images, rois, float(spatial_scale), int(output_size[0]), int(output_size[1]), int(sampling_ratio), bool(aligned)
    )
