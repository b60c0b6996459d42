"""The detectors' backends side by side on the batches a generation of the default preset scores.

    python benchmarks/bench_detect_backends.py [--images batches.npz] [--rounds 9]
    python benchmarks/bench_detect_backends.py --capture batches.npz [--generations 60]

MTCNN over 56 images at 64, 96 and 128 px (the default's working and search sizes, called as
the search calls it), BlazeFace over 56 at 128 px; torch as shipped (inference mode,
channels_last, BlazeFace in slices of CPU_CHUNK) against ONNX Runtime, with 2 and 1 threads,
and BlazeFace's slice size for each backend. Every round times every variant once, in turn,
so a loaded machine slows them alike; the table gives the median time and the median and
range of each variant's ratio to shipped torch (2 threads) of the same round, and to torch
with as many threads.

Images: ``--capture`` writes the 64 px batches of 56 that a real run of the default preset
(seed 3) scores, 8 of them evenly spread over its generations; ``--images`` reads them back
(96 and 128 px are those upsampled bilinearly). Without ``--images``: random polygon genomes.
Writes benchmarks/results/bench_detect_backends.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, table, write_json  # noqa: E402

from polyface.detect.blazeface import BlazeFace, blaze_input  # noqa: E402
from polyface.detect.mtcnn import FaceDetector  # noqa: E402
from polyface.genome import random_genome  # noqa: E402
from polyface.render.cairo import render_batch  # noqa: E402

BATCH = 56  # 28 candidates x 2 augmented copies
SIZES = (64, 96, 128)
THRESHOLDS = (0.8, 0.9, 0.7)  # the search's
MIN_BOX = 0.5


def capture(path: Path, generations: int) -> None:
    """Record the 64 px batches that a real run of the default preset scores."""
    import polyface.run as run_mod
    from polyface.preset import load_preset
    from polyface.search.problem import PortraitProblem

    seen: list[torch.Tensor] = []
    original = PortraitProblem._ensemble

    def spy(self, images):
        if images.shape[0] == BATCH and images.shape[-1] == SIZES[0]:
            seen.append(images.clone())
        return original(self, images)

    PortraitProblem._ensemble = spy
    try:
        run_mod.evolve(load_preset("default").replace(seed=3, max_generations=generations), write=False)
    finally:
        PortraitProblem._ensemble = original
    pick = np.linspace(0, len(seen) - 1, min(8, len(seen))).astype(int)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, s64=torch.stack([seen[i] for i in pick]).numpy())
    tmp.replace(path)
    print(f"wrote {len(pick)} batches of {BATCH} to {path}")


def batches(images: str | None) -> dict[int, list[torch.Tensor]]:
    """size -> batches of 56 images (B,3,size,size)."""
    if images:
        with np.load(images, allow_pickle=False) as data:
            base = [torch.from_numpy(b) for b in data["s64"]]
    else:
        rng = np.random.default_rng(0)
        base = [render_batch([random_genome(rng, 50, 6) for _ in range(BATCH)], 64) for _ in range(4)]
    return {s: [b if s == 64 else F.interpolate(b, size=(s, s), mode="bilinear") for b in base] for s in SIZES}


def built(cls, backend: str, threads: int, **kw):
    """A detector built under ``threads`` torch threads (its ONNX Runtime networks take as many)."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return cls(device="cpu", backend=backend, **kw)
    finally:
        torch.set_num_threads(before)


def variants(data: dict[int, list[torch.Tensor]]) -> dict[str, tuple]:
    """name -> (group, threads, call(round)); the first of each group is its baseline."""
    out: dict[str, tuple] = {}
    mt = {(b, t): built(FaceDetector, b, t) for b in ("torch", "onnx") for t in (2, 1)}
    for size in SIZES:
        for (b, t), det in mt.items():
            def call(r, det=det, size=size):
                det(data[size][r % len(data[size])], thresholds=THRESHOLDS, skip_below=0.5 * MIN_BOX * size)

            out[f"mtcnn {size}px {b} {t}t"] = (f"mtcnn {size}px", t, call)
    bz = {(b, t): built(BlazeFace, b, t) for b in ("torch", "onnx") for t in (2, 1)}
    small = [blaze_input(x) for x in data[128]]
    for t in (2, 1):
        for b, chunk in (("torch", 8), ("torch", 16), ("torch", 56), ("onnx", 8), ("onnx", 16), ("onnx", 56)):
            def call(r, det=bz[(b, t)], chunk=chunk):
                det.chunk = chunk
                det.detect(small[r % len(small)])

            out[f"blazeface 128px {b} {t}t chunk {chunk}"] = ("blazeface 128px", t, call)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", help=".npz written by --capture (default: random polygon genomes)")
    ap.add_argument("--capture", help="run the default preset and write its 64 px batches here")
    ap.add_argument("--generations", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=9)
    args = ap.parse_args()
    if args.capture:
        capture(Path(args.capture), args.generations)
        return
    data = batches(args.images)
    runs = variants(data)
    for name, (_, t, call) in runs.items():  # warm-up: first calls build caches and plans
        torch.set_num_threads(t)
        call(0)
    times: dict[str, list[float]] = {k: [] for k in runs}
    for r in range(args.rounds):
        for name, (_, t, call) in runs.items():
            torch.set_num_threads(t)
            start = time.perf_counter()
            call(r)
            times[name].append(time.perf_counter() - start)
    torch.set_num_threads(2)
    rows, base = [], {}
    for name, (group, t, _) in runs.items():
        base.setdefault((group, t), name)  # torch, shipped chunk: listed first in its group and thread count
        ratio = [b / a for a, b in zip(times[name], times[base[(group, 2)]])]  # > 1: faster than shipped torch
        same = [b / a for a, b in zip(times[name], times[base[(group, t)]])]  # vs torch with as many threads
        rows.append({
            "variant": name, "median_ms": round(1000 * statistics.median(times[name]), 1),
            "vs_shipped": round(statistics.median(ratio), 2),
            "vs_shipped_range": f"{min(ratio):.2f}-{max(ratio):.2f}",
            "vs_torch_same_threads": round(statistics.median(same), 2),
            "vs_same_range": f"{min(same):.2f}-{max(same):.2f}",
        })  # fmt: skip
    print(table(rows, list(rows[0])))
    payload = {"machine": machine(), "rounds": args.rounds, "batch": BATCH, "images": args.images or "random genomes",
               "rows": rows, "times_s": times}  # fmt: skip
    print(f"wrote {write_json('bench_detect_backends', payload)}")


if __name__ == "__main__":
    main()
