"""A portrait problem for tests, with the judge that a run with the same settings builds."""

from __future__ import annotations

import torch

from polyface.config import Config
from polyface.judge.judge import judge_for
from polyface.search.problem import PortraitProblem


def portrait_problem(detector=None, work_size=64, search_sizes=(96,), augment=None, rng=None, lanes=1, **settings):
    """``PortraitProblem`` scoring with ``judge_for(Config(**settings))``: ``settings`` are Config
    fields (``blazeface``, ``haar``, ``prior``, ``face_margin``, ``target``, ``landmarks``, ...);
    ``detector`` stands in for the search's MTCNN where given."""
    device = detector.device if detector is not None else torch.device("cpu")
    judge = judge_for(Config(**settings), device, lanes, detector)
    return PortraitProblem(judge, work_size, search_sizes, augment, rng, device)


def portrait_loop(strategy, problem, stop, verify_sizes, *args, polish=0, contrast=1.0, **kw):
    """``run_loop`` with the portrait goal and the contrast step, wired as a run wires them."""
    from polyface.search.contrast import Contrast
    from polyface.search.goal import PortraitGoal
    from polyface.search.loop import run_loop

    goal = PortraitGoal(problem, verify_sizes, polish)
    finish = Contrast(problem, verify_sizes, contrast) if contrast > 1.0 else None
    return run_loop(strategy, problem, stop, *args, goal=goal, finish=finish, **kw)
