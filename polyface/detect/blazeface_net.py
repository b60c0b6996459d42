"""MediaPipe's short-range BlazeFace network as polyface's own module over the shipped weights.

The weights were converted once from MediaPipe's ``face_detection_short_range.tflite`` by
``scripts/convert_blazeface.py`` and ship in the package as ``data/blazeface_short_range.npz``
(plain arrays, no pickle). The runtime needs only numpy and torch. Convolutions follow
TensorFlow's "SAME" padding, which is asymmetric for stride 2 (the extra row and column go
at the bottom and right).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

WEIGHTS_FILE = Path(__file__).with_name("data") / "blazeface_short_range.npz"

# (in channels, out channels, stride) of the 16 residual blocks, in graph order.
BLOCKS: tuple[tuple[int, int, int], ...] = (
    (24, 24, 1), (24, 28, 1), (28, 32, 2), (32, 36, 1), (36, 42, 1), (42, 48, 2),
    (48, 56, 1), (56, 64, 1), (64, 72, 1), (72, 80, 1), (80, 88, 1), (88, 96, 2),
    (96, 96, 1), (96, 96, 1), (96, 96, 1), (96, 96, 1),
)  # fmt: skip
FINE_BLOCKS = 11  # blocks 0..10 end on the 16x16 map (stride 8) that feeds the first heads
INPUT_SIZE = 128
NUM_ANCHORS = 896  # 16*16*2 + 8*8*6


class WeightsError(RuntimeError):
    """The BlazeFace weight file is missing, unreadable or does not fit the network."""


class Block(nn.Module):
    """Depthwise 3x3 then pointwise 1x1, added to the input (max-pooled when strided and
    zero-padded in channels when widened), then ReLU."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.stride, self.extra = stride, cout - cin
        self.dw = nn.Conv2d(cin, cin, 3, stride, padding=0 if stride == 2 else 1, groups=cin)
        self.pw = nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 2:
            h = self.pw(self.dw(F.pad(x, (0, 1, 0, 1))))
            x = F.max_pool2d(x, 2)
        else:
            h = self.pw(self.dw(x))
        if self.extra:
            x = F.pad(x, (0, 0, 0, 0, 0, self.extra))
        return F.relu(h + x)


class BlazeFaceNet(nn.Module):
    """The network alone: (B,3,128,128) RGB in [-1, 1] -> regressors (B,896,16), logits (B,896).

    Anchor order is MediaPipe's: the 16x16 map (2 anchors a cell) then the 8x8 map (6 a cell),
    row by row, anchors of a cell together. Regressor columns: box centre x, y, width, height,
    then six keypoints as x, y pairs; all in pixels of the 128 input, relative to the anchor.
    """

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 24, 5, 2)
        self.blocks = nn.ModuleList(Block(*b) for b in BLOCKS)
        self.cls8 = nn.Conv2d(88, 2, 1)
        self.reg8 = nn.Conv2d(88, 32, 1)
        self.cls16 = nn.Conv2d(96, 6, 1)
        self.reg16 = nn.Conv2d(96, 96, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b = x.shape[0]
        x = x.contiguous(memory_format=torch.channels_last)  # depthwise convolutions: ~5x faster on CPU
        x = F.relu(self.stem(F.pad(x, (1, 2, 1, 2))))
        for block in self.blocks[:FINE_BLOCKS]:
            x = block(x)
        fine = x
        for block in self.blocks[FINE_BLOCKS:]:
            x = block(x)

        def flat(t: torch.Tensor, n: int) -> torch.Tensor:  # NCHW -> (B, H*W*anchors, n)
            return t.permute(0, 2, 3, 1).reshape(b, t.shape[1] * t.shape[2] * t.shape[3] // n, n)

        reg = torch.cat([flat(self.reg8(fine), 16), flat(self.reg16(x), 16)], dim=1)
        logits = torch.cat([flat(self.cls8(fine), 1), flat(self.cls16(x), 1)], dim=1)
        return reg, logits[..., 0]


def expected_shapes() -> dict[str, tuple[int, ...]]:
    """Parameter name -> shape of the network, what the weight file must hold exactly."""
    return {k: tuple(v.shape) for k, v in BlazeFaceNet().state_dict().items()}


def read_weights(path: str | Path = WEIGHTS_FILE) -> dict[str, torch.Tensor]:
    """The state dict in ``path``, checked name by name and shape by shape; ``WeightsError`` if not."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise WeightsError(f"{path}: cannot read BlazeFace weights ({exc})") from exc
    want = expected_shapes()
    missing, unexpected = sorted(set(want) - set(arrays)), sorted(set(arrays) - set(want))
    if missing or unexpected:
        raise WeightsError(f"{path}: missing arrays {missing}, unexpected arrays {unexpected}")
    for name, shape in want.items():
        arr = arrays[name]
        if tuple(arr.shape) != shape or arr.dtype != np.float32:
            raise WeightsError(
                f"{path}: array '{name}' is {arr.dtype}{list(arr.shape)}, expected float32{list(shape)}"
            )
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}


@lru_cache(maxsize=4)
def _cached(path: str) -> dict[str, torch.Tensor]:
    return read_weights(path)


def load_net(path: str | Path = WEIGHTS_FILE, device: str | torch.device = "cpu") -> BlazeFaceNet:
    """The network with the weights of ``path``, in eval mode, on ``device``."""
    net = BlazeFaceNet()
    net.load_state_dict(_cached(str(Path(path).resolve())), strict=True)
    return net.eval().requires_grad_(False).to(device, memory_format=torch.channels_last)
