"""Strategies and the loop's mechanics on a cheap scorer, then short runs with the real detector."""

import json

import numpy as np
import pytest

from polyface.preset import load_preset
from polyface.genome import random_genome
from polyface.run import build, evolve
from polyface.search.loop import StopRules
from problems import portrait_loop
from polyface.search.mutate import MutationSettings, confine, mutate, oval_axes
from polyface.judge.judge import Verdict
from polyface.search.types import Evaluation
from polyface.search.strategies import HillClimbStrategy, PopulationStrategy


class CentreProblem:
    """A cheap stand-in scorer for mechanics only: polygons near the centre score high."""

    sizes = (64,)
    noisy = False

    def __init__(self, target=None):
        self.target = target
        self.calls = 0

    def evaluate(self, genomes, top_k=None):
        self.calls += 1
        scores = np.array([2.9 - np.abs(g.vertices.mean(1) - 0.5).sum(1).mean() if g.n_polygons else 0.0 for g in genomes])
        n = len(genomes)
        return Evaluation(scores, np.zeros(n), np.full((n, 4), np.nan))

    def state_dict(self):
        return {}

    def load_state_dict(self, d):
        pass

    def verify(self, genome, sizes, stop_early=True):
        ok = self.target is not None and self.evaluate([genome]).scores[0] >= self.target
        return Verdict({64: (bool(ok), 1.0 if ok else 0.0, int(ok))})


SETTINGS = MutationSettings(n_vertices=4, max_polygons=30)


def test_mutation_is_seeded_and_keeps_genomes_valid():
    g = random_genome(np.random.default_rng(0), 10, 4)
    a = [mutate(g, np.random.default_rng(1), SETTINGS) for _ in range(3)]
    b = [mutate(g, np.random.default_rng(1), SETTINGS) for _ in range(3)]
    assert all(x == y for x, y in zip(a, b))
    rng = np.random.default_rng(2)
    for _ in range(300):
        g = mutate(g, rng, SETTINGS)
    assert 1 <= g.n_polygons <= 30 and g.vertices.min() >= 0 and g.vertices.max() <= 1


def outside_oval(pts: np.ndarray, oval: tuple[float, float]) -> float:
    """How far the furthest point lies outside ``oval`` (0 when all are inside)."""
    d = pts.reshape(-1, 2) - 0.5
    return float(max(0.0, np.sqrt((d[:, 0] / oval[0]) ** 2 + (d[:, 1] / oval[1]) ** 2).max() - 1.0))


@pytest.mark.parametrize("symmetric", [False, True])
def test_oval_keeps_every_shape_inside_through_mutations_and_hill_climbing(symmetric):
    oval = oval_axes(0.7)
    assert oval == pytest.approx((0.35, 0.4375))
    s = MutationSettings(n_vertices=5, max_polygons=40, radius=0.3, symmetric=symmetric, oval=oval)
    g = random_genome(np.random.default_rng(0), 12, 5, symmetric=symmetric, radius=0.3)
    assert outside_oval(g.vertices, oval) > 0.2  # random polygons spill over it: the test can fail
    rng = np.random.default_rng(4)
    for _ in range(300):
        g = mutate(g, rng, s)
        assert outside_oval(g.vertices, oval) < 1e-5
        assert outside_oval(g.drawn()[0], oval) < 1e-5  # mirror images too
    strat = HillClimbStrategy(g, np.random.default_rng(5), s)
    for _ in range(50):
        (child,) = strat.ask()
        assert outside_oval(child.vertices, oval) < 1e-5
        strat.tell([child], np.array([1.0]))
    inside = np.array([[0.5, 0.5], [0.6, 0.7]], np.float32)
    assert np.array_equal(confine(inside, oval), inside)  # points inside stay where they are
    assert confine(np.array([[0.5, 1.0]]), oval) == pytest.approx(np.array([[0.5, 0.9375]]))  # moved onto it
    assert np.array_equal(confine(inside + 0.4, None), inside + 0.4)  # no oval: anywhere


def test_oval_in_a_preset_confines_the_first_genomes():
    cfg = load_preset("default").replace(seed=3, oval=0.8)
    _, strategy = build(cfg)
    first = strategy.ask()
    assert first and all(outside_oval(g.vertices, oval_axes(0.8)) < 1e-5 for g in first)
    _, free = build(cfg.replace(oval=0.0))
    assert any(outside_oval(g.vertices, oval_axes(0.8)) > 0.01 for g in free.ask())


def test_population_ask_tell_improves_and_keeps_elites():
    rng = np.random.default_rng(0)
    init = [random_genome(rng, 10, 4) for _ in range(3)]
    strat = PopulationStrategy(init, np.random.default_rng(1), SETTINGS, population=12, elites=3)
    prob = CentreProblem()
    first = strat.ask()
    assert len(first) == 3  # the initial genomes are scored first
    strat.tell(first, prob.evaluate(first).scores)
    start = strat.best[1]
    bests = []
    for _ in range(40):
        kids = strat.ask()
        assert len(kids) == 12
        strat.tell(kids, prob.evaluate(kids).scores)
        bests.append(strat.best[1])
    assert all(b2 >= b1 for b1, b2 in zip(bests, bests[1:]))  # elitism: the best never gets worse
    assert bests[-1] > start
    assert len(strat.state.parents) == 3 and strat.state.generation == 41


def test_hillclimb_adds_or_removes_one_polygon_and_anneals():
    settings = MutationSettings(n_vertices=4, max_polygons=1000)
    strat = HillClimbStrategy(random_genome(np.random.default_rng(0), 5, 4), np.random.default_rng(3), settings)
    prob = CentreProblem()
    g0 = strat.ask()
    strat.tell(g0, prob.evaluate(g0).scores)
    accepted_worse = 0
    for _ in range(200):
        before, before_score = strat.state.current, strat.state.current_score
        (child,) = strat.ask()
        assert abs(child.n_polygons - before.n_polygons) == 1
        score = prob.evaluate([child]).scores
        strat.tell([child], score)
        if strat.state.current is child and score[0] < before_score:
            accepted_worse += 1
    assert accepted_worse > 0  # annealing accepts some worse children
    assert strat.best[1] >= max(strat.state.current_score, 0)


def test_loop_stop_rules_and_hooks():
    events = []

    class Rec:
        def on_start(self, g):
            events.append("start")

        def on_generation(self, p):
            events.append(("gen", p.generation))

        def on_end(self, r):
            events.append(("end", r.status))

    rng = np.random.default_rng(0)
    strat = PopulationStrategy([random_genome(rng, 8, 4)], np.random.default_rng(1), SETTINGS, 6, 1)
    r = portrait_loop(strat, CentreProblem(), StopRules(max_generations=7), (64,), [Rec()])
    assert r.status == "max_generations" and r.generations == 7 and r.evaluations == 1 + 6 * 6
    assert events[0] == "start" and events[-1] == ("end", "max_generations")
    assert [e[1] for e in events if e[0] == "gen"] == list(range(1, 8))

    strat = PopulationStrategy([random_genome(rng, 8, 4)], np.random.default_rng(1), SETTINGS, 6, 1)
    r = portrait_loop(strat, CentreProblem(target=0.0), StopRules(max_generations=100), (64,))
    assert r.status == "target" and r.portrait and r.generations == 1

    strat = HillClimbStrategy(random_genome(rng, 3, 4), np.random.default_rng(1), SETTINGS)
    r = portrait_loop(strat, CentreProblem(), StopRules(max_generations=10**6, stagnation=20), (64,))
    assert r.status == "stagnation"


def test_loop_ctrl_c_returns_best_so_far():
    class Interrupt:
        def on_generation(self, p):
            if p.generation == 3:
                raise KeyboardInterrupt

    ends = []

    class End:
        def on_end(self, r):
            ends.append(r)

    rng = np.random.default_rng(0)
    strat = PopulationStrategy([random_genome(rng, 8, 4)], np.random.default_rng(1), SETTINGS, 6, 1)
    r = portrait_loop(strat, CentreProblem(), StopRules(max_generations=100), (64,), [Interrupt(), End()])
    assert r.status == "interrupted" and r.generations == 3 and ends and ends[0].genome is r.genome


# ---- the real detector -------------------------------------------------------------------------


def small(preset="default", **kw):
    base = dict(seed=3, work_size=48, search_sizes=(), polygons=20, population=8, elites=2, size=96,
                frame_size=48, verify_sizes=(48,), max_generations=4, threads=2)
    base.update(kw)
    return load_preset(preset).replace(**base)


def test_same_seed_same_genome_on_cpu():
    a = evolve(small(), write=False)
    b = evolve(small(), write=False)
    c = evolve(small(seed=4), write=False)
    assert a.genome == b.genome and a.score == b.score
    assert a.genome != c.genome


def test_same_seed_same_genome_with_robust_scoring():
    a = evolve(small(augment=3, landmarks=0.5), write=False)
    b = evolve(small(augment=3, landmarks=0.5), write=False)
    assert a.genome == b.genome


def test_real_run_writes_a_complete_run_folder(tmp_path):
    r = evolve(small(max_generations=6), out=tmp_path / "run")
    out = tmp_path / "run"
    for name in ("config.toml", "genome.json", "best.png", "best.svg", "log.jsonl", "history.jsonl", "result.json"):
        assert (out / name).is_file(), name
    lines = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    per_gen = [x for x in lines if not x.get("final")]
    assert [x["generation"] for x in per_gen] == list(range(1, 7))
    for x in per_gen:
        assert {"generation", "evaluations", "best", "mean", "elapsed_s", "portrait"} <= set(x)
    assert per_gen[-1]["evaluations"] == r.evaluations
    result = json.loads((out / "result.json").read_text())
    assert result["seed"] == 3 and result["generations"] == 6 and result["status"] == "done"
    assert result["contrast"] == 1.0  # no verified portrait: nothing stretched
    frames = sorted((out / "frames").glob("*.png"))
    history = (out / "history.jsonl").read_text().splitlines()
    assert len(frames) == len(history) >= 1
    from PIL import Image

    with Image.open(out / "best.png") as im:
        assert im.size == (96, 96)
    toml = (out / "config.toml").read_text()
    assert "seed = 3" in toml and "torch_version" in toml and "resolved_device" in toml


def test_library_writes_the_gif_the_config_asks_for(tmp_path):
    """``evolve(config)`` does what ``polyface evolve`` does: ``gif = true`` gives evolution.gif."""
    from PIL import Image

    evolve(small(max_generations=3, gif=True), out=tmp_path / "gif")
    evolve(small(max_generations=3), out=tmp_path / "plain")
    with Image.open(tmp_path / "gif" / "evolution.gif") as im:
        assert im.format == "GIF" and im.size == (48, 48)
    assert not (tmp_path / "plain" / "evolution.gif").exists()


@pytest.mark.slow
def test_fool_preset_finds_a_face_quickly_and_polishes_it(tmp_path):
    """The plain scorer meets the portrait rule at the working size within a short budget
    (counted in generations, not seconds, so that a busy machine cannot fail it: seed 2 needs 254),
    then goes on ``polish`` generations and writes a portrait the final check accepted."""
    cfg = load_preset("fool").replace(seed=2, size=128, max_generations=400, time_limit=0, threads=2, polish=6,
                                      log_every=7)  # the first portrait's line is written all the same
    r = evolve(cfg, out=tmp_path / "run")
    assert r.status == "target", r.verdict.to_dict()
    assert r.portrait and r.verdict.sizes[64][1] >= 0.99
    assert r.portrait_generation is not None and r.generations == r.portrait_generation + 6
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert result["portrait"] and result["portrait_generation"] == r.portrait_generation
    assert 0 < result["portrait_s"] <= result["elapsed_s"]
    log = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [x["generation"] for x in log if x["portrait"] and not x.get("final")][0] == r.portrait_generation
    from polyface.genome_io import from_json
    from polyface.judge.judge import verify_sizes

    written = from_json((tmp_path / "run" / "genome.json").read_text())
    assert written == r.genome
    problem, _ = build(cfg)
    assert problem.verify(written, verify_sizes(cfg), stop_early=False).portrait


class OneCheckProblem(CentreProblem):
    """Records what the final check sees; it accepts only the first genome (every later best is
    turned down) unless ``accept_all``."""

    def __init__(self, accept_all=False):
        super().__init__(target=0.0)
        self.checked = []
        self.accept_all = accept_all

    def verify(self, genome, sizes, stop_early=True):
        self.checked.append(genome)
        ok = self.accept_all or len(self.checked) == 1
        return Verdict({64: (ok, 1.0 if ok else 0.0, int(ok))})


def _population(seed=0):
    rng = np.random.default_rng(seed)
    return PopulationStrategy([random_genome(rng, 8, 4)], np.random.default_rng(1), SETTINGS, 6, 1)


def test_polish_goes_on_after_the_first_portrait():
    r = portrait_loop(_population(), CentreProblem(target=0.0), StopRules(max_generations=100), (64,), polish=5)
    assert r.status == "target" and r.portrait and r.portrait_generation == 1 and r.generations == 6


def test_polish_ends_with_the_last_portrait_the_final_check_accepted():
    problem = OneCheckProblem()
    r = portrait_loop(_population(), problem, StopRules(max_generations=100), (64,), polish=8)
    assert r.status == "target" and r.generations == 9
    assert len(problem.checked) > 1  # polishing found better genomes; the check turned them down
    assert r.portrait and r.verdict.portrait and r.genome == problem.checked[0]
    # A stop rule that ends the polishing early keeps the portrait too.
    problem = OneCheckProblem()
    r = portrait_loop(_population(), problem, StopRules(max_generations=4), (64,), polish=50)
    assert r.status == "max_generations" and r.portrait and r.genome == problem.checked[0]


def test_polishing_checks_the_best_every_few_generations_and_at_the_end():
    from polyface.search.goal import POLISH_CHECK_EVERY

    problem = OneCheckProblem(accept_all=True)
    polish = 2 * POLISH_CHECK_EVERY + 5
    r = portrait_loop(_population(), problem, StopRules(max_generations=100), (64,), polish=polish)
    assert r.generations == 1 + polish
    # the first portrait, two checks while polishing and the last best at the end: no more
    assert 2 <= len(problem.checked) <= 4
    assert r.portrait and r.genome == problem.checked[-1]


def test_polishing_state_survives_a_checkpoint():
    from polyface.search.loop_state import LoopState

    problem = OneCheckProblem()
    snaps = []

    class Snap:
        def on_checkpoint(self, d):
            snaps.append(d)

    r = portrait_loop(_population(), problem, StopRules(max_generations=3), (64,), [Snap()], checkpoint_every=0, polish=50)
    st = LoopState.from_dict(json.loads(json.dumps(snaps[-1]["loop"])))
    assert st.portrait_at == r.portrait_generation == 1 and st.kept == problem.checked[0] and st.kept_verdict.portrait
    assert st.portrait_s == r.portrait_s


def test_build_gives_the_configured_strategy():
    _, strat = build(small(strategy="hillclimb", polygons=0))
    assert isinstance(strat, HillClimbStrategy)
    _, strat = build(small())
    assert isinstance(strat, PopulationStrategy) and strat.population == 8


def test_problem_and_strategies_fulfil_the_search_contracts():
    from polyface.search.types import Problem, Strategy

    problem, strat = build(small(strategy="hillclimb", polygons=0))
    assert isinstance(problem, Problem) and isinstance(strat, Strategy)
    _, strat = build(small())
    assert isinstance(strat, Strategy)
    assert not isinstance(object(), Problem) and not isinstance(problem, Strategy)


# ---- checkpoint and resume ----------------------------------------------------------------------


def _logs(folder):
    lines = [json.loads(x) for x in (folder / "log.jsonl").read_text().splitlines()]
    return [{k: v for k, v in x.items() if k != "elapsed_s"} for x in lines]


@pytest.mark.parametrize("where", ["between generations", "inside an evaluation"])
def test_interrupted_and_resumed_run_ends_like_an_uninterrupted_one(tmp_path, monkeypatch, where):
    from polyface.run import resume
    from polyface.search.problem import PortraitProblem

    cfg = small(seed=11, max_generations=24)
    whole = evolve(cfg, out=tmp_path / "whole", checkpoint_every=0)

    if where == "between generations":

        class Stop:
            def on_generation(self, p):
                if p.generation == 9:
                    raise KeyboardInterrupt

        first = evolve(cfg, out=tmp_path / "cut", hooks=[Stop()], checkpoint_every=0)
    else:
        real = PortraitProblem.evaluate
        calls = {"n": 0}

        def flaky(self, genomes, top_k=None):
            calls["n"] += 1
            if calls["n"] == 10:
                raise KeyboardInterrupt
            return real(self, genomes, top_k)

        monkeypatch.setattr(PortraitProblem, "evaluate", flaky)
        first = evolve(cfg, out=tmp_path / "cut", checkpoint_every=0)
        monkeypatch.setattr(PortraitProblem, "evaluate", real)
    assert first.status == "interrupted" and first.generations == 9
    cut = tmp_path / "cut"
    assert json.loads((cut / "result.json").read_text())["status"] == "interrupted"
    assert (cut / "best.png").is_file() and (cut / "checkpoint.json").is_file()

    resumed = resume(cut)
    assert resumed.genome == whole.genome and resumed.score == whole.score
    assert resumed.generations == whole.generations and resumed.evaluations == whole.evaluations
    assert _logs(cut) == _logs(tmp_path / "whole")
    assert (cut / "genome.json").read_text() == (tmp_path / "whole" / "genome.json").read_text()


def test_resume_without_checkpoint_is_a_clear_error(tmp_path):
    from polyface.run import resume
    from polyface.runio.layout import RunFolderError

    with pytest.raises(RunFolderError, match="no checkpoint"):
        resume(tmp_path)
    (tmp_path / "checkpoint.json").write_text("{broken")
    with pytest.raises(RunFolderError, match="not a readable checkpoint"):
        resume(tmp_path)


def test_full_disk_mid_run_is_a_clear_error_and_keeps_the_checkpoint(tmp_path, monkeypatch):
    import errno

    from polyface.render import cairo as cairo_render
    from polyface.run import resume
    from polyface.runio.layout import RunFolderError
    from polyface.runio.readers import read_checkpoint

    real_save = cairo_render.save
    calls = {"n": 0}

    def flaky_save(genome, path, size, antialias=True):
        calls["n"] += 1
        if calls["n"] > 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(genome, path, size, antialias)

    monkeypatch.setattr(cairo_render, "save", flaky_save)
    out = tmp_path / "run"
    with pytest.raises(RunFolderError, match="No space left on device.*--resume"):
        evolve(small(max_generations=60, frame_every=1), out=out, checkpoint_every=1e-9)
    doc = read_checkpoint(out)  # the last checkpoint is whole and loadable
    assert doc["loop"]["generation"] >= 1
    monkeypatch.setattr(cairo_render, "save", real_save)
    r = resume(out)
    assert r.status in ("target", "max_generations") and r.generations > doc["loop"]["generation"]
    assert json.loads((out / "result.json").read_text())["status"] == "done" and (out / "best.png").is_file()
