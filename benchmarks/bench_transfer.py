"""Do portraits transfer? The share of final portraits that an independent detector accepts.

    python benchmarks/bench_transfer.py [--seeds 10] [--time-limit 90] [--presets fool,default]

For each preset and seed, evolves a portrait (written under benchmarks/results/transfer/),
then asks BlazeFace (see judges.py; never used by a run) whether it sees a face whose box
is at least 30% of the portrait's side, on best.png at 128, 256 and 512 px, framed by a
border of 30% of its side in its background colour, as a print hangs on a wall
(``--margin 0`` judges it edge to edge: BlazeFace then accepted none of the polygon
portraits, though it accepts a real face photo either way). A portrait transfers when it
is accepted at every one of those sizes.
``--judge-only`` re-judges the run folders already there. Prints a table and writes
benchmarks/results/bench_transfer.json; the contact sheets are in the results folder.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, machine, table, write_json  # noqa: E402
from judges import BlazeFaceJudge, framed  # noqa: E402

from polyface.batch import write_pages  # noqa: E402
from polyface.preset import load_preset  # noqa: E402
from polyface.run import evolve  # noqa: E402

SIZES = (128, 256, 512)
TARGET = 0.8


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--seed-start", type=int, default=1)
    ap.add_argument("--time-limit", type=float, default=90.0)
    ap.add_argument("--presets", default="fool,default")
    ap.add_argument("--margin", type=float, default=0.3, help="border around each portrait, share of its side")
    ap.add_argument("--judge-only", action="store_true", help="judge the run folders already written")
    args = ap.parse_args()
    judge = BlazeFaceJudge()
    rows = []
    for preset in args.presets.split(","):
        folder = RESULTS / "transfer" / preset
        for seed in range(args.seed_start, args.seed_start + args.seeds):
            out = folder / str(seed)
            if args.judge_only:
                res = json.loads((out / "result.json").read_text())
                portrait, seconds = res["portrait"], res["elapsed_s"]
            else:
                if out.exists():
                    shutil.rmtree(out)
                cfg = load_preset(preset).replace(seed=seed, time_limit=args.time_limit)
                r = evolve(cfg, out=out)
                portrait, seconds = r.portrait, r.elapsed_s
            sides = []
            for s in SIZES:
                image, share = framed(out / "best.png", s, args.margin)
                sides.append(judge.best(image)[1] / share)  # box side relative to the portrait
            row = {
                "preset": preset,
                "seed": seed,
                "portrait": portrait,
                "seconds": round(seconds, 1),
                "blazeface side": " ".join(f"{x:.2f}" for x in sides),
                "transfers": all(x >= judge.min_side for x in sides),
            }
            rows.append(row)
            print(row, flush=True)
        write_pages(folder)
    summary = []
    for preset in args.presets.split(","):
        rs = [r for r in rows if r["preset"] == preset]
        share = sum(r["transfers"] for r in rs) / len(rs)
        summary.append(
            {
                "preset": preset,
                "portraits": f"{sum(r['portrait'] for r in rs)}/{len(rs)}",
                "accepted by BlazeFace": f"{sum(r['transfers'] for r in rs)}/{len(rs)} ({share:.0%})",
                "median s": round(statistics.median(r["seconds"] for r in rs), 1),
                f"target >= {TARGET:.0%}": "pass" if share >= TARGET else "FAIL",
            }
        )
    print()
    print(table(rows, ["preset", "seed", "portrait", "seconds", "blazeface side", "transfers"]))
    print()
    print(table(summary, list(summary[0])))
    name = "bench_transfer" if args.presets == "fool,default" else "bench_transfer_" + args.presets.replace(",", "_")
    path = write_json(name, {"machine": machine(), "args": vars(args), "runs": rows, "summary": summary})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
