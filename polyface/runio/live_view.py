"""What the run pages show of a genome: PNG bytes in memory, and what each member of the
run's judge sees in it, with its yes or no: the same verdicts as the final check and
``polyface score`` (``Judge.report``). The page draws each detector's faces (box, and
keypoints where it has them) as its own toggle."""

from __future__ import annotations

import io
import json
import threading

import cairo

from polyface.genome import Genome
from polyface.judge.judge import Judge, judge_for
from polyface.render.cairo import draw, render_batch

PNG_SIZES = (48, 64, 96, 128, 192, 256, 384, 512)


def png_bytes(genome: Genome, size: int) -> bytes:
    """The genome rendered (antialiased) at ``size`` px as PNG bytes; nothing touches the disk."""
    surface = cairo.ImageSurface(cairo.FORMAT_RGB24, size, size)
    draw(cairo.Context(surface), genome, size)
    buf = io.BytesIO()
    surface.write_to_png(buf)
    surface.finish()
    return buf.getvalue()


def sprite_png(genomes: list[Genome], cell: int = 56, cols: int = 8, gap: int = 2) -> bytes:
    """Many genomes as one PNG grid, row by row (one request for the page's population)."""
    rows = max(1, -(-len(genomes) // cols))
    width = min(len(genomes), cols) * (cell + gap) - gap if genomes else cell
    surface = cairo.ImageSurface(cairo.FORMAT_RGB24, max(width, 1), rows * (cell + gap) - gap)
    ctx = cairo.Context(surface)
    ctx.set_source_rgb(0.08, 0.08, 0.08)
    ctx.paint()
    for i, g in enumerate(genomes):
        ctx.save()
        ctx.translate((i % cols) * (cell + gap), (i // cols) * (cell + gap))
        ctx.rectangle(0, 0, cell, cell)
        ctx.clip()
        draw(ctx, g, cell)
        ctx.restore()
    buf = io.BytesIO()
    surface.write_to_png(buf)
    surface.finish()
    return buf.getvalue()


_lock = threading.Lock()
_judges: dict[str, Judge] = {}


def page_judge(values: dict) -> Judge:
    """The run's judge, on the CPU (the page never competes for the run's GPU memory), one lane;
    built once per distinct settings and kept."""
    from polyface.config import FIELDS, Config, ConfigError, apply

    try:
        cfg = apply(Config(), {k: v for k, v in values.items() if k in FIELDS}, "config.toml")
    except ConfigError:
        cfg = Config()
    key = json.dumps([cfg.blazeface, cfg.prior, cfg.haar, cfg.min_box, cfg.face_margin, cfg.target, cfg.landmarks])
    with _lock:
        if key not in _judges:
            _judges[key] = judge_for(cfg, "cpu")
        return _judges[key]


def detector_view(genome: Genome, size: int, values: dict | None = None) -> dict:
    """What the judge's final check sees in the genome's antialiased render at ``size`` px, member
    by member: ``{"size": size, "portrait": all yes, "detectors": [{"name", "label", "colour",
    "point_names", "faces", "portrait", and "correlation" or "depth" where the member has one}]}``,
    faces in canvas units (``Judge.report``)."""
    judge = page_judge(values or {})
    image = render_batch([genome], size, antialias=True)
    with _lock:  # one judge per page process: its cascades keep per-call state
        report = judge.report(image)
    views = []
    for m in judge.members:
        row = report[m.name]
        views.append({"name": m.name, "colour": m.colour, "point_names": list(m.points), "faces": [], **row})
    return {"size": size, "portrait": all(v["portrait"] for v in views), "detectors": views}
