"""A face's layout to start from (``init = "layout"``): its genomes, its structure, and what the
real detectors of the default make of it against random starts."""

from __future__ import annotations

import numpy as np
import pytest

from polyface.face_layout import FEATURES, PRIORITY, layout_genome, oval_scale
from polyface.genome import GenomeError, random_genome
from polyface.preset import load_preset
from polyface.detect.prior import load_mean_face
from polyface.render.cairo import render_rgb
from polyface.run import build, mutation_settings
from polyface.search.mutate import confined
from polyface.validate import FieldError

GREY = np.array([0.299, 0.587, 0.114])


def test_same_seed_same_genome_and_each_seed_its_own():
    a = layout_genome(np.random.default_rng(3))
    assert a == layout_genome(np.random.default_rng(3))
    assert a != layout_genome(np.random.default_rng(4))


@pytest.mark.parametrize("n", [0, 1, 3, 8, 12])
def test_mirrored_genomes_hold_the_parts_most_telling_first(n):
    g = layout_genome(np.random.default_rng(0), n_polygons=n, n_vertices=5)
    assert g.n_polygons == n and g.symmetric and g.n_vertices == 5
    names = [f.name for f in FEATURES]
    kept = sorted(PRIORITY[: min(n, len(FEATURES))], key=names.index)
    # the parts sit after any random filler, in painting order: dark parts last
    parts = g.colours[n - len(kept):, 0]
    for name, grey in zip(kept, parts):
        f = FEATURES[names.index(name)]
        assert abs(grey - f.grey) < 0.4, (name, grey)
    if "eye" in kept:
        assert g.colours[n - len(kept) + kept.index("eye"), 0] < 0.35


def test_unmirrored_genomes_hold_both_sides_alike_but_not_the_same():
    g = layout_genome(np.random.default_rng(1), n_polygons=16, symmetric=False)
    assert g.n_polygons == 16 and not g.symmetric
    centres = g.vertices.mean(axis=1)
    left, right = centres[0::2], centres[1::2]  # each part's two sides follow each other
    np.testing.assert_allclose(left[:, 0], 1.0 - right[:, 0], atol=0.2)
    assert not np.allclose(left[:, 0], 1.0 - right[:, 0], atol=1e-3)


def test_palette_genomes_take_the_entry_nearest_each_part():
    pal = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]], np.float32)
    g = layout_genome(np.random.default_rng(2), palette=pal)
    np.testing.assert_array_equal(g.colours[:, :3], pal[g.index])
    names = [f.name for f in FEATURES]
    assert g.index[names.index("eye")] == 0 and g.index[names.index("brow")] == 1


def test_bad_sizes_are_refused():
    with pytest.raises(GenomeError, match="polygons"):
        layout_genome(np.random.default_rng(0), n_polygons=-1)
    with pytest.raises(GenomeError, match="vertices"):
        layout_genome(np.random.default_rng(0), n_vertices=2)


def test_scale_shrinks_every_part_about_the_centre():
    names = [f.name for f in FEATURES]
    for seed in range(4):
        whole = layout_genome(np.random.default_rng(seed))
        small = layout_genome(np.random.default_rng(seed), scale=0.9)  # the same draws, the face 0.9 as large
        for i, name in enumerate(names):
            if whole.vertices[i].min() > 0 and whole.vertices[i].max() < 1:  # not clipped by the canvas
                np.testing.assert_allclose(np.ptp(small.vertices[i], axis=0), 0.9 * np.ptp(whole.vertices[i], axis=0),
                                           rtol=1e-4, err_msg=name)
        spread = lambda g: np.abs(g.vertices.mean(axis=1) - 0.5).mean()
        assert spread(small) < spread(whole)
    assert oval_scale(0.8) == 1.0 and oval_scale(0.0) == 1.0 and abs(oval_scale(0.72) - 0.9) < 1e-9
    for bad in (0.0, -1.0, 2.5, float("nan")):
        with pytest.raises(ValueError, match="scale"):
            layout_genome(np.random.default_rng(0), scale=bad)


def test_a_run_draws_its_layout_to_fit_its_oval():
    cfg = load_preset("default").replace(seed=3, threads=1)
    assert cfg.oval == 0.72
    _, narrow = build(cfg)
    _, wide = build(cfg.replace(oval=0.8))  # the same draws, the layout's own size
    ratios = [np.ptp(a.vertices[0], axis=0) / np.ptp(b.vertices[0], axis=0)  # the head of each parent
              for a, b in zip(narrow.state.parents, wide.state.parents)]
    np.testing.assert_allclose(np.median(ratios, axis=0), 0.9, atol=0.01)


def test_the_render_is_dark_at_the_eyes_and_mouth_and_light_on_the_brow_nose_and_cheeks():
    names = [f.name for f in FEATURES]
    brow_minus_eye = []
    for seed in range(8):
        g = layout_genome(np.random.default_rng(seed))
        img = render_rgb(g, 64).astype(np.float64) @ GREY
        c = (g.vertices.mean(axis=1) * 64).astype(int)  # each part's centre, where the part is drawn
        at = {name: img[c[i, 1], c[i, 0]] for i, name in enumerate(names)}
        assert max(at["eye"], at["mouth"]) < min(at["nose"], at["cheek"]), (seed, at)
        brow_minus_eye.append(at["brow"] - at["eye"])
    # the brow is lighter than the eyes below it, but a seed may slide the eye over the brow
    assert np.mean(brow_minus_eye) > 40, brow_minus_eye


def test_the_layout_follows_the_mean_face():
    """The parts' greys agree with the shipped mean face under their centres (its crop is a
    face box, which the layout's face fills from the brow down)."""
    mean = load_mean_face()
    n = mean.shape[0]
    names = [f.name for f in FEATURES]
    tone = {}
    for name in ("eye", "brow", "nose", "mouth", "cheek"):
        f = FEATURES[names.index(name)]
        u = ((f.x - 0.15) / 0.7, (f.y - 0.22) / 0.7)  # the face box the layout's face fills
        tone[name] = mean[int(u[1] * n), int(u[0] * n)]
    assert tone["eye"] < min(tone["brow"], tone["nose"], tone["cheek"])
    assert tone["mouth"] < min(tone["nose"], tone["cheek"])


def test_real_detectors_score_layout_starts_above_random_ones():
    cfg = load_preset("default").replace(seed=1, threads=1)
    problem, _ = build(cfg)
    ms = mutation_settings(cfg)
    rng = np.random.default_rng(5)
    alpha = (cfg.alpha_min, cfg.alpha_max)
    bg = (0.118,) * 3
    k = oval_scale(cfg.oval)
    lay = [confined(layout_genome(rng, 8, 5, "grey", bg, True, cfg.radius, alpha, scale=k), ms) for _ in range(16)]
    rnd = [confined(random_genome(rng, 8, 5, "grey", bg, True, cfg.radius, alpha), ms) for _ in range(16)]
    s_lay, s_rnd = problem.evaluate(lay).scores, problem.evaluate(rnd).scores
    assert np.median(s_lay) > np.median(s_rnd) + 0.1, (np.median(s_lay), np.median(s_rnd))
    assert s_lay.max() > s_rnd.max()


def test_a_run_of_the_default_starts_every_parent_from_its_own_face_layout():
    cfg = load_preset("default").replace(seed=7, threads=1)
    assert cfg.init == "layout"
    _, strategy = build(cfg)
    parents = strategy.state.parents
    assert len(parents) == cfg.starts == 28  # the first generation scores 28 draws
    names = [f.name for f in FEATURES]
    for g in parents:
        assert g.n_polygons == cfg.polygons
        eye, brow = g.colours[names.index("eye"), 0], g.colours[names.index("brow"), 0]
        assert eye < 0.35 < 0.55 < brow
    assert all(not np.array_equal(a.vertices, b.vertices) for a, b in zip(parents, parents[1:]))
    _, again = build(cfg)
    assert all(a == b for a, b in zip(parents, again.state.parents))
    _, other = build(cfg.replace(init="random"))
    assert not any(a == b for a, b in zip(parents, other.state.parents))


def test_starts_draws_that_many_genomes_first_and_keeps_the_best_elites():
    cfg = load_preset("default").replace(seed=2, threads=1, starts=12)
    _, strategy = build(cfg)
    first = strategy.ask()
    assert len(first) == 12 and len({g.to_json() for g in first}) == 12
    scores = np.arange(12, dtype=np.float64)[::-1] * 0.1  # the first drawn scores highest
    strategy.tell(first, scores)
    assert [g.to_json() for g in strategy.state.parents] == [g.to_json() for g in first[: cfg.elites]]
    assert len(strategy.ask()) == cfg.population + cfg.elites  # then generations as usual (parents re-scored)
    _, plain = build(cfg.replace(starts=0))
    assert len(plain.ask()) == cfg.elites


def test_a_ctrl_c_in_the_first_generation_rewinds_to_every_starting_draw():
    """Ctrl-C while the 28 draws are scored rewinds the strategy to its state before them (every
    draw a parent): that state must load back, as a checkpoint of it must."""
    from polyface.search.loop import step
    from polyface.search.loop_state import LoopState

    cfg = load_preset("default").replace(seed=4, threads=1)
    problem, strategy = build(cfg)
    before = strategy.state_dict()
    assert len(before["parents"]) == cfg.starts == 28

    def interrupted(*_, **__):
        raise KeyboardInterrupt

    problem.evaluate = interrupted
    with pytest.raises(KeyboardInterrupt):
        step(strategy, problem, LoopState())
    assert strategy.state_dict() == before  # rewound, all 28 draws still to be scored
    _, fresh = build(cfg)
    fresh.load_state_dict(before)  # and the same state read back as a checkpoint holds it
    assert [g.to_json() for g in fresh.state.parents] == [g.to_json() for g in strategy.state.parents]
    too_many = dict(before, parents=before["parents"] * 2, scores=before["scores"] * 2)
    with pytest.raises(FieldError, match="at most 28"):
        fresh.load_state_dict(too_many)
