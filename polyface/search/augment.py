"""Robust scoring: mild random transformations that multiply the batch, not the Python loop.

Each of ``copies`` transformations (a shift, a scale, a small rotation, a slight blur and a
colour jitter) is drawn once per call and applied to every image, so all candidates of a
generation are judged under the same draws and stay comparable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentSettings:
    copies: int = 4
    shift: float = 0.03  # fraction of the canvas
    scale: float = 0.08  # +- relative
    rotate: float = 4.0  # +- degrees
    blur: float = 0.6  # max Gaussian sigma in pixels at 64 px (scaled with size)
    colour: float = 0.08  # +- brightness and contrast


def _blur(images: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur with one sigma per image (0 leaves the image as it is)."""
    radius = int(math.ceil(3 * float(sigma.max()))) if sigma.numel() else 0
    if radius == 0:
        return images
    x = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    s = sigma.clamp(min=1e-3)[:, None]
    k = torch.exp(-0.5 * (x[None] / s) ** 2)
    k = k / k.sum(1, keepdim=True)  # (N, 2r+1)
    n, c, h, w = images.shape
    flat = images.reshape(1, n * c, h, w)
    kc = k.repeat_interleave(c, 0)
    flat = F.conv2d(F.pad(flat, (radius, radius, 0, 0), mode="replicate"), kc[:, None, None, :], groups=n * c)
    flat = F.conv2d(F.pad(flat, (0, 0, radius, radius), mode="replicate"), kc[:, None, :, None], groups=n * c)
    return flat.reshape(n, c, h, w)


def augment(images: torch.Tensor, s: AugmentSettings, gen: torch.Generator) -> torch.Tensor:
    """(B,3,H,W) -> (copies*B,3,H,W): copy k of image b is at index k*B + b.

    The first copy is the image as rendered; the others are transformed (only they are computed).
    """
    b, _, h, w = images.shape
    k = s.copies
    u = torch.rand((k, 6), generator=gen) * 2 - 1  # draws on the CPU generator: same on every device
    u = u[1:]  # the first copy's draws go unused: it stays as rendered
    if len(u) == 0:
        return images.clone()
    angle = u[:, 0] * math.radians(s.rotate)
    scale = 1.0 + u[:, 1] * s.scale
    tx, ty = u[:, 2] * s.shift * 2, u[:, 3] * s.shift * 2  # affine_grid works in [-1, 1]
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)  # (k-1,2,3)
    theta = theta.to(images.device, images.dtype).repeat_interleave(b, 0)
    reps = images.repeat(k - 1, 1, 1, 1)
    grid = F.affine_grid(theta, list(reps.shape), align_corners=False)
    out = F.grid_sample(reps, grid, mode="bilinear", padding_mode="border", align_corners=False)
    sigma = ((u[:, 4] + 1) / 2 * s.blur * (h / 64.0)).to(images.device, images.dtype)
    out = _blur(out, sigma.repeat_interleave(b))
    gain = (1.0 + u[:, 5] * s.colour).to(images.device, images.dtype).repeat_interleave(b)
    mean = out.mean(dim=(1, 2, 3), keepdim=True)
    out = ((out - mean) * gain[:, None, None, None] + mean + (gain[:, None, None, None] - 1) * 0.5).clamp(0, 1)
    return torch.cat([images, out])
