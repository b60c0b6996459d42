"""Real runs of a preset with the detectors on torch and on ONNX Runtime, side by side.

    python benchmarks/bench_backend_evolve.py [--preset default] [--seeds 1,2,3] [--generations 15] [--rounds 7]
        [--threads 0|1|2] [--setups "blazeface onnx,onnx"]

Each round runs ``polyface.run.evolve`` for a fixed number of generations (no run folder) on
the next seed, with every setup of ``SETUPS`` in turn, so machine load hits them alike; the
summary is the median and range of the rounds' ratios of generations/s to the torch run of
the same round. Generations/s counts the search only (the final verification aside). The
backends score alike to about 1e-5, so a run may drift apart from its twin after many
generations; the work per generation stays about the same.
Writes benchmarks/results/bench_backend_evolve_t<threads>.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, table, write_json  # noqa: E402

import polyface.detect.blazeface as blazeface  # noqa: E402
import polyface.detect.mtcnn as mtcnn  # noqa: E402
from polyface.preset import load_preset  # noqa: E402
from polyface.run import evolve  # noqa: E402

SHIPPED = (mtcnn.AUTO_ONNX_THREADS, blazeface.AUTO_ONNX_THREADS)
ALWAYS = 1 << 16
# name -> up to how many torch threads (MTCNN, BlazeFace)'s backend="auto" picks onnx in the run
SETUPS = {"torch": (0, 0), "blazeface onnx": (0, ALWAYS), "onnx": (ALWAYS, ALWAYS)}


def one_run(preset: str, seed: int, generations: int, setup: str, threads: int = 0) -> dict:
    """One run with the detectors' automatic backends set as ``SETUPS[setup]``."""
    mtcnn.AUTO_ONNX_THREADS, blazeface.AUTO_ONNX_THREADS = SETUPS[setup]
    try:
        cfg = load_preset(preset).replace(seed=seed, max_generations=generations, time_limit=0.0, size=256)
        cfg = cfg.replace(threads=threads)
        r = evolve(cfg, write=False)
    finally:
        mtcnn.AUTO_ONNX_THREADS, blazeface.AUTO_ONNX_THREADS = SHIPPED
    search = r.elapsed_s - r.verify_s
    return {"seed": seed, "backends": setup, "generations": r.generations, "search_s": round(search, 2),
            "generations_per_s": round(r.generations / search, 3), "score": round(float(r.score), 4)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="default")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--generations", type=int, default=15)
    ap.add_argument("--rounds", type=int, default=7, help="pairs of runs; round i runs seed i mod len(seeds)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads of the runs (0: torch's default)")
    ap.add_argument("--setups", default=",".join(SETUPS), help="which of SETUPS to run; torch always")
    args = ap.parse_args()
    setups = ["torch", *[k for k in args.setups.split(",") if k in SETUPS and k != "torch"]]
    rows, ratios = [], {k: [] for k in setups if k != "torch"}
    seeds = [int(s) for s in args.seeds.split(",")]
    for seed in [seeds[i % len(seeds)] for i in range(args.rounds)]:
        runs = {k: one_run(args.preset, seed, args.generations, k, args.threads) for k in setups}
        rows += runs.values()
        for k in ratios:
            ratios[k].append(runs[k]["generations_per_s"] / runs["torch"]["generations_per_s"])
        print(table(list(runs.values()), list(runs["torch"])), flush=True)
    summary = {
        k: {"median": round(statistics.median(v), 3), "min": round(min(v), 3), "max": round(max(v), 3),
            "ratios": [round(x, 3) for x in v]}
        for k, v in ratios.items()
    }  # fmt: skip
    print(table(rows, list(rows[0])))
    for k, v in summary.items():
        print(f"generations/s, {k} / torch: {v}")
    payload = {"machine": machine(), "preset": args.preset, "generations": args.generations,
               "threads": args.threads, "rows": rows, "vs_torch": summary}  # fmt: skip
    print(f"wrote {write_json(f'bench_backend_evolve_t{args.threads}', payload)}")


if __name__ == "__main__":
    main()
