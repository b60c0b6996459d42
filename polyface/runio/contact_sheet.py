"""The contact sheet: a PNG grid of a gallery's portraits, with seed and score beneath each."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from polyface import limits
from polyface.atomic import atomic_path
from polyface.genome import GenomeError
from polyface.genome_io import load_genome
from polyface.render.cairo import render_rgb
from polyface.runio.results import RunSummary
from polyface.runio.text import fit as _fit
from polyface.runio.text import font as _font
from polyface.runio.text import format_score
from polyface.validate import FileKindError, check_regular

MAX_IMAGE_BYTES = 256 * 2**20  # a best.png larger than this is not a tile of ours

log = logging.getLogger(__name__)

CONTACT_SHEET = "contact-sheet.png"
SHEET_BACKGROUND = (214, 214, 214)  # neutral light grey: portraits are mostly dark
SHEET_TEXT = (28, 28, 28)
SHEET_NOTE = (150, 60, 0)


def _tile_image(run: RunSummary, tile: int) -> Image.Image | None:
    """The portrait at ``tile`` px: rendered from genome.json, else best.png resized, else None."""
    genome_path = run.genome
    if genome_path is not None:
        try:
            return Image.fromarray(render_rgb(load_genome(genome_path), tile))
        except GenomeError as e:
            log.warning("%s: cannot render (%s); using best.png", genome_path, e)
    png = run.png
    if png is not None:
        try:
            check_regular(png, MAX_IMAGE_BYTES, "image file")
            with Image.open(png) as im:
                im = im.convert("RGB")
                im.thumbnail((tile, tile), Image.Resampling.LANCZOS)
                if im.size != (tile, tile):  # a non-square picture: centre it
                    canvas = Image.new("RGB", (tile, tile), SHEET_BACKGROUND)
                    canvas.paste(im, ((tile - im.size[0]) // 2, (tile - im.size[1]) // 2))
                    im = canvas
                return im
        except (OSError, ValueError, Image.DecompressionBombError, FileKindError) as e:
            log.warning("%s: unreadable (%s)", png, e)
    return None


def contact_sheet(runs: Sequence[RunSummary], out: str | Path, tile: int = 192, columns: int | None = None) -> Path:
    """Write a PNG grid of the runs' portraits, in the given order, with seed and score beneath.

    Each portrait is rendered from ``genome.json`` at ``tile`` px (sharpest), else taken from
    ``best.png`` resized; a run with neither gets an empty, labelled tile. ``columns`` defaults
    to a near-square grid. Unfinished runs carry their status on a second line. Atomic.
    """
    limits.check(limits.FRAME_SIZE, "tile", tile, "pixels")
    if columns is not None and (isinstance(columns, bool) or not isinstance(columns, (int, np.integer)) or columns < 1):
        raise ValueError(f"columns must be a positive integer or None, got {columns!r}")
    out = Path(out)
    n = max(1, len(runs))
    cols = columns or math.ceil(math.sqrt(n))
    cols = min(cols, n)
    rows = math.ceil(n / cols)
    margin = max(6, tile // 16)
    px = max(10, tile // 14)
    font = _font(px)
    line_h = px + max(2, px // 4)
    label_h = 2 * line_h + max(2, px // 3)
    width = cols * tile + (cols + 1) * margin
    height = rows * (tile + label_h) + (rows + 1) * margin
    sheet = Image.new("RGB", (width, height), SHEET_BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    if not runs:
        draw.text((margin, margin), "no runs yet", fill=SHEET_TEXT, font=font)
    for i, run in enumerate(runs):
        r, c = divmod(i, cols)
        x = margin + c * (tile + margin)
        y = margin + r * (tile + label_h + margin)
        im = _tile_image(run, tile)
        if im is None:
            draw.rectangle((x, y, x + tile - 1, y + tile - 1), fill=(180, 180, 180), outline=(150, 150, 150))
            draw.text((x + margin, y + margin), "no portrait", fill=SHEET_TEXT, font=font)
        else:
            sheet.paste(im, (x, y))
        seed = run.seed if run.seed is not None else run.name
        label = _fit(draw, f"seed {seed}  score {format_score(run.best)}", font, tile)
        ty = y + tile + max(2, px // 3)
        draw.text((x, ty), label, fill=SHEET_TEXT, font=font)
        if not run.finished:
            note = _fit(draw, run.status or "unfinished", font, tile)
            draw.text((x, ty + line_h), note, fill=SHEET_NOTE, font=font)
    with atomic_path(out) as tmp:
        sheet.save(tmp, format="PNG")
    return out
