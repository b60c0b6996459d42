"""Gallery throughput: portraits per hour on the local engine and on Ray, 1 and 2 workers.

    python benchmarks/bench_gallery.py [--seeds 6] [--time-limit 20] [--preset default]

Each configuration runs the same seeds (0..N-1) into a fresh folder, one seed per worker at a
time. The local engine gives each seed cores / workers threads: one worker runs a seed with a
lane per core (``polyface.detect.lanes``), two workers one thread each; a Ray worker is one core.
``--engine ray`` starts a local Ray instance with as many CPUs as workers; its start-up
(``ray.init``) and shutdown are timed apart from the gallery. Prints a table and writes
benchmarks/results/bench_gallery.json (after every configuration, so a cut-short run keeps
what it measured). ``peak MB`` is the whole process tree's peak memory (PSS) during the gallery.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, table, write_json  # noqa: E402
from memory import PeakMemory  # noqa: E402

from polyface.batch import run_gallery  # noqa: E402
from polyface.preset import load_preset  # noqa: E402
from polyface.engines import get_engine  # noqa: E402

CONFIGS = (("local", 1), ("local", 2), ("ray", 1), ("ray", 2))
COLUMNS = ["engine", "workers", "seeds", "portraits", "gallery s", "start-up s", "shutdown s",
           "seeds/h", "portraits/h", "portraits/h incl. start-up", "portraits/h per worker", "peak MB"]


def one(cfg, engine_name: str, workers: int, seeds: int, root: Path) -> dict:
    engine = get_engine(engine_name, workers)
    close, engine.close = engine.close, lambda: None  # shut Ray down below, timed apart
    startup = shutdown = 0.0
    if engine_name == "ray":
        t = time.perf_counter()
        engine.start()  # ray.init: a local instance of `workers` CPUs
        startup = time.perf_counter() - t
    t = time.perf_counter()
    with PeakMemory() as mem:  # this process and every process it starts
        outcomes = run_gallery(cfg, seeds, root / f"{engine_name}-{workers}", engine=engine, pages_every=0)
    wall = time.perf_counter() - t
    t = time.perf_counter()
    close()
    shutdown = time.perf_counter() - t
    from polyface.runio.results import collect

    runs = collect(root / f"{engine_name}-{workers}")
    portraits = sum(1 for r in runs if r.portrait)
    failed = [o for o in outcomes if o.status != "done"]
    return {
        "engine": engine_name,
        "workers": workers,
        "seeds": len(outcomes) - len(failed),
        "portraits": portraits,
        "gallery s": round(wall, 1),
        "start-up s": round(startup, 1),
        "shutdown s": round(shutdown, 1),
        "seeds/h": round(3600 * (len(outcomes) - len(failed)) / wall),
        "portraits/h": round(3600 * portraits / wall),
        "portraits/h incl. start-up": round(3600 * portraits / (wall + startup + shutdown)),
        "portraits/h per worker": round(3600 * portraits / wall / workers),
        "peak MB": round(mem.peak),
        "failed": [f"{o.seed}: {o.status} {o.detail}" for o in failed],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=6)
    ap.add_argument("--time-limit", type=float, default=20.0, help="seconds per portrait")
    ap.add_argument("--preset", default="default")
    ap.add_argument("--engines", default="local,ray", help="which engines to run: local, ray or both")
    args = ap.parse_args()
    # A local Ray instance turns token authentication on; a token in the environment keeps
    # it from writing ~/.ray/auth_token.
    os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))
    os.environ.pop("RAY_ADDRESS", None)
    cfg = load_preset(args.preset).replace(time_limit=args.time_limit, threads=1)
    rows: list[dict] = []
    payload = {"machine": machine(), "preset": args.preset, "time_limit": args.time_limit, "rows": rows}
    with tempfile.TemporaryDirectory(prefix="bench-gallery-") as tmp:
        for engine_name, workers in [c for c in CONFIGS if c[0] in args.engines.split(",")]:
            rows.append(one(cfg, engine_name, workers, args.seeds, Path(tmp)))
            print(f"{engine_name} x{workers}: {rows[-1]['gallery s']} s", file=sys.stderr, flush=True)
            write_json("bench_gallery", payload)
    print(table(rows, COLUMNS))


if __name__ == "__main__":
    main()
