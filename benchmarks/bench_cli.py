"""`polyface evolve` as a user runs it, from the shell, against an older revision, side by side.

    python benchmarks/bench_cli.py --base <git revision> [--seeds 1,2,5,14,20] [--rounds 2]
    python benchmarks/bench_cli.py --base <git revision> --polish 60 --max-generations 100

Each run is the command a user types, in a fresh process: ``python -m polyface.cli evolve
--seed S --polish 0 --contrast 1 --time-limit 60 --set profile=true`` by default, the default preset
stopped at its first portrait verified from 64 to 1024 px, without the polishing and contrast
stretch that come after it: the time a user waits for a portrait. The wall time counts
everything: Python's start, imports, the detectors' start, the search, the final check and the
files written. ``--polish N --max-generations G`` runs a fixed number of generations instead,
to compare the loop's own speed (its seconds per generation).

The base revision is checked out into a temporary worktree and run from it with the same
Python and packages; the two arms alternate seed by seed, so a busy machine slows both alike.
A seed gives the same run in both arms where only the start differs: the script says whether
their genomes are the same. Each arm's runs share a cache folder for exported models (where its
code keeps them), filled before the timed runs: the current tree's by a first run timed apart
("cold": a machine's first run), the base's by an untimed one.

Writes benchmarks/results/bench_cli.json (``--name``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, table, write_json  # noqa: E402

from polyface.runio import readers  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def run_cli(code_root: Path, seed: int, out: Path, cache: Path, args) -> dict:
    """One ``polyface evolve`` in a fresh process, run from ``code_root``'s sources."""
    env = dict(os.environ, PYTHONPATH=str(code_root), POLYFACE_CACHE_DIR=str(cache))
    cmd = [sys.executable, "-m", "polyface.cli", "evolve", "--seed", str(seed), "--polish", str(args.polish),
           "--contrast", "1", "--time-limit", str(args.time_limit), "--set", "profile=true", "--quiet", "--out", str(out)]  # fmt: skip
    if args.max_generations:
        cmd += ["--max-generations", str(args.max_generations)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=code_root, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"{code_root}: seed {seed} failed: {proc.stderr[-2000:]}")
    prof = json.loads((out / "profile.json").read_text())
    sections = {s["section"]: s["seconds"] for s in prof["sections"]}
    result = readers.read_result(out)
    return {
        "seed": seed,
        "portrait": bool(result.get("portrait")),
        "wall s": round(wall, 2),
        "evolve s": round(prof["wall_s"], 2),
        "outside evolve s": round(wall - prof["wall_s"], 2),
        "detectors' start s": round(sections.get("start: detectors and problem", 0.0), 2),
        "haar s": round(sections.get("haar", 0.0), 2),
        "loop s": round(prof["loop_elapsed_s"], 2),
        "generations": prof["generations"],
        "s/gen": round(prof["loop_elapsed_s"] / max(prof["generations"], 1), 3),
        "genome": (out / "genome.json").read_text(),
    }


def summary(rows: list[dict], arm: str) -> dict:
    out = {"arm": arm, "runs": len(rows)}
    for key in ("wall s", "evolve s", "outside evolve s", "detectors' start s", "loop s", "s/gen"):
        out[key] = round(statistics.median(r[key] for r in rows), 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True, help="git revision to compare with (checked out into a worktree)")
    ap.add_argument("--seeds", default="1,2,5,14,20", help="comma-separated seeds")
    ap.add_argument("--rounds", type=int, default=2, help="runs of each seed in each arm")
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--polish", type=int, default=0, help="generations of polishing after the first portrait")
    ap.add_argument("--max-generations", type=int, default=0, help="stop after this many generations (0: no limit)")
    ap.add_argument("--name", default="bench_cli", help="name of the JSON written to benchmarks/results")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp_name:
        tmp = Path(tmp_name)
        base_root = tmp / "base"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(base_root), args.base],
                       check=True, capture_output=True)  # fmt: skip
        try:
            rows, cold = measure(args, seeds, tmp, base_root)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base_root)], capture_output=True)
    report(args, rows, cold)


def measure(args, seeds: list[int], tmp: Path, base_root: Path) -> tuple[list[dict], dict]:
    cold = run_cli(ROOT, seeds[0], tmp / "cold", tmp / "cache-current", args)  # fills the current tree's cache
    cold["arm"] = "current, first run (empty cache)"
    print({k: v for k, v in cold.items() if k != "genome"}, flush=True)
    # Not timed: the base fills its own cache too where it keeps exported models, so that its first
    # timed run does not pay for the export and the current tree's does not.
    run_cli(base_root, seeds[0], tmp / "warm-base", tmp / "cache-base", args)
    rows = []
    for r in range(args.rounds):
        for i, seed in enumerate(seeds):
            arms = [("base", base_root), ("current", ROOT)]
            if (r + i) % 2:
                arms.reverse()
            for arm, root in arms:
                row = run_cli(root, seed, tmp / f"{arm}-{seed}-{r}", tmp / f"cache-{arm}", args)
                row["arm"], row["round"] = arm, r
                rows.append(row)
                print({k: v for k, v in row.items() if k != "genome"}, flush=True)
    return rows, cold


def report(args, rows: list[dict], cold: dict) -> None:
    by = {arm: [r for r in rows if r["arm"] == arm] for arm in ("base", "current")}
    pairs = [(rb, rc) for rb in by["base"] for rc in by["current"] if (rb["seed"], rb["round"]) == (rc["seed"], rc["round"])]
    same = all(rb["genome"] == rc["genome"] for rb, rc in pairs)
    cols = ["arm", "seed", "round", "portrait", "wall s", "evolve s", "outside evolve s", "detectors' start s", "loop s",
            "generations", "s/gen"]  # fmt: skip
    print("\n" + table(sorted(rows, key=lambda r: (r["seed"], r["round"], r["arm"])), cols))
    sums = [summary(by["base"], f"base ({args.base})"), summary(by["current"], "current")]
    ratios = [rb["wall s"] / rc["wall s"] for rb, rc in pairs]
    loop_ratios = [rb["s/gen"] / rc["s/gen"] for rb, rc in pairs]
    print("\n" + table(sums, ["arm", "runs", "wall s", "evolve s", "outside evolve s", "detectors' start s", "loop s", "s/gen"]))
    print(f"\nwall time, base / current, run by run: median {statistics.median(ratios):.2f}x "
          f"({min(ratios):.2f}-{max(ratios):.2f}); the loop's seconds a generation: median "
          f"{statistics.median(loop_ratios):.2f}x ({min(loop_ratios):.2f}-{max(loop_ratios):.2f}); "
          f"the same genomes in both arms: {'yes' if same else 'NO'}")  # fmt: skip
    start = cold["detectors' start s"]
    print(f"a machine's first run (empty cache), seed {cold['seed']}: wall {cold['wall s']} s, detectors' start {start} s")
    print(f"{machine()['cpu']}, {machine()['cores']} cores")
    path = write_json(args.name, {"machine": machine(), "args": vars(args), "same genomes": same,
                                        "summary": sums, "ratios": ratios, "loop ratios": loop_ratios,
                                        "cold": {k: v for k, v in cold.items() if k != "genome"},
                                        "runs": [{k: v for k, v in r.items() if k != "genome"} for r in rows]})  # fmt: skip
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
