"""Speed levers of a real run, each measured side by side in one process.

    python benchmarks/bench_levers.py [--preset benchmarks/presets/default-ensemble.toml] [--seeds 3]

1. Scoring layout on real runs (``polyface.run.evolve``, run folder written, same seeds):
   two worker processes (1 thread each; waiting for them to start, as shipped, or scoring
   the first 8 generations here meanwhile) vs one process with 2 threads vs one with 1 thread
   (and with twice the population, so twice the candidates per detector call);
   evaluations/s as logged, wall time with start-up, peak memory of the process tree.
2. BlazeFace in the fitness: detections then a second pass of the network for the faceless
   images' highest logit (as before) vs ``BlazeFace.detect`` (one pass); on every augmented
   copy vs on the first copy only.
3. BlazeFace's network with channels_last (as shipped) vs the default contiguous layout, and
   over the whole batch at once vs in slices of ``CPU_CHUNK`` images (as shipped).
Writes benchmarks/results/bench_levers.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_evolve import VERIFY, load, real_run  # noqa: E402
from common import best_of, machine, table, write_json  # noqa: E402

import polyface.run as run_mod  # noqa: E402
from polyface.detect.blazeface import CPU_CHUNK  # noqa: E402
from polyface.preset import load_preset  # noqa: E402
from polyface.run import build  # noqa: E402
from polyface.search.augment import augment  # noqa: E402

SHIPPED_LOCAL = run_mod.LOCAL_BATCHES
LAYOUTS = {
    "2 workers x 1 thread, waiting for their start-up (shipped)": dict(workers=2, threads=1, local=0),
    "2 workers x 1 thread, first 8 generations here": dict(workers=2, threads=1, local=8),
    "1 process x 2 threads": dict(workers=1, threads=2),
    "1 process x 1 thread": dict(workers=1, threads=1),
    "1 process x 1 thread, population 56 (2x per detector call)": dict(workers=1, threads=1, population=56),
}


def layouts(preset: str, seeds: list[int], time_limit: float) -> list[dict]:
    """Real runs per scoring layout, seeds interleaved so machine load hits every layout alike."""
    cfg = load_preset(preset).replace(time_limit=time_limit, size=1024, verify_sizes=VERIFY, target=0.99)
    tmp = Path(tempfile.mkdtemp(prefix="bench-levers-"))  # kept: each run's profile.json for a closer look
    rows: dict[str, list[dict]] = {k: [] for k in LAYOUTS}
    for seed in seeds:
        for i, (name, over) in enumerate(LAYOUTS.items()):
            over = dict(over)
            run_mod.LOCAL_BATCHES = over.pop("local", SHIPPED_LOCAL)
            try:
                rows[name].append(real_run(cfg.replace(seed=seed, **over), tmp / f"{seed}-{i}"))
            finally:
                run_mod.LOCAL_BATCHES = SHIPPED_LOCAL
                torch.set_num_threads(2)
    out = []
    for name, rs in rows.items():
        out.append({
            "layout": name,
            "run evals/s": round(statistics.median(r["run evals/s"] for r in rs)),
            "wall s": round(statistics.median(r["wall s"] for r in rs), 2),
            "start+stop s": round(statistics.median(r["start+stop s"] for r in rs), 2),
            "portraits": f"{sum(r['portrait'] for r in rs)}/{len(rs)}",
            "peak MB": max(r["peak MB"] for r in rs),
            "peak RSS MB": max(r["peak RSS MB"] for r in rs),
        })  # fmt: skip
    return out


def blaze_levers(preset: str) -> list[dict]:
    """Per-generation BlazeFace cost in the fitness, on one generation's batch of a real run."""
    torch.set_num_threads(1)
    cfg = load_preset(preset).replace(seed=1)
    problem, strategy = build(cfg, torch.device("cpu"))
    genomes = strategy.ask()
    while len(genomes) < cfg.population:  # a full generation: the first ask gives the elites only
        strategy.tell(genomes, np.zeros(len(genomes)), np.full((len(genomes), 4), np.nan))
        genomes = strategy.ask()
    images = problem.render(genomes, cfg.work_size)
    if problem.augment is not None:
        images = augment(images, problem.augment, torch.Generator().manual_seed(0))
    bz = problem.blaze
    first = images[: len(genomes)]

    def two_pass(x=images):
        det = bz(x)
        none = det.count == 0
        if bool(none.any()):
            bz.max_logit(x[none])

    rows = [
        ("detections, then a second pass for the faceless", two_pass),
        ("one pass, BlazeFace.detect (now)", lambda: bz.detect(images)),
        ("one pass, first augmented copy only", lambda: bz.detect(first)),
        ("MTCNN on the same batch (for scale)", lambda: problem.detector(images, thresholds=problem.thresholds)),
    ]
    out = []
    for name, fn in rows:
        ms = best_of(fn, repeat=7) * 1000
        out.append({"variant": name, "images": len(images) if "first" not in name else len(first), "ms": round(ms, 1)})
    x = torch.rand(len(images), 3, 128, 128) * 2 - 1
    net = bz.net
    cl = best_of(lambda: net(x), repeat=7) * 1000
    plain = _contiguous_net_ms(net, x)
    sliced = best_of(lambda: bz._net(x), repeat=7) * 1000
    out.append({"variant": "BlazeFace net, channels_last, one batch", "images": len(x), "ms": round(cl, 1)})
    out.append({"variant": f"BlazeFace net, channels_last, slices of {CPU_CHUNK} (shipped)", "images": len(x),
                "ms": round(sliced, 1)})  # fmt: skip
    out.append({"variant": "BlazeFace net, contiguous NCHW, one batch", "images": len(x), "ms": round(plain, 1)})
    torch.set_num_threads(2)
    return out


def _contiguous_net_ms(net, x) -> float:
    """The same network and weights with every tensor in the default layout."""
    import copy

    plain = copy.deepcopy(net).to(memory_format=torch.contiguous_format)
    original = torch.Tensor.contiguous
    try:  # the net converts its input to channels_last; make that conversion a no-op here
        torch.Tensor.contiguous = lambda self, memory_format=torch.contiguous_format: original(self)
        with torch.inference_mode():
            return best_of(lambda: plain(x), repeat=7) * 1000
    finally:
        torch.Tensor.contiguous = original


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default=str(Path(__file__).resolve().parent / "presets" / "default-ensemble.toml"))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--time-limit", type=float, default=30.0)
    ap.add_argument("--skip-runs", action="store_true")
    args = ap.parse_args()
    blaze = blaze_levers(args.preset)
    print(table(blaze, ["variant", "images", "ms"]), f"\n{load()}\n", flush=True)
    lay = [] if args.skip_runs else layouts(args.preset, list(range(1, args.seeds + 1)), args.time_limit)
    if lay:
        print(table(lay, ["layout", "run evals/s", "wall s", "start+stop s", "portraits", "peak MB", "peak RSS MB"]))
    print(f"\n{machine()['cpu']}, {machine()['cores']} cores; {load()}")
    path = write_json("bench_levers", {"machine": machine(), "load_at_end": load(), "args": vars(args),
                                       "blazeface": blaze, "layouts": lay})  # fmt: skip
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
