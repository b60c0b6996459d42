"""Palettes: a fixed list of opaque colours that polygons pick from (their alpha stays free).

A palette is given as built-in name (see ``BUILTIN``), as comma-separated ``#rrggbb`` text,
or as a list of such strings. ``parse_palette`` returns the canonical form, a tuple of
lower-case ``#rrggbb`` strings, or raises ``PaletteError`` with a one-line reason.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from polyface.genome import palette_rgb
from polyface.validate import shown

MAX_ENTRIES = 256
HEX = re.compile(r"^#[0-9a-fA-F]{6}$")

BUILTIN: dict[str, tuple[str, ...]] = {
    # from deep brown to pale, through warm mid tones: for portraits that read as skin
    "skin": ("#2b1a12", "#4a2c1d", "#6b3f2a", "#8d5524", "#c68642", "#e0ac69", "#f1c27d", "#ffdbac"),
    # two inks on a dark ground
    "duotone": ("#1e1e1e", "#e0c097"),
    # Pareidoloop (2012): black or white polygons, grey only where they overlap
    "grey2012": ("#000000", "#ffffff"),
    # five greys, black to white
    "greys": ("#000000", "#404040", "#808080", "#bfbfbf", "#ffffff"),
}


class PaletteError(ValueError):
    """A palette is empty, too long, or holds something that is not a #rrggbb colour."""


def parse_palette(value: Any) -> tuple[str, ...]:
    """A built-in name, ``"#aabbcc,#ddeeff"`` or a list of ``#rrggbb`` -> tuple of ``#rrggbb``."""
    if isinstance(value, str):
        name = value.strip()
        if name in BUILTIN:
            return BUILTIN[name]
        if not name:
            raise PaletteError("palette is empty; give #rrggbb colours separated by commas, or a name: " + names())
        if "#" not in name and "," not in name:
            raise PaletteError(f"no built-in palette {shown(name)} (built-in: {names()}); or give #rrggbb,#rrggbb,...")
        entries = [e.strip() for e in name.split(",")]
    elif isinstance(value, (list, tuple)):
        entries = list(value)
    else:
        raise PaletteError(f"palette must be a name or a list of #rrggbb colours, got {type(value).__name__}")
    if not entries:
        raise PaletteError("palette is empty; give 1 to 256 #rrggbb colours")
    if len(entries) > MAX_ENTRIES:
        raise PaletteError(f"palette has {len(entries)} colours; allowed 1..{MAX_ENTRIES}")
    for i, e in enumerate(entries):
        if not isinstance(e, str) or not HEX.match(e):
            raise PaletteError(f"palette entry {i + 1} must be a colour #rrggbb, got {shown(e)}")
    return tuple(e.lower() for e in entries)


def names() -> str:
    return ", ".join(sorted(BUILTIN))


def to_rgb(palette: tuple[str, ...] | list[str]) -> np.ndarray:
    """(K, 3) float32 RGB in [0, 1], each channel exactly ``k / 255``."""
    return palette_rgb(list(palette))


def is_grey(palette: tuple[str, ...]) -> bool:
    rgb = to_rgb(palette)
    return bool(np.all(rgb[:, 0] == rgb[:, 1]) and np.all(rgb[:, 0] == rgb[:, 2]))
