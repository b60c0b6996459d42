"""A face's layout to start from: large soft shapes where a face has its light and dark parts.

Pareidoloop and the default start from shapes scattered at random, and the search spends most
of its time finding a face's coarse structure. ``layout_genome`` starts each genome from that
structure instead, drawn afresh from the seed: a light head, forehead, brow, cheeks, nose ridge
and chin, then dark eye sockets and a mouth, each shape's place, size, outline and grey jittered.
The search then shapes the face its own way; the start only says where a face's parts usually
are (the proportions of the mean face in ``data/face_prior.npz``: eyes a little above the
middle, the mouth about three quarters down).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from polyface.genome import Genome, check_counts, random_polygon

LUMA = np.array([0.299, 0.587, 0.114], np.float32)


@dataclass(frozen=True)
class Feature:
    """One part of the face: centre and semi-axes in canvas units (the left half for a
    mirrored genome), grey value and opacity."""

    name: str
    x: float
    y: float
    rx: float
    ry: float
    grey: float
    alpha: float


# In painting order: light parts first, dark parts on top.
FEATURES: tuple[Feature, ...] = (
    Feature("head", 0.40, 0.52, 0.30, 0.40, 0.62, 0.45),
    Feature("forehead", 0.40, 0.26, 0.14, 0.09, 0.75, 0.45),
    Feature("brow", 0.34, 0.38, 0.13, 0.05, 0.85, 0.50),
    Feature("cheek", 0.32, 0.64, 0.11, 0.09, 0.72, 0.40),
    Feature("nose", 0.47, 0.57, 0.05, 0.12, 0.78, 0.40),
    Feature("chin", 0.43, 0.85, 0.10, 0.06, 0.45, 0.40),
    Feature("eye", 0.35, 0.46, 0.09, 0.06, 0.05, 0.60),
    Feature("mouth", 0.43, 0.74, 0.10, 0.04, 0.08, 0.60),
)
# Which parts a genome of fewer polygons keeps, most telling first.
PRIORITY = ("head", "eye", "mouth", "brow", "nose", "cheek", "forehead", "chin")
JITTER = 0.03  # standard deviation of a part's centre, canvas units
SCALE = (0.8, 1.25)  # range of a part's size factor
GREY_JITTER = 0.08
LAYOUT_OVAL = 0.8  # the oval width (``oval`` in a preset) the parts' places and sizes are drawn for


def oval_scale(oval: float) -> float:
    """How much to shrink (or grow) the layout about the canvas's centre to fit a preset's
    ``oval`` width as it fits ``LAYOUT_OVAL``; 1 without an oval (``oval`` 0)."""
    return oval / LAYOUT_OVAL if oval > 0.0 else 1.0


def _scaled(f: Feature, k: float) -> Feature:
    """``f`` with its place and size ``k`` times as far from and as large about the centre."""
    return replace(f, x=0.5 + k * (f.x - 0.5), y=0.5 + k * (f.y - 0.5), rx=k * f.rx, ry=k * f.ry)


def _outline(rng: np.random.Generator, f: Feature, n_vertices: int) -> np.ndarray:
    """(V, 2) a convex-ish polygon around the feature's jittered centre: evenly spaced angles
    (each moved up to a quarter step, the whole turned at random), radii 0.75-1 of the axes."""
    cx, cy = f.x + rng.normal(0.0, JITTER), f.y + rng.normal(0.0, JITTER)
    s = rng.uniform(*SCALE)
    steps = np.arange(n_vertices) + rng.uniform(-0.25, 0.25, n_vertices)
    ang = 2 * math.pi * steps / n_vertices + rng.uniform(0.0, 2 * math.pi)
    r = rng.uniform(0.75, 1.0, n_vertices)
    pts = np.stack([cx + s * f.rx * r * np.cos(ang), cy + s * f.ry * r * np.sin(ang)], axis=1)
    return np.clip(pts, 0.0, 1.0).astype(np.float32)


def _colour(rng: np.random.Generator, f: Feature, mode: str, alpha: tuple[float, float]) -> np.ndarray:
    grey = float(np.clip(f.grey + rng.normal(0.0, GREY_JITTER), 0.0, 1.0))
    a = float(np.clip(f.alpha + rng.normal(0.0, 0.05), *alpha))
    rgb = np.full(3, grey) if mode == "grey" else np.clip(grey + rng.normal(0.0, 0.06, 3), 0.0, 1.0)
    return np.append(rgb, a).astype(np.float32)


def layout_genome(
    rng: np.random.Generator,
    n_polygons: int = 8,
    n_vertices: int = 5,
    mode: str = "grey",
    background: tuple[float, float, float] = (0.118, 0.118, 0.118),
    symmetric: bool = True,
    radius: float = 0.15,
    alpha: tuple[float, float] = (0.1, 0.6),
    palette: np.ndarray | None = None,
    *,
    scale: float = 1.0,
) -> Genome:
    """A genome of ``n_polygons`` laid out as a face (see the module's docstring).

    Mirrored genomes hold the left half's parts (the mirror draws the right). Unmirrored ones
    hold each off-axis part twice, left and right, each jittered on its own: a face whose two
    sides are alike but not the same. Polygons beyond the layout's parts are random ones of
    ``radius`` under the parts; with a ``palette`` each part takes the entry nearest its grey.
    ``scale`` shrinks (below 1) or grows the whole face about the canvas's centre before the
    jitter (``oval_scale``: to fit a preset's oval).
    """
    check_counts(n_polygons, n_vertices)
    if not (math.isfinite(scale) and 0.0 < scale <= 2.0):
        raise ValueError(f"scale must be above 0 and at most 2, got {scale}")
    parts: list[tuple[str, np.ndarray, np.ndarray]] = []
    for f in (_scaled(f, scale) for f in FEATURES):
        sides = [f] if symmetric else [f, replace(f, x=1.0 - f.x)]
        parts += [(f.name, _outline(rng, s, n_vertices), _colour(rng, s, mode, alpha)) for s in sides]
    order = [i for name in PRIORITY for i, part in enumerate(parts) if part[0] == name]
    keep = sorted(order[:n_polygons])
    extra = n_polygons - len(keep)
    filler = []
    for _ in range(extra):
        centre = (rng.uniform(0.0, 0.5) if symmetric else rng.uniform(0.0, 1.0), rng.uniform(0.0, 1.0))
        filler.append(random_polygon(rng, n_vertices, mode, centre, radius, alpha))
    polys = filler + [(pts, colour) for _, pts, colour in (parts[i] for i in keep)]
    verts = np.stack([p for p, _ in polys]) if polys else np.zeros((0, n_vertices, 2), np.float32)
    cols = np.stack([c for _, c in polys]) if polys else np.zeros((0, 4), np.float32)
    index = None
    if palette is not None:
        palette = np.asarray(palette, np.float32)
        index = np.abs((palette @ LUMA)[None, :] - (cols[:, :3] @ LUMA)[:, None]).argmin(axis=1)
        cols[:, :3] = palette[index]
    return Genome(verts, cols, np.asarray(background, np.float32), mode, symmetric, palette, index)
