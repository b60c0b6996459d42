"""One portrait from a Config: ``evolve(config)`` builds the detector, problem, strategy and
run folder, runs the loop and returns the Result. Everything the CLI's ``evolve`` does."""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import platform
import secrets
from pathlib import Path

import numpy as np
import torch

from polyface import validate
from polyface._version import __version__
from polyface.config import Config, apply, parse_colour, to_toml
from polyface.detect.mtcnn import FaceDetector
from polyface.face_layout import layout_genome, oval_scale
from polyface.genome import palette_rgb, random_genome
from polyface.placement import n_lanes, pick_device
from polyface.runio import readers, run_lock
from polyface.runio.gif import GifHook
from polyface.runio.layout import CHECKPOINT, CONFIG, RunFolderError
from polyface.runio.run_folder import RunFolder, check_new, write_profile
from polyface.runio.plot import ScorePlot
from polyface.search.augment import AugmentSettings
from polyface.search.contrast import Contrast
from polyface.search.goal import PortraitGoal
from polyface.search.loop import LoopState, Result, StopRules, run_loop
from polyface.search.mutate import MutationSettings, confined, oval_axes
from polyface.judge.judge import judge_for, verify_sizes
from polyface.detect.prior import face_tones
from polyface.detect.lanes import lane_threads
from polyface.search.problem import PortraitProblem
from polyface.search.refine import Refiner, RefiningStrategy, settings_for
from polyface.search.pgpe import PGPEStrategy
from polyface.search.strategies import HillClimbStrategy, PopulationStrategy
from polyface.search.timing import OFF, TimedHook, TimedStrategy, Timings



def with_seed(cfg: Config) -> Config:
    """The config with a seed: a fresh one is drawn (and recorded) when none was given."""
    return cfg if cfg.seed is not None else cfg.replace(seed=secrets.randbelow(2**31))


def default_out(cfg: Config, root: Path = Path("outputs")) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return root / f"{stamp}-{cfg.preset}-s{cfg.seed}"


def mutation_settings(cfg: Config) -> MutationSettings:
    return MutationSettings(
        n_vertices=cfg.vertices,
        mode=cfg.colour,
        grey_values=cfg.grey_values,
        min_polygons=1 if cfg.strategy == "hillclimb" else max(1, min(cfg.polygons, 5)),
        max_polygons=cfg.max_polygons,
        alpha=(cfg.alpha_min, cfg.alpha_max),
        radius=cfg.radius,
        symmetric=cfg.symmetric,
        oval=oval_axes(cfg.oval),
    )


def build(cfg: Config, device: torch.device | None = None, detector: FaceDetector | None = None, lanes: int = 1):
    """(problem, strategy) for ``cfg``; every random draw comes from the config's seed. The
    problem splits each batch's detector work between ``lanes`` threads (``n_lanes``)."""
    device = device or pick_device(cfg.device)
    root = np.random.SeedSequence(cfg.seed)
    init_seq, strat_seq, prob_seq = root.spawn(3)
    judge = judge_for(cfg, device, lanes, detector)
    aug = None
    if cfg.augment:
        aug = AugmentSettings(
            copies=cfg.augment,
            shift=cfg.augment_shift,
            scale=cfg.augment_scale,
            rotate=cfg.augment_rotate,
            blur=cfg.augment_blur,
            colour=cfg.augment_colour,
        )
    problem = PortraitProblem(
        judge,
        work_size=cfg.work_size,
        search_sizes=cfg.search_sizes,
        augment=aug,
        rng=np.random.default_rng(prob_seq),
        device=device,
    )
    ms = mutation_settings(cfg)
    init_rng = np.random.default_rng(init_seq)
    bg = parse_colour(cfg.background)
    palette = palette_rgb(list(cfg.palette)) if cfg.palette else None

    def initial():
        args = (init_rng, cfg.polygons, cfg.vertices, cfg.colour, bg, cfg.symmetric, cfg.radius,
                (cfg.alpha_min, cfg.alpha_max), palette)
        if cfg.init == "layout":  # a face's parts, sized to the preset's oval
            g = layout_genome(*args, scale=oval_scale(cfg.oval))
        else:
            g = random_genome(*args)
        g = confined(g, ms)
        if cfg.init == "face" and g.n_polygons:
            tone = face_tones(g.vertices.mean(axis=1)) + init_rng.normal(0.0, 0.08, g.n_polygons).astype(np.float32)
            luma = g.colours[:, :3] @ np.array([0.299, 0.587, 0.114], np.float32)
            g.colours[:, :3] = np.clip(g.colours[:, :3] * (tone / np.maximum(luma, 0.05))[:, None], 0.0, 1.0)
        if cfg.colour == "grey" and cfg.grey_values == "bw" and g.n_polygons and palette is None:
            g.colours[:, :3] = np.round(g.colours[:, :3])
        return g

    strat_rng = np.random.default_rng(strat_seq)
    if cfg.strategy == "hillclimb":
        strategy = HillClimbStrategy(initial(), strat_rng, ms)
    elif cfg.strategy == "pgpe":
        strategy = PGPEStrategy(initial(), strat_rng, ms, pairs=cfg.population // 2)
    else:
        strategy = PopulationStrategy(
            [initial() for _ in range(max(cfg.elites, cfg.starts))],
            strat_rng,
            ms,
            population=cfg.population,
            elites=cfg.elites,
            reevaluate=problem.noisy,
        )
        if cfg.refine:  # its own stream, spawned after the others: theirs stay as they were
            seed = int(root.spawn(1)[0].generate_state(1)[0])
            refiner = Refiner(judge, settings_for(cfg.refine, cfg.work_size), seed)
            strategy = RefiningStrategy(strategy, refiner, cfg.refine_top)
    return problem, strategy


def config_record(cfg: Config, device: torch.device) -> str:
    """config.toml's text: every resolved setting as the settings tree, with versions and device
    at its top (which a preset loader ignores, so the file is a preset that runs the same again)."""
    values = cfg.to_dict()
    values["polyface_version"] = __version__
    values["torch_version"] = torch.__version__
    values["python_version"] = platform.python_version()
    values["resolved_device"] = str(device)
    return "# polyface run settings (re-run with: polyface evolve --preset THIS_FILE)\n" + to_toml(values)


def evolve(
    cfg: Config,
    out: str | Path | None = None,
    hooks: list = (),
    write: bool = True,
    checkpoint_every: float | None = None,
) -> Result:
    """Evolve one portrait. Writes the run folder (``out`` or ``outputs/<stamp>-<preset>-s<seed>``)
    unless ``write`` is False, with ``evolution.gif`` when ``cfg.gif`` (and the run was not
    interrupted); ``result.extra['out']`` is its path."""
    cfg = with_seed(cfg)
    folder = (Path(out) if out is not None else default_out(cfg)) if write else None
    return _run(cfg, folder, hooks, None, checkpoint_every)


def resume(out: str | Path, hooks: list = (), checkpoint_every: float | None = None, **stop_overrides) -> Result:
    """Continue the interrupted run in ``out`` from its checkpoint, exactly where it stopped.

    A run stopped before its first checkpoint starts again from its config.toml (same seed,
    same result). ``stop_overrides`` (max_generations, time_limit, stagnation) may extend
    its stop rules.
    """
    folder = Path(out)  # read before the lock (its files are replaced whole): a bad folder stays as it was
    cfg, doc = resume_settings(folder, **stop_overrides)
    return _run(cfg, folder, hooks, doc, checkpoint_every)


def resume_settings(out: str | Path, **stop_overrides) -> tuple[Config, dict | None]:
    """The settings the run in ``out`` continues with, and its checkpoint (None: it stopped
    before its first one and starts again from config.toml); RunFolderError or ConfigError
    names what is wrong. Reads, checks and changes nothing."""
    folder = Path(out)
    doc = None
    if folder.is_dir() and not os.path.lexists(folder / CHECKPOINT) and os.path.lexists(folder / CONFIG):
        source = validate.quote(folder / CONFIG)
        values = readers.read_config(folder)
    else:
        doc = readers.read_checkpoint(folder)
        source, values = validate.quote(folder / CHECKPOINT), doc["config"]
    cfg = apply(Config(), values, source)
    if cfg.seed is None:
        raise RunFolderError(f"{source}: field 'seed' is missing")
    return apply(cfg, {k: v for k, v in stop_overrides.items() if v is not None}, "resume"), doc


def _run(
    cfg: Config, folder: Path | None, hooks: list, doc: dict | None, checkpoint_every: float | None
) -> Result:
    if checkpoint_every is None:
        checkpoint_every = cfg.checkpoint_every
    timings = Timings() if cfg.profile else OFF
    start = timings.clock()
    device = pick_device(cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if folder is not None and doc is None:
        check_new(folder)  # before the slow start-up, and before anything is written
    lanes = n_lanes(cfg, device)
    # One writer per run folder, from before its first file to its last (a second is refused).
    with run_lock.writing(folder) if folder is not None else contextlib.nullcontext():
        with lane_threads(lanes):  # the detectors are built inside: their backends follow the threads
            result = _search(cfg, device, lanes, folder, hooks, doc, checkpoint_every, timings)
        result.extra["out"] = folder
        result.extra["seed"] = cfg.seed
        result.extra["config"] = cfg
        if timings.enabled:
            result.extra["profile"] = write_profile(
                timings, timings.clock() - start, result, folder, lanes
            )
    return result


def _search(
    cfg: Config,
    device: torch.device,
    lanes: int,
    folder: Path | None,
    hooks: list,
    doc: dict | None,
    checkpoint_every: float,
    timings: Timings,
) -> Result:
    """The run proper: build, resume, search and close; ``_run`` sets up and reports."""
    with timings.section("start: detectors and problem"):
        problem, strategy = build(cfg, device, lanes=lanes)
    state = _load_state(doc, folder, strategy, problem) if doc is not None else None
    all_hooks = list(hooks)
    if folder is not None:
        with timings.section("start: run folder"):
            run_folder = RunFolder(
                folder,
                config_record(cfg, device),
                size=cfg.size,
                frame_size=cfg.frame_size,
                frame_every=cfg.frame_every,
                log_every=cfg.log_every,
                summary={"seed": cfg.seed, "preset": cfg.preset, "device": str(device)},
                config=cfg.to_dict(),
                resume=doc,
            )
        all_hooks[:0] = [run_folder, ScorePlot(folder)]
        if cfg.gif:
            all_hooks.append(GifHook(folder))  # after the run folder has written its last frame
    stop = StopRules(cfg.max_generations, cfg.stagnation, cfg.time_limit)
    sizes = verify_sizes(cfg)
    if timings.enabled:  # the loop is timed from outside: its strategy, problem and hooks
        problem.timings = timings
        strategy = TimedStrategy(strategy, timings)
        all_hooks = [TimedHook(h, timings) for h in all_hooks]
    try:
        result = run_loop(
            strategy, problem, stop, all_hooks, state, checkpoint_every,
            goal=PortraitGoal(problem, sizes, cfg.polish),
            finish=Contrast(problem, sizes, cfg.contrast) if cfg.contrast > 1.0 else None,
        )
    finally:
        problem.close()
    return result


def _load_state(doc: dict, folder: Path, strategy, problem) -> LoopState:
    """Put strategy and problem into the checkpoint's state and read the loop's; any malformed
    part is one RunFolderError naming the field (nothing on disk has been changed yet)."""
    loaded = {}
    for part, load in (
        ("strategy", strategy.load_state_dict),
        ("problem", problem.load_state_dict),
        ("loop", LoopState.from_dict),
    ):
        try:
            loaded[part] = load(doc[part])
        except validate.FieldError as e:
            raise RunFolderError(f"{validate.quote(folder / CHECKPOINT)}: {e}") from None
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError, RecursionError) as e:
            what = f"'{e.args[0]}' missing or wrong" if isinstance(e, KeyError) and e.args else type(e).__name__
            raise RunFolderError(
                f"{validate.quote(folder / CHECKPOINT)}: field '{part}' is malformed ({what}); the run cannot be resumed"
            ) from None
    return loaded["loop"]
