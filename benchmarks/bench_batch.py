"""Does a larger batch score candidates more cheaply? The problem's cost per candidate by batch size.

    python benchmarks/bench_batch.py [--run RUN] [--sizes 28,56,112] [--repeat 4]

The genomes are a real run's: its history (as ``polyface evolve`` writes it) split at its first
verified portrait into the search phase (most candidates fail at the working size, so only that
size is scored) and polishing (every candidate passes, so every search size is scored). Each
batch is that many one-step mutations of the phase's genomes, scored by the run's own problem
with the lanes a run uses, as ``PortraitProblem.evaluate`` scores a generation. Without
``--run``, seed 10 of the default is evolved first (about three minutes on two cores). Prints the
median time per batch and candidates per second, and writes benchmarks/results/<--name>.json.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, machine, table, write_json  # noqa: E402

from polyface.config import Config, apply  # noqa: E402
from polyface.genome_json import from_dict  # noqa: E402
from polyface.placement import n_lanes  # noqa: E402
from polyface.preset import load_preset  # noqa: E402
from polyface.run import build, evolve, mutation_settings  # noqa: E402
from polyface.runio import readers  # noqa: E402
from polyface.search.mutate import mutate  # noqa: E402


def phases(run: Path) -> dict[str, list]:
    """The run's history genomes before its first verified portrait ("search") and after ("polish")."""
    first = readers.read_result(run).get("portrait_generation")
    out: dict[str, list] = {"search": [], "polish": []}
    for h in readers.read_history(run):
        if h.genome is not None:
            polishing = first is not None and (h.generation or 0) >= first
            out["polish" if polishing else "search"].append(from_dict(h.genome))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", type=Path, help="a run folder of the default (evolved first when not given)")
    ap.add_argument("--sizes", default="28,56,112", help="batch sizes (28: a generation of the default)")
    ap.add_argument("--repeat", type=int, default=4, help="batches per size; the first is a warm-up")
    ap.add_argument("--name", default="bench_batch", help="name of the JSON file under benchmarks/results/")
    args = ap.parse_args()
    run = args.run
    if run is None:
        run = RESULTS / "batch_run"
        if not (run / "result.json").is_file():
            shutil.rmtree(run, ignore_errors=True)  # a run cut short: evolve it again
            evolve(load_preset("default").replace(seed=10), out=run)
    cfg = apply(Config(), readers.read_config(run), str(run / "config.toml"))
    device = torch.device("cpu")
    problem, _ = build(cfg, device, lanes=n_lanes(cfg, device))
    settings, rng, rows = mutation_settings(cfg), np.random.default_rng(0), []
    for phase, genomes in phases(run).items():
        if not genomes:
            continue
        for b in (int(s) for s in args.sizes.split(",")):
            times = []
            for _ in range(args.repeat):
                batch = [mutate(genomes[int(rng.integers(len(genomes)))], rng, settings) for _ in range(b)]
                t = time.perf_counter()
                problem.evaluate(batch)
                times.append(time.perf_counter() - t)
            t = statistics.median(times[1:] or times)
            rows.append({"phase": phase, "batch": b, "ms per batch": round(t * 1000), "candidates/s": round(b / t)})
            print(rows[-1], flush=True)
    problem.close()
    print()
    print(table(rows, list(rows[0])))
    payload = {"machine": machine(), "run": str(run), "lanes": problem.lanes.n, "rows": rows}
    print(f"\nwrote {write_json(args.name, payload)}")


if __name__ == "__main__":
    main()
