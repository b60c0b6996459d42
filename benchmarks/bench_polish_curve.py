"""How the independent HOG judge's margin moves while a run polishes its portrait.

    python benchmarks/bench_polish_curve.py --runs benchmarks/results/transfer/default-full

For each seed folder of finished runs (``bench_transfer.py --finish``), takes the best genome of
history.jsonl at 0, 25, 50, ... 200 generations after the first verified portrait (before the
contrast stretch), renders it at 512 px, and asks dlib's HOG detector (the judge the default's
portraits fail most) for its score edge to edge at 128, 256 and 512 px: the lowest of the three
is the margin (>= 0: accepted at every size). The last column is the run's portrait as written
(best.png, stretched). Prints a table per seed and the median and share accepted per column;
writes benchmarks/results/bench_polish_curve.json. Needs ``pip install 'polyface[judges]'``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_transfer import SIZES, seed_runs  # noqa: E402
from common import machine, table, write_json  # noqa: E402
from judges import HOGJudge, framed  # noqa: E402

from polyface.genome_json import from_dict  # noqa: E402
from polyface.render.cairo import save  # noqa: E402
from polyface.runio.readers import read_history, read_result  # noqa: E402

OFFSETS = (0, 25, 50, 75, 100, 150, 200)


def hog_margin(judge: HOGJudge, png: Path) -> float:
    """The lowest over the transfer benchmark's SIZES of the HOG judge's margin, edge to edge."""
    return min(judge.margin(*framed(png, s, 0.0)) for s in SIZES)


def genome_at(history: list, generation: int) -> dict:
    """The best genome of a run's history (``read_history``) at ``generation``: the last entry
    with a genome at or before it."""
    best = [e.genome for e in history if e.genome is not None and (e.generation or 0) <= generation]
    if not best:
        raise SystemExit(f"no genome in the history at generation {generation}")
    return best[-1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", required=True, help="a folder of seed folders written by bench_transfer.py --finish")
    ap.add_argument("--name", default="bench_polish_curve", help="name of the JSON file under benchmarks/results/")
    args = ap.parse_args()
    judge = HOGJudge()
    runs = seed_runs(Path(args.runs))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / "g.png"
        for run in runs:
            res = read_result(run)
            first = res.get("portrait_generation")
            if first is None:
                continue
            history = read_history(run)
            row = {"seed": int(run.name), "first portrait gen": first}
            for off in OFFSETS:
                if first + off > res["generations"]:
                    row[f"+{off}"] = None
                    continue
                save(from_dict(genome_at(history, first + off)), png, 512)
                row[f"+{off}"] = hog_margin(judge, png)
            row["final (stretched)"] = hog_margin(judge, run / "best.png")
            rows.append(row)
            print(row, flush=True)
    cols = [c for c in rows[0] if c.startswith("+") or c.startswith("final")]
    summary = []
    for c in cols:
        vals = [r[c] for r in rows if r[c] is not None]  # unrounded: -0.003 is a no
        summary.append({"after": c, "runs": len(vals), "median HOG margin": f"{statistics.median(vals):.2f}",
                        "accepted": f"{sum(v >= 0 for v in vals)}/{len(vals)}"})
    shown = [{k: (f"{v:+.2f}" if isinstance(v, float) else v) for k, v in r.items()} for r in rows]
    print()
    print(table(shown, list(shown[0])))
    print()
    print(table(summary, list(summary[0])))
    path = write_json(args.name, {"machine": machine(), "args": vars(args), "runs": rows, "summary": summary})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
