"""Real runs, measured as people run them: time to a portrait, evaluations/s, memory, gallery rate.

    python benchmarks/bench_evolve.py [--preset default] [--seeds 10] [--time-limit 60]
    python benchmarks/bench_evolve.py --throughput-only

Each seed is one ``polyface.run.evolve`` with its run folder written (frames, history, log),
until the best genome passes every member of the judge at every size from 64 to 1024 px
(or the time limit). Per seed: the run's wall time (detectors started,
files written), the loop's time, evaluations/s as logged in log.jsonl, and the peak memory
of the whole process tree (PSS sampled every 250 ms;
the RSS sum, which counts shared library pages once per process, beside it).
Then: the problem's own throughput on random batches of a generation's size (and the ratio
of the real-run rate to it), and on the first seed's own batches, scored again in order (the
ratio of that run's rate to it: the share of the run the problem's scoring takes);
``polyface gallery`` on the whole machine (portraits per hour); and the Pareidoloop-faithful
hill climb on a few seeds. Prints tables with each target and
pass/fail; writes benchmarks/results/bench_evolve.json.
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
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, table, write_json  # noqa: E402
from memory import PeakMemory  # noqa: E402

from polyface.genome import random_genome  # noqa: E402
from polyface.placement import n_lanes, pick_device  # noqa: E402
from polyface.preset import load_preset  # noqa: E402
from polyface.run import build, evolve  # noqa: E402
from polyface.detect.lanes import lane_threads  # noqa: E402
from polyface.search.problem import PortraitProblem  # noqa: E402

VERIFY = (64, 96, 128, 192, 256, 384, 512, 768, 1024)
TARGETS = {"median s": 3.0, "run evals/s": 1000, "real/throughput": 0.80, "peak MB": 1536, "portraits/h": 1000}
BASELINE_RATIO = 3.0


def load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def logged_rate(run_dir: Path) -> float:
    """Evaluations per second as the run logged them: the last generation's line of log.jsonl."""
    lines = [json.loads(x) for x in (run_dir / "log.jsonl").read_text().splitlines() if x.strip()]
    last = [x for x in lines if not x.get("final")][-1]
    return last["evaluations"] / max(last["elapsed_s"], 1e-9)


def real_run(cfg, out: Path) -> dict:
    """One seed as ``polyface evolve`` runs it, with its profile and peak memory."""
    t0 = time.perf_counter()
    with PeakMemory() as mem:
        r = evolve(cfg.replace(profile=True), out=out)
    wall = time.perf_counter() - t0
    prof = {s["section"]: s["seconds"] for s in r.extra["profile"]["sections"]}
    start = sum(v for k, v in prof.items() if k.startswith(("start: ", "stop: ")))
    return {
        "preset": cfg.preset,
        "seed": cfg.seed,
        "portrait": r.portrait,
        "wall s": round(wall, 2),
        "loop s": round(r.elapsed_s, 2),
        "start+stop s": round(start, 2),
        "evaluations": r.evaluations,
        "run evals/s": round(logged_rate(out)),
        "peak MB": round(mem.peak),
        "peak RSS MB": round(mem.peak_rss),
        "min prob": round(r.verdict.min_prob, 4),
        "profile": r.extra["profile"],
    }


@contextmanager
def scoring_problem(preset: str):
    """The preset's problem, with the lanes a run would use."""
    cfg = load_preset(preset).replace(seed=0)
    device = pick_device(cfg.device)
    lanes = n_lanes(cfg, device)
    with lane_threads(lanes):
        problem, _ = build(cfg, device, lanes=lanes)
        try:
            yield problem, cfg, {"lanes": lanes}
        finally:
            problem.close()


def evals_per_second(preset: str, seconds: float = 8.0, batch: int = 0) -> dict:
    """Throughput of the preset's problem on random genomes, lanes as a run would
    use them: one evaluation is one candidate's full fitness at every search size it qualifies for."""
    with scoring_problem(preset) as (problem, cfg, used):
        rng = np.random.default_rng(0)
        n_batch = batch or cfg.population + (cfg.elites if cfg.augment else 0)  # one generation, as a run scores it
        genomes = [random_genome(rng, cfg.polygons, cfg.vertices, cfg.colour) for _ in range(n_batch)]
        problem.evaluate(genomes)  # warm-up
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            problem.evaluate(genomes)
            n += len(genomes)
        rate = n / (time.perf_counter() - t0)
    return {"preset": preset, "batch": n_batch, **used, "evals/s": round(rate), "load": load()}


@contextmanager
def recording(batches: list):
    """Every batch a run inside the block asks its problem to score, appended to ``batches`` as
    (genomes, top_k)."""
    evaluate = PortraitProblem.evaluate

    def record(self, genomes, top_k=None):
        batches.append((list(genomes), top_k))
        return evaluate(self, genomes, top_k)

    PortraitProblem.evaluate = record
    try:
        yield
    finally:
        PortraitProblem.evaluate = evaluate


def replayed_rate(preset: str, batches: list) -> float:
    """Evaluations/s of the preset's problem on a real run's own batches, scored again in order
    (the same genomes, as many exact scores as the run asked for; fresh random draws)."""
    with scoring_problem(preset) as (problem, _, _):
        problem.evaluate(*batches[0])  # warm-up
        t0 = time.perf_counter()
        for genomes, top_k in batches:
            problem.evaluate(genomes, top_k)
        return sum(len(g) for g, _ in batches) / (time.perf_counter() - t0)


def gallery_rate(preset: str, n: int, time_limit: float, out: Path) -> dict:
    """``polyface gallery`` on the whole machine, as a user starts it; verified portraits per hour."""
    cmd = [sys.executable, "-m", "polyface.cli", "gallery", "-n", str(n), "--preset", preset,
           "--seed-start", "101", "--time-limit", str(time_limit), "--out", str(out)]  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    with PeakMemory(proc.pid, every=0.2) as mem:
        _, err = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"gallery failed: {err.decode()[-2000:]}")
    done = [json.loads(p.read_text()) for p in out.glob("*/result.json")]
    portraits = sum(bool(d.get("portrait")) for d in done)
    return {"seeds": n, "portraits": portraits, "wall s": round(wall, 1),
            "portraits/h": round(portraits / wall * 3600), "peak MB": round(mem.peak), "load": load()}  # fmt: skip


def spread(values: list[float]) -> dict:
    q = np.percentile(values, [25, 75])
    return {"median": round(statistics.median(values), 2), "p25": round(q[0], 2), "p75": round(q[1], 2),
            "min": round(min(values), 2), "max": round(max(values), 2)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="default", help="preset (name or .toml) of the real runs")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--seed-start", type=int, default=1)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--baseline", default="pareidoloop", help="the hill climb's preset ('' to skip)")
    ap.add_argument("--baseline-seeds", type=int, default=3)
    ap.add_argument("--baseline-limit", type=float, default=20.0)
    ap.add_argument("--gallery-seeds", type=int, default=6, help="0 to skip the gallery")
    ap.add_argument("--gallery-limit", type=float, default=30.0)
    ap.add_argument("--throughput-seconds", type=float, default=6.0)
    ap.add_argument("--throughput-only", action="store_true",
                    help="the problem's throughput, beside one short real run's logged rate (their ratio)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-evolve-") as tmp:
        measure(args, Path(tmp))


def measure(args, tmp: Path) -> None:
    """Every measurement, each run folder under ``tmp``; then the report."""
    runs, base_runs = [], []
    # The speed targets are about the time to the first verified portrait: the run is the same up
    # to it, so it stops there (polishing after it is a quality step, judged in bench_transfer.py).
    real = load_preset(args.preset).replace(time_limit=args.time_limit, size=1024, verify_sizes=VERIFY, target=0.99,
                                            polish=0)
    seeds = range(args.seed_start, args.seed_start + args.seeds)
    if args.throughput_only:  # one short real run, for the ratio of its logged rate to the throughput
        seeds = range(args.seed_start, args.seed_start + 1)
        real = real.replace(time_limit=min(args.time_limit, 15.0))
    batches: list = []  # the first seed's, to score again: the problem's rate on a run's own candidates
    for seed in seeds:
        with recording(batches) if seed == seeds[0] else nullcontext():
            row = real_run(real.replace(seed=seed), tmp / f"run-{seed}")
        row["load"] = load()
        runs.append(row)
        print({k: v for k, v in row.items() if k != "profile"}, flush=True)
    if args.baseline and not args.throughput_only:
        hc = load_preset(args.baseline).replace(
            time_limit=args.baseline_limit, size=1024, verify_sizes=VERIFY, target=0.99
        )
        for seed in list(seeds)[: args.baseline_seeds]:
            base_runs.append(real_run(hc.replace(seed=seed), tmp / f"base-{seed}"))
    throughput = evals_per_second(args.preset, args.throughput_seconds)
    if batches:  # none with --seeds 0
        throughput["replayed evals/s"] = round(replayed_rate(args.preset, batches))
        throughput["replayed seed"] = seeds[0]
    gallery = None
    if args.gallery_seeds and not args.throughput_only:
        gallery = gallery_rate(args.preset, args.gallery_seeds, args.gallery_limit, tmp / "gallery")
    report(args, runs, base_runs, throughput, gallery)


def target(name: str, measured, ok: bool) -> dict:
    return {"target": name, "measured": measured, "result": "pass" if ok else "FAIL"}


def run_targets(args, runs: list[dict], throughput: dict) -> tuple[dict, list[dict]]:
    """Summary of the real runs and their targets; a seed without a portrait counts at the
    time limit (a lower bound on its time) and is named."""
    walls = [r["wall s"] if r["portrait"] else args.time_limit for r in runs]
    loops = [r["loop s"] if r["portrait"] else args.time_limit for r in runs]
    rate = statistics.median(r["run evals/s"] for r in runs)
    peak, peak_rss = max(r["peak MB"] for r in runs), max(r["peak RSS MB"] for r in runs)
    missed = [r["seed"] for r in runs if not r["portrait"]]
    sm = {"wall s": spread(walls), "loop s": spread(loops), "run evals/s": rate, "peak MB": peak,
          "portraits": f"{len(runs) - len(missed)}/{len(runs)}", "no portrait in time": missed}  # fmt: skip
    w = sm["wall s"]
    ratio = rate / max(throughput["evals/s"], 1e-9)
    first = runs[0]["run evals/s"]
    own = first / max(throughput["replayed evals/s"], 1e-9)
    rows = [
        target(f"median time to portrait <= {TARGETS['median s']} s (wall, start-up included)",
               f"{w['median']} s (p25 {w['p25']}, p75 {w['p75']}, {w['min']}..{w['max']}); loop only "
               f"{sm['loop s']['median']} s; {sm['portraits']} portraits", w["median"] <= TARGETS["median s"]),
        target(f"real-run rate >= {TARGETS['run evals/s']} evals/s (log.jsonl, median)", round(rate),
               rate >= TARGETS["run evals/s"]),
        target(f"peak memory of a whole run <= {TARGETS['peak MB']} MiB (all processes, PSS)",
               f"{peak} (RSS summed: {peak_rss})", peak <= TARGETS["peak MB"]),
        target(f"real-run rate / problem throughput >= {TARGETS['real/throughput']:.0%}",
               f"{ratio:.0%} ({round(rate)} / {throughput['evals/s']})", ratio >= TARGETS["real/throughput"]),
        target(f"the same on the run's own batches (seed {throughput['replayed seed']}, replayed) "
               f">= {TARGETS['real/throughput']:.0%}",
               f"{own:.0%} ({first} / {throughput['replayed evals/s']})", own >= TARGETS["real/throughput"]),
    ]  # fmt: skip
    return sm, rows


def baseline_target(args, runs: list[dict], base_runs: list[dict]) -> dict:
    """The hill climb against the same first seeds of the real runs (medians, wall time)."""
    n = len(base_runs)
    base = statistics.median([r["wall s"] if r["portrait"] else args.baseline_limit for r in base_runs])
    ours = statistics.median([r["wall s"] if r["portrait"] else args.time_limit for r in runs[:n]])
    ratio = base / max(ours, 1e-9)
    censored = sum(not r["portrait"] for r in base_runs)
    note = f" (hill climb censored at {args.baseline_limit:g} s on {censored}/{n} seeds)" if censored else ""
    return target(f">= {BASELINE_RATIO}x faster than the hill climb ({args.baseline}), same seeds",
                  f"{'>= ' if censored else ''}{ratio:.1f}x{note}", ratio >= BASELINE_RATIO)  # fmt: skip


def report(args, runs: list[dict], base_runs: list[dict], throughput: dict, gallery: dict | None) -> None:
    cols = ["seed", "portrait", "wall s", "loop s", "start+stop s", "evaluations", "run evals/s", "peak MB",
            "peak RSS MB", "load"]  # fmt: skip
    summary, targets = {}, []
    if runs:
        print("\n" + table(runs, cols))
        summary, targets = run_targets(args, runs, throughput)
        summary["profile"] = merged_profile(runs)
        print("\nWhere the runs' time went (all seeds):\n" + table(summary["profile"], ["section", "seconds", "share"]))
    print("\n" + table([throughput], ["preset", "batch", "lanes", "evals/s", "replayed seed", "replayed evals/s", "load"]))
    if gallery:
        print("\n" + table([gallery], ["seeds", "portraits", "wall s", "portraits/h", "peak MB", "load"]))
        ph = gallery["portraits/h"]
        goal = TARGETS["portraits/h"]
        targets.append(target(f"gallery >= {goal} verified portraits/hour", ph, ph >= goal))
    if base_runs and runs:
        targets.append(baseline_target(args, runs, base_runs))
    print("\n" + table(targets, ["target", "measured", "result"]))
    print(f"\n{machine()['cpu']}, {machine()['cores']} cores; {load()}")
    name = "bench_evolve_throughput" if args.throughput_only else "bench_evolve"
    path = write_json(name, {"machine": machine(), "load_at_end": load(), "args": vars(args), "runs": runs,
                             "baseline": base_runs, "summary": summary, "throughput": throughput,
                             "gallery": gallery, "targets": targets})  # fmt: skip
    print(f"wrote {path}")


def merged_profile(runs: list[dict]) -> list[dict]:
    """The runs' profiles summed section by section, largest first."""
    total: dict[str, float] = {}
    wall = 0.0
    for r in runs:
        wall += r["profile"]["wall_s"]
        for s in r["profile"]["sections"]:
            total[s["section"]] = total.get(s["section"], 0.0) + s["seconds"]
    ordered = sorted(total.items(), key=lambda kv: -kv[1])
    rows = [{"section": k, "seconds": round(v, 2), "share": f"{v / wall:.1%}"} for k, v in ordered]
    rows.append({"section": "(wall time of all runs)", "seconds": round(wall, 2), "share": "100%"})
    return rows


if __name__ == "__main__":
    main()
