"""Polishing with the mirror broken: first portraits polished mirrored (as shipped) and as free shapes.

    python benchmarks/bench_mirror_polish.py --runs RUNS [--arm mirrored|free] [--polish 200]

``RUNS`` holds seed folders as ``bench_transfer.py`` writes them, of a preset run with
``polish = 0`` (each ends at its first verified portrait, with a checkpoint). For each verified
one, the run goes on from its checkpoint for ``--polish`` generations and is stretched in
contrast, as the default's run does after its portrait. Arm ``mirrored`` polishes as shipped.
Arm ``free`` first makes every mirror image an explicit polygon (the same picture, twice the
polygons, no longer mirrored) and polishes with mutations that move each side on its own: the
symmetry becomes approximate. Each polished portrait is written to
``<RUNS>/<arm>/<seed>/best.png`` and judged as ``bench_transfer.py`` judges (LBP, HOG, MMOD,
edge to edge and framed). Run the two arms side by side, each in its own process; then
``--sheet PNG`` puts each seed's first portrait and its two polished ones side by side.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_transfer import VIEWS, judge_run, verified_runs  # noqa: E402
from common import machine, table, write_json  # noqa: E402
from judges import make_judges  # noqa: E402

from polyface.atomic import write_text  # noqa: E402
from polyface.config import Config, apply  # noqa: E402
from polyface.genome import Genome  # noqa: E402
from polyface.render.cairo import save  # noqa: E402
from polyface.run import build, verify_sizes  # noqa: E402
from polyface.runio import readers  # noqa: E402
from polyface.search.loop import LoopState, StopRules, run_loop  # noqa: E402

JUDGES = ["lbp", "hog", "mmod"]
ARMS = ("mirrored", "free")


def unmirrored(g: Genome | None) -> Genome | None:
    """The same picture with every mirror image an explicit polygon of its own (no palettes)."""
    if g is None or not g.symmetric:
        return g
    if g.palette is not None:
        raise ValueError("bench_mirror_polish takes genomes without a palette (the default's)")
    verts, cols = g.drawn()
    return Genome(verts.copy(), cols.copy(), g.background.copy(), g.mode, False)


def polish(run: Path, arm: str, generations: int) -> tuple[Genome, dict]:
    """Go on from ``run``'s checkpoint for ``generations`` and stretch; the portrait and its result."""
    cfg = apply(Config(), readers.read_config(run), str(run / "config.toml"))
    problem, strategy = build(cfg, torch.device("cpu"))
    ck = readers.read_checkpoint(run)
    strategy.load_state_dict(ck["strategy"])
    problem.load_state_dict(ck["problem"])
    state = LoopState.from_dict(ck["loop"])
    if arm == "free":
        st = strategy.state
        st.parents = [unmirrored(g) for g in st.parents]
        strategy.settings = dataclasses.replace(
            strategy.settings, symmetric=False, max_polygons=2 * strategy.settings.max_polygons
        )
        same = state.verified is state.best
        state.best, state.kept, state.verified = (unmirrored(g) for g in (state.best, state.kept, state.verified))
        if same:
            state.verified = state.best
    before = state.elapsed_s
    rules = StopRules(max_generations=state.generation + generations, polish=generations)
    result = run_loop(strategy, problem, rules, verify_sizes(cfg), state=state, checkpoint_every=0, contrast=2.0)
    problem.close()
    return result.genome, {
        "portrait": result.portrait,
        "polygons": result.genome.n_polygons,
        "contrast": result.contrast,
        "polish s": round(result.elapsed_s - before, 1),
    }


def sheet(runs: Path, out: Path, tile: int = 128) -> Path:
    """One row a seed that both arms polished: its first portrait, polished mirrored, polished free."""
    from PIL import Image, ImageDraw

    seeds = [r.name for r in verified_runs(runs) if all((runs / a / r.name / "best.png").is_file() for a in ARMS)]
    pad, head = 6, 18
    img = Image.new("RGB", (3 * (tile + pad) + pad, head + len(seeds) * (tile + pad) + pad), "white")
    draw = ImageDraw.Draw(img)
    for c, title in enumerate(("first portrait", "polished mirrored", "polished free")):
        draw.text((pad + c * (tile + pad), 4), title, fill="black")
    for r, seed in enumerate(seeds):
        for c, path in enumerate([runs / seed / "best.png"] + [runs / a / seed / "best.png" for a in ARMS]):
            with Image.open(path) as im:
                small = im.convert("RGB").resize((tile, tile), Image.LANCZOS)
            img.paste(small, (pad + c * (tile + pad), head + pad + r * (tile + pad)))
        draw.text((pad + 2, head + pad + r * (tile + pad) + 2), f"seed {seed}", fill="white")
    img.save(out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=Path, required=True, help="a polish = 0 transfer run's folder")
    ap.add_argument("--arm", choices=ARMS, default="mirrored")
    ap.add_argument("--polish", type=int, default=200, help="generations of polishing after the first portrait")
    ap.add_argument("--name", default=None, help="name of the JSON file under benchmarks/results/")
    ap.add_argument("--sheet", type=Path, help="only write this PNG: each seed's first portrait and both arms' polish")
    args = ap.parse_args()
    if args.sheet:
        print(sheet(args.runs, args.sheet))
        return
    torch.set_num_threads(1)  # one core an arm: the two arms run side by side
    judges = make_judges(JUDGES)
    rows = []
    for run in verified_runs(args.runs):
        out = args.runs / args.arm / run.name
        out.mkdir(parents=True, exist_ok=True)
        genome, row = polish(run, args.arm, args.polish)
        save(genome, out / "best.png", 512)
        write_text(out / "genome.json", genome.to_json())
        verdict = judge_run(out, judges)
        row = {"seed": run.name, **row}
        for view in VIEWS:
            row[view] = " ".join(f"{n}:{'y' if verdict[view][n] else 'n'}" for n in JUDGES)
            row[f"{view} ok"] = all(verdict[view].values())
        rows.append(row)
        print(row, flush=True)
    n = len(rows)
    summary = {"arm": args.arm, "portraits": n}
    for view in VIEWS:
        summary[f"all three {view}"] = f"{sum(r[f'{view} ok'] for r in rows)}/{n}"
        for j in JUDGES:
            summary[f"{j} {view}"] = f"{sum(f'{j}:y' in r[view].split() for r in rows)}/{n}"
    print()
    print(table(rows, list(rows[0])))
    print()
    print(table([summary], list(summary)))
    payload = {"machine": machine(), "args": {k: str(v) for k, v in vars(args).items()}, "rows": rows, "summary": summary}
    print(f"\nwrote {write_json(args.name or f'bench_mirror_polish_{args.arm}', payload)}")


if __name__ == "__main__":
    main()
