"""SIGTERM and SIGHUP end a run as Ctrl-C does: the best so far and a checkpoint are saved,
then the command exits 128 + the signal's number (143, 129), quietly. Real processes, real signals."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

PRESET = """
description = "tiny run for the signal test"
[picture]
polygons = 12
[judge]
work_size = 48
search_sizes = []
verify_sizes = [48]
target = 1.0
blazeface = false
prior = 0.0
[search]
population = 6
elites = 2
max_generations = 100000
[output]
size = 96
frame_size = 48
checkpoint_every = 0
[machine]
threads = 1
"""

CODES = [(signal.SIGTERM, 143), (signal.SIGHUP, 129)]


def _wait_for(path: Path, proc: subprocess.Popen, lines: int = 3, timeout: float = 180.0) -> None:
    """Until ``path`` holds ``lines`` lines (the search is under way)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            pytest.fail(f"the process ended early: {proc.returncode} {proc.stderr.read()}")
        try:
            if path.read_text().count("\n") >= lines:
                return
        except OSError:
            pass
        time.sleep(0.1)
    proc.kill()
    pytest.fail(f"{path} never grew")


@pytest.mark.parametrize("sig,code", CODES, ids=["SIGTERM", "SIGHUP"])
def test_a_signal_saves_the_best_and_a_checkpoint_like_ctrl_c(tmp_path, sig, code):
    preset = tmp_path / "tiny.toml"
    preset.write_text(PRESET)
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "polyface", "evolve", "--quiet", "--seed", "2", "--preset", str(preset), "--out", str(run)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(run / "log.jsonl", proc)
    assert not (run / "checkpoint.json").exists()  # no periodic checkpoint: the signal's save is the only one
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert "Traceback" not in err, err
    assert proc.returncode == code, err
    for name in ("genome.json", "best.png", "best.svg", "checkpoint.json", "result.json"):
        assert (run / name).is_file(), name
    assert json.loads((run / "result.json").read_text())["status"] == "interrupted"
    assert out.strip().splitlines()[-1] == str(run)
    # and it continues from there
    more = subprocess.run([sys.executable, "-m", "polyface", "evolve", "--quiet", "--resume", str(run),
                           "--max-generations", "1"], capture_output=True, text=True, timeout=300, check=False)
    assert more.returncode == 0, more.stderr


def test_sigterm_during_start_up_exits_143_quietly(tmp_path):
    cmd = [sys.executable, "-m", "polyface", "evolve", "--quiet", "--seed", "1", "--set", "work_size=48",
           "--out", str(tmp_path / "run")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert "Traceback" not in err, err
    assert proc.returncode == 143, err


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_ends_a_gallery_with_every_running_seed_saved(tmp_path, workers):
    preset = tmp_path / "tiny.toml"
    preset.write_text(PRESET)
    out = tmp_path / "g"
    cmd = [sys.executable, "-m", "polyface", "gallery", "-n", str(workers), "--preset", str(preset), "--out", str(out),
           "--workers", str(workers), "--no-gif"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for seed in range(workers):
        _wait_for(out / str(seed) / "log.jsonl", proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=180)
    assert "Traceback" not in err, err
    assert proc.returncode == 143, err
    for seed in range(workers):
        run = out / str(seed)
        for name in ("genome.json", "best.png", "checkpoint.json", "result.json"):
            assert (run / name).is_file(), f"{seed}/{name}"
        assert json.loads((run / "result.json").read_text())["status"] == "interrupted"
    assert (out / "index.html").is_file()
