"""Time to a portrait, and candidate evaluations per second, against the Pareidoloop baseline.

    python benchmarks/bench_evolve.py [--seeds 10] [--time-limit 60] [--presets default,pareidoloop]

For each preset and seed, in one process on this machine, runs until the best genome passes
the portrait rule with probability >= 0.99 on the antialiased render at every size from
the working size to 1024 px (or the time limit). Then measures evaluations per second of
the default problem (render + full fitness) on a population batch. Prints a table with the
targets marked pass/fail and writes benchmarks/results/bench_evolve.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, table, write_json  # noqa: E402

from polyface.preset import load_preset  # noqa: E402
from polyface.genome import random_genome  # noqa: E402
from polyface.run import build, evolve, n_workers, pick_device  # noqa: E402
from polyface.search.workers import WorkerPool  # noqa: E402

VERIFY = (64, 96, 128, 192, 256, 384, 512, 768, 1024)
TARGET_EVALS, TARGET_MEDIAN, TARGET_RATIO, TARGET_GPU = 3000, 3.0, 3.0, 100_000


def evals_per_second(preset: str, seconds: float = 8.0) -> dict:
    """Throughput of the preset's problem on random genomes, workers as a run would use them.

    One evaluation is one candidate's full fitness: its render(s) and the detector on each
    (with robust scoring, on every transformed copy), at every search size it qualifies for."""
    cfg = load_preset(preset).replace(seed=0)
    device = pick_device(cfg.device)
    problem, _ = build(cfg, device)
    workers = n_workers(cfg, device)
    if workers > 1:
        problem.use_pool(WorkerPool(workers, problem.settings))
    rng = np.random.default_rng(0)
    batch = [random_genome(rng, cfg.polygons, cfg.vertices, cfg.colour) for _ in range(max(cfg.population, 64))]
    try:
        problem.evaluate(batch)  # warm-up
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            problem.evaluate(batch)
            n += len(batch)
        rate = n / (time.perf_counter() - t0)
    finally:
        problem.close()
    return {
        "preset": preset,
        "polygons": cfg.polygons,
        "copies": max(1, cfg.augment),
        "batch": len(batch),
        "workers": workers,
        "evals/s": round(rate),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--seed-start", type=int, default=1)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--presets", default="default,pareidoloop")
    ap.add_argument("--throughput-presets", default="default,fool",
                    help="presets whose evaluations/s are measured on batches of random genomes")
    ap.add_argument("--throughput-only", action="store_true", help="skip the time-to-portrait runs")
    args = ap.parse_args()
    presets = args.presets.split(",")
    runs = []
    for preset in [] if args.throughput_only else presets:
        for seed in range(args.seed_start, args.seed_start + args.seeds):
            cfg = load_preset(preset).replace(
                seed=seed, time_limit=args.time_limit, size=1024, verify_sizes=VERIFY, target=0.99
            )
            r = evolve(cfg, write=False)
            row = {
                "preset": preset,
                "seed": seed,
                "portrait": r.portrait,
                "seconds": round(r.elapsed_s, 2),
                "evaluations": r.evaluations,
                "evals/s": round(r.evaluations / max(r.elapsed_s, 1e-9)),
                "min prob": round(r.verdict.min_prob, 4),
            }
            runs.append(row)
            print(row, flush=True)
    summary = []
    for preset in [] if args.throughput_only else presets:
        rows = [r for r in runs if r["preset"] == preset]
        ok = [r["seconds"] for r in rows if r["portrait"]]
        # Runs that did not finish count at the time limit (a lower bound on their time).
        times = sorted(r["seconds"] if r["portrait"] else args.time_limit for r in rows)
        summary.append(
            {
                "preset": preset,
                "portraits": f"{len(ok)}/{len(rows)}",
                "median s": round(statistics.median(times), 2),
                "min s": min(times),
                "max s": max(times),
                "evals/s in runs": round(statistics.median(r["evals/s"] for r in rows)),
            }
        )
    throughput = [evals_per_second(p) for p in args.throughput_presets.split(",")]
    if runs:
        print()
        print(table(runs, ["preset", "seed", "portrait", "seconds", "evaluations", "evals/s", "min prob"]))
        print()
        print(table(summary, ["preset", "portraits", "median s", "min s", "max s", "evals/s in runs"]))
    print()
    print(table(throughput, ["preset", "polygons", "copies", "batch", "workers", "evals/s"]))
    default = next((s for s in summary if s["preset"] == "default"), None)
    base = next((s for s in summary if s["preset"] == "pareidoloop"), None)
    rate = max((t["evals/s"] for t in throughput), default=None)
    gpu = machine()["gpu"]
    targets = []
    if rate is not None:
        name = f"evals/s >= {TARGET_GPU} on the GPU" if gpu else f"evals/s >= {TARGET_EVALS} on the CPU"
        goal = TARGET_GPU if gpu else TARGET_EVALS
        targets.append({"target": name, "measured": rate, "result": "pass" if rate >= goal else "FAIL"})
    if default and not args.throughput_only:
        targets.append(
            {
                "target": f"median time to portrait <= {TARGET_MEDIAN} s",
                "measured": default["median s"],
                "result": "pass" if default["median s"] <= TARGET_MEDIAN else "FAIL",
            }
        )
    if default and base and not args.throughput_only:
        ratio = base["median s"] / max(default["median s"], 1e-9)
        targets.append(
            {
                "target": f">= {TARGET_RATIO}x faster than hillclimb (pareidoloop)",
                "measured": f"{ratio:.1f}x" + (" (baseline censored at the time limit)" if base["portraits"] != f"{args.seeds}/{args.seeds}" else ""),
                "result": "pass" if ratio >= TARGET_RATIO else "FAIL",
            }
        )
    print()
    print(table(targets, ["target", "measured", "result"]))
    path = write_json(
        "bench_evolve_throughput" if args.throughput_only else "bench_evolve",
        {"machine": machine(), "args": vars(args), "runs": runs, "summary": summary, "throughput": throughput, "targets": targets},
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
