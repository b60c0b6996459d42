"""The contrast stretch's cost: trying the largest stretch first against climbing from the smallest.

    python benchmarks/bench_stretch_order.py [--runs benchmarks/results/transfer/default] [--most 2]

A run's last step stretches its portrait's contrast as far as its final check accepts
(``search/contrast.py``). For the first verified portrait of every run folder (from its history,
as a run with ``polish = 0`` ends: ``bench_evolve.py``'s runs), the stretch is timed both ways,
seed by seed and side by side in one process, with the run's own final check at every size from
64 to 1024 px: as shipped (the largest k first, then each smaller step) and as before round
eighteen (from the smallest k up, stopping at the first refusal). Prints a table with each
way's checks and seconds and the k each kept; writes benchmarks/results/<--name>.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_transfer import VERIFY, verified_runs  # noqa: E402
from common import RESULTS, machine, table, write_json  # noqa: E402

from polyface.config import Config, apply  # noqa: E402
from polyface.genome import stretch_contrast  # noqa: E402
from polyface.genome_json import from_dict  # noqa: E402
from polyface.run import build  # noqa: E402
from polyface.runio import readers  # noqa: E402
from polyface.search.contrast import contrast_steps, stretch_portrait  # noqa: E402


def climb(genome, check, most: float) -> float:
    """Round seventeen's order: from the smallest k up; the first refusal ends it. Returns k."""
    k_kept, kept = 1.0, genome
    for k in contrast_steps(most):
        candidate = stretch_contrast(genome, k)
        if candidate == kept:
            break
        if not check(candidate).portrait:
            break
        k_kept, kept = k, candidate
    return k_kept


def counted(problem):
    """The final check at every size, and a counter of its calls."""
    calls = [0]

    def check(g):
        calls[0] += 1
        return problem.verify(g, VERIFY)

    return check, calls


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=Path, default=RESULTS / "transfer" / "default")
    ap.add_argument("--most", type=float, default=2.0, help="the largest stretch tried (the preset's contrast)")
    ap.add_argument("--name", default="bench_stretch_order", help="name of the JSON file under benchmarks/results/")
    args = ap.parse_args()
    rows, problem = [], None
    for run in verified_runs(args.runs):
        cfg = apply(Config(), readers.read_config(run), str(run / "config.toml"))
        if problem is None:  # every run of a transfer folder has the same preset
            problem, _ = build(cfg, torch.device("cpu"))
        first = readers.read_result(run).get("portrait_generation")
        hist = [h for h in readers.read_history(run) if h.generation == first and h.genome is not None]
        if not hist:
            continue
        g = from_dict(hist[-1].genome)
        verdict = problem.verify(g, VERIFY)
        if not verdict.portrait:
            continue
        timed = {}
        ways = [("shipped", lambda c: stretch_portrait(g, verdict, c, args.most).k), ("climb", lambda c: climb(g, c, args.most))]
        for name, way in ways if len(rows) % 2 == 0 else ways[::-1]:  # each goes first on every other run
            check, calls = counted(problem)
            t0 = time.perf_counter()
            k = way(check)
            timed[name] = (k, calls[0], time.perf_counter() - t0)
        (k_shipped, n_shipped, t_shipped), (k_climb, n_climb, t_climb) = timed["shipped"], timed["climb"]
        rows.append({"run": run.name, "k largest first": k_shipped, "checks": n_shipped, "s": round(t_shipped, 2),
                     "k climbing": k_climb, "checks climbing": n_climb, "s climbing": round(t_climb, 2)})
        print(rows[-1], flush=True)
    if problem is None or not rows:
        sys.exit(f"no verified runs with a history under {args.runs}")
    problem.close()
    total = {k: sum(r[k] for r in rows) for k in ("checks", "s", "checks climbing", "s climbing")}
    summary = {
        "runs": len(rows),
        "same k": sum(r["k largest first"] == r["k climbing"] for r in rows),
        "checks": f"{total['checks']} / {total['checks climbing']}",
        "median s": f"{statistics.median(r['s'] for r in rows):.2f} / {statistics.median(r['s climbing'] for r in rows):.2f}",
        "total s": f"{total['s']:.1f} / {total['s climbing']:.1f}",
        "climbing / largest first": f"{total['s climbing'] / max(total['s'], 1e-9):.2f}x",
    }
    print()
    print(table(rows, list(rows[0])))
    print()
    print(table([summary], list(summary)))
    path = write_json(args.name, {"machine": machine(), "args": {k: str(v) for k, v in vars(args).items()},
                                  "runs": rows, "summary": summary})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
