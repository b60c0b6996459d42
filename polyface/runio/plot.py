"""The score curve as a small standalone SVG (no plotting library), and the hook that writes
it into the run folder as ``score.svg`` at the end of a run.

``score_svg(points, ...)`` takes (x, best, mean) triples, x being the generation; ``mean`` may
be None. It also draws a sparkline (no axes, no labels) for cards in a gallery.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape

from polyface import atomic
from polyface import validate as v
from polyface.runio import readers
from polyface.runio.layout import RunFolderError
from polyface.judge.score import PASS_TIER

SCORE_SVG = "score.svg"
MAX_POINTS = 600  # a curve is thinned to at most this many points
MAX_LABELS = 10  # score labels on the axis, at most (one per integer while they fit)
BEST, MEAN, PASS, INK = "#e0c097", "#7f8fa6", "#6fbf73", "#c8c8c8"

Point = tuple[float, float, float | None]


def thin(points: Sequence[Point], n: int = MAX_POINTS) -> list[Point]:
    """At most ``n`` points spread evenly over ``points``, the first and the last kept."""
    if len(points) <= n:
        return list(points)
    step = (len(points) - 1) / (n - 1)
    return [points[round(i * step)] for i in range(n)]


def _path(xy: list[tuple[float, float]]) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)


def score_svg(
    points: Sequence[Point],
    width: int = 480,
    height: int = 200,
    pass_tier: float = PASS_TIER,
    sparkline: bool = False,
    title: str = "score",
) -> str:
    """An SVG document of the best (and mean) score against generation, the pass tier dashed."""
    pts = [p for p in thin([p for p in points if math.isfinite(p[0]) and math.isfinite(p[1])])]
    pad_l, pad_r, pad_t, pad_b = (2, 2, 2, 2) if sparkline else (34, 10, 10, 24)
    w, h = width - pad_l - pad_r, height - pad_t - pad_b
    xs = [p[0] for p in pts] or [0.0, 1.0]
    x0, x1 = min(xs), max(max(xs), min(xs) + 1)
    ys = [p[1] for p in pts] + [p[2] for p in pts if p[2] is not None and math.isfinite(p[2])]
    y0, y1 = min([0.0, *ys]), max([pass_tier + 1.0, *ys])

    def sx(x: float) -> float:
        return pad_l + (x - x0) / (x1 - x0) * w

    def sy(y: float) -> float:
        return pad_t + (1 - (y - y0) / (y1 - y0)) * h

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    ty = sy(pass_tier)
    out.append(
        f'<line class="pass" x1="{pad_l}" x2="{pad_l + w}" y1="{ty:.1f}" y2="{ty:.1f}" '
        f'stroke="{PASS}" stroke-dasharray="4 3" stroke-width="1"/>'
    )
    if not sparkline:
        out.append(f'<text x="{pad_l + w - 2}" y="{ty - 3:.1f}" fill="{PASS}" font-size="10" '
                   f'text-anchor="end" font-family="sans-serif">pass</text>')
        lo, hi = math.floor(y0), math.ceil(y1)
        for yv in range(lo, hi + 1, max(1, math.ceil((hi - lo) / MAX_LABELS))):
            out.append(f'<text x="{pad_l - 4}" y="{sy(yv) + 3:.1f}" fill="{INK}" font-size="10" '
                       f'text-anchor="end" font-family="sans-serif">{yv}</text>')
        out.append(f'<text x="{pad_l}" y="{height - 6}" fill="{INK}" font-size="10" font-family="sans-serif">'
                   f"gen {int(x0)}</text>")
        out.append(f'<text x="{pad_l + w}" y="{height - 6}" fill="{INK}" font-size="10" text-anchor="end" '
                   f'font-family="sans-serif">gen {int(x1)}</text>')
    means = [(sx(x), sy(m)) for x, _, m in pts if m is not None and math.isfinite(m)]
    if means and not sparkline:
        out.append(f'<polyline class="mean" fill="none" stroke="{MEAN}" stroke-width="1" points="{_path(means)}"/>')
    best = [(sx(x), sy(b)) for x, b, _ in pts]
    if best:
        out.append(f'<polyline class="best" fill="none" stroke="{BEST}" stroke-width="{1.5 if sparkline else 2}" '
                   f'points="{_path(best)}"/>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


MAX_SCORE = 1e6  # far beyond any score a run reaches; a larger one is not a record of ours


def _record(d: object) -> Point | None:
    """(generation, best, mean) of one parsed log line, None when it is not such a record."""
    if not isinstance(d, dict):
        return None
    g, b, m = d.get("generation"), d.get("best"), d.get("mean")
    try:
        g = v.integer(g, "generation", 0, 10**15)
        b = v.number(b, "best", -MAX_SCORE, MAX_SCORE)
        m = v.optional(v.number, m, "mean", -MAX_SCORE, MAX_SCORE)
    except v.FieldError:
        return None
    return (float(g), b, m)


def read_log_points(path: Path) -> list[Point]:
    """(generation, best, mean) from a run's log.jsonl, read as every run file is (a regular
    file under its cap, strict JSON); lines that are not such records are skipped."""
    try:
        text = readers.read_text(Path(path), "log file")
    except RunFolderError:
        return []
    pts: list[Point] = []
    for line in text.splitlines():
        try:
            p = _record(v.loads(line))
        except v.FieldError:
            continue
        if p is not None:
            pts.append(p)
    return pts


class ScorePlot:
    """Hook: writes ``score.svg`` (from the folder's log.jsonl, so resumed runs keep their start)."""

    def __init__(self, out: Path) -> None:
        self.out = Path(out)

    def on_end(self, result) -> None:
        from polyface.runio.layout import RunFolderError

        pts = read_log_points(self.out / "log.jsonl")
        try:
            atomic.write_text(self.out / SCORE_SVG, score_svg(pts, title=f"score, {result.status}"))
        except OSError as e:
            raise RunFolderError(f"{self.out / SCORE_SVG}: cannot be written ({e.strerror or e})") from None
