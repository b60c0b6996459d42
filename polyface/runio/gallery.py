"""A gallery of runs: ``DIR/<seed>/`` run folders, a contact sheet PNG and a static index.html.

:func:`collect` reads every ``<seed>/result.json``; :func:`contact_sheet` draws the portraits
in a grid with seed and score beneath each; :func:`write_index` writes a self-contained page
(no network: no external fonts, scripts or styles) with every portrait, its numbers and links.
Cairo (and, through it, torch) is imported only when a tile is rendered from a genome.
"""

from __future__ import annotations

import html
import json
import logging
import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from polyface.atomic import atomic_path, write_text
from polyface.runio import layout

log = logging.getLogger(__name__)

RESULT = layout.RESULT
CONTACT_SHEET = "contact-sheet.png"
INDEX = "index.html"
SHEET_BACKGROUND = (214, 214, 214)  # neutral light grey: portraits are mostly dark
SHEET_TEXT = (28, 28, 28)
SHEET_NOTE = (150, 60, 0)
_SEED_DIR = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class RunSummary:
    """One run of a gallery, from its ``result.json``; fields the file lacks are None.

    ``finished`` is False for a run that stopped early (status other than ``done``).
    """

    path: Path
    seed: int | None
    preset: str | None
    status: str | None
    best: float | None
    best_prob: float | None
    portrait: bool | None
    generations: int | None
    evaluations: int | None
    elapsed_s: float | None

    @property
    def name(self) -> str:
        """The run folder's name (the seed as a decimal string)."""
        return self.path.name

    @property
    def finished(self) -> bool:
        return self.status == "done"

    def file(self, name: str) -> Path | None:
        """``path / name`` when that file exists, else None."""
        p = self.path / name
        return p if p.is_file() else None

    @property
    def png(self) -> Path | None:
        return self.file(layout.BEST_PNG)

    @property
    def svg(self) -> Path | None:
        return self.file(layout.BEST_SVG)

    @property
    def gif(self) -> Path | None:
        return self.file(layout.GIF)

    @property
    def genome(self) -> Path | None:
        return self.file(layout.GENOME)


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return None
    return float(v)


def _integer(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _text(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def read_summary(run_dir: str | Path) -> RunSummary:
    """Read ``run_dir/result.json``; raises OSError or ValueError when it is missing or malformed."""
    run_dir = Path(run_dir)
    path = run_dir / RESULT
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: must be a JSON object, got {type(data).__name__}")
    seed = _integer(data.get("seed"))
    if seed is None and _SEED_DIR.fullmatch(run_dir.name):
        seed = int(run_dir.name)
    portrait = data.get("portrait")
    return RunSummary(
        path=run_dir,
        seed=seed,
        preset=_text(data.get("preset")),
        status=_text(data.get("status")),
        best=_number(data.get("best")),
        best_prob=_number(data.get("min_prob", data.get("best_prob"))),  # result.json's min_prob; best_prob before
        portrait=portrait if isinstance(portrait, bool) else None,
        generations=_integer(data.get("generations")),
        evaluations=_integer(data.get("evaluations")),
        elapsed_s=_number(data.get("elapsed_s")),
    )


def collect(gallery_dir: str | Path) -> list[RunSummary]:
    """Every run of ``gallery_dir`` (sub-folders named by a seed), in seed order.

    Folders without ``result.json`` (still running, or not runs) and unreadable results are
    skipped with a log message; runs that stopped early are kept, with ``finished`` False.
    """
    gallery_dir = Path(gallery_dir)
    if not gallery_dir.is_dir():
        raise FileNotFoundError(f"{gallery_dir}: no such gallery folder")
    runs: list[RunSummary] = []
    for sub in sorted(gallery_dir.iterdir(), key=lambda p: (len(p.name), p.name)):
        if not sub.is_dir() or not _SEED_DIR.fullmatch(sub.name):
            continue
        if not (sub / RESULT).is_file():
            log.info("skipping %s: no %s (unfinished or not a run)", sub, RESULT)
            continue
        try:
            run = read_summary(sub)
        except (OSError, UnicodeDecodeError, ValueError) as e:
            log.warning("skipping %s: unreadable %s (%s)", sub, RESULT, e)
            continue
        if not run.finished:
            log.info("run %s is unfinished (status %r)", sub, run.status)
        runs.append(run)
    return runs


def by_score(runs: Iterable[RunSummary]) -> list[RunSummary]:
    """Best score first; runs without a score last; ties by seed."""

    def key(r: RunSummary) -> tuple[int, float, int, str]:
        return (r.best is None, -(r.best or 0.0), r.seed if r.seed is not None else 2**63, r.name)

    return sorted(runs, key=key)


def format_score(v: float | None) -> str:
    if v is None:
        return "\u2014"
    return f"{v:.3f}" if abs(v) < 1e4 else f"{v:.4g}"


def format_duration(seconds: float | None) -> str:
    """``12.3 s``, ``4 min 05 s``, ``2 h 03 min``; a dash for None."""
    if seconds is None:
        return "\u2014"
    if seconds < 60:
        return f"{seconds:.1f} s"
    s = int(round(seconds))
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


# --------------------------------------------------------------------------- contact sheet


def _font(px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=px)
    except (TypeError, OSError, ImportError):
        return ImageFont.load_default()


def _tile_image(run: RunSummary, tile: int) -> Image.Image | None:
    """The portrait at ``tile`` px: rendered from genome.json, else best.png resized, else None."""
    genome_path = run.genome
    if genome_path is not None:
        try:
            from polyface.genome import GenomeError, from_json
            from polyface.render.cairo import render_rgb

            return Image.fromarray(render_rgb(from_json(genome_path.read_text(encoding="utf-8")), tile))
        except (OSError, UnicodeDecodeError, GenomeError) as e:
            log.warning("%s: cannot render (%s); using best.png", genome_path, e)
    png = run.png
    if png is not None:
        try:
            with Image.open(png) as im:
                im = im.convert("RGB")
                im.thumbnail((tile, tile), Image.Resampling.LANCZOS)
                if im.size != (tile, tile):  # a non-square picture: centre it
                    canvas = Image.new("RGB", (tile, tile), SHEET_BACKGROUND)
                    canvas.paste(im, ((tile - im.size[0]) // 2, (tile - im.size[1]) // 2))
                    im = canvas
                return im
        except (OSError, ValueError, Image.DecompressionBombError) as e:
            log.warning("%s: unreadable (%s)", png, e)
    return None


def _fit(draw: ImageDraw.ImageDraw, text: str, font: Any, width: int) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "\u2026", font=font) > width:
        text = text[:-1]
    return text + "\u2026"


def contact_sheet(runs: Sequence[RunSummary], out: str | Path, tile: int = 192, columns: int | None = None) -> Path:
    """Write a PNG grid of the runs' portraits, in the given order, with seed and score beneath.

    Each portrait is rendered from ``genome.json`` at ``tile`` px (sharpest), else taken from
    ``best.png`` resized; a run with neither gets an empty, labelled tile. ``columns`` defaults
    to a near-square grid. Unfinished runs carry their status on a second line. Atomic.
    """
    if isinstance(tile, bool) or not isinstance(tile, (int, np.integer)) or not 16 <= tile <= 4096:
        raise ValueError(f"tile must be an integer in 16..4096 pixels, got {tile!r}")
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


# --------------------------------------------------------------------------- index.html


def _e(v: Any) -> str:
    return html.escape(str(v), quote=True)


def _href(gallery_dir: Path, target: Path) -> str:
    rel = os.path.relpath(target, gallery_dir)
    return "/".join(quote(part) for part in Path(rel).parts)


_STYLE = """
:root { color-scheme: light; --bg: #e8e8e8; --card: #fafafa; --ink: #1c1c1c; --dim: #666; }
* { box-sizing: border-box; }
body { margin: 0; padding: 1.5rem; background: var(--bg); color: var(--ink);
  font: 15px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header { display: flex; flex-wrap: wrap; gap: .5rem 2rem; align-items: baseline; margin-bottom: 1rem; }
h1 { font-size: 1.4rem; margin: 0; }
#runs { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: 1rem; }
.run { margin: 0; padding: .75rem; background: var(--card); border-radius: 6px;
  box-shadow: 0 1px 3px rgba(0,0,0,.15); }
.run img, .run .missing { display: block; width: 100%; height: auto; aspect-ratio: 1 / 1;
  background: #2a2a2a; border-radius: 3px; }
.run .missing { display: flex; align-items: center; justify-content: center; color: #bbb; }
img[data-state="broken"] { outline: 3px dashed #c00; outline-offset: -3px; color: #f66;
  background: repeating-linear-gradient(45deg, #3a1d1d 0 10px, #2a2a2a 10px 20px); }
figcaption { margin-top: .5rem; }
.seed { font-weight: 600; }
.status { margin-left: .4rem; padding: 0 .35rem; border-radius: 3px; background: #f3d9b8; color: #7a3d00;
  font-size: .8rem; }
dl { display: grid; grid-template-columns: auto 1fr; gap: 0 .75rem; margin: .35rem 0; font-size: .88rem; }
dt { color: var(--dim); }
dd { margin: 0; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
nav a { margin-right: .6rem; }
#broken-note { padding: .5rem .75rem; background: #fbe3e3; color: #900; border-radius: 4px; }
"""

_SCRIPT = """
(function () {
  var box = document.getElementById("runs");
  var select = document.getElementById("sort");
  function num(card, key, missing) {
    var v = card.getAttribute("data-" + key);
    return v === "" || v === null ? missing : Number(v);
  }
  var orders = {
    score: function (a, b) { return num(b, "score", -Infinity) - num(a, "score", -Infinity) || num(a, "seed", Infinity) - num(b, "seed", Infinity); },
    seed: function (a, b) { return num(a, "seed", Infinity) - num(b, "seed", Infinity); },
    time: function (a, b) { return num(a, "time", Infinity) - num(b, "time", Infinity) || num(a, "seed", Infinity) - num(b, "seed", Infinity); }
  };
  function apply(key) {
    if (!orders[key]) { return; }
    select.value = key;
    var cards = Array.prototype.slice.call(box.children);
    cards.sort(orders[key]);
    cards.forEach(function (c) { box.appendChild(c); });
  }
  select.addEventListener("change", function () { apply(select.value); });
  var asked = /sort=(score|seed|time)/.exec(location.hash);  // e.g. index.html#sort=seed
  if (asked) { apply(asked[1]); }
  window.addEventListener("load", function () {
    var broken = document.querySelectorAll('img[data-state="broken"]').length;
    var note = document.getElementById("broken-note");
    if (broken) { note.textContent = broken + " image(s) failed to load."; note.hidden = false; }
  });
})();
"""


def _card(gallery_dir: Path, run: RunSummary) -> str:
    seed = run.seed if run.seed is not None else run.name
    attrs = (
        f' data-seed="{_e("" if run.seed is None else run.seed)}"'
        f' data-score="{_e("" if run.best is None else repr(run.best))}"'
        f' data-time="{_e("" if run.elapsed_s is None else repr(run.elapsed_s))}"'
        f' data-status="{_e(run.status or "")}"'
    )
    png = run.png
    if png is not None:
        src = _e(_href(gallery_dir, png))
        picture = (
            f'<a href="{src}"><img src="{src}" alt="{_e(f"portrait, seed {seed}")}" width="256" height="256"'
            ' onload="this.setAttribute(\'data-state\',\'loaded\')"'
            ' onerror="this.setAttribute(\'data-state\',\'broken\')"></a>'
        )
    else:
        picture = '<div class="missing">no portrait</div>'
    status = "" if run.finished else f' <span class="status">{_e(run.status or "unfinished")}</span>'
    rows = [
        ("score", format_score(run.best)),
        ("probability", format_score(run.best_prob)),
        ("generations", "\u2014" if run.generations is None else f"{run.generations:,}"),
        ("time", format_duration(run.elapsed_s)),
        ("preset", run.preset if run.preset is not None else "\u2014"),
    ]
    dl = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in rows)
    links = [
        f'<a href="{_e(_href(gallery_dir, p))}">{label}</a>'
        for label, p in (("PNG", png), ("SVG", run.svg), ("GIF", run.gif), ("genome", run.genome))
        if p is not None
    ]
    return (
        f'<figure class="run"{attrs}>{picture}<figcaption><span class="seed">seed {_e(seed)}</span>{status}'
        f"<dl>{dl}</dl><nav>{' '.join(links)}</nav></figcaption></figure>"
    )


def render_index(gallery_dir: str | Path, runs: Sequence[RunSummary], title: str = "polyface gallery") -> str:
    """The HTML of the index page (see :func:`write_index`)."""
    gallery_dir = Path(gallery_dir)
    ordered = by_score(runs)
    sheet = gallery_dir / CONTACT_SHEET
    sheet_link = f' \u00b7 <a href="{_e(quote(CONTACT_SHEET))}">contact sheet</a>' if sheet.is_file() else ""
    unfinished = sum(1 for r in ordered if not r.finished)
    count = f"{len(ordered)} portrait{'s' if len(ordered) != 1 else ''}"
    if unfinished:
        count += f" ({unfinished} unfinished)"
    cards = "\n".join(_card(gallery_dir, r) for r in ordered)
    csp = "default-src 'none'; img-src 'self' file: data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{_e(csp)}">
<title>{_e(title)}</title>
<style>{_STYLE}</style>
</head>
<body>
<header>
<h1>{_e(title)}</h1>
<p>{_e(count)}{sheet_link}</p>
<p><label for="sort">sort by</label> <select id="sort">
<option value="score" selected>score (best first)</option>
<option value="seed">seed</option>
<option value="time">time</option>
</select></p>
</header>
<p id="broken-note" hidden></p>
<main id="runs">
{cards}
</main>
<script>{_SCRIPT}</script>
</body>
</html>
"""


def write_index(gallery_dir: str | Path, runs: Sequence[RunSummary]) -> Path:
    """Write ``gallery_dir/index.html``: every run, best score first, atomically.

    Static and self-contained (a Content-Security-Policy forbids any network request); shows
    each portrait with seed, score, probability, generations, time and preset, and links its
    PNG, SVG, GIF and genome only when the file exists, by relative URLs. Every value is
    HTML-escaped. Each ``<img>`` sets ``data-state="loaded"`` or ``"broken"`` when it loads or
    fails, and broken images are outlined and counted on the page. A small inline script
    offers re-sorting by seed or time (also on opening, from a ``#sort=seed`` or ``#sort=time`` URL).
    """
    gallery_dir = Path(gallery_dir)
    return write_text(gallery_dir / INDEX, render_index(gallery_dir, runs))
