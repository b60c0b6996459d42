"""Renders/s and detections/s by size and batch, on this machine.

    python benchmarks/bench_core.py [--quick]

Prints a table and writes benchmarks/results/bench_core.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_of, machine, table, write_json  # noqa: E402

from polyface.detect import FaceDetector  # noqa: E402
from polyface.genome import random_genome  # noqa: E402
from polyface.render.cairo import BatchRenderer  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer sizes and repeats")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    sizes = (64, 128) if args.quick else (64, 96, 128, 256)
    batches = (16, 64) if args.quick else (1, 16, 64)
    repeat = 2 if args.quick else 4
    pool = [random_genome(rng, 50, 6) for _ in range(max(batches))]
    rows = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        det = FaceDetector()
        for size in sizes:
            for b in batches:
                gs = pool[:b]
                row = {"threads": threads, "size": size, "batch": b}
                for aa in (False, True):
                    r = BatchRenderer(size, antialias=aa)
                    t = best_of(lambda: r.render(gs), repeat)
                    row["render/s (AA)" if aa else "render/s"] = round(b / t)
                x = BatchRenderer(size).render_tensor(gs)
                t = best_of(lambda: det(x), repeat)
                row["detect/s"] = round(b / t)
                t = best_of(lambda: det(x, skip_below=0.25 * size), repeat)
                row["detect/s (large faces)"] = round(b / t)
                t = best_of(lambda: det.onet_logit(x), repeat)
                row["onet/s"] = round(b / t)
                rows.append(row)
                print(row, flush=True)
    cols = ["threads", "size", "batch", "render/s", "render/s (AA)", "detect/s", "detect/s (large faces)", "onet/s"]
    print()
    print(table(rows, cols))
    path = write_json("bench_core", {"machine": machine(), "rows": rows})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
