"""Every style, by three searches on the same seeds and wall budget: evolution, the hybrid, PGPE.

    python benchmarks/bench_styles.py [--styles default mono ...] [--seeds 301 302 303] [--time 60]
                                      [--refine 5] [--top 1] [--keep-polish]

A style is a built-in preset; ``random-default`` is the default started from random shapes
(``init = "random"``). The arms: ``evolution``, the population strategy (Pareidoloop keeps its
hill climb); ``hybrid``, it with ``refine`` gradient steps for the best ``top`` parents each
generation, on the random starts; ``distribution``, PGPE with ClipUp (``strategy = "pgpe"``),
wherever the start has shapes. For each style and seed, one run per arm (``evolve`` with
``seed`` and ``time_limit``, stopping at the first portrait the final check accepts unless
``--keep-polish``), the arms alternating which goes first so that all see the same load. Each
verified portrait is shown, framed by a border of 30% of its side at 128, 256 and 512 px, to
two held-out judges the fitness never uses: dlib's HOG detector and dlib's MMOD CNN
(``pip install 'polyface[judges]'``); it is accepted when both find a face at least
``judges.MIN_SIDE`` of the portrait's side at every size.

Per style and arm: seeds verified within the budget, the median seconds to the first verified
portrait (``Result.portrait_s``; an unverified seed counts as over the budget), the share of
verified portraits both judges accept, the median polygons, and how many runs' first frame is a
face to no member of the judge. Prints the table, writes benchmarks/results/bench_styles.json,
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
ARMS = ("evolution", "hybrid", "distribution")
RANDOM_STARTS = ("random-default", "mono", "triangles")  # the hybrid is measured where the start is random
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


def applies(arm: str, style: str, base) -> bool:
    """Whether ``arm`` is measured on ``style``: evolution everywhere; the hybrid on the random
    starts; the distribution strategy wherever the start has shapes to move (not Pareidoloop's
    empty canvas)."""
    if arm == "hybrid":
        return style in RANDOM_STARTS
    if arm == "distribution":
        return base.polygons > 0
    return True


def arm_config(base, arm: str, args):
    """The style's settings for one arm: the population strategy (Pareidoloop keeps its hill
    climb), it with ``refine`` gradient steps, or PGPE; polishing as the style says, or none."""
    polish = base.polish if args.keep_polish else 0
    if arm == "distribution":
        return base.replace(strategy="pgpe", refine=0, polish=polish)
    strategy = base.strategy if base.strategy == "hillclimb" else "population"
    refine = args.refine if arm == "hybrid" else 0
    return base.replace(strategy=strategy, refine=refine, refine_top=args.top, polish=polish)


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
    ap.add_argument("--keep-polish", action="store_true", help="polish as the style says (default: stop at the first verified portrait)")
    ap.add_argument("--arms", nargs="+", choices=ARMS, default=list(ARMS))
    ap.add_argument("--tag", default="", help="a name for a partial run: its JSON and sheets go to benchmarks/results/ as bench_styles-TAG")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    judges = make_judges(["hog", "mmod"])
    pictures = RESULTS / "bench_styles"
    pictures.mkdir(parents=True, exist_ok=True)
    arms = [a for a in ARMS if a in args.arms]
    name = f"bench_styles-{args.tag}" if args.tag else "bench_styles"
    sheets_dir = RESULTS if args.tag else DOCS
    runs, sheets = [], {arm: {} for arm in arms}
    for style in args.styles:
        base = style_config(style)
        mine = [a for a in arms if applies(a, style, base)]
        for i, seed in enumerate(args.seeds):
            for arm in mine if i % 2 == 0 else mine[::-1]:  # alternate which arm goes first
                cfg = arm_config(base, arm, args).replace(seed=seed, time_limit=args.time, threads=args.threads)
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
        for arm in mine:
            done = sorted((x for x in runs if x["style"] == style and x["arm"] == arm), key=lambda x: x["seed"])
            sheets[arm][style] = [pictures / f"{style}-{arm}-s{x['seed']}.png" if x["portrait"] else None for x in done]
    rows = []
    for style in args.styles:
        for arm in arms:
            mine = [x for x in runs if x["style"] == style and x["arm"] == arm]
            if not mine:
                continue
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
    for arm in arms:
        if sheets[arm]:
            sheet(sheets[arm], sheets_dir / (f"{name}-{arm}.png" if args.tag else f"styles-{arm}.png"))
    path = write_json(name, {"machine": machine(), "args": vars(args), "rows": rows, "runs": runs})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
