"""The search's renderer: a batch of genomes to a (B,3,H,W) tensor on the device.

Cairo (canonical, exact) on the CPU; the torch rasterizer, which reproduces Cairo's
unantialiased output, where the tensors live on a CUDA GPU.
"""

from __future__ import annotations

import torch

from polyface.genome import Genome
from polyface.render import torch as torch_render
from polyface.render.cairo import BatchRenderer


class Renderer:
    """Renders genomes to (B,3,H,W) float tensors in [0, 1] on ``device``, without antialiasing:
    Cairo on CPU, torch on cuda."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._cairo: dict[int, BatchRenderer] = {}

    def __call__(self, genomes: list[Genome], size: int) -> torch.Tensor:
        if self.device.type == "cuda":
            return torch_render.render(torch_render.pack(genomes, self.device), size)
        if size not in self._cairo:
            self._cairo[size] = BatchRenderer(size, antialias=False)
        return self._cairo[size].render_tensor(genomes).to(self.device)


def make_renderer(device: str | torch.device) -> Renderer:
    """The renderer the search uses on ``device``."""
    return Renderer(torch.device(device))
