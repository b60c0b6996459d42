"""A differentiable soft rasterizer of genomes, for refining them by gradient descent.

A polygon covers a pixel by ``sigmoid(sharpness * d)``, where ``d`` is the signed distance in
pixels from the pixel centre to the polygon's fill boundary, positive inside. Inside and outside
follow the nonzero winding rule of Cairo's fill (``FILL_RULE_WINDING``); the boundary is the part
of the edges with winding zero on exactly one side, so the edges crossing a self-overlapping
polygon's interior (a pentagram's inner pentagon) leave no seam. The winding number is piecewise
constant and carries no gradient; the distance carries the gradient to the vertices. Polygons are
composited in order with OVER in floats (no 8-bit rounding), from the background, as Cairo draws
them (``polyface.render.cairo.draw``), symmetric genomes with each polygon followed by its mirror
image about ``x = 0.5``.

As ``sharpness`` grows the image tends to Cairo's ``ANTIALIAS_NONE`` render (pixel-centre
sampling); the antialiased render is matched best near ``sharpness`` 4 to 8, where the sigmoid's
ramp is about one pixel wide (tests/test_render_soft.py states the tolerances). A polygon of zero
area still shows as a faint line or dot of coverage up to 0.5.

Everything follows the device and dtype of the vertices. Coverage is computed only in the
``TILE`` x ``TILE`` pixel tiles near each polygon (elsewhere it is below the dtype's resolution),
for chunks of polygons whose temporaries stay under about ``max_bytes``; autograd keeps a few
``(B, N, H, W)`` tensors (the coverage, the image after each polygon) for the backward pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from polyface.genome import Genome
from polyface.validate import is_int

DEFAULT_MAX_BYTES = 64 << 20  # bound on one chunk's (genomes x polygons x pieces x pixels) temporaries
TILE = 8  # coverage is computed in tiles of TILE x TILE pixels near each polygon


def _cross(ax, ay, bx, by):
    return ax * by - ay * bx


def _winding_at(points: torch.Tensor, verts: torch.Tensor) -> torch.Tensor:
    """Winding numbers of ``points`` (B, n, Q, 2) about polygons ``verts`` (B, n, V, 2): (B, n, Q)."""
    a = verts[:, :, None]  # (B, n, 1, V, 2)
    b = torch.roll(verts, -1, 2)[:, :, None]
    q = points[:, :, :, None]  # (B, n, Q, 1, 2)
    side = _cross(b[..., 0] - a[..., 0], b[..., 1] - a[..., 1], q[..., 0] - a[..., 0], q[..., 1] - a[..., 1])
    up = (a[..., 1] <= q[..., 1]) & (q[..., 1] < b[..., 1]) & (side > 0)
    down = (b[..., 1] <= q[..., 1]) & (q[..., 1] < a[..., 1]) & (side < 0)
    return up.sum(-1) - down.sum(-1)


def _boundary(verts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The fill boundary of polygons ``verts`` (B, n, V, 2) in pixels, as straight pieces.

    Returns the pieces' ends ``p0``, ``p1`` (B, n, S, 2), differentiable in the vertices, and
    ``valid`` (B, n, S): a piece is valid when it has length and the winding number is zero on
    exactly one side of it. Edges are cut where other edges cross them.
    """
    a = verts
    e = torch.roll(verts, -1, 2) - verts
    ai, ei, aj, ej = a[:, :, :, None], e[:, :, :, None], a[:, :, None], e[:, :, None]  # edge i cut by edge j
    denom = _cross(ei[..., 0], ei[..., 1], ej[..., 0], ej[..., 1])
    safe = torch.where(denom == 0, torch.ones_like(denom), denom)
    dx, dy = aj[..., 0] - ai[..., 0], aj[..., 1] - ai[..., 1]
    t = _cross(dx, dy, ej[..., 0], ej[..., 1]) / safe
    u = _cross(dx, dy, ei[..., 0], ei[..., 1]) / safe
    crossing = (denom != 0) & (t > 0) & (t < 1) & (u > 0) & (u < 1)
    t = torch.where(crossing, t, torch.ones_like(t))
    ends = torch.cat([torch.zeros_like(t[..., :1]), t, torch.ones_like(t[..., :1])], -1)
    ends = ends.sort(-1).values  # (B, n, V, V + 2): cut parameters along each edge, 0 and 1 included
    p = a[:, :, :, None] + ends[..., None] * e[:, :, :, None]  # (B, n, V, V + 2, 2)
    p0, p1 = p[:, :, :, :-1].flatten(2, 3), p[:, :, :, 1:].flatten(2, 3)  # (B, n, S, 2)
    with torch.no_grad():
        v64, q0, q1 = verts.double(), p0.double(), p1.double()
        d = q1 - q0
        length = d.norm(dim=-1, keepdim=True)
        normal = torch.stack([-d[..., 1], d[..., 0]], -1) / length.clamp_min(1e-300) * 1e-3
        mid = (q0 + q1) / 2
        left, right = _winding_at(mid + normal, v64), _winding_at(mid - normal, v64)
        valid = (length[..., 0] > 1e-9) & ((left == 0) != (right == 0))
        # Keep the valid pieces, first, and only as many as the polygon with most of them has.
        order = torch.sort(valid.to(torch.int8), dim=-1, descending=True, stable=True).indices
        keep = max(1, int(valid.sum(-1).max())) if valid.numel() else 1
        order = order[..., :keep]
        valid = valid.gather(-1, order)
    index = order[..., None].expand(*order.shape, 2)
    return p0.gather(2, index), p1.gather(2, index), valid


def _inside(verts: torch.Tensor, size: int) -> torch.Tensor:
    """Nonzero winding at the pixel centres of polygons ``verts`` (B, n, V, 2) in pixels: (B, n, H, W) bool."""
    bsz, n, _, _ = verts.shape
    a, b = verts, torch.roll(verts, -1, 2)
    centre = torch.arange(size, device=verts.device, dtype=verts.dtype) + 0.5  # row and column centres
    ay, by = a[..., 1, None], b[..., 1, None]  # (B, n, V, 1)
    active = (torch.minimum(ay, by) <= centre) & (centre < torch.maximum(ay, by))  # (B, n, V, H)
    dy = torch.where(by == ay, torch.ones_like(ay), by - ay)
    x = a[..., 0, None] + (centre - ay) * (b[..., 0, None] - a[..., 0, None]) / dy
    # An edge counts for the pixels whose centre is at or right of it, from column ceil(x - 0.5).
    col = torch.ceil(x - 0.5).clamp(0, size).long()
    col = torch.where(active, col, torch.full_like(col, size))
    direction = (torch.sign(by - ay) * active).to(torch.int8)
    winding = torch.zeros((bsz, n, size, size + 1), dtype=torch.int8, device=verts.device)
    winding.scatter_add_(3, col.transpose(2, 3), direction.transpose(2, 3))
    return winding[..., :size].cumsum(3, dtype=torch.int8) != 0


def _distance(ax, ay, bx, by, px, py):
    """Distance from points (px, py) to segments (ax, ay)-(bx, by), all broadcast together."""
    ex, ey = bx - ax, by - ay
    t = (((px - ax) * ex + (py - ay) * ey) / (ex * ex + ey * ey).clamp_min(1e-12)).clamp(0, 1)
    return ((px - ax - t * ex).square() + (py - ay - t * ey).square()).clamp_min(1e-12).sqrt()


def _coverage(verts: torch.Tensor, size: int, sharpness: float | torch.Tensor, max_bytes: int) -> torch.Tensor:
    """``sigmoid(sharpness * signed distance)`` of each pixel for polygons ``verts`` (B, n, V, 2) in pixels.

    Returns (B, n, H, W). It is computed in the tiles of ``TILE`` x ``TILE`` pixels near each
    polygon's bounding box; farther away it is below the dtype's resolution and taken as 0.
    """
    bsz, n = verts.shape[:2]
    tiles = -(-size // TILE)
    grid = tiles * TILE
    p0, p1, valid = _boundary(verts)
    with torch.no_grad():
        inside = _inside(verts.detach(), grid)
        s = float(sharpness.detach() if isinstance(sharpness, torch.Tensor) else sharpness)
        margin = -math.log(torch.finfo(verts.dtype).eps) / s if s > 0 else math.inf
        first = torch.arange(tiles, device=verts.device, dtype=verts.dtype) * TILE + 0.5  # a tile's first pixel centre
        lo, hi = verts.detach().amin(2)[..., None] - margin, verts.detach().amax(2)[..., None] + margin  # (B, n, 2, 1)
        near = (first <= hi) & (first + (TILE - 1) >= lo)  # (B, n, 2, tiles): x, then y
        active = near[:, :, 1, :, None] & near[:, :, 0, None, :] & valid.any(-1)[..., None, None]
        b, k, ty, tx = active.nonzero(as_tuple=True)  # the K (genome, polygon, tile) triples to compute
        offset = torch.arange(TILE, device=verts.device)
        rows = ty[:, None] * TILE + offset.repeat_interleave(TILE)  # (K, TILE * TILE) pixels of each tile
        cols = tx[:, None] * TILE + offset.repeat(TILE)
        px, py = cols.to(verts.dtype) + 0.5, rows.to(verts.dtype) + 0.5
        pixel = (b[:, None], k[:, None], rows, cols)
        inside = inside[pixel]
        q0, q1, ok = p0.detach()[b, k, None], p1.detach()[b, k, None], valid[b, k, None]  # (K, 1, S, 2), (K, 1, S)
        step = max(1, max_bytes // (q0.shape[2] * TILE * TILE * verts.element_size() * 8))
        nearest = []
        for i in range(0, len(b), step):
            j = slice(i, i + step)
            d = _distance(*q0[j].unbind(-1), *q1[j].unbind(-1), px[j, :, None], py[j, :, None])  # (chunk, pixels, S)
            nearest.append(d.masked_fill_(~ok[j], math.inf).argmin(-1))
        nearest = torch.cat(nearest) if nearest else rows  # (K, TILE * TILE): each pixel's nearest piece
    index = nearest[..., None].expand(*nearest.shape, 2)
    a, e = p0[b, k].gather(1, index), p1[b, k].gather(1, index)
    d = _distance(a[..., 0], a[..., 1], e[..., 0], e[..., 1], px, py)
    cover = torch.sigmoid(sharpness * torch.where(inside, d, -d))
    return cover.new_zeros((bsz, n, grid, grid)).index_put(pixel, cover)[:, :, :size, :size]


def _drawn(vertices, colours, symmetric, mask):
    """The polygons as painted: padding vertices repeat the last real one, mirrors follow their polygon."""
    if mask is not None:
        count = mask.sum(-1, keepdim=True)  # (B, N, 1)
        index = torch.minimum(torch.arange(vertices.shape[2], device=vertices.device), (count - 1).clamp_min(0))
        vertices = vertices.gather(2, index[..., None].expand_as(vertices))
        colours = torch.cat([colours[..., :3], colours[..., 3:] * (count > 0)], -1)
    if symmetric is False or vertices.shape[1] == 0:
        return vertices, colours
    bsz = vertices.shape[0]
    sym = torch.as_tensor(symmetric, device=colours.device).to(colours.dtype).expand(bsz)
    mirror = torch.stack([1.0 - vertices[..., 0], vertices[..., 1]], -1)
    mirror_colours = torch.cat([colours[..., :3], colours[..., 3:] * sym[:, None, None]], -1)
    return (
        torch.stack([vertices, mirror], 2).flatten(1, 2),
        torch.stack([colours, mirror_colours], 2).flatten(1, 2),
    )


def soft_render(
    vertices: torch.Tensor,
    colours: torch.Tensor,
    background: torch.Tensor,
    size: int,
    sharpness: float | torch.Tensor,
    symmetric: bool | torch.Tensor = False,
    mask: torch.Tensor | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> torch.Tensor:
    """Render polygons to a (B, 3, size, size) image, differentiable in all tensor inputs.

    ``vertices`` (B, N, V, 2) in canvas units ([0, 1] spans the canvas, x right, y down),
    ``colours`` (B, N, 4) straight RGBA, ``background`` (B, 3) RGB, all on one device and of one
    floating dtype, which the image takes. ``sharpness`` is the sigmoid's slope per pixel of
    signed distance. ``symmetric`` (a bool or a (B,) bool tensor) draws each polygon followed by
    its mirror image about x = 0.5. ``mask`` (B, N, V) bool marks the real vertices of genomes
    with fewer polygons or vertices than the batch: a polygon without any is transparent and
    the vertices after a polygon's last real one repeat it (and get no gradient). Without a mask,
    padding polygons must have alpha 0. ``max_bytes`` bounds each chunk's temporaries.
    """
    if not is_int(size) or size < 1:
        raise ValueError(f"size must be a positive integer number of pixels, got {size!r}")
    size = int(size)
    vertices, colours = _drawn(vertices, colours, symmetric, mask)
    bsz, n, nv = vertices.shape[:3]
    out = background[:, :, None, None].expand(bsz, 3, size, size)
    per_polygon = max(1, bsz) * max(size * size * vertices.element_size() * 4, nv**3 * 32)
    chunk = max(1, max_bytes // per_polygon)
    for start in range(0, n, chunk):
        cover = _coverage(vertices[:, start : start + chunk] * size, size, sharpness, max_bytes)
        t = cover * colours[:, start : start + chunk, 3, None, None]  # (B, chunk, H, W)
        # unbind, not indexing: the backward of t[:, k] would fill a zero tensor of all of t per polygon.
        for tk, ck in zip(t.unbind(1), colours[:, start : start + chunk, :3, None, None].unbind(1)):
            out = out + tk[:, None] * (ck - out)
    return out


@dataclass
class SoftBatch:
    """Genomes as padded tensors for ``soft_render``: the optimisable leaves and what fixes them.

    ``vertices`` (B, N, V, 2), ``colours`` (B, N, 4) and ``background`` (B, 3) are leaf tensors
    (the genomes' own polygons, not their mirror images); ``symmetric`` (B,) bool and ``mask``
    (B, N, V) bool (real vertices) are constants.
    """

    vertices: torch.Tensor
    colours: torch.Tensor
    background: torch.Tensor
    symmetric: torch.Tensor
    mask: torch.Tensor

    def render(self, size: int, sharpness: float | torch.Tensor, max_bytes: int = DEFAULT_MAX_BYTES) -> torch.Tensor:
        """``soft_render`` of these tensors."""
        sym = self.symmetric if bool(self.symmetric.any()) else False
        return soft_render(self.vertices, self.colours, self.background, size, sharpness, sym, self.mask, max_bytes)


def pack(
    genomes: list[Genome],
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    requires_grad: bool = False,
) -> SoftBatch:
    """Pad ``genomes`` (any mix of polygon and vertex counts) into a ``SoftBatch`` on ``device``."""
    b = len(genomes)
    n = max((g.n_polygons for g in genomes), default=0)
    nv = max((g.n_vertices for g in genomes if g.n_polygons), default=3)
    verts, cols = np.zeros((b, n, nv, 2), np.float32), np.zeros((b, n, 4), np.float32)
    mask = np.zeros((b, n, nv), bool)
    for i, g in enumerate(genomes):
        k, m = g.n_polygons, g.n_vertices
        if k:
            verts[i, :k, :m], verts[i, :k, m:] = g.vertices, g.vertices[:, m - 1 : m]
            cols[i, :k], mask[i, :k, :m] = g.colours, True
    bg = np.array([g.background for g in genomes], np.float32).reshape(b, 3)
    leaf = lambda a: torch.from_numpy(a).to(device=device, dtype=dtype).requires_grad_(requires_grad)  # noqa: E731
    sym = torch.tensor([bool(g.symmetric) for g in genomes], dtype=torch.bool, device=device)
    return SoftBatch(leaf(verts), leaf(cols), leaf(bg), sym, torch.from_numpy(mask).to(device))


def unpack(genomes: list[Genome], batch: SoftBatch, background: bool = True) -> list[Genome]:
    """New genomes with ``batch``'s vertices, colours and (if ``background``) backgrounds written back.

    Values are clamped to what ``polyface.genome.validate`` allows: vertices to [-0.5, 1.5],
    colours and backgrounds to [0, 1]. Grey genomes take the mean of red, green and blue;
    palette genomes keep their palette colours (only vertices and alpha are written back).
    """
    verts = batch.vertices.detach().to("cpu", torch.float64).clamp(-0.5, 1.5).numpy()
    cols = batch.colours.detach().to("cpu", torch.float64).clamp(0.0, 1.0).numpy()
    bgs = batch.background.detach().to("cpu", torch.float64).clamp(0.0, 1.0).numpy()
    out = []
    for i, g in enumerate(genomes):
        k, m = g.n_polygons, g.n_vertices
        v = verts[i, :k, :m].astype(np.float32)
        c = cols[i, :k].astype(np.float32)
        if g.palette is not None:
            c[:, :3] = g.colours[:, :3]
        elif g.mode == "grey":
            c[:, :3] = c[:, :3].mean(1, keepdims=True, dtype=np.float64).astype(np.float32)
        bg = bgs[i].astype(np.float32) if background else g.background.copy()
        pal = None if g.palette is None else g.palette.copy()
        out.append(Genome(v.reshape(k, m, 2), c.reshape(k, 4), bg, g.mode, g.symmetric, pal, g.index))
    return out
