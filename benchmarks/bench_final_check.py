"""The final check's cost by size: every member of the default's ensemble on one portrait, 64-1024 px.

    python benchmarks/bench_final_check.py [--runs RUN ...] [--rounds 4]

The portraits are the genomes of the given run folders (default: the portraits kept in
tests/data). Each is checked at every size from 64 to 1024 px as a run checks it (the default
preset's problem, its lanes' threads, nothing skipped after a size fails), in two ways, alternating
round by round: as shipped, and with MTCNN's pyramid resized by dense matrix products at every size
(``crops.MATMUL_MAX_PIXELS`` unlimited: polyface before torch's pooling took the large sizes).
Prints the median milliseconds per size and per whole check, writes
benchmarks/results/bench_final_check.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_evolve import VERIFY as SIZES  # noqa: E402  (every size a run verifies, 64-1024 px)
from common import machine, table, write_json  # noqa: E402

from polyface.detect import crops  # noqa: E402
from polyface.genome_file import load_genome  # noqa: E402
from polyface.placement import n_lanes, pick_device  # noqa: E402
from polyface.preset import load_preset  # noqa: E402
from polyface.run import build  # noqa: E402
from polyface.detect.lanes import lane_threads  # noqa: E402
from polyface.search.timing import Timings  # noqa: E402

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
ARMS = {"shipped": crops.MATMUL_MAX_PIXELS, "matrix products at every size": 10**12}


def check_ms(problem, genomes, size: int) -> float:
    """Milliseconds of one check of each genome at ``size`` (mean over the genomes)."""
    t0 = time.perf_counter()
    for g in genomes:
        problem.verify(g, (size,), stop_early=False)
    return (time.perf_counter() - t0) / len(genomes) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", nargs="*", type=Path, help="run folders whose genome.json to check")
    ap.add_argument("--rounds", type=int, default=4)
    args = ap.parse_args()
    paths = [r / "genome.json" for r in args.runs] if args.runs else sorted(DATA.glob("genome_*.json"))
    genomes = [load_genome(p) for p in paths]
    cfg = load_preset("default").replace(seed=0)
    device = pick_device(cfg.device)
    lanes = n_lanes(cfg, device)
    times: dict[tuple[str, int], list[float]] = {}
    with lane_threads(lanes):
        problem = build(cfg, device, lanes=lanes)[0]
        problem.timings = Timings(False)
        for g in genomes:  # warm-up: every size once
            problem.verify(g, SIZES, stop_early=False)
        for r in range(args.rounds):
            order = list(ARMS) if r % 2 == 0 else list(reversed(ARMS))
            for arm in order:
                crops.MATMUL_MAX_PIXELS = ARMS[arm]
                for size in SIZES:
                    times.setdefault((arm, size), []).append(check_ms(problem, genomes, size))
        crops.MATMUL_MAX_PIXELS = ARMS["shipped"]
        problem.close()
    rows = []
    for size in SIZES:
        row = {"size": size}
        for arm in ARMS:
            row[arm] = round(statistics.median(times[(arm, size)]), 1)
        row["ratio"] = f"{row[list(ARMS)[1]] / row['shipped']:.2f}x"
        rows.append(row)
    total = {"size": "all 9 (one whole check)"}
    for arm in ARMS:
        total[arm] = round(sum(r[arm] for r in rows), 1)
    total["ratio"] = f"{total[list(ARMS)[1]] / total['shipped']:.2f}x"
    rows.append(total)
    print(f"{len(genomes)} portraits, {args.rounds} rounds, {lanes} lanes; milliseconds per check (median of rounds)")
    print(table(rows, ["size", *ARMS, "ratio"]))
    print(f"{machine()['cpu']}, {machine()['cores']} cores")
    path = write_json("bench_final_check", {"machine": machine(), "portraits": [str(p) for p in paths],
                                            "rounds": args.rounds, "lanes": lanes, "rows": rows})  # fmt: skip
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
