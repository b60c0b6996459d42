"""Would more contrast help? Finished portraits with their shapes' greys moved away from the ground.

    python benchmarks/bench_contrast.py [--runs benchmarks/results/transfer/default] [--most 2]

For every verified portrait in the run folders (as ``bench_transfer.py`` writes them, from runs
with ``contrast = 1``), each polygon's colour c becomes ``ground + k * (c - ground)`` (clipped
to [0, 1]): what a run with ``contrast = most`` does as its last step (``search/contrast.py``).
Compositing is affine, so where nothing clips this stretches the whole picture's contrast
against the ground by k, and the result is still a genome: polygons only. The largest k in steps
of 0.25 up to ``--most`` that the run's own final check (every member of its ensemble, every
size from 64 to 1024 px) still accepts is kept, and the judges of ``bench_transfer.py`` look at
both (needs ``pip install 'polyface[judges]'``). Writes the stretched portraits under
benchmarks/results/contrast/<run folder name>_k<most>/ and benchmarks/results/<--name>.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_transfer import VERIFY, VIEWS, judge_run, verified_runs  # noqa: E402
from common import RESULTS, machine, table, write_json  # noqa: E402
from judges import make_judges  # noqa: E402

from polyface.config import Config, apply  # noqa: E402
from polyface.genome_json import from_json  # noqa: E402
from polyface.render.cairo import save  # noqa: E402
from polyface.run import build  # noqa: E402
from polyface.runio import readers  # noqa: E402
from polyface.search.contrast import stretch_portrait  # noqa: E402

JUDGES = ("lbp", "hog", "mmod")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=Path, default=RESULTS / "transfer" / "default")
    ap.add_argument("--most", type=float, default=2.0, help="the largest stretch tried (the preset's contrast)")
    ap.add_argument("--name", default="bench_contrast", help="name of the JSON file under benchmarks/results/")
    args = ap.parse_args()
    judges = make_judges(list(JUDGES))
    rows, problem = [], None
    for run in verified_runs(args.runs):
        cfg = apply(Config(), readers.read_config(run), str(run / "config.toml"))
        if problem is None:  # every run of a transfer folder has the same preset
            problem, _ = build(cfg, torch.device("cpu"))
        g = from_json((run / "genome.json").read_text())
        s = stretch_portrait(g, problem.verify(g, VERIFY), lambda h: problem.verify(h, VERIFY), args.most)
        best, k_best = s.genome, s.k
        out = RESULTS / "contrast" / f"{args.runs.name}_k{args.most:g}" / run.name
        out.mkdir(parents=True, exist_ok=True)
        save(best, out / "best.png", cfg.size)
        before, after = judge_run(run, judges), judge_run(out, judges)
        row = {"run": run.name, "k": k_best}
        for view in VIEWS:
            row[f"{view} before"] = "".join("y" if before[view][j] else "n" for j in JUDGES)
            row[f"{view} after"] = "".join("y" if after[view][j] else "n" for j in JUDGES)
        rows.append(row)
        print(row, flush=True)
    if problem is not None:
        problem.close()
    n = len(rows)
    summary = []
    for when in ("before", "after"):
        entry = {"portraits": f"{when} ({n})"}
        for view in VIEWS:
            entry[f"all three {view}"] = sum(r[f"{view} {when}"] == "yyy" for r in rows)
            for i, j in enumerate(JUDGES[1:], 1):
                entry[f"{j} {view}"] = sum(r[f"{view} {when}"][i] == "y" for r in rows)
        summary.append(entry)
    print()
    print(table(rows, list(rows[0])) if rows else "no verified portraits")
    print()
    print(table(summary, list(summary[0])))
    payload = {"machine": machine(), "runs": str(args.runs), "most": args.most, "per_run": rows, "summary": summary}
    print(f"\nwrote {write_json(args.name, payload)}")


if __name__ == "__main__":
    main()
