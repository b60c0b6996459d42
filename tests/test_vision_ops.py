"""torchvision's box ops called without importing torchvision's Python package: the same results."""

import subprocess
import sys

import pytest
import torch

from polyface.detect import vision_ops

tv_ops = pytest.importorskip("torchvision.ops")


def _boxes(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * 100
    wh = torch.rand(n, 2, generator=g) * 40 + 1
    scores = torch.rand(n, generator=g)
    idxs = torch.randint(0, 7, (n,), generator=g)
    return torch.cat([xy, xy + wh], 1), scores, idxs


@pytest.mark.parametrize("n", [0, 1, 40, 600, 1500])  # 1500 boxes: torchvision's per-class branch
def test_nms_and_batched_nms_equal_torchvision(n):
    boxes, scores, idxs = _boxes(n, n)
    for th in (0.3, 0.5, 0.7):
        assert torch.equal(vision_ops.nms(boxes, scores, th), tv_ops.nms(boxes, scores, th))
        assert torch.equal(vision_ops.batched_nms(boxes, scores, idxs, th), tv_ops.batched_nms(boxes, scores, idxs, th))


def test_roi_align_equals_torchvision():
    g = torch.Generator().manual_seed(0)
    images = torch.rand(3, 1, 64, 64, generator=g)
    boxes, _, _ = _boxes(5, 1)
    rois = torch.cat([torch.tensor([0, 1, 2, 2, 1.0])[:, None], boxes * 0.6], 1)
    for aligned in (False, True):
        got = vision_ops.roi_align(images, rois, (25, 25), 1.0, 2, aligned)
        want = tv_ops.roi_align(images, rois, (25, 25), spatial_scale=1.0, sampling_ratio=2, aligned=aligned)
        assert torch.equal(got, want)


def test_a_run_imports_no_torchvision():
    """Importing torchvision's package costs a run's start about 2 s (it imports torch._dynamo)."""
    code = (
        "import sys, torch\n"
        "import polyface.run, polyface.detect.prior\n"
        "from polyface.detect import vision_ops\n"
        "b = torch.tensor([[0., 0, 10, 10], [1, 1, 10, 10]])\n"
        "assert vision_ops.batched_nms(b, torch.tensor([0.9, 0.8]), torch.tensor([0, 0]), 0.5).tolist() == [0]\n"
        "assert vision_ops._loaded()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'torchvision' or m.startswith('torch._dynamo')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_without_the_library_the_ops_fall_back_to_torchvision(monkeypatch):
    boxes, scores, idxs = _boxes(50, 7)
    images = torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(1))
    rois = torch.cat([torch.tensor([0.0, 1])[:, None], boxes[:2] * 0.3], 1)
    want = (vision_ops.batched_nms(boxes, scores, idxs, 0.5), vision_ops.roi_align(images, rois, (7, 7), 1.0, 2, True))
    monkeypatch.setattr(vision_ops, "_loaded", lambda: False)
    assert torch.equal(vision_ops.batched_nms(boxes, scores, idxs, 0.5), want[0])
    assert torch.equal(vision_ops.roi_align(images, rois, (7, 7), 1.0, 2, True), want[1])
