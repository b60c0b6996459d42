"""Data loss and exact resume: --out on a folder that is not ours, a history cut mid-line,
Ctrl-C in every phase of a generation, and Ctrl-C during start-up."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from polyface.cli import cli
from polyface.preset import load_preset

from test_bad_inputs import assert_one_line_error, snapshot

GENERATIONS = 28
CUT = 28  # the best improves here and is checked at every verify size (see test_every_phase...)


def small(**kw):
    base = dict(seed=3, work_size=48, search_sizes=(), polygons=20, population=8, elites=2, size=96,
                frame_size=48, verify_sizes=(48,), max_generations=GENERATIONS, threads=2,
                blazeface=False, prior=0.0, init="random")  # MTCNN alone, random start: CUT is pinned to it
    base.update(kw)
    return load_preset("default").replace(**base)


def logs(folder: Path) -> list[dict]:
    lines = [json.loads(x) for x in (folder / "log.jsonl").read_text().splitlines()]
    return [{k: v for k, v in x.items() if k != "elapsed_s"} for x in lines]


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    from polyface.run import evolve

    out = tmp_path_factory.mktemp("whole") / "run"
    return evolve(small(), out=out, checkpoint_every=0), out


# ---- --out on a folder that is not a polyface run -------------------------------------------


@pytest.mark.parametrize("files", [
    {"notes.md": "mine", "log.jsonl": "my own log\n", "history.jsonl": "mine too\n"},
    {".notes.md.tmp": "an editor's temp file"},
    {"sub/data.csv": "1,2\n"},
])
def test_out_on_a_folder_that_is_not_a_run_is_refused_before_anything_is_made(tmp_path, monkeypatch, files):
    target = tmp_path / "mine"
    for name, text in files.items():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (target / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    result = CliRunner().invoke(cli, ["evolve", "--quiet", "--max-generations", "1", "--out", "mine"])
    assert_one_line_error(result, ("mine", "not empty", "not a polyface run"))
    assert snapshot(tmp_path) == before  # no frames/, no config.toml, nothing removed


def test_out_on_an_empty_folder_or_an_unstarted_run_is_fine(tmp_path):
    from polyface.run import evolve

    (tmp_path / "empty").mkdir()
    evolve(small(max_generations=1), out=tmp_path / "empty", checkpoint_every=0)
    assert (tmp_path / "empty" / "result.json").is_file()
    # What a run killed before its first checkpoint leaves: its config, frames/ and a temp file.
    left = tmp_path / "left"
    (left / "frames").mkdir(parents=True)
    (left / "config.toml").write_text("seed = 1\n")
    (left / ".config.toml.abcd1234.tmp").write_text("half")
    (left / ".evolution.mp4.abcd1234.tmp.mp4").write_text("half")  # the MP4 writer's own temp file
    evolve(small(max_generations=1), out=left, checkpoint_every=0)
    assert not (left / ".config.toml.abcd1234.tmp").exists() and (left / "result.json").is_file()
    assert not (left / ".evolution.mp4.abcd1234.tmp.mp4").exists()


# ---- a history cut mid-line ----------------------------------------------------------------


def test_resume_cuts_a_history_line_cut_mid_write(tmp_path):
    from polyface.run import evolve, resume
    from polyface.runio.gif import make_gif
    from polyface.runio.readers import read_history

    class StopAt:
        def on_generation(self, p):
            if p.generation == 6:
                raise KeyboardInterrupt

    run = tmp_path / "run"
    evolve(small(max_generations=12), out=run, hooks=[StopAt()], checkpoint_every=0)
    history = run / "history.jsonl"
    text = history.read_bytes()
    assert text.count(b"\n") >= 2
    history.write_bytes(text[:-25])  # the last line loses its end (the checkpoint says the file is longer)
    resume(run)
    after = history.read_bytes()
    assert after.endswith(b"\n")
    for line in after.decode().splitlines():
        json.loads(line)  # every line whole: the cut line was dropped, not appended to
    assert read_history(run)[-1].generation is not None
    make_gif(run, frames=5)


# ---- Ctrl-C in every phase of a generation -------------------------------------------------


def _interrupt_in(phase: str, monkeypatch) -> list:
    """Patch so that the generation CUT is interrupted in ``phase``; returns hooks to add."""
    from polyface.search.problem import PortraitProblem
    from polyface.search.strategies import PopulationStrategy

    calls = {"n": 0}

    def at_cut(cls, name, after: bool = False, count_all: bool = True):
        real = getattr(cls, name)

        def patched(self, *a, **kw):
            calls["n"] += 1
            hit = calls["n"] == (CUT if count_all else 1)
            if hit and not after:
                raise KeyboardInterrupt
            out = real(self, *a, **kw)
            if hit:
                raise KeyboardInterrupt
            return out

        monkeypatch.setattr(cls, name, patched)

    if phase == "ask":
        at_cut(PopulationStrategy, "ask")
    elif phase == "evaluate":
        at_cut(PortraitProblem, "evaluate")
    elif phase == "after tell":
        at_cut(PopulationStrategy, "tell", after=True)
    elif phase == "verify":  # the first check at every verify size comes in generation CUT
        at_cut(PortraitProblem, "verify", after=True, count_all=False)
    elif phase == "writing the generation (signal)":

        class Signal:  # a real SIGINT while the run folder writes the generation's frame and lines
            def on_improve(self, genome, p):
                if p.generation == CUT:
                    os.kill(os.getpid(), signal.SIGINT)

        return [Signal()]
    return []


@pytest.mark.parametrize("phase", ["ask", "evaluate", "after tell", "verify", "writing the generation (signal)"])
def test_every_phase_of_a_generation_resumes_exactly(whole, tmp_path, monkeypatch, phase):
    from polyface.run import evolve, resume
    from polyface.search.problem import PortraitProblem

    ref, ref_dir = whole
    verified = []
    real_verify = PortraitProblem.verify
    monkeypatch.setattr(PortraitProblem, "verify", lambda self, *a, **k: verified.append(1) or real_verify(self, *a, **k))
    hooks = _interrupt_in(phase, monkeypatch)
    cut = tmp_path / "cut"
    first = evolve(small(), out=cut, hooks=hooks, checkpoint_every=0)
    monkeypatch.undo()
    assert first.status == "interrupted"
    assert first.generations in (CUT - 1, CUT)  # rewound, or (signal) held back until the generation was written
    assert verified, "the run never reached a verification: the verify phase is not covered"
    resumed = resume(cut)
    assert resumed.genome == ref.genome and resumed.score == ref.score
    assert (resumed.generations, resumed.evaluations) == (ref.generations, ref.evaluations)
    assert logs(cut) == logs(ref_dir)
    assert (cut / "genome.json").read_text() == (ref_dir / "genome.json").read_text()


def test_ctrl_c_in_the_final_check_still_saves_the_portrait_and_resumes(whole, tmp_path, monkeypatch):
    from polyface.run import evolve, resume
    from polyface.search.problem import PortraitProblem

    ref, ref_dir = whole
    real = PortraitProblem.verify

    def final_interrupted(self, genome, sizes, stop_early=True):
        if not stop_early:
            raise KeyboardInterrupt
        return real(self, genome, sizes, stop_early)

    monkeypatch.setattr(PortraitProblem, "verify", final_interrupted)
    cut = tmp_path / "cut"
    first = evolve(small(), out=cut, checkpoint_every=0)
    monkeypatch.undo()
    assert first.status == "interrupted" and first.generations == GENERATIONS and not first.portrait
    assert json.loads((cut / "result.json").read_text())["status"] == "interrupted"
    assert (cut / "best.png").is_file() and (cut / "genome.json").read_text() == (ref_dir / "genome.json").read_text()
    resumed = resume(cut)
    assert resumed.status == ref.status and resumed.verdict.to_dict() == ref.verdict.to_dict()
    assert json.loads((cut / "result.json").read_text())["status"] == "done"


# ---- Ctrl-C during start-up ----------------------------------------------------------------


IMPORT_CUT = """
import builtins
real = builtins.__import__
def cut(name, *args, **kwargs):
    if name == "polyface.cli":
        raise KeyboardInterrupt  # Ctrl-C while numpy, click and the library are still being imported
    return real(name, *args, **kwargs)
builtins.__import__ = cut
from polyface.entry import main
main(["evolve", "--quiet"])
"""


def test_ctrl_c_while_the_command_line_is_imported_exits_130_quietly():
    """On a busy machine the first Ctrl-C can land while ``polyface.cli``'s imports run, before
    click's handler exists; the entry point catches it there too."""
    proc = subprocess.run([sys.executable, "-c", IMPORT_CUT], capture_output=True, text=True, timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 130 and proc.stderr.strip() == "polyface: interrupted"


NATIVE_FIRST = """
import sys
import polyface.run as run
def evolve(cfg, **kwargs):
    print(",".join(m for m in ("onnxruntime", "cv2") if m in sys.modules), flush=True)
    raise SystemExit(0)
run.evolve = evolve
from polyface.entry import main
main(["evolve", "--quiet", "--seed", "1"])
"""


def test_evolve_imports_the_native_extensions_while_ctrl_c_is_held():
    """ONNX Runtime turns a Ctrl-C during its initialisation into an ImportError: evolve imports
    it (and OpenCV) in its held block, before the run builds the detectors that use them."""
    proc = subprocess.run([sys.executable, "-c", NATIVE_FIRST], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "onnxruntime,cv2"


WRAPPED_CTRL_C = """
import polyface.run as run
def evolve(cfg, **kwargs):
    try:
        raise KeyboardInterrupt
    except KeyboardInterrupt as e:
        raise ImportError("initialization failed") from e
run.evolve = evolve
from polyface.entry import main
main(["evolve", "--quiet", "--seed", "1"])
"""


def test_a_ctrl_c_a_library_raises_again_as_its_own_error_exits_130_quietly():
    proc = subprocess.run([sys.executable, "-c", WRAPPED_CTRL_C], capture_output=True, text=True, timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 130 and proc.stderr.strip() == "polyface: interrupted"


@pytest.mark.parametrize("delay", [0.3, 0.8, 1.5, 3.0, 5.0])
def test_ctrl_c_during_start_up_exits_130_quietly(tmp_path, delay):
    cmd = [sys.executable, "-m", "polyface", "evolve", "--quiet", "--seed", "1", "--max-generations", "2000",
           "--set", "work_size=48", "--out", str(tmp_path / "run")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip(f"the run finished within {delay} s")
    assert "Traceback" not in err, err
    assert proc.returncode == 130, err
    if (tmp_path / "run" / "genome.json").exists():  # the search had begun: it saved its best, quietly
        assert (tmp_path / "run" / "checkpoint.json").exists()
    else:
        assert err.strip().splitlines()[-1] == "polyface: interrupted"
    shutil.rmtree(tmp_path / "run", ignore_errors=True)


# ---- --time-limit and the final check -----------------------------------------------------


def test_time_limit_covers_the_search_and_result_records_the_final_check(tmp_path):
    """The limit stops the search; the final check at every size comes on top, and result.json
    says how long it took (so a gallery's overrun is accounted for)."""
    from polyface.run import evolve

    # min_box 1: a face box must span the whole canvas, so the target is out of reach and the limit stops it
    r = evolve(small(max_generations=10**6, time_limit=1.0, verify_sizes=(48, 256, 512), size=512, min_box=1.0),
               out=tmp_path / "run", checkpoint_every=0)
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert result["stop"] == "time_limit" and r.verify_s > 0
    assert result["verify_s"] == round(r.verify_s, 3)
    assert result["elapsed_s"] >= 1.0 + result["verify_s"] - 0.01
    assert len(result["verdict"]) == 3 or result["portrait"]  # every size checked for the report
    help_text = CliRunner().invoke(cli, ["gallery", "--help"]).output
    assert "final check" in help_text and "verify_s" in help_text
