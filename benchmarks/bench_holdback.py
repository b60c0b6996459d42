"""What holds a run back before its first portrait: each member's score at each search size.

    python benchmarks/bench_holdback.py [--runs benchmarks/results/transfer/default] [--samples 25]

For every run folder (as ``bench_transfer.py`` writes them), about ``--samples`` best genomes
of its history before its first verified portrait are rendered at each of the run's search
sizes, as the search renders them (without robust scoring's copies), and every member of its
ensemble scores them on the tiered scale (``fitness``: below 1 no face, 1-2 a face short of
the rule, 2 and above a pass): MTCNN, BlazeFace and the mean-face prior as the search reads
them, the Haar cascade as it gates. A genome is held back at the first size where a member
fails (smallest first, as the search scores them), by the members that fail there (the search
asks the Haar cascade only once the others pass); "none" where every member passes every size.
Where MTCNN fails, the first reason that holds: no face (split by the stage of its cascade
that turned every window down: P-Net, R-Net or O-Net), several faces, a box under the rule's
size, a box the frame crops, or a face below the target probability. Prints, for each
run and for all of them, the share of genomes held back at each size, by each member and by
MTCNN for each reason, and writes benchmarks/results/<--name>.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_transfer import seed_runs  # noqa: E402
from common import RESULTS, machine, table, write_json  # noqa: E402

from polyface import fitness  # noqa: E402
from polyface.config import Config, apply  # noqa: E402
from polyface.genome_json import from_dict  # noqa: E402
from polyface.run import build  # noqa: E402
from polyface.runio import readers  # noqa: E402


MTCNN_WHY = ("no face: P-Net", "no face: R-Net", "no face: O-Net", "several", "small", "cropped", "unsure")
STAGES = ("P-Net", "R-Net", "O-Net")


def mtcnn_why(problem, images) -> str:
    """Why MTCNN's best face in ``images`` (one image) fails the search's rule: the first of
    ``MTCNN_WHY`` that holds."""
    det, depth = problem.detector.detect_depth(
        images, thresholds=problem.thresholds, skip_below=0.5 * problem.min_box * images.shape[-1]
    )
    h, w = det.size
    box = det.best_box[0]
    if int(det.count[0]) == 0:
        return f"no face: {STAGES[min(2, int(float(depth[0]) * 3))]}"
    if int(det.count[0]) > 1:
        return "several"
    if float(box[2] - box[0]) < problem.min_box * w or float(box[3] - box[1]) < problem.min_box * h:
        return "small"
    if problem.search_margin > fitness.NO_MARGIN and float(fitness.overhang(det, problem.search_margin)[0]) > 0:
        return "cropped"
    return "unsure"


def holdback(problem, genome) -> tuple[int | None, list[str]]:
    """The first search size where a member fails, and the members that fail there (None, [])
    where every member passes every size; where MTCNN fails, why (``MTCNN_WHY``) follows it."""
    for size in problem.sizes:
        images = problem.render([genome], size)
        with torch.inference_mode():
            _, tiers = problem.member_tiers(images)
        scores = {name: float(t[0]) for name, t in tiers.items()}
        if problem.haar is not None:
            scores["haar"] = float(problem.haar_tiers(images)[0])
        failing = [name for name, score in scores.items() if score < fitness.PASS_TIER]
        if failing:
            return size, failing + ([mtcnn_why(problem, images)] if "mtcnn" in failing else [])
    return None, []


def shares(found: list[tuple[int | None, list[str]]], sizes, members) -> dict:
    """Of the genomes looked at: the share held back at each size, by each member, and by
    MTCNN for each reason."""
    n = max(1, len(found))
    out = {f"at {s}": f"{sum(at == s for at, _ in found) / n:.0%}" for s in sizes}
    out["none"] = f"{sum(at is None for at, _ in found) / n:.0%}"
    out.update({m: f"{sum(m in names for _, names in found) / n:.0%}" for m in members})
    out.update({f"mtcnn: {why}": f"{sum(why in names for _, names in found) / n:.0%}" for why in MTCNN_WHY})
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=Path, default=RESULTS / "transfer" / "default")
    ap.add_argument("--samples", type=int, default=25, help="history genomes looked at per run")
    ap.add_argument("--name", default="bench_holdback", help="name of the JSON file under benchmarks/results/")
    args = ap.parse_args()
    runs = seed_runs(args.runs)
    rows, every, problem = [], [], None
    members = ("mtcnn", "blazeface", "prior", "haar")
    for run in runs:
        cfg = apply(Config(), readers.read_config(run), str(run / "config.toml"))
        if problem is None:  # every run of a transfer folder has the same preset
            problem, _ = build(cfg, torch.device("cpu"))
        result = readers.read_result(run)
        first = result.get("portrait_generation")
        history = [h for h in readers.read_history(run) if first is None or (h.generation or 0) < first]
        picked = history[:: max(1, len(history) // args.samples)]
        found = [holdback(problem, from_dict(h.genome)) for h in picked if h.genome is not None]
        every += found
        rows.append({"run": run.name, "first portrait": first or "-", "genomes": len(found),
                     **shares(found, problem.sizes, members)})
        print(rows[-1], flush=True)
    if problem is None:
        sys.exit(f"no run folders under {args.runs}")
    rows.append({"run": "all", "first portrait": "", "genomes": len(every), **shares(every, problem.sizes, members)})
    problem.close()
    print()
    print(table(rows, list(rows[0])))
    payload = {"machine": machine(), "runs": str(args.runs), "per_run": rows}
    print(f"\nwrote {write_json(args.name, payload)}")


if __name__ == "__main__":
    main()
