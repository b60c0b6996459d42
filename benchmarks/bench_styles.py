"""Every style, evolution alone against the Lamarckian hybrid, on the same seeds and wall budget.

    python benchmarks/bench_styles.py [--styles default mono ...] [--seeds 301 302 303] [--time 60]
                                      [--refine 5] [--top 1]

A style is a built-in preset; ``random-default`` is the default started from random shapes
(``init = "random"``). For each style and seed, one run per arm as a user runs it (``evolve``
of the preset with ``seed`` and ``time_limit``, polishing as the preset says until the time
limit, and ``refine`` 0 or K), the arms alternating which goes first so that both see the same
load. Each run's portrait, when verified, is then shown, framed by a border of 30% of its side
at 128, 256 and 512 px, to two held-out judges the fitness never uses: dlib's HOG detector and
dlib's MMOD CNN (``pip install 'polyface[judges]'``); it is accepted when both find a face at
least ``judges.MIN_SIDE`` of the portrait's side at every size.

Per style and arm: seeds verified within the budget, the median seconds to the first verified
portrait (``Result.portrait_s``; an unverified seed counts as over the budget), the share of
verified portraits both judges accept, the median polygons, and how many runs' first frame is
a face to no member of the judge (the issue's "a face appears"). Prints the table, writes benchmarks/results/bench_styles.json,
each portrait as benchmarks/results/bench_styles/<style>-<arm>-s<seed>.png, and one contact
sheet per arm, styles as rows and seeds as columns, as docs/styles-<arm>.png.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import torch
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_transfer import judge_run  # noqa: E402
from common import RESULTS, machine, table, write_json  # noqa: E402
from judges import make_judges  # noqa: E402

from polyface import run  # noqa: E402
from polyface.preset import load_preset  # noqa: E402
from polyface.judge.judge import judge_for  # noqa: E402
from polyface.render.cairo import render_batch, save  # noqa: E402

STYLES = ("default", "colour", "turned", "random-default", "mono", "triangles", "pareidoloop")
DOCS = Path(__file__).resolve().parent.parent / "docs"
TILE = 96  # px per portrait on a contact sheet
WORK = 64  # px at which the first frame is shown to the judge


def style_config(style: str):
    """The Config of a style: a built-in preset, or ``random-default``."""
    if style == "random-default":
        return load_preset("default").replace(init="random", preset="random-default")
    return load_preset(style)


class FirstFrame:
    """A hook that keeps the run's first best genome (its first frame)."""

    genome = None

    def on_start(self, genome) -> None:
        self.genome = genome

    def face(self, judge) -> bool:
        """Whether any member of ``judge`` sees a face in the first frame (at the work size)."""
        readings, _ = judge.votes(render_batch([self.genome], WORK))
        return any(bool(r.det.count[0] > 0) if r.det is not None else bool(r.passes[0]) for r in readings.values())


def sheet(paths: dict[str, list[Path | None]], out: Path) -> None:
    """Styles as rows (labelled), seeds as columns; an empty tile where a run made no portrait."""
    cols = max(len(v) for v in paths.values())
    label = 110
    im = Image.new("RGB", (label + cols * TILE, len(paths) * TILE), "white")
    draw = ImageDraw.Draw(im)
    for r, (style, row) in enumerate(paths.items()):
        draw.text((6, r * TILE + TILE // 2 - 6), style, fill="black")
        for c, p in enumerate(row):
            if p is not None:
                with Image.open(p) as tile:
                    im.paste(tile.convert("RGB").resize((TILE, TILE), Image.LANCZOS), (label + c * TILE, r * TILE))
    tmp = out.with_name(out.name + ".tmp")
    im.save(tmp, format="PNG", optimize=True)
    tmp.replace(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--styles", nargs="+", default=list(STYLES))
    ap.add_argument("--seeds", type=int, nargs="+", default=[301, 302, 303])
    ap.add_argument("--time", type=float, default=60.0)
    ap.add_argument("--refine", type=int, default=5)
    ap.add_argument("--top", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    judges = make_judges(["hog", "mmod"])
    pictures = RESULTS / "bench_styles"
    pictures.mkdir(parents=True, exist_ok=True)
    arms = [("evolution", 0), ("hybrid", args.refine)]
    runs, sheets = [], {arm: {} for arm, _ in arms}
    for style in args.styles:
        base = style_config(style)
        for arm, _ in arms:
            sheets[arm][style] = []
        for i, seed in enumerate(args.seeds):
            for arm, k in arms if i % 2 == 0 else arms[::-1]:  # alternate which arm goes first
                cfg = base.replace(seed=seed, time_limit=args.time, refine=k, refine_top=args.top, threads=args.threads)
                first = FirstFrame()
                r = run.evolve(cfg, write=False, hooks=[first])
                png = pictures / f"{style}-{arm}-s{seed}.png"
                save(r.genome, png, 256)
                accepted = None
                if r.portrait:
                    with tempfile.TemporaryDirectory() as d:
                        save(r.genome, Path(d) / "best.png", 512)
                        accepted = all(judge_run(Path(d), judges)["framed"].values())
                runs.append({
                    "style": style, "arm": arm, "seed": seed, "portrait": r.portrait,
                    "first_portrait_s": round(r.portrait_s, 1) if r.portrait_s is not None else None,
                    "seconds": round(r.elapsed_s, 1), "score": round(float(r.score), 3),
                    "first_frame_face": first.face(judge_for(cfg)),
                    "held_out": accepted, "polygons": r.genome.n_polygons, "generations": r.generations,
                })
                print(table(runs[-1:], list(runs[-1])), flush=True)
        for arm, _ in arms:
            mine = sorted((x for x in runs if x["style"] == style and x["arm"] == arm), key=lambda x: x["seed"])
            sheets[arm][style] = [pictures / f"{style}-{arm}-s{x['seed']}.png" if x["portrait"] else None for x in mine]
    rows = []
    for style in args.styles:
        for arm, _ in arms:
            mine = [x for x in runs if x["style"] == style and x["arm"] == arm]
            ok = [x for x in mine if x["portrait"]]
            median = statistics.median(x["first_portrait_s"] if x["portrait"] else float("inf") for x in mine)
            rows.append({
                "style": style, "arm": arm,
                "verified within budget": f"{len(ok)}/{len(mine)}",
                "median s": f"{median:.1f}" if median != float("inf") else f">{args.time:.0f}",
                "HOG+MMOD accept": f"{sum(bool(x['held_out']) for x in ok)}/{len(ok)}",
                "median polygons": statistics.median(x["polygons"] for x in mine),
                "first frame no face": f"{sum(not x['first_frame_face'] for x in mine)}/{len(mine)}",
            })
    print(table(rows, list(rows[0])))
    for arm, _ in arms:
        sheet(sheets[arm], DOCS / f"styles-{arm}.png")
    path = write_json("bench_styles", {"machine": machine(), "args": vars(args), "rows": rows, "runs": runs})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
