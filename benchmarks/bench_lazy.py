"""Scoring a generation exactly only for its best: real runs with and without it, side by side.

    python benchmarks/bench_lazy.py [--seeds 4] [--seed-start 1] [--generations 250]
    python benchmarks/bench_lazy.py --replay [--seeds 2] [--fills 0,4,8,12,16]

The population strategy keeps a generation's ``elites`` best, so the problem scores only them
exactly and rules the rest out with bounds (``polyface.search.bounds``). The two arms are the
same real run of the default, one thread each, side by side in two processes: "lazy" as
shipped, and "full", where the loop asks for every score. A generation budget instead of a time
limit makes the two arms the same run: the table says whether each seed's two runs end with the
same genome, and compares seconds per generation before the first portrait (search) and after
(polishing). Writes benchmarks/results/<--name>.json.

``--replay`` compares ways of seeking the best on the batches a real run scored, with the lanes
a run uses: each seed's run (one thread, the generation budget) is recorded, batch by batch, and
every batch is then scored again by each way in turn (the order rotating from batch to batch):
every score exact, and best first with network calls filled up to each of ``--fills``
candidates (``bounds.FILL``), in the search phase and in polishing alike. Each way must find the
same best.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, machine, table, write_json  # noqa: E402

ARMS = ("lazy", "full")


def child(arm: str, seed: int, generations: int, out: Path) -> dict:
    """One arm's run of ``seed``; the row of figures it adds to the table."""
    import polyface.search.loop as loop
    from polyface.preset import load_preset
    from polyface.run import evolve
    from polyface.search.rejects import fingerprint

    if arm == "full":
        loop.contenders = lambda *_: None  # every score exact: the loop as it was before bounds
    cfg = load_preset("default").replace(seed=seed, threads=1, max_generations=generations, contrast=1.0)
    t0 = time.perf_counter()
    result = evolve(cfg, out=out)
    wall = time.perf_counter() - t0
    first = json.loads((out / "result.json").read_text()).get("portrait_generation")
    elapsed = {}
    for line in (out / "log.jsonl").read_text().splitlines():
        d = json.loads(line)
        if "generation" in d and "elapsed_s" in d:
            elapsed[d["generation"]] = d["elapsed_s"]
    last = max(elapsed)
    row = {"seed": seed, "arm": arm, "generations": last, "first portrait": first, "run s": round(wall, 1)}
    if first is not None and first in elapsed and last > first:
        row["search s/gen"] = round(elapsed[first] / first, 3)
        row["polish s/gen"] = round((elapsed[last] - elapsed[first]) / (last - first), 3)
    else:
        row["search s/gen"] = round(elapsed[last] / last, 3)
    row["genome"] = fingerprint(result.genome)[:12]
    row["score"] = round(result.score, 6)
    return row


def record(seed: int, generations: int) -> tuple[list, int]:
    """The batches a run of ``seed`` scores, as (genomes, seed of their random draws), and the
    generation of its first verified portrait (the budget when it finds none)."""
    from polyface.preset import load_preset
    from polyface.run import evolve
    from polyface.search.problem import PortraitProblem

    batches, real = [], PortraitProblem._score_batch

    def spy(self, genomes, draws, top_k=None):
        batches.append((list(genomes), draws))
        return real(self, genomes, draws, top_k)

    PortraitProblem._score_batch = spy
    try:
        r = evolve(load_preset("default").replace(seed=seed, threads=1, max_generations=generations), write=False)
    finally:
        PortraitProblem._score_batch = real
    return batches, r.portrait_generation or generations


def replay(seeds: range, generations: int, fills: list[int]) -> list[dict]:
    """Seconds each way of scoring takes over the recorded batches, by seed and phase."""
    import numpy as np
    import torch

    from polyface.placement import n_lanes
    from polyface.preset import load_preset
    from polyface.run import build
    from polyface.search import bounds

    cfg = load_preset("default")
    device = torch.device("cpu")
    ways = {"exact": None, **{f"best first, fill {f}": f for f in fills}}
    rows = []
    for seed in seeds:
        batches, first = record(seed, generations)
        problem, strategy = build(cfg, device, lanes=n_lanes(cfg, device))
        took = {phase: dict.fromkeys(ways, 0.0) for phase in ("search", "polish")}
        for i, (genomes, draws) in enumerate(batches):
            names = list(ways)[i % len(ways):] + list(ways)[: i % len(ways)]
            best = {}
            for name in names:
                if ways[name] is not None:
                    bounds.FILL = ways[name]
                t = time.perf_counter()
                ev = problem.score_batch(genomes, draws, None if ways[name] is None else strategy.selects)
                took["search" if i < first else "polish"][name] += time.perf_counter() - t
                best[name] = list(np.argsort(-ev.scores, kind="stable")[: strategy.selects])
            if any(b != best["exact"] for b in best.values()):
                sys.exit(f"seed {seed}, batch {i}: a way of scoring found another best")
        problem.close()
        for phase, t in took.items():
            n = first if phase == "search" else len(batches) - first
            if n:
                row = {"seed": seed, "phase": phase, "batches": n, "exact s": round(t["exact"], 1)}
                row.update({f"{k} (x)": round(t["exact"] / v, 2) for k, v in t.items() if k != "exact"})
                rows.append(row)
                print(row, flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--seed-start", type=int, default=1)
    ap.add_argument("--generations", type=int, default=250, help="generation budget of every run")
    ap.add_argument("--name", default="bench_lazy", help="name of the JSON file under benchmarks/results/")
    ap.add_argument("--replay", action="store_true", help="compare ways of seeking the best on a run's batches")
    ap.add_argument("--fills", default="0,4,8,12,16", help="with --replay: network calls filled up to these sizes")
    ap.add_argument("--child", nargs=2, metavar=("ARM", "SEED"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    base = RESULTS / "lazy"
    if args.child:
        arm, seed = args.child[0], int(args.child[1])
        out = base / arm / str(seed)
        shutil.rmtree(out, ignore_errors=True)  # an earlier run of this seed: run it again
        print(json.dumps(child(arm, seed, args.generations, out)))
        return
    if args.replay:
        fills = [int(f) for f in args.fills.split(",")]
        rows = replay(range(args.seed_start, args.seed_start + args.seeds), args.generations, fills)
        print()
        print(table(rows, list(rows[0])))
        print(f"wrote {write_json(args.name + '_replay', {'machine': machine(), 'generations': args.generations, 'rows': rows})}")
        return
    rows = []
    for seed in range(args.seed_start, args.seed_start + args.seeds):
        cmd = [sys.executable, __file__, "--generations", str(args.generations), "--child"]
        procs = {arm: subprocess.Popen([*cmd, arm, str(seed)], stdout=subprocess.PIPE, text=True) for arm in ARMS}
        got = {}
        for arm, p in procs.items():
            out, _ = p.communicate()
            if p.returncode != 0:
                sys.exit(f"the {arm} run of seed {seed} failed (exit code {p.returncode})")
            got[arm] = json.loads(out.strip().splitlines()[-1])
        same = got["lazy"]["genome"] == got["full"]["genome"]
        for arm in ARMS:
            rows.append({**got[arm], "same genome": same})
            print(rows[-1], flush=True)
    cols = ["seed", "arm", "generations", "first portrait", "search s/gen", "polish s/gen", "run s", "score", "same genome"]
    print()
    print(table(rows, cols))
    polish = {arm: sum(r.get("polish s/gen", 0) for r in rows if r["arm"] == arm) for arm in ARMS}
    if polish["lazy"] > 0:
        print(f"\npolishing: full / lazy seconds per generation, summed over seeds: {polish['full'] / polish['lazy']:.2f}x")
    payload = {"machine": machine(), "generations": args.generations, "rows": rows}
    print(f"wrote {write_json(args.name, payload)}")


if __name__ == "__main__":
    main()
