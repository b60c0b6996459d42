"""Evolution alone against the Lamarckian hybrid (``refine`` > 0) on the same seeds and wall budget.

    python benchmarks/bench_refine.py [--preset mono] [--seeds 1 2 3] [--time 60] [--refine 5] [--top 1]

For each seed, one run of each arm (``evolve(cfg.replace(seed=s, time_limit=T, refine=K))``,
nothing written), the arms alternating in one process so that both see the same load: the best
score reached, whether the final check verified a portrait, generations, seconds, and for the
hybrid how many refined genomes were tried and how many the real judge kept. Prints a table,
writes benchmarks/results/bench_refine.json and each run's final portrait as
benchmarks/results/bench_refine/<preset>-s<seed>-<arm>.png (256 px).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, machine, table, write_json

from polyface import run
from polyface.preset import load_preset
from polyface.render.cairo import save
from polyface.search.refine import RefiningStrategy

BUILT: list[RefiningStrategy] = []


class Counted(RefiningStrategy):
    """The hybrid, remembered so that its counts can be read after the run."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        BUILT.append(self)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="mono")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--time", type=float, default=60.0)
    ap.add_argument("--refine", type=int, default=5)
    ap.add_argument("--top", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    run.RefiningStrategy = Counted
    pictures = RESULTS / "bench_refine"
    pictures.mkdir(parents=True, exist_ok=True)
    base = load_preset(args.preset)
    rows = []
    for seed in args.seeds:
        arms = [("evolution", 0), (f"hybrid K={args.refine}", args.refine)]
        for name, k in arms if seed % 2 else arms[::-1]:  # alternate which arm runs first
            BUILT.clear()
            cfg = base.replace(seed=seed, time_limit=args.time, refine=k, refine_top=args.top, threads=args.threads)
            r = run.evolve(cfg, write=False)
            png = pictures / f"{args.preset}-s{seed}-{'hybrid' if k else 'evolution'}.png"
            save(r.genome, png, 256)
            hybrid = BUILT[0] if BUILT else None
            rows.append({
                "seed": seed,
                "arm": name,
                "best": round(float(r.score), 4),
                "portrait": r.portrait,
                "generations": r.generations,
                "seconds": round(r.elapsed_s, 1),
                "refined kept/tried": f"{hybrid.kept}/{hybrid.tried}" if hybrid else "",
                "polygons": r.genome.n_polygons,
                "png": str(png.relative_to(RESULTS.parent.parent)),
            })
            print(table(rows[-1:], list(rows[-1])), flush=True)
    print(table(rows, list(rows[0])))
    path = write_json("bench_refine", {"machine": machine(), "args": vars(args), "rows": rows})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
