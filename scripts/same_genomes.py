"""The refactoring guard: the same seeds and settings give the same genomes before and after.

Runs seeds 1-20 of ``default`` and seeds 1-5 of every other built-in preset for a fixed number
of generations (no time limit, so the runs are deterministic), through the whole loop: search,
final check, polish and contrast. It writes each run's genome digest, score, verdict and counts
as JSON, or compares them with a file written before a change.

    python scripts/same_genomes.py --write before.json     # on the code before a change
    python scripts/same_genomes.py --check before.json     # after it: exit 1 on any difference

``--only PRESET[:SEEDS]`` narrows a run (``--only default:1-3``), for a quick look.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time

from polyface.preset import builtin_presets, load_preset
from polyface.run import evolve

GENERATIONS = 60  # enough for most default seeds to reach, check and polish a portrait
POLISH = 10  # generations of polishing after the first portrait (one polish check)


def plan(only: list[str]) -> list[tuple[str, int]]:
    if only:
        out = []
        for item in only:
            name, _, seeds = item.partition(":")
            lo, _, hi = (seeds or "1-5").partition("-")
            out += [(name, s) for s in range(int(lo), int(hi or lo) + 1)]
        return out
    runs = [("default", s) for s in range(1, 21)]
    runs += [(name, s) for name in sorted(builtin_presets()) if name != "default" for s in range(1, 6)]
    return runs


def one(name: str, seed: int) -> dict:
    cfg = load_preset(name).replace(seed=seed, max_generations=GENERATIONS, time_limit=0.0, polish=POLISH)
    r = evolve(cfg, write=False)
    text = r.genome.to_json()
    return {
        "genome": hashlib.sha256(text.encode()).hexdigest()[:16],
        "score": round(r.score, 9),
        "portrait": r.portrait,
        "generations": r.generations,
        "evaluations": r.evaluations,
        "portrait_generation": r.portrait_generation,
        "contrast": round(r.contrast, 6),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", metavar="FILE")
    group.add_argument("--check", metavar="FILE")
    ap.add_argument("--only", action="append", default=[], metavar="PRESET[:SEEDS]")
    args = ap.parse_args()
    want = json.load(open(args.check)) if args.check else {}
    got, bad = {}, 0
    for name, seed in plan(args.only):
        key = f"{name}:{seed}"
        t0 = time.perf_counter()
        got[key] = one(name, seed)
        same = "" if not args.check else ("same" if want.get(key) == got[key] else "DIFFERENT")
        bad += same == "DIFFERENT"
        print(f"{key:16} {got[key]['genome']} score {got[key]['score']:.6f} "
              f"portrait {got[key]['portrait']!s:5} {time.perf_counter() - t0:6.1f} s {same}", flush=True)
        if same == "DIFFERENT":
            print(f"  before: {want.get(key)}\n  after:  {got[key]}", flush=True)
    if args.write:
        with open(args.write, "w") as f:
            json.dump(got, f, indent=1, sort_keys=True)
    if args.check:
        print(f"{len(got) - bad} of {len(got)} runs made the same genomes")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
