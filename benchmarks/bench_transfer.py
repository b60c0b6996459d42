"""Do portraits transfer? The share of final portraits that detectors the run never used accept.

    python benchmarks/bench_transfer.py [--seeds 10] [--seed-start 1] [--time-limit 60]
        [--presets fool,benchmarks/presets/default-v1.toml,default] [--judge-only] [--score-all] [--finish]

For each preset and seed, evolves a portrait verified at every size 64..1024 px (written under
benchmarks/results/transfer/<preset>/<seed>), then asks each independent judge (judges.py: the
LBP cascade, dlib's HOG detector and dlib's MMOD CNN always, and whichever of Haar, BlazeFace the
preset's fitness does not use) whether
it sees a face of at least 30% of the portrait's side, on best.png at 128, 256 and 512 px,
edge to edge and framed by a border of 30% of its side (as a print hangs). A portrait is
accepted in a view when every independent judge accepts it at every size; each judge's own count is
tabled too, and the runs whose verified portrait the MMOD CNN sees edge to edge (the closest
judge to the eye). Times are to the first verified portrait ("seconds"); a polishing run goes
on after it ("run s"). The dlib judges need ``pip install 'polyface[judges]'``. Prints tables,
writes benchmarks/results/bench_transfer.json and a contact sheet per preset. ``--score-all``
scores every candidate exactly, as runs did before e41bea8 (polishing now scores only a
generation's best exactly: the same runs, faster), in folders named <preset>-score-all.
``--finish`` resumes each seed's time-limited run in a copy, <preset>-full/<seed>, with no time
limit, so it polishes to the end as a run without ``--time-limit`` does, and judges those.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, machine, table, write_json  # noqa: E402
from judges import MIN_SIDE, framed, make_judges  # noqa: E402

from polyface.batch import write_pages  # noqa: E402
from polyface.preset import load_preset  # noqa: E402
from polyface.run import evolve, resume  # noqa: E402

SIZES = (128, 256, 512)
VERIFY = (64, 96, 128, 192, 256, 384, 512, 768, 1024)
TARGET = 0.8
VIEWS = {"edge": 0.0, "framed": 0.3}


def independent(cfg) -> list[str]:
    """The judges a preset's fitness never sees."""
    return ["lbp", "hog", "mmod"] + [n for n, used in (("haar", cfg.haar), ("blazeface", cfg.blazeface)) if not used]


def judge_run(out: Path, judges: list) -> dict[str, dict[str, bool]]:
    """view -> judge -> accepted at every size."""
    verdict = {}
    for view, margin in VIEWS.items():
        verdict[view] = {}
        for j in judges:
            ok = True
            for s in SIZES:
                image, share = framed(out / "best.png", s, margin)
                ok &= j.side(image) / (image.shape[0] * share) >= MIN_SIDE
            verdict[view][j.name] = ok
    return verdict


def seed_runs(folder: Path) -> list[Path]:
    """The seed folders of a transfer run, by seed."""
    return sorted((p for p in folder.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))


def verified_runs(folder: Path) -> list[Path]:
    """The seed folders of a transfer run whose portrait the final check accepted, by seed."""
    return [r for r in seed_runs(folder) if json.loads((r / "result.json").read_text()).get("portrait")]


def _median(rs: list[dict]) -> str:
    """Median time to a verified portrait; runs without one count as never (shown as '> limit')."""
    m = statistics.median([r["seconds"] if r["portrait"] else float("inf") for r in rs])
    return f"{m:.1f}" if m != float("inf") else "> limit"


def label(preset: str) -> str:
    return Path(preset).stem if preset.endswith(".toml") else preset


def folder_name(preset: str, args: argparse.Namespace) -> str:
    """The folder (and table label) of a preset's runs under benchmarks/results/transfer/."""
    return label(preset) + ("-score-all" if args.score_all else "-full" if args.finish else "")


def finish(minute: Path, out: Path) -> None:
    """Copy a time-limited run to ``out`` and resume it with no time limit: it polishes to the
    end, as the run would have gone without ``--time-limit`` (a resumed run ends like an
    uninterrupted one: tests/test_search.py). Its "run s" counts the first run's final check too."""
    if not (minute / "checkpoint.json").is_file():
        raise SystemExit(f"{minute}: no run to finish (run bench_transfer.py without --finish first)")
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(minute, out)
    resume(out, time_limit=0.0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--seed-start", type=int, default=1)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--presets", default="fool,benchmarks/presets/default-v1.toml,default")
    ap.add_argument("--judge-only", action="store_true", help="judge the run folders already written")
    ap.add_argument("--score-all", action="store_true", help="every candidate scored exactly (as before e41bea8)")
    ap.add_argument("--name", default="bench_transfer", help="name of the JSON file under benchmarks/results/")
    ap.add_argument("--finish", action="store_true",
                    help="resume each seed's time-limited run to the end of its polishing (no time limit) in a copy, "
                         "<preset>-full/<seed>, and judge those: the portraits a run without --time-limit makes")
    args = ap.parse_args()
    if args.finish and args.score_all:
        ap.error("--finish and --score-all do not go together")
    if args.score_all:
        import polyface.search.loop as loop

        loop.contenders = lambda *_: None
    rows = []
    for preset in args.presets.split(","):
        cfg0 = load_preset(preset)
        names = independent(cfg0)
        judges = make_judges(names)
        minute = RESULTS / "transfer" / label(preset)
        folder = RESULTS / "transfer" / folder_name(preset, args)
        for seed in range(args.seed_start, args.seed_start + args.seeds):
            out = folder / str(seed)
            if args.finish and not args.judge_only:
                finish(minute / str(seed), out)
            elif not args.judge_only:
                if out.exists():
                    shutil.rmtree(out)
                evolve(cfg0.replace(seed=seed, time_limit=args.time_limit, verify_sizes=VERIFY), out=out)
            res = json.loads((out / "result.json").read_text())
            portrait, run_s = res["portrait"], res["elapsed_s"]
            seconds = res.get("portrait_s")
            seconds = run_s if seconds is None else seconds  # runs written before polishing: the two are one
            v = judge_run(out, judges)
            row = {"preset": folder.name, "seed": seed, "portrait": portrait, "seconds": round(seconds, 1),
                   "run s": round(run_s, 1)}
            for view in VIEWS:
                row[view] = " ".join(f"{n}:{'y' if v[view][n] else 'n'}" for n in names)
                row[f"{view} ok"] = all(v[view].values())
            rows.append(row)
            print(row, flush=True)
        write_pages(folder)
    summary, per_judge = [], []
    for preset in args.presets.split(","):
        rs = [r for r in rows if r["preset"] == folder_name(preset, args)]
        n = len(rs)
        done = [r["seconds"] for r in rs if r["portrait"]]  # to the first verified portrait
        entry = {
            "preset": folder_name(preset, args),
            "judges": "+".join(independent(load_preset(preset))),
            "portraits": f"{len(done)}/{n}",
            "median s": _median(rs),
            "within 60 s": f"{sum(s <= 60 for s in done)}/{n}",
            "median run s": f"{statistics.median(r['run s'] for r in rs):.1f}",  # polishing included
        }
        for view in VIEWS:
            k = sum(r[f"{view} ok"] for r in rs)
            entry[f"accepted {view}"] = f"{k}/{n} ({k / n:.0%})"
        # The product: a portrait the run verified that the CNN judge (MMOD) sees, edge to edge.
        seen = sum(r["portrait"] and "mmod:y" in r["edge"].split() for r in rs)
        entry["verified, MMOD sees"] = f"{seen}/{n}"
        ok = all(sum(r[f"{v} ok"] for r in rs) / n >= TARGET for v in VIEWS)
        entry[f"target >= {TARGET:.0%}"] = "pass" if ok else "FAIL"
        summary.append(entry)
        for name in independent(load_preset(preset)):
            verdicts = {view: sum(f"{name}:y" in r[view].split() for r in rs) for view in VIEWS}
            per_judge.append({"preset": folder_name(preset, args), "judge": name, **{v: f"{k}/{n}" for v, k in verdicts.items()}})
    print()
    print(table(rows, list(rows[0])))
    print()
    print(table(summary, list(summary[0])))
    print()
    print(table(per_judge, list(per_judge[0])))
    payload = {"machine": machine(), "args": vars(args), "runs": rows, "summary": summary, "per_judge": per_judge}
    path = write_json(args.name, payload)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
