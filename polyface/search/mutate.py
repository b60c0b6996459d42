"""Mutation operators on genomes. Each takes a Generator and returns a new genome."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from polyface.genome import Genome, random_polygon


@dataclass(frozen=True)
class MutationSettings:
    """What mutations may do: polygon shape, colour mode and limits."""

    n_vertices: int = 6
    mode: str = "rgba"
    grey_values: str = "any"  # "bw": fills are black or white (Pareidoloop's signed alpha)
    min_polygons: int = 1
    max_polygons: int = 120
    alpha: tuple[float, float] = (0.15, 0.85)
    radius: float = 0.15
    symmetric: bool = False
    oval: tuple[float, float] | None = None  # semi-axes of the centred oval shapes stay inside


def oval_axes(width: float) -> tuple[float, float] | None:
    """Semi-axes of a head-shaped oval ``width`` of the canvas wide (1.25 times as tall, at most
    the canvas), or None for 0: no oval."""
    if width <= 0.0:
        return None
    return width / 2.0, min(0.5, 1.25 * width / 2.0)


def confine(pts: np.ndarray, oval: tuple[float, float] | None) -> np.ndarray:
    """``pts`` (..., 2) with every point outside the centred ``oval`` moved onto it along its
    ray from the centre. The oval is convex and mirror-symmetric, so polygons whose vertices
    lie inside it lie inside it, mirrored or not."""
    if oval is None:
        return pts
    d = pts - 0.5
    r = np.sqrt((d[..., 0] / oval[0]) ** 2 + (d[..., 1] / oval[1]) ** 2)
    scale = np.where(r > 1.0, 1.0 / np.maximum(r, 1e-12), 1.0)
    return (0.5 + d * scale[..., None]).astype(pts.dtype)


def confined(g: Genome, s: MutationSettings) -> Genome:
    """``g`` with its vertices inside ``s.oval`` (``g`` itself when there is no oval)."""
    if s.oval is None or not g.n_polygons:
        return g
    inside = confine(g.vertices, s.oval)
    if np.array_equal(inside, g.vertices):
        return g
    return g.replaced(inside, g.colours, g.index)


def new_polygon(
    rng: np.random.Generator, s: MutationSettings, box: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A random polygon, centred inside ``box`` (x0, y0, x1, y1 in canvas units) when given."""
    if box is not None:
        centre = (rng.uniform(box[0], box[2]), rng.uniform(box[1], box[3]))
        radius = s.radius * max(0.2, min(1.0, float(box[2] - box[0])))
    else:
        centre = (rng.uniform(0.0, 0.5 if s.symmetric else 1.0), rng.uniform(0.0, 1.0))
        radius = s.radius
    pts, col = random_polygon(rng, s.n_vertices, s.mode, centre, radius, s.alpha)
    if s.mode == "grey" and s.grey_values == "bw":
        col[:3] = float(rng.integers(0, 2))
    return pts, col


def _paint(g: Genome, col: np.ndarray, rng: np.random.Generator) -> int:
    """For a palette genome: give ``col`` a random entry of ``g``'s palette; returns its index."""
    if g.palette is None:
        return -1
    k = int(rng.integers(0, len(g.palette)))
    col[:3] = g.palette[k]
    return k


def add_polygon(g: Genome, rng: np.random.Generator, s: MutationSettings, box: np.ndarray | None = None) -> Genome:
    """Insert a new polygon at a random depth (on top when ``box`` is given, as Pareidoloop did)."""
    if g.n_polygons >= s.max_polygons:
        return replace_polygon(g, rng, s)
    pts, col = new_polygon(rng, s, box)
    pts = confine(pts, s.oval)
    k = _paint(g, col, rng)
    if g.n_vertices != s.n_vertices and g.n_polygons:
        pts = _resample(pts, g.n_vertices)
    at = g.n_polygons if box is not None else int(rng.integers(0, g.n_polygons + 1))
    verts = np.insert(g.vertices.reshape(g.n_polygons, -1, 2), at, pts, axis=0) if g.n_polygons else pts[None]
    cols = np.insert(g.colours, at, col, axis=0) if g.n_polygons else col[None]
    index = None if g.index is None else np.insert(g.index, at, k)
    return g.replaced(verts, cols, index)


def remove_polygon(g: Genome, rng: np.random.Generator, s: MutationSettings) -> Genome:
    if g.n_polygons <= s.min_polygons:
        return g.copy()
    i = int(rng.integers(0, g.n_polygons))
    index = None if g.index is None else np.delete(g.index, i)
    return g.replaced(np.delete(g.vertices, i, 0), np.delete(g.colours, i, 0), index)


def replace_polygon(g: Genome, rng: np.random.Generator, s: MutationSettings) -> Genome:
    if g.n_polygons == 0:
        return add_polygon(g, rng, s)
    out = g.copy()
    i = int(rng.integers(0, g.n_polygons))
    pts, col = new_polygon(rng, s)
    k = _paint(g, col, rng)
    out.vertices[i] = _resample(pts, g.n_vertices)
    out.colours[i] = col
    if out.index is not None:
        out.index[i] = k
    return out


def _pick(g: Genome, rng: np.random.Generator) -> tuple[Genome, int | None]:
    """A copy of ``g`` and a random polygon index in it (None when it has no polygons)."""
    return g.copy(), (int(rng.integers(0, g.n_polygons)) if g.n_polygons else None)


def move_vertex(g: Genome, rng: np.random.Generator, s: MutationSettings, sigma: float = 0.05) -> Genome:
    out, i = _pick(g, rng)
    if i is None:
        return out
    j = int(rng.integers(0, g.n_vertices))
    out.vertices[i, j] = np.clip(out.vertices[i, j] + rng.normal(0.0, sigma, 2), 0.0, 1.0)
    return out


def move_polygon(g: Genome, rng: np.random.Generator, s: MutationSettings, sigma: float = 0.04) -> Genome:
    out, i = _pick(g, rng)
    if i is None:
        return out
    out.vertices[i] = np.clip(out.vertices[i] + rng.normal(0.0, sigma, 2), 0.0, 1.0)
    return out


def scale_polygon(g: Genome, rng: np.random.Generator, s: MutationSettings) -> Genome:
    out, i = _pick(g, rng)
    if i is None:
        return out
    c = out.vertices[i].mean(0)
    out.vertices[i] = np.clip(c + (out.vertices[i] - c) * np.exp(rng.normal(0.0, 0.2)), 0.0, 1.0)
    return out


def recolour(g: Genome, rng: np.random.Generator, s: MutationSettings, sigma: float = 0.12) -> Genome:
    out, i = _pick(g, rng)
    if i is None:
        return out
    col = out.colours[i]
    if out.index is not None:  # move to another palette entry now and then
        if len(out.palette) > 1 and rng.random() < 0.5:
            k = (int(out.index[i]) + int(rng.integers(1, len(out.palette)))) % len(out.palette)
            out.index[i] = k
            col[:3] = out.palette[k]
    elif s.mode == "grey":
        if s.grey_values == "bw":
            col[:3] = 1.0 - col[0] if rng.random() < 0.3 else col[0]
        else:
            col[:3] = np.clip(col[0] + rng.normal(0.0, sigma), 0.0, 1.0)
    else:
        col[:3] = np.clip(col[:3] + rng.normal(0.0, sigma, 3), 0.0, 1.0)
    col[3] = np.clip(col[3] + rng.normal(0.0, sigma * 0.5), s.alpha[0], s.alpha[1])
    return out


def reorder(g: Genome, rng: np.random.Generator, s: MutationSettings) -> Genome:
    out = g.copy()
    if g.n_polygons < 2:
        return out
    i, j = rng.choice(g.n_polygons, 2, replace=False)
    out.vertices[[i, j]] = out.vertices[[j, i]]
    out.colours[[i, j]] = out.colours[[j, i]]
    if out.index is not None:
        out.index[[i, j]] = out.index[[j, i]]
    return out


OPERATORS = {
    "move_vertex": (move_vertex, 0.30),
    "move_polygon": (move_polygon, 0.15),
    "scale_polygon": (scale_polygon, 0.10),
    "recolour": (recolour, 0.20),
    "reorder": (reorder, 0.05),
    "replace_polygon": (replace_polygon, 0.10),
    "add_polygon": (add_polygon, 0.05),
    "remove_polygon": (remove_polygon, 0.05),
}
_NAMES = list(OPERATORS)
_WEIGHTS = np.array([w for _, w in OPERATORS.values()]) / sum(w for _, w in OPERATORS.values())


def mutate(g: Genome, rng: np.random.Generator, s: MutationSettings, rate: float = 0.6) -> Genome:
    """Apply 1 + Poisson(rate) operators drawn by weight from ``OPERATORS``."""
    n = 1 + int(rng.poisson(rate))
    for k in rng.choice(len(_NAMES), size=n, p=_WEIGHTS):
        op = OPERATORS[_NAMES[k]][0]
        g = op(g, rng, s)
    return confined(g, s)


def _resample(pts: np.ndarray, n: int) -> np.ndarray:
    if pts.shape[0] == n:
        return pts
    idx = np.linspace(0, pts.shape[0], n, endpoint=False).astype(int)
    return pts[idx]
