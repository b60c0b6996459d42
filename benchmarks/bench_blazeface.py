"""BlazeFace against MTCNN: seconds per batch of random polygon portraits, on this machine.

    python benchmarks/bench_blazeface.py [--quick] [--device cpu|cuda]

Prints a table and writes benchmarks/results/bench_blazeface.json.
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
from polyface.detect.blazeface import BlazeFace  # noqa: E402
from polyface.genome import random_genome  # noqa: E402
from polyface.render.cairo import render_batch  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="one size, fewer repeats")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    sizes = (64,) if args.quick else (64, 128, 256)
    batch = 64
    repeat = 3 if args.quick else 5
    detectors = {"blazeface": BlazeFace(device=args.device), "mtcnn": FaceDetector(device=args.device)}
    rows = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for size in sizes:
            x = render_batch([random_genome(rng, 50, 6) for _ in range(batch)], size).to(args.device)
            for name, det in detectors.items():
                sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)

                def run(det=det, x=x, sync=sync):
                    det(x)
                    sync()

                s = best_of(run, repeat=repeat)
                rows.append({"detector": name, "threads": threads, "size": size, "batch": batch,
                             "s_per_batch": round(s, 4), "images_per_s": round(batch / s, 1)})  # fmt: skip
    cols = ["detector", "threads", "size", "batch", "s_per_batch", "images_per_s"]
    print(table(rows, cols))
    print(f"wrote {write_json('bench_blazeface', {'machine': machine(), 'device': args.device, 'rows': rows})}")


if __name__ == "__main__":
    main()
