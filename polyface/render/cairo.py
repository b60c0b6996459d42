"""The canonical renderer: Cairo, nonzero fill rule, any size, raster and vector outputs.

Writing files needs no torch: only the tensor path (``render_tensor``, ``to_tensor``,
``render_batch``) imports it, when first called.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import cairo
import numpy as np

from polyface import limits
from polyface.atomic import atomic_path
from polyface.genome import Genome
from polyface.validate import is_int

if TYPE_CHECKING:
    import torch

FORMATS = ("png", "svg", "pdf")
MIN_SIZE, MAX_SIZE = 1, int(limits.RENDER_SIZE.hi)  # any size a user may ask for; smaller for tests and frames


def draw(ctx: cairo.Context, genome: Genome, size: int) -> None:
    """Paint ``genome`` on a ``size`` x ``size`` canvas through ``ctx`` (any surface)."""
    r, g, b = (float(v) for v in genome.background)
    ctx.set_operator(cairo.OPERATOR_SOURCE)
    ctx.set_source_rgb(r, g, b)
    ctx.paint()
    ctx.set_operator(cairo.OPERATOR_OVER)
    ctx.set_fill_rule(cairo.FILL_RULE_WINDING)
    verts, cols = genome.drawn()
    pts = (verts.astype(np.float64) * size).tolist()
    for poly, (cr, cg, cb, ca) in zip(pts, cols.tolist()):
        if ca <= 0.0:
            continue
        ctx.move_to(*poly[0])
        for x, y in poly[1:]:
            ctx.line_to(x, y)
        ctx.close_path()
        ctx.set_source_rgba(cr, cg, cb, ca)
        ctx.fill()


def _rgb_view(surface: cairo.ImageSurface, size: int) -> np.ndarray:
    """An (H, W, 3) RGB view of an opaque RGB24/ARGB32 surface (Cairo stores BGRx on little-endian)."""
    stride = surface.get_stride()
    buf = np.ndarray((size, stride // 4, 4), np.uint8, surface.get_data())
    return buf[:, :size, 2::-1]


class BatchRenderer:
    """Renders many genomes at one size, reusing a single surface; for the search loop."""

    def __init__(self, size: int, antialias: bool = False) -> None:
        check_size(size)
        self.size = size
        self.surface = cairo.ImageSurface(cairo.FORMAT_RGB24, size, size)
        self.ctx = cairo.Context(self.surface)
        self.ctx.set_antialias(cairo.ANTIALIAS_DEFAULT if antialias else cairo.ANTIALIAS_NONE)

    def render_into(self, genome: Genome, out: np.ndarray) -> None:
        """Render ``genome`` into ``out``, an (H, W, 3) uint8 array."""
        draw(self.ctx, genome, self.size)
        self.surface.flush()
        out[...] = _rgb_view(self.surface, self.size)

    def render(self, genomes: list[Genome]) -> np.ndarray:
        """Render a list of genomes to a (B, H, W, 3) uint8 array."""
        out = np.empty((len(genomes), self.size, self.size, 3), np.uint8)
        for i, g in enumerate(genomes):
            self.render_into(g, out[i])
        return out

    def render_tensor(self, genomes: list[Genome]) -> torch.Tensor:
        """Render a list of genomes to a (B, 3, H, W) float32 tensor in [0, 1] on the CPU."""
        return to_tensor(self.render(genomes))


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """(B, H, W, 3) uint8 -> (B, 3, H, W) float32 in [0, 1]."""
    import torch  # here, so that file output (PNG/SVG/PDF, GIF frames, contact sheets) runs without it

    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255.0)


def check_size(size: int) -> None:
    if not is_int(size) or not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"size must be an integer in {MIN_SIZE}..{MAX_SIZE} pixels, got {size!r}")


def render_rgb(genome: Genome, size: int, antialias: bool = True) -> np.ndarray:
    """Render one genome to an (H, W, 3) uint8 RGB array."""
    return BatchRenderer(size, antialias).render([genome])[0]


def render_batch(genomes: list[Genome], size: int, antialias: bool = True) -> torch.Tensor:
    """Render genomes to a (B, 3, H, W) float32 tensor in [0, 1]."""
    return BatchRenderer(size, antialias).render_tensor(genomes)


def save(genome: Genome, path: str | Path, size: int, antialias: bool = True) -> Path:
    """Write ``genome`` at ``size`` px to PNG, SVG or PDF, chosen by the extension; atomically."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"output {str(path)!r}: extension must be one of .png, .svg, .pdf")
    check_size(size)
    with atomic_path(path) as tmp:
        if fmt == "png":
            surface = cairo.ImageSurface(cairo.FORMAT_RGB24, size, size)
        elif fmt == "svg":
            surface = cairo.SVGSurface(str(tmp), size, size)
            surface.set_document_unit(cairo.SVGUnit.PX)
        else:
            surface = cairo.PDFSurface(str(tmp), size, size)
        ctx = cairo.Context(surface)
        ctx.set_antialias(cairo.ANTIALIAS_DEFAULT if antialias else cairo.ANTIALIAS_NONE)
        draw(ctx, genome, size)
        if fmt == "png":
            surface.write_to_png(str(tmp))
        surface.finish()
    return path
