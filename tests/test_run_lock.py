"""One writer per run folder: evolve --out, evolve --resume and a gallery's seeds all take the
folder's lock (``.lock``, an flock that dies with its process); a second writer is refused with
one line and exit code 2 while the first holds it, and nothing in the folder changes."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from polyface.cli import cli

from run_fixtures import copy_run, interrupted  # noqa: F401  (interrupted: a fixture)
from test_bad_inputs import assert_one_line_error, snapshot

HOLD = """
import fcntl, os, sys, time
folder = sys.argv[1]
os.makedirs(folder, exist_ok=True)
fd = os.open(os.path.join(folder, ".lock"), os.O_RDWR | os.O_CREAT, 0o666)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(600)
"""


@pytest.fixture
def holder():
    """Hold a folder's lock in another process, as a running gallery seed does."""
    procs = []

    def hold(folder: Path) -> None:
        p = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True)
        procs.append(p)
        assert p.stdout.readline().strip() == "held"

    yield hold
    for p in procs:
        p.kill()
        p.wait()
        p.stdout.close()


def test_resume_of_a_folder_another_process_holds_is_refused(interrupted, tmp_path, holder):
    run = copy_run(interrupted, tmp_path / "run")
    holder(run)
    before = snapshot(run)
    result = CliRunner().invoke(cli, ["evolve", "--quiet", "--resume", str(run), "--max-generations", "6"])
    assert_one_line_error(result, ("run", "another process"))
    assert snapshot(run) == before


def test_out_on_a_folder_another_process_holds_is_refused(tmp_path, holder):
    run = tmp_path / "run"
    holder(run)
    before = snapshot(tmp_path)
    result = CliRunner().invoke(cli, ["evolve", "--quiet", "--seed", "1", "--set", "work_size=48",
                                      "--max-generations", "2", "--out", str(run)])
    assert_one_line_error(result, ("run", "another process"))
    assert snapshot(tmp_path) == before


def test_the_lock_is_ours_again_once_released(interrupted, tmp_path):
    """Taken and given back by a run in this process: a gallery seed (which holds it already)
    resumes, and a later run takes it again."""
    from polyface.engines.seed import seed_lock
    from polyface.run import resume

    run = copy_run(interrupted, tmp_path / "run")
    with seed_lock(run) as got:
        assert got
        r = resume(run, max_generations=6)
    assert r.generations >= 6
    r = resume(run, max_generations=7)
    assert r.generations >= 7


def test_a_second_evolve_out_before_the_first_checkpoint_is_refused(tmp_path):
    run = tmp_path / "run"
    preset = tmp_path / "no-checkpoints.toml"
    preset.write_text('description = "no periodic checkpoint"\n[output]\ncheckpoint_every = 0\n')
    cmd = [sys.executable, "-m", "polyface", "evolve", "--quiet", "--seed", "1", "--set", "work_size=48",
           "--max-generations", "100000", "--preset", str(preset), "--out", str(run)]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        end = time.monotonic() + 120
        while not (run / "config.toml").exists() and time.monotonic() < end and first.poll() is None:
            time.sleep(0.05)
        assert (run / "config.toml").exists(), "the first run never started"
        assert not (run / "checkpoint.json").exists()
        second = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
        assert second.returncode == 2, second.stderr
        assert "another process" in second.stderr and len(second.stderr.strip().splitlines()) == 1, second.stderr
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=120)
