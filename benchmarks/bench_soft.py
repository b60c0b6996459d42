"""The soft rasterizer's forward and forward+backward time against Cairo's render of the same genomes.

    python benchmarks/bench_soft.py [--threads 2] [--repeat 3] [--sharpness 6]

For batches of 4 and 16 random genomes of 20 and 60 polygons (6 vertices) at 64 and 128 px:
Cairo's antialiased ``render_batch``, ``soft_render`` without gradient, and ``soft_render`` plus
the backward pass of a mean squared error, in ms per batch (the best of ``--repeat``), side by
side in one process. Prints a table and writes benchmarks/results/bench_soft.json.
"""

from __future__ import annotations

import argparse
import resource
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_of, machine, table, write_json  # noqa: E402

from polyface.genome import random_genome  # noqa: E402
from polyface.render import soft  # noqa: E402
from polyface.render.cairo import render_batch  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sharpness", type=float, default=6.0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for batch in (4, 16):
        for n in (20, 60):
            rng = np.random.default_rng(1000 * batch + n)
            genomes = [random_genome(rng, n, 6) for _ in range(batch)]
            for size in (64, 128):
                target = render_batch(genomes, size)
                fixed = soft.pack(genomes)
                leaves = soft.pack(genomes, requires_grad=True)

                def forward(fixed=fixed, size=size) -> None:
                    with torch.no_grad():
                        fixed.render(size, args.sharpness)

                def backward(leaves=leaves, size=size, target=target) -> None:
                    loss = (leaves.render(size, args.sharpness) - target).square().mean()
                    loss.backward()

                cairo_ms = best_of(lambda g=genomes, s=size: render_batch(g, s), args.repeat) * 1000
                forward_ms = best_of(forward, args.repeat) * 1000
                backward_ms = best_of(backward, args.repeat) * 1000
                rows.append(
                    {
                        "batch": batch,
                        "polygons": n,
                        "size": size,
                        "cairo ms": round(cairo_ms, 1),
                        "soft ms": round(forward_ms, 1),
                        "soft+backward ms": round(backward_ms, 1),
                        "soft / cairo": round(forward_ms / cairo_ms, 1),
                        "soft+backward / cairo": round(backward_ms / cairo_ms, 1),
                    }
                )
                print(table(rows[-1:], list(rows[-1])), flush=True)
    columns = list(rows[0])
    print()
    print(table(rows, columns))
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of the process: {peak_mib:.0f} MiB")
    payload = {
        "machine": machine(),
        "threads": args.threads,
        "sharpness": args.sharpness,
        "rows": rows,
        "peak_rss_mib": round(peak_mib),
    }
    print(write_json("bench_soft", payload))


if __name__ == "__main__":
    main()
