"""One judge gives every verdict: the final check, ``polyface score`` and the run pages agree,
member by member, on the same images."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from polyface.genome_io import from_json
from polyface.judge.judge import judge_for
from polyface.preset import load_preset
from polyface.render.cairo import render_batch
from polyface.runio.live_view import detector_view, png_bytes
from polyface.score import score_images

DATA = Path(__file__).parent / "data"
GENOMES = ("mtcnn_only", "ensemble", "framed", "polished")


@pytest.fixture(scope="module")
def default_judge():
    cfg = load_preset("default")
    return cfg, judge_for(cfg, "cpu")


@pytest.mark.parametrize("face_margin", [0.0, -1.0])  # the default's frame, and none
def test_score_the_page_and_the_final_check_give_the_same_verdicts(face_margin, tmp_path):
    cfg = load_preset("default").replace(face_margin=face_margin)
    judge = judge_for(cfg, "cpu")
    seen = set()
    for name in GENOMES:
        genome = from_json((DATA / f"genome_{name}.json").read_text())
        for size in (64, 128):
            final = judge.verify(genome, (size,), stop_early=False).sizes[size][0]
            _, votes = judge.votes(render_batch([genome], size, antialias=True))
            path = tmp_path / f"{name}-{size}.png"
            path.write_bytes(png_bytes(genome, size))
            scored = score_images([path], judge)[0]
            page = detector_view(genome, size, cfg.to_dict())
            assert final == all(votes.values()) == scored.portrait == page["portrait"], (name, size)
            assert votes == {k: v["portrait"] for k, v in scored.detectors.items()}, (name, size)
            assert votes == {d["name"]: d["portrait"] for d in page["detectors"]}, (name, size)
            seen.add("portrait" if final else "not")
            if votes["mtcnn"] and not final:
                seen.add("mtcnn alone")
    # Portraits and non-portraits; without a frame also images that MTCNN alone accepts, which
    # ``score`` once called portraits.
    assert {"portrait", "not"} <= seen
    assert ("mtcnn alone" in seen) == (face_margin < 0)


def test_the_prior_says_no_where_mtcnn_finds_no_face(default_judge):
    _, judge = default_judge
    readings, votes = judge.votes(torch.full((1, 3, 64, 64), 0.5))  # a flat grey canvas
    assert int(readings["mtcnn"].det.count[0]) == 0
    assert votes["prior"] is False and not any(votes.values())
    assert float(readings["prior"].tier[0]) == 3.0  # in the search it holds nothing back: MTCNN does


def test_two_judges_share_no_haar_cascade():
    """A run's judge and its live page's judge read in two threads at once: an OpenCV cascade
    keeps per-call state, so no cascade object may be shared between them."""
    cfg = load_preset("default")
    run, page = judge_for(cfg, "cpu", lanes=2), judge_for(cfg, "cpu")
    ours = [c for lane in run.members[-1].lanes for c, _ in lane.cascades]
    theirs = [c for lane in page.members[-1].lanes for c, _ in lane.cascades]
    assert run.members[-1].name == "haar" and len(ours) == 10 and len(theirs) == 5
    assert not {id(c) for c in ours} & {id(c) for c in theirs}
    run.lanes.close()
