"""The gallery's ``index.html``: a static, self-contained page of every run, from a Jinja2
template shipped with the package (``templates/gallery.html``, ``.css``, ``.js``), with
autoescaping on: every value from a run folder is HTML-escaped."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from urllib.parse import quote

import jinja2
from markupsafe import Markup

from polyface.atomic import write_text
from polyface.runio.contact_sheet import CONTACT_SHEET
from polyface.runio.layout import LOG, RunFolderError
from polyface.runio.plot import score_svg
from polyface.runio.readers import read_log
from polyface.runio.results import RunSummary, by_score
from polyface.runio.text import format_duration, format_score

INDEX = "index.html"
# No network: images from the gallery folder only; the page's own inline style and script.
CSP = "default-src 'none'; img-src 'self' file: data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"
_TEMPLATES = "polyface.runio"
SPARK_SIZE = (200, 36)  # a card's score sparkline, in SVG units (drawn at the card's width)

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader(_TEMPLATES, "templates"),
        autoescape=True,  # every template here is HTML
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )


def _asset(name: str) -> Markup:
    """The page's own CSS or script, trusted text shipped with the package."""
    return Markup(resources.files(_TEMPLATES).joinpath("templates", name).read_text(encoding="utf-8"))


def _href(gallery_dir: Path, target: Path) -> str:
    rel = os.path.relpath(target, gallery_dir)
    return "/".join(quote(part) for part in Path(rel).parts)


def _sparkline(run: RunSummary) -> Markup | None:
    """The run's score curve as inline SVG, or None when it has no readable ``log.jsonl``.

    Safe to inline unescaped: ``read_log`` checks every line (integer generations, finite
    scores) and ``score_svg`` writes only numbers it formats itself and the fixed title here;
    no text from the run folder reaches the markup.
    """
    if not (run.path / LOG).is_file():
        return None
    try:
        lines = read_log(run.path)
    except RunFolderError as e:
        log.warning("no score sparkline for %s: %s", run.path, e)
        return None
    points = [(float(d["generation"]), float(d["best"]), None) for d in lines]
    if not points:
        return None
    return Markup(score_svg(points, *SPARK_SIZE, sparkline=True, title="score curve"))


def _card(gallery_dir: Path, run: RunSummary) -> dict:
    """What the template shows of one run, as plain strings (the template escapes them)."""
    files = (("PNG", run.png), ("SVG", run.svg), ("GIF", run.gif), ("genome", run.genome))
    return {
        "seed": run.seed if run.seed is not None else run.name,
        "data_seed": "" if run.seed is None else run.seed,
        "data_score": "" if run.best is None else repr(run.best),
        "data_time": "" if run.elapsed_s is None else repr(run.elapsed_s),
        "status": run.status or "",
        "note": None if run.finished else (run.status or "unfinished"),
        "png": None if run.png is None else _href(gallery_dir, run.png),
        "gif": None if run.gif is None else _href(gallery_dir, run.gif),
        "spark": _sparkline(run),
        "rows": [
            ("score", format_score(run.best)),
            ("probability", format_score(run.min_prob)),
            ("generations", "\u2014" if run.generations is None else f"{run.generations:,}"),
            ("time", format_duration(run.elapsed_s)),
            ("preset", run.preset if run.preset is not None else "\u2014"),
        ],
        "links": [(label, _href(gallery_dir, p)) for label, p in files if p is not None],
    }


def render_index(gallery_dir: str | Path, runs: Sequence[RunSummary], title: str = "polyface gallery") -> str:
    """The HTML of the index page (see :func:`write_index`)."""
    gallery_dir = Path(gallery_dir)
    ordered = by_score(runs)
    unfinished = sum(1 for r in ordered if not r.finished)
    count = f"{len(ordered)} portrait{'s' if len(ordered) != 1 else ''}"
    if unfinished:
        count += f" ({unfinished} unfinished)"
    return _environment().get_template("gallery.html").render(
        title=title,
        csp=CSP,
        count=count,
        sheet_href=quote(CONTACT_SHEET) if (gallery_dir / CONTACT_SHEET).is_file() else None,
        cards=[_card(gallery_dir, r) for r in ordered],
        style=_asset("gallery.css"),
        script=_asset("gallery.js"),
    )


def write_index(gallery_dir: str | Path, runs: Sequence[RunSummary]) -> Path:
    """Write ``gallery_dir/index.html``: every run, best score first, atomically.

    Static and self-contained (a Content-Security-Policy forbids any network request); shows
    each portrait with seed, score, probability, generations, time and preset, and links its
    PNG, SVG, GIF and genome only when the file exists, by relative URLs. Every value is
    HTML-escaped. A card shows the run's score curve as an inline SVG sparkline (from its
    log.jsonl) and, where ``evolution.gif`` exists, plays it over the portrait on hover or
    keyboard focus (CSS only). Each ``<img>`` sets ``data-state="loaded"`` or ``"broken"`` when it loads or
    fails, and broken images are outlined and counted on the page. A small inline script
    offers re-sorting by seed or time (also on opening, from a ``#sort=seed`` or ``#sort=time`` URL).
    """
    gallery_dir = Path(gallery_dir)
    return write_text(gallery_dir / INDEX, render_index(gallery_dir, runs))
