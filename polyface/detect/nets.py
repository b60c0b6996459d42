"""MTCNN's three networks (P-Net, R-Net, O-Net) as polyface's own modules over the shipped weights.

The weights come from the ``facenet-pytorch`` distribution, which carries them as
``facenet_pytorch/data/{pnet,rnet,onet}.pt``. polyface finds those files without importing
that package and loads them with ``weights_only=True`` and ``strict=True``. Nothing is
downloaded.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

WEIGHTS_PACKAGE = "facenet_pytorch"


class PNet(nn.Module):
    """Proposal network: fully convolutional, 12x12 receptive field, stride 2."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 10, kernel_size=3)
        self.prelu1 = nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(10, 16, kernel_size=3)
        self.prelu2 = nn.PReLU(16)
        self.conv3 = nn.Conv2d(16, 32, kernel_size=3)
        self.prelu3 = nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, kernel_size=1)
        self.conv4_2 = nn.Conv2d(32, 4, kernel_size=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B,3,H,W) normalised -> box regression (B,4,h,w) and face logits (B,2,h,w)."""
        x = x.contiguous(memory_format=torch.channels_last)  # pooling is many times faster so on CPU
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu2(self.conv2(x))
        x = self.prelu3(self.conv3(x))
        return self.conv4_2(x), self.conv4_1(x)


class RNet(nn.Module):
    """Refinement network on 24x24 crops."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 28, kernel_size=3)
        self.prelu1 = nn.PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(28, 48, kernel_size=3)
        self.prelu2 = nn.PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(48, 64, kernel_size=2)
        self.prelu3 = nn.PReLU(64)
        self.dense4 = nn.Linear(576, 128)
        self.prelu4 = nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(K,3,24,24) normalised -> box regression (K,4) and face logits (K,2)."""
        x = x.contiguous(memory_format=torch.channels_last)  # pooling is many times faster so on CPU
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x))
        x = x.permute(0, 3, 2, 1).contiguous()  # the original port's layout, kept for its weights
        x = self.prelu4(self.dense4(x.view(x.shape[0], -1)))
        return self.dense5_2(x), self.dense5_1(x)


class ONet(nn.Module):
    """Output network on 48x48 crops: face logits, box regression and five landmarks."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, kernel_size=3)
        self.prelu1 = nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3)
        self.prelu2 = nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(64, 64, kernel_size=3)
        self.prelu3 = nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4 = nn.Conv2d(64, 128, kernel_size=2)
        self.prelu4 = nn.PReLU(128)
        self.dense5 = nn.Linear(1152, 256)
        self.prelu5 = nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(K,3,48,48) normalised -> box regression (K,4), landmarks (K,10), face logits (K,2)."""
        x = x.contiguous(memory_format=torch.channels_last)  # pooling is many times faster so on CPU
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x))
        x = x.permute(0, 3, 2, 1).contiguous()
        x = self.prelu5(self.dense5(x.view(x.shape[0], -1)))
        return self.dense6_2(x), self.dense6_3(x), self.dense6_1(x)


class WeightsNotFound(RuntimeError):
    """The package that carries MTCNN's weight files is not installed."""


def weights_dir() -> Path:
    """The folder holding pnet.pt, rnet.pt and onet.pt, found without importing its package."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise WeightsNotFound(
            "MTCNN weights not found: install the package that carries them with "
            "`pip install 'facenet-pytorch>=2.5.3,<2.6' --no-deps`"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "data"
    missing = [n for n in ("pnet.pt", "rnet.pt", "onet.pt") if not (folder / n).is_file()]
    if missing:
        raise WeightsNotFound(f"MTCNN weights missing in {folder}: {', '.join(missing)}")
    return folder


@lru_cache(maxsize=1)
def _state_dicts() -> tuple[dict, dict, dict]:
    folder = weights_dir()
    return tuple(
        torch.load(folder / f"{name}.pt", map_location="cpu", weights_only=True) for name in ("pnet", "rnet", "onet")
    )


def load_nets(device: str | torch.device = "cpu") -> tuple[PNet, RNet, ONet]:
    """P-Net, R-Net and O-Net with the shipped weights, in eval mode, on ``device``."""
    nets = (PNet(), RNet(), ONet())
    for net, state in zip(nets, _state_dicts()):
        net.load_state_dict(state, strict=True)
        net.eval().requires_grad_(False).to(device, memory_format=torch.channels_last)
    return nets
