"""Genomes: a background colour plus an ordered list of filled polygons.

Coordinates are canvas units in [0, 1]^2, so a genome renders at any size. Colours are
RGBA floats in [0, 1]; in ``grey`` mode red, green and blue are equal. A genome may carry a
palette: then each polygon's colour is a palette entry (``index``) plus its own alpha. This
module imports nothing else of polyface: it is plain data, random draws and writing JSON
(``polyface.genome_io`` reads it back).

JSON format version 2 adds ``palette`` (``#rrggbb`` strings), ``index`` and ``alpha`` in
place of ``colours`` for palette genomes; version 1 files still load.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

FORMAT = "polyface-genome"
VERSION = 2
VERSIONS = (1, 2)
MAX_PALETTE = 256
MODES = ("grey", "rgba")
MAX_POLYGONS = 4096
MIN_VERTICES, MAX_VERTICES = 3, 64


class GenomeError(ValueError):
    """A genome (or its JSON) is malformed; the message names the field and the allowed range."""


def _shown(value: Any, limit: int = 60) -> str:
    """A short one-line repr of a bad value for a message."""
    try:
        text = repr(value)
    except ValueError:  # an integer too long to print
        return "a huge integer"
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass
class Genome:
    """One portrait: ``vertices`` (N, V, 2) and ``colours`` (N, 4) float32 arrays, a background.

    ``symmetric`` genomes are drawn with every polygon mirrored about the vertical axis.
    With a ``palette`` (K, 3) of colours ``k / 255``, ``index`` (N,) names each polygon's entry
    and ``colours[:, :3]`` equals ``palette[index]``.
    """

    vertices: np.ndarray
    colours: np.ndarray
    background: np.ndarray = field(default_factory=lambda: np.array([0.118, 0.118, 0.118], np.float32))
    mode: str = "rgba"
    symmetric: bool = False
    palette: np.ndarray | None = None
    index: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.vertices = np.asarray(self.vertices, dtype=np.float32)
        self.colours = np.asarray(self.colours, dtype=np.float32)
        self.background = np.asarray(self.background, dtype=np.float32)
        if self.palette is not None:
            self.palette = np.asarray(self.palette, dtype=np.float32)
            self.index = np.asarray(self.index if self.index is not None else [], dtype=np.int64)
        validate(self)

    @property
    def n_polygons(self) -> int:
        return int(self.vertices.shape[0])

    @property
    def n_vertices(self) -> int:
        return int(self.vertices.shape[1])

    def copy(self) -> Genome:
        return self.replaced(self.vertices.copy(), self.colours.copy(), None if self.index is None else self.index.copy())

    def replaced(self, vertices: np.ndarray, colours: np.ndarray, index: np.ndarray | None = None) -> Genome:
        """A genome with these polygons and this genome's background, mode, symmetry and palette."""
        pal = None if self.palette is None else self.palette.copy()
        return Genome(vertices, colours, self.background.copy(), self.mode, self.symmetric, pal, index)

    def drawn(self) -> tuple[np.ndarray, np.ndarray]:
        """The polygons as they are painted, in order: mirror images follow each polygon when symmetric."""
        if not self.symmetric or self.n_polygons == 0:
            return self.vertices, self.colours
        mirror = self.vertices.copy()
        mirror[..., 0] = 1.0 - mirror[..., 0]
        verts = np.stack([self.vertices, mirror], axis=1).reshape(-1, self.n_vertices, 2)
        cols = np.repeat(self.colours, 2, axis=0)
        return verts, cols

    def to_dict(self) -> dict[str, Any]:
        d = {
            "format": FORMAT,
            "version": VERSION,
            "mode": self.mode,
            "symmetric": self.symmetric,
            "background": _exact(self.background),
            "vertices": _exact(self.vertices),
        }
        if self.palette is None:
            d["colours"] = _exact(self.colours)
        else:
            d["palette"] = [_hex(c) for c in self.palette]
            d["index"] = [int(i) for i in self.index]
            d["alpha"] = _exact(self.colours[:, 3])
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Genome):
            return NotImplemented
        return (
            self.mode == other.mode
            and self.symmetric == other.symmetric
            and np.array_equal(self.background, other.background)
            and np.array_equal(self.vertices, other.vertices)
            and np.array_equal(self.colours, other.colours)
            and (self.palette is None) == (other.palette is None)
            and (self.palette is None or np.array_equal(self.palette, other.palette))
            and (self.index is None or np.array_equal(self.index, other.index))
        )


def _hex(rgb: np.ndarray) -> str:
    return "#" + "".join(f"{int(round(float(v) * 255)):02x}" for v in rgb)


def palette_rgb(hexes: list[str]) -> np.ndarray:
    """``#rrggbb`` strings -> (K, 3) float32, each channel exactly ``k / 255``."""
    bad = [h for h in hexes if not (isinstance(h, str) and len(h) == 7 and h[0] == "#" and _is_hex(h[1:]))]
    if bad:
        raise GenomeError(f"field 'palette' must hold colours #rrggbb, got {bad[0]!r}")
    ints = [[int(h[i : i + 2], 16) for i in (1, 3, 5)] for h in hexes]
    return np.array(ints, np.float32).reshape(-1, 3) / np.float32(255.0)


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)


def _exact(arr: np.ndarray) -> list:
    """Nested lists of the shortest decimals that read back as the very same float32 values."""
    flat = [float(np.format_float_positional(v, unique=True, trim="-")) for v in arr.astype(np.float32).ravel()]
    return np.array(flat, dtype=np.float64).reshape(arr.shape).tolist()


def validate(g: Genome) -> None:
    """Raise GenomeError naming the first field that is out of shape, type or range."""
    if g.mode not in MODES:
        raise GenomeError(f"field 'mode' must be one of {', '.join(MODES)}, got {_shown(g.mode)}")
    if not isinstance(g.symmetric, (bool, np.bool_)):
        raise GenomeError(f"field 'symmetric' must be true or false, got {_shown(g.symmetric)}")
    v, c, b = g.vertices, g.colours, g.background
    if v.ndim != 3 or v.shape[2] != 2:
        raise GenomeError(f"field 'vertices' must have shape (N, V, 2), got {tuple(v.shape)}")
    n, nv = v.shape[0], v.shape[1]
    if n > MAX_POLYGONS:
        raise GenomeError(f"field 'vertices' has {n} polygons; allowed 0..{MAX_POLYGONS}")
    if n > 0 and not MIN_VERTICES <= nv <= MAX_VERTICES:
        raise GenomeError(f"field 'vertices' has {nv} vertices per polygon; allowed {MIN_VERTICES}..{MAX_VERTICES}")
    # A palette genome (JSON version 2) has no 'colours' field: its colours are its palette
    # entries named by 'index', with its 'alpha'; errors name the fields it has.
    paletted = g.palette is not None
    if c.shape != (n, 4):
        if paletted:
            raise GenomeError(f"fields 'index' and 'alpha' must hold one entry per polygon ({n}), got {c.shape[0]}")
        raise GenomeError(f"field 'colours' must have shape ({n}, 4) to match 'vertices', got {tuple(c.shape)}")
    if b.shape != (3,):
        raise GenomeError(f"field 'background' must be 3 numbers (RGB, opaque), got shape {tuple(b.shape)}")
    colours = ("alpha", c[:, 3], 0.0, 1.0) if paletted else ("colours", c, 0.0, 1.0)
    for name, arr, lo, hi in (("vertices", v, -0.5, 1.5), colours, ("background", b, 0.0, 1.0)):
        if arr.size and not np.all(np.isfinite(arr)):
            raise GenomeError(f"field '{name}' holds NaN or infinity; allowed finite numbers in [{lo}, {hi}]")
        if arr.size and (arr.min() < lo or arr.max() > hi):
            raise GenomeError(f"field '{name}' has values outside the allowed range [{lo}, {hi}]")
    if g.palette is not None:
        _validate_palette(g)
    if g.mode == "grey" and n and not (np.array_equal(c[:, 0], c[:, 1]) and np.array_equal(c[:, 0], c[:, 2])):
        raise GenomeError("field 'colours' must have equal red, green and blue in grey mode")


def _validate_palette(g: Genome) -> None:
    p, idx = g.palette, g.index
    if p.ndim != 2 or p.shape[1] != 3 or not 1 <= p.shape[0] <= MAX_PALETTE:
        raise GenomeError(f"field 'palette' must hold 1..{MAX_PALETTE} colours, got shape {tuple(p.shape)}")
    if not np.all(np.isfinite(p)) or not np.array_equal(np.round(p * 255) / np.float32(255.0), p):
        raise GenomeError("field 'palette' must hold colours #rrggbb (channels k/255)")
    if idx.shape != (g.n_polygons,):
        raise GenomeError(f"field 'index' must hold one entry per polygon ({g.n_polygons}), got shape {tuple(idx.shape)}")
    if idx.size and (idx.min() < 0 or idx.max() >= p.shape[0]):
        raise GenomeError(f"field 'index' must be in 0..{p.shape[0] - 1} (the palette's entries)")
    if idx.size and not np.array_equal(g.colours[:, :3], p[idx]):
        raise GenomeError("field 'colours' must equal the palette entries named by 'index'")


def stretch_contrast(g: Genome, k: float) -> Genome:
    """``g`` with every polygon's colour ``k`` times as far from the background, clipped to [0, 1].

    Compositing is affine in the colours, so wherever nothing clips the picture's contrast
    against the ground grows by ``k``; the shapes, their order and their alphas stay. Grey
    genomes stretch from the background's mean so that red, green and blue stay equal.
    Palette genomes cannot be stretched (their colours are fixed entries): GenomeError.
    """
    if g.palette is not None:
        raise GenomeError("a palette genome's colours are palette entries: its contrast cannot be stretched")
    if not (math.isfinite(k) and k >= 0):
        raise GenomeError(f"contrast factor must be a finite number >= 0, got {_shown(k)}")
    ground = np.float32(g.background.mean()) if g.mode == "grey" else g.background
    c = g.colours.copy()
    c[:, :3] = np.clip(c[:, :3] + np.float32(k - 1.0) * (c[:, :3] - ground), 0.0, 1.0)  # k = 1 gives c exactly
    return g.replaced(g.vertices.copy(), c)


def random_polygon(
    rng: np.random.Generator,
    n_vertices: int,
    mode: str = "rgba",
    centre: tuple[float, float] | None = None,
    radius: float = 0.15,
    alpha: tuple[float, float] = (0.2, 0.8),
) -> tuple[np.ndarray, np.ndarray]:
    """One random polygon: vertices scattered around a centre (random when None), and a colour."""
    if centre is None:
        centre = tuple(rng.uniform(0.0, 1.0, size=2))
    angles = np.sort(rng.uniform(0.0, 2 * math.pi, size=n_vertices))
    radii = radius * rng.uniform(0.3, 1.0, size=n_vertices)
    pts = np.stack([centre[0] + radii * np.cos(angles), centre[1] + radii * np.sin(angles)], axis=1)
    pts = np.clip(pts, 0.0, 1.0).astype(np.float32)
    a = rng.uniform(*alpha)
    if mode == "grey":
        grey = rng.uniform(0.0, 1.0)
        colour = np.array([grey, grey, grey, a], np.float32)
    else:
        colour = np.append(rng.uniform(0.0, 1.0, size=3), a).astype(np.float32)
    return pts, colour


def check_counts(n_polygons: int, n_vertices: int) -> None:
    """GenomeError unless a genome of ``n_polygons`` polygons of ``n_vertices`` vertices may be made."""
    if n_polygons < 0 or n_polygons > MAX_POLYGONS:
        raise GenomeError(f"field 'polygons' must be in 0..{MAX_POLYGONS}, got {n_polygons}")
    if not MIN_VERTICES <= n_vertices <= MAX_VERTICES:
        raise GenomeError(f"field 'vertices' must be in {MIN_VERTICES}..{MAX_VERTICES}, got {n_vertices}")


def random_genome(
    rng: np.random.Generator,
    n_polygons: int = 50,
    n_vertices: int = 6,
    mode: str = "rgba",
    background: tuple[float, float, float] = (0.118, 0.118, 0.118),
    symmetric: bool = False,
    radius: float = 0.15,
    alpha: tuple[float, float] = (0.2, 0.8),
    palette: np.ndarray | None = None,
) -> Genome:
    """A genome of ``n_polygons`` random polygons drawn from ``rng`` (colours from ``palette`` if given)."""
    check_counts(n_polygons, n_vertices)
    verts = np.zeros((n_polygons, n_vertices, 2), np.float32)
    cols = np.zeros((n_polygons, 4), np.float32)
    for i in range(n_polygons):
        centre = None
        if symmetric:
            centre = (rng.uniform(0.0, 0.5), rng.uniform(0.0, 1.0))
        verts[i], cols[i] = random_polygon(rng, n_vertices, mode, centre, radius, alpha)
    index = None
    if palette is not None:
        palette = np.asarray(palette, np.float32)
        index = rng.integers(0, len(palette), size=n_polygons)
        cols[:, :3] = palette[index]
    return Genome(verts, cols, np.asarray(background, np.float32), mode, symmetric, palette, index)
