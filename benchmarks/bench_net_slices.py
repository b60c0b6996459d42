"""The networks on ONNX Runtime by how their batches are cut: padded to 16, one pass, or slices.

    python benchmarks/bench_net_slices.py [--rounds 3] [--batches 40]

R-Net, O-Net and BlazeFace as a run's two lanes run them: two threads at once, each with its own
one-thread ONNX Runtime session, over batches of as many crops as real runs give them (drawn from
a seeded generator). Each way of cutting a batch is timed on the same batches, the ways alternating
round by round; the outputs of every way are checked bit for bit against one pass. Prints
seconds per way and its speed against padding to 16 (what MTCNN did before), writes
benchmarks/results/bench_net_slices.json.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, table, write_json  # noqa: E402

from polyface.detect.batching import in_slices, padded  # noqa: E402
from polyface.detect.blazeface import BlazeFace  # noqa: E402
from polyface.detect.mtcnn import FaceDetector  # noqa: E402

# network -> (input side, fewest and most images a call gets in real runs of the default)
NETS = {"R-Net": (24, 20, 200), "O-Net": (48, 5, 120), "BlazeFace": (128, 8, 56)}
WAYS = {
    "padded to 16": padded,
    "one pass": lambda net, x: tuple(net(x)),
    **{f"slices of {n}": (lambda net, x, n=n: in_slices(net, x, n)) for n in (1, 2, 4, 8, 16)},
}


def lanes_net(name: str):
    """Two one-thread ONNX Runtime sessions of network ``name``, one for each lane."""
    torch.set_num_threads(1)  # the sessions take torch's thread count, as in a lane
    if name == "BlazeFace":
        return [BlazeFace(backend="onnx")._onnx for _ in range(2)]
    k = 1 if name == "R-Net" else 2
    return [FaceDetector(backend="onnx").nets()[k] for _ in range(2)]


def timed(nets, way, batches: list[torch.Tensor]) -> float:
    """Seconds for the two lanes to run ``way`` over every other batch each, at once."""

    def lane(i: int) -> None:
        for x in batches[i::2]:
            way(nets[i], x)

    threads = [threading.Thread(target=lane, args=(i,)) for i in range(2)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batches", type=int, default=40, help="batches per network")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    rows = []
    for name, (side, lo, hi) in NETS.items():
        nets = lanes_net(name)
        sizes = rng.integers(lo, hi + 1, args.batches)
        batches = [torch.from_numpy(rng.random((int(n), 3, side, side), dtype=np.float32) * 2 - 1) for n in sizes]
        want = [tuple(nets[0](x)) for x in batches[:8]]
        same = {w: all(all(torch.equal(a, b) for a, b in zip(f(nets[0], x), ref)) for x, ref in zip(batches, want))
                for w, f in WAYS.items()}  # fmt: skip
        seconds = {w: 0.0 for w in WAYS}
        for w, f in WAYS.items():  # warm-up
            timed(nets, f, batches[:4])
        for _ in range(args.rounds):
            for w, f in WAYS.items():
                seconds[w] += timed(nets, f, batches)
        crops = int(sizes.sum()) * args.rounds
        for w in WAYS:
            rows.append({"network": name, "way": w, "seconds": round(seconds[w], 3),
                         "ms per image": round(1000 * seconds[w] / crops, 3),
                         "vs padded to 16": f"{seconds['padded to 16'] / seconds[w]:.2f}x",
                         "bit-equal to one pass": same[w]})  # fmt: skip
        print(table([r for r in rows if r["network"] == name], list(rows[0])), flush=True)
    print(f"\n{machine()['cpu']}, {machine()['cores']} cores; two lanes, one thread each")
    path = write_json("bench_net_slices", {"machine": machine(), "args": vars(args), "rows": rows})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
