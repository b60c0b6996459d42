"""What do the independent judges respond to? The same portraits, changed as an image, judged again.

    python benchmarks/bench_judge_views.py [--runs benchmarks/results/transfer/default]

For every verified portrait in the run folders (as ``bench_transfer.py`` writes them), the
judges of ``bench_transfer.py`` (LBP, dlib's HOG and MMOD: ``pip install 'polyface[judges]'``)
look at best.png edge to edge at 128, 256 and 512 px, as it is and changed: a Gaussian blur
of 1, 2 and 4 px at 512 px (a quarter of that at 128 px), and the contrast against the ground
raised 1.5x and 2x. None of these changes is something polyface draws; the table says which
qualities of a picture the judges reward, so that the search can be asked for them with
polygons. Writes benchmarks/results/bench_judge_views.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_transfer import verified_runs  # noqa: E402
from common import RESULTS, machine, table, write_json  # noqa: E402
from judges import MIN_SIDE, make_judges  # noqa: E402

SIZES = (128, 256, 512)
JUDGES = ("lbp", "hog", "mmod")


def views(im: Image.Image):
    """(name, image at 512 px) for the portrait and each change of it."""
    yield "as drawn", im
    for r in (1, 2, 4):
        yield f"blur {r} px at 512", im.filter(ImageFilter.GaussianBlur(r))
    a = np.asarray(im).astype(np.float32)
    ground = a[0, 0]
    for c in (1.5, 2.0):
        yield f"contrast x{c}", Image.fromarray(np.clip(ground + (a - ground) * c, 0, 255).astype(np.uint8))


def accepts(judge, im: Image.Image) -> bool:
    """The judge finds a face of at least ``MIN_SIDE`` of the side at every size."""
    for s in SIZES:
        x = np.asarray(im.resize((s, s), Image.LANCZOS))
        if judge.side(x) / s < MIN_SIDE:
            return False
    return True


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=Path, default=RESULTS / "transfer" / "default")
    args = ap.parse_args()
    judges = make_judges(list(JUDGES))
    counts: dict[str, dict[str, int]] = {}
    per_run = []
    for run in verified_runs(args.runs):
        with Image.open(run / "best.png") as im:
            im = im.convert("RGB").resize((512, 512), Image.LANCZOS)
        verdicts = {}
        for name, v in views(im):
            ok = {j.name: accepts(j, v) for j in judges}
            ok["all three"] = all(ok.values())
            verdicts[name] = ok
            c = counts.setdefault(name, dict.fromkeys(ok, 0))
            for k, y in ok.items():
                c[k] += y
        per_run.append({"run": run.name, "verdicts": verdicts})
        print(run.name, {n: "".join("y" if ok[j] else "n" for j in JUDGES) for n, ok in verdicts.items()}, flush=True)
    n = len(per_run)
    rows = [{"view": name, **{k: f"{v}/{n}" for k, v in c.items()}} for name, c in counts.items()]
    print()
    print(table(rows, ["view", *JUDGES, "all three"]))
    payload = {"machine": machine(), "runs": str(args.runs), "per_run": per_run, "summary": rows}
    path = write_json("bench_judge_views", payload)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
