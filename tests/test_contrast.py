"""The finished portrait's contrast stretch: the picture it draws, the steps it keeps, and a real
portrait that the real ensemble still verifies after it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from polyface.genome import GenomeError, random_genome, stretch_contrast
from polyface.genome_io import from_dict
from polyface.render.cairo import render_batch
from polyface.search.contrast import CONTRAST_STEP, contrast_steps, stretch_portrait
from polyface.search.loop import StopRules
from problems import portrait_loop
from polyface.judge.judge import Verdict
from problems import portrait_problem

DATA = Path(__file__).parent / "data"


def _grey(lo: float = 0.2, hi: float = 0.5):
    """A grey mirrored genome whose greys lie in [lo, hi] (nothing clips when stretched by 2)."""
    g = random_genome(np.random.default_rng(0), 12, 5, mode="grey", symmetric=True)
    c = g.colours.copy()
    c[:, :3] = np.linspace(lo, hi, g.n_polygons)[:, None]
    return g.replaced(g.vertices, c)


@pytest.mark.parametrize("k", [1.5, 2.0])
def test_stretching_the_shapes_stretches_the_picture_against_the_ground(k):
    g = _grey()
    ground = float(g.background.mean())
    before = render_batch([g], 64, antialias=True).double()
    after = render_batch([stretch_contrast(g, k)], 64, antialias=True).double()
    assert float((before - ground).abs().max()) > 0.2  # the picture is not all ground: the test can fail
    assert float((after - ground - k * (before - ground)).abs().max()) < 0.03  # Cairo rounds to 8 bits a layer


def test_a_stretch_keeps_shapes_alphas_and_grey_and_clips_to_the_range():
    g = _grey(0.2, 0.9)
    s = stretch_contrast(g, 2.0)
    assert np.array_equal(s.vertices, g.vertices) and np.array_equal(s.colours[:, 3], g.colours[:, 3])
    assert s.mode == "grey" and np.array_equal(s.colours[:, 0], s.colours[:, 2])
    assert s.colours[:, :3].max() == 1.0 and s.colours[:, :3].min() >= 0.0
    assert stretch_contrast(g, 1.0) == g


def test_palette_genomes_and_bad_factors_are_refused():
    pal = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]], np.float32)
    g = random_genome(np.random.default_rng(0), 4, 4, palette=pal)
    with pytest.raises(GenomeError, match="palette"):
        stretch_contrast(g, 1.5)
    for bad in (float("nan"), float("inf"), -1.0):
        with pytest.raises(GenomeError, match="contrast factor"):
            stretch_contrast(_grey(), bad)


def test_the_steps_climb_by_a_quarter_up_to_the_most_asked():
    assert CONTRAST_STEP == 0.25
    assert contrast_steps(1.0) == []
    assert contrast_steps(2.0) == [1.25, 1.5, 1.75, 2.0]
    assert contrast_steps(1.6) == [1.25, 1.5, 1.6]


PASS = Verdict({64: (True, 0.99, 1)})
FAIL = Verdict({64: (False, 0.2, 0)})


class UpTo:
    """A check (mechanics only) that accepts a stretch while its brightest grey stays below ``top``."""

    def __init__(self, top: float, interrupt_at: int | None = None) -> None:
        self.top, self.interrupt_at, self.calls = top, interrupt_at, 0

    def __call__(self, g):
        self.calls += 1
        if self.calls == self.interrupt_at:
            raise KeyboardInterrupt
        return PASS if g.colours[:, 0].max() <= self.top else FAIL


def test_the_largest_accepted_stretch_is_kept_trying_the_largest_first():
    g = _grey()  # brightest grey 0.5, ground 0.118: k stays under 0.7 up to k = 1.5
    check = UpTo(0.7)
    s = stretch_portrait(g, PASS, check, 2.0)
    assert s.k == 1.5 and s.genome == stretch_contrast(g, 1.5) and s.verdict is PASS and not s.interrupted
    assert check.calls == 3  # 2 and 1.75 refused, then 1.5 accepted; never 1.25
    whole = UpTo(1.0)
    s = stretch_portrait(g, PASS, whole, 2.0)
    assert s.k == 2.0 and s.genome == stretch_contrast(g, 2.0) and whole.calls == 1  # one check settles it
    s = stretch_portrait(g, PASS, UpTo(0.0), 2.0)
    assert s.k == 1.0 and s.genome is g


def test_stretches_that_clip_to_the_same_genome_are_checked_once_and_named_by_the_smallest_k():
    g = _grey()
    c = g.colours.copy()
    c[:6, :3], c[6:, :3] = 1.0, 0.6  # 6 white shapes, and 6 that turn white from k = 1.83 on
    g = g.replaced(g.vertices, c)
    assert abs(float(g.background.mean()) - 0.118) < 0.01  # (0.6 - 0.118) * 1.83 + 0.118 = 1
    check = UpTo(1.0)
    s = stretch_portrait(g, PASS, check, 2.0)
    assert s.k == 2.0 and check.calls == 1
    refuse = UpTo(0.0)
    assert stretch_portrait(g, PASS, refuse, 4.0).k == 1.0
    # 4.0 down to 2.0 all draw the same clipped genome: it is checked once, then 1.75, 1.5, 1.25
    assert refuse.calls == 4
    s = stretch_portrait(g, PASS, UpTo(1.0), 4.0)
    assert s.k == 2.0 and s.genome == stretch_contrast(g, 4.0)  # the smallest k that draws it


def test_no_stretch_without_a_verified_portrait_and_ctrl_c_keeps_the_portrait_as_it_was():
    g = _grey()
    check = UpTo(1.0)
    assert stretch_portrait(g, FAIL, check, 2.0).genome is g and check.calls == 0
    s = stretch_portrait(g, PASS, UpTo(0.7, interrupt_at=2), 2.0)  # 2 refused, Ctrl-C while checking 1.75
    assert s.interrupted and s.k == 1.0 and s.genome is g and s.verdict is PASS


def test_the_loop_hands_the_stretched_portrait_to_the_hooks():
    from test_search import CentreProblem, _population

    class End:
        def on_end(self, r):
            self.result = r

    end = End()
    r = portrait_loop(_population(), CentreProblem(target=0.0), StopRules(max_generations=50), (64,), [end], contrast=2.0)
    assert r.portrait and r.contrast == 2.0 and end.result.genome == r.genome  # CentreProblem ignores colour
    plain = portrait_loop(_population(), CentreProblem(target=0.0), StopRules(max_generations=50), (64,))
    assert plain.contrast == 1.0 and r.genome == stretch_contrast(plain.genome, 2.0)


def test_a_real_portrait_stays_verified_by_the_real_ensemble(detector):
    """The default preset's committed portrait, stretched as far as MTCNN, BlazeFace and the
    prior still accept it at 64, 96 and 128 px: more than not at all, and each step checked."""
    g = from_dict(json.loads((DATA / "genome_framed.json").read_text()))
    problem = portrait_problem(detector, search_sizes=(), blazeface=True, prior=0.3, face_margin=0.0)
    sizes = (64, 96, 128)
    verdict = problem.verify(g, sizes)
    assert verdict.portrait
    s = stretch_portrait(g, verdict, lambda h: problem.verify(h, sizes), 4.0)
    assert s.k > 1.0 and s.verdict.portrait and problem.verify(s.genome, sizes).portrait
    assert s.genome == stretch_contrast(g, s.k)
    if s.k < 4.0:  # every larger step was tried first and refused
        assert not problem.verify(stretch_contrast(g, s.k + CONTRAST_STEP), sizes).portrait
