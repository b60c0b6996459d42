"""Run folders, genomes and presets as untrusted input: crafted fields, paths that lead out of
the run folder, numbers JSON readers turn into huge integers or NaN, code planted in the
working folder. Each ends in one line naming the file and field, exit code 2, and nothing
changed on disk."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from polyface import validate
from polyface.cli import cli
from polyface.genome import GenomeError
from polyface.genome_io import from_json
from polyface.runio import readers
from polyface.runio.layout import CHECKPOINT, HISTORY, LOG, RESULT, RunFolderError

from test_bad_inputs import assert_one_line_error, genome_dict, snapshot


from run_fixtures import interrupted, small  # noqa: F401  (interrupted: a fixture)


def edit_checkpoint(run: Path, **fields) -> None:
    doc = json.loads((run / CHECKPOINT).read_text())
    doc.update(fields)
    (run / CHECKPOINT).write_text(json.dumps(doc))


# ---- strict JSON ---------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**30), 10**30) | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
    max_leaves=20,
)
poison = st.sampled_from(["NaN", "Infinity", "-Infinity", "1" * 400, "-" + "9" * 5000, "1e400"])


@given(json_values)
def test_strict_json_reads_what_json_writes(value):
    assert validate.loads(json.dumps(value)) == value


@given(json_values, poison)
def test_strict_json_refuses_non_finite_and_huge_numbers(value, bad):
    text = json.dumps([value, "HOLE"]).replace('"HOLE"', bad)
    with pytest.raises(validate.FieldError):
        validate.loads(text)


@pytest.mark.parametrize("bad", ["1" * 400, "1" * 5000, "-" + "7" * 4400])
def test_genome_with_a_huge_integer_is_one_clear_error(bad):
    text = json.dumps(genome_dict()).replace("0.1", bad, 1)
    with pytest.raises(GenomeError):
        from_json(text)


# ---- every reader of a run folder, fed crafted fields ---------------------------------------

crafted = json_values | poison.map(lambda s: ("RAW", s))


def _dump(obj) -> str:
    """JSON text where ("RAW", text) stands for text written as is (NaN, huge integers)."""
    raws: list[str] = []

    def sub(x):
        if isinstance(x, tuple) and x and x[0] == "RAW":
            raws.append(x[1])
            return f"@@RAW{len(raws) - 1}@@"
        if isinstance(x, dict):
            return {k: sub(v) for k, v in x.items()}
        if isinstance(x, list):
            return [sub(v) for v in x]
        return x

    text = json.dumps(sub(obj))
    for i, r in enumerate(raws):
        text = text.replace(f'"@@RAW{i}@@"', r)
    return text


def _plant(doc: dict, path: list, value) -> dict:
    doc = json.loads(json.dumps(doc))
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return doc


CHECKPOINT_FIELDS = [["files", LOG], ["files", HISTORY], ["files"], ["n_frames"], ["improvements"], ["config"],
                     ["version"], ["summary"]]
LOOP_FIELDS = [["loop", k] for k in ("generation", "evaluations", "elapsed_s", "best", "best_score", "last_improve",
                                      "verdict", "verified_is_best", "rejected", "peak",
                                      "portrait_at", "portrait_s", "kept")] + [["loop"]]
STATE_FIELDS = [["strategy", "parents"], ["strategy", "scores"], ["strategy", "generation"], ["strategy", "rng"],
                ["strategy"], ["problem", "rng"], ["problem"]]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(CHECKPOINT_FIELDS + LOOP_FIELDS + STATE_FIELDS), value=crafted)
@example(field=["strategy", "parents"], value=[])
@example(field=["strategy", "scores"], value=[None])
@example(field=["strategy", "scores"], value=["1.5", 2])
@example(field=["strategy", "generation"], value=("RAW", "1" * 400))
@example(field=["strategy", "rng"], value={"bit_generator": "PCG64", "state": {"state": -1, "inc": 1}, "has_uint32": 0, "uinteger": 0})
@example(field=["problem", "rng"], value="PCG64")
@example(field=["loop", "verdict"], value=[[48, True, 0.5]])
@example(field=["loop", "elapsed_s"], value=("RAW", "NaN"))
@example(field=["loop", "rejected"], value=["0" * 31 + "g"])
@example(field=["loop", "rejected"], value=[["0" * 32]])
@example(field=["loop", "best"], value={"format": "polyface-genome", "version": 1, "vertices": [], "colours": [],
                                        "background": [0, 0, 0]})
@example(field=["files", "../victim"], value=0)
@example(field=["files", LOG], value=-5)
def test_crafted_checkpoint_fields_are_refused_or_read(interrupted, field, value):
    """Through the checkpoint reader and the state loaders resume uses: RunFolderError or a
    state that loads; never another exception, and nothing on disk changes."""
    from polyface.run import _load_state, build
    from polyface.search.loop import LoopState, StopRules
    from problems import portrait_loop

    run = interrupted
    original = (run / CHECKPOINT).read_text()
    doc = _plant(json.loads(original), field, value)
    try:
        (run / CHECKPOINT).write_text(_dump(doc))
        before = snapshot(run)
        try:
            parsed = readers.read_checkpoint(run)
            problem, strategy = build(small(), detector=_detector())
            state = _load_state(parsed, run, strategy, problem)
            assert isinstance(state, LoopState)
            # What loads also runs: one more generation and the final check, no crash.
            r = portrait_loop(strategy, problem, StopRules(max_generations=state.generation + 1), (48,), [], state, 0)
            assert r.generations == state.generation
            event("loaded and ran")
        except RunFolderError as e:
            event("refused")
            assert "\n" not in str(e) and CHECKPOINT in str(e)
        assert snapshot(run) == before
    finally:
        (run / CHECKPOINT).write_text(original)


_DET = []


def _detector():
    from polyface.detect import FaceDetector

    if not _DET:
        _DET.append(FaceDetector(device="cpu"))
    return _DET[0]


HISTORY_FIELDS = ["frame", "generation", "evaluations", "best", "elapsed_s", "genome"]
LOG_FIELDS = ["generation", "evaluations", "best", "mean", "elapsed_s", "portrait", "best_prob"]
RESULT_FIELDS = ["seed", "status", "stop", "best", "min_prob", "portrait", "generations", "elapsed_s",
                 "verify_s", "contrast", "size"]


@settings(max_examples=80, deadline=None)
@given(kind=st.sampled_from([HISTORY, LOG, RESULT]), field=st.sampled_from(sorted(set(HISTORY_FIELDS + LOG_FIELDS + RESULT_FIELDS))),
       value=crafted)
def test_crafted_history_log_and_result_fields(tmp_path_factory, kind, field, value):
    run = tmp_path_factory.mktemp("crafted")
    good = {
        HISTORY: {"frame": "frames/000001.png", "generation": 1, "evaluations": 8, "best": 0.5, "elapsed_s": 0.1,
                  "genome": genome_dict()},
        LOG: {"generation": 1, "evaluations": 8, "best": 0.5, "mean": 0.2, "elapsed_s": 0.1, "portrait": False,
              "best_prob": 0.3},
        RESULT: {"seed": 1, "status": "done", "stop": "target", "best": 2.5, "min_prob": 0.99, "portrait": True,
                 "generations": 3, "elapsed_s": 1.0, "verify_s": 0.2, "contrast": 1.5, "size": 96},
    }[kind]
    text = _dump({**good, field: value})
    (run / kind).write_text(text + ("\n" if kind != RESULT else ""))
    read = {HISTORY: readers.read_history, LOG: readers.read_log, RESULT: readers.read_result}[kind]
    try:
        out = read(run)
    except RunFolderError as e:
        assert "\n" not in str(e) and kind in str(e)
        return
    # What a reader lets through is what polyface can use: finite numbers, paths inside.
    rows = out if isinstance(out, list) else [out]
    for row in rows:
        items = vars(row).items() if hasattr(row, "__dataclass_fields__") else row.items()
        for k, x in items:
            if isinstance(x, float):
                assert math.isfinite(x), (k, x)
            if kind == HISTORY and k == "frame" and x is not None:
                validate.inside(run, x, "frame")


def test_nan_elapsed_in_history_is_refused_by_gif(tmp_path, monkeypatch):
    run = tmp_path / "run"
    run.mkdir()
    line = json.dumps({"frame": "frames/000001.png", "best": 0.5, "genome": genome_dict(), "elapsed_s": 1.0})
    (run / HISTORY).write_text(line.replace("1.0", "NaN") + "\n")
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    assert_one_line_error(CliRunner().invoke(cli, ["gif", "run"]), ("history.jsonl", "line 1", "NaN"))
    assert snapshot(tmp_path) == before


def test_the_summary_reads_min_prob(tmp_path):
    from polyface.runio.results import read_summary

    (tmp_path / RESULT).write_text(json.dumps({"status": "done", "min_prob": 0.5}))
    assert read_summary(tmp_path).min_prob == 0.5
