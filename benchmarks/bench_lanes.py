"""Lanes on real runs, side by side: the detector work of each batch split between threads.

    python benchmarks/bench_lanes.py [--preset default] [--seeds 4] [--seed-start 1] [--time-limit 60]

Variants, each a real ``polyface.run.evolve`` of the preset (run folder written, ``polish = 0``,
verified from 64 to 1024 px, stopped at the first portrait or the time limit):

* ``no lanes``: one lane, torch with all its threads, every network on torch (polyface before
  lanes, and an install without ONNX Runtime);
* ``lanes, torch networks``: a lane per torch thread, the networks on torch;
* ``lanes`` (shipped): a lane per torch thread, the networks on ONNX Runtime.

Every seed runs every variant in turn, so a loaded machine slows them alike; the table gives
each variant's median over the seeds of the loop's evaluations/s, its ratio to ``no lanes``
on the same seed, and the time to the portrait (the time limit where there was none).
Writes benchmarks/results/bench_lanes.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from unittest import mock

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, table, write_json  # noqa: E402

import polyface.detect.ort as ort  # noqa: E402
import polyface.run as run_mod  # noqa: E402
from polyface.preset import load_preset  # noqa: E402

VERIFY = (64, 96, 128, 192, 256, 384, 512, 768, 1024)
VARIANTS = {  # name -> (lanes, onnx allowed)
    "no lanes": (False, False),
    "lanes, torch networks": (True, False),
    "lanes": (True, True),
}


def one_run(cfg, name: str, out: Path) -> dict:
    lanes, onnx = VARIANTS[name]
    with ExitStack() as stack:
        count = torch.get_num_threads() if lanes else 1
        stack.enter_context(mock.patch.object(run_mod, "n_lanes", lambda cfg, device: count))
        if not onnx:
            stack.enter_context(mock.patch.object(ort, "available", lambda: False))
        r = run_mod.evolve(cfg, out=out)
    return {
        "variant": name,
        "seed": cfg.seed,
        "portrait": r.portrait,
        "generations": r.generations,
        "loop s": round(r.elapsed_s, 2),
        "evals/s": round(r.evaluations / max(r.elapsed_s, 1e-9), 1),
        "s to portrait": round(r.elapsed_s, 2) if r.portrait else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="default")
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--seed-start", type=int, default=1)
    ap.add_argument("--time-limit", type=float, default=60.0)
    args = ap.parse_args()
    cfg = load_preset(args.preset).replace(
        time_limit=args.time_limit, size=1024, verify_sizes=VERIFY, target=0.99, polish=0
    )
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-lanes-") as tmp:
        for seed in range(args.seed_start, args.seed_start + args.seeds):
            for name in VARIANTS:
                row = one_run(cfg.replace(seed=seed), name, Path(tmp) / f"{name.replace(' ', '_')}-{seed}")
                runs.append(row)
                print(row, flush=True)
    base = {r["seed"]: r["evals/s"] for r in runs if r["variant"] == "no lanes"}
    rows = []
    for name in VARIANTS:
        mine = [r for r in runs if r["variant"] == name]
        ratios = [r["evals/s"] / base[r["seed"]] for r in mine]
        times = [r["s to portrait"] if r["portrait"] else args.time_limit for r in mine]
        rows.append({
            "variant": name,
            "runs": len(mine),
            "median evals/s": round(statistics.median(r["evals/s"] for r in mine)),
            "vs no lanes": f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})",
            "portraits": sum(r["portrait"] for r in mine),
            "median s to portrait": round(statistics.median(times), 1),
        })
    print(table(rows, list(rows[0])))
    path = write_json("bench_lanes", {"machine": machine(), "args": vars(args), "summary": rows, "runs": runs})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
