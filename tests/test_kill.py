"""SIGKILL a run at random moments: every file it leaves is absent or complete, and --resume finishes.

The kill moments are spread over start-up (loading torch and the detector), the search,
frame writing and checkpointing (every 50 ms here, so kills often land inside one).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

from PIL import Image

from polyface.genome_io import from_json
from polyface.runio.readers import read_checkpoint

PRESET = """
description = "tiny run for the kill test"
[picture]
polygons = 12
[judge]
work_size = 48
search_sizes = []
verify_sizes = [48]
target = 1.0
[search]
population = 6
elites = 2
max_generations = 150
[output]
size = 96
frame_size = 48
checkpoint_every = 0.05
[machine]
threads = 1
"""


def check_folder(run: Path) -> dict[str, int]:
    """Load every file of the run folder; fail on any torn or half-written one."""
    seen: dict[str, int] = {}
    for path in sorted(run.rglob("*")):
        if path.is_dir():
            continue
        name = path.name
        if name.startswith(".") and name.endswith(".tmp"):
            continue  # an atomic write cut short: never renamed into place, removed on resume
        if name == ".lock":
            continue  # the run folder's lock: empty or its holder's pid
        kind = path.suffix
        seen[kind] = seen.get(kind, 0) + 1
        if name == "checkpoint.json":
            read_checkpoint(run)
        elif name == "genome.json":
            from_json(path.read_text())
        elif kind == ".json":
            json.loads(path.read_text())
        elif kind == ".jsonl":
            text = path.read_text()
            assert text == "" or text.endswith("\n"), f"{path} ends in a torn line"
            for line in text.splitlines():
                json.loads(line)
        elif kind == ".png":
            with Image.open(path) as im:
                im.load()
        elif kind == ".svg":
            ET.parse(path)
        elif kind == ".toml":
            tomllib.loads(path.read_text())
        else:
            raise AssertionError(f"unexpected file {path}")
    return seen


def test_sigkill_at_random_moments(tmp_path):
    preset = tmp_path / "tiny.toml"
    preset.write_text(PRESET)
    cli = [sys.executable, "-m", "polyface.cli", "evolve", "--quiet"]
    reference = subprocess.run(cli + ["--preset", str(preset), "--seed", "5", "--out", str(tmp_path / "ref")],
                               capture_output=True, text=True, timeout=300)
    assert reference.returncode == 0, reference.stderr

    run = tmp_path / "run"
    rng = random.Random(1234)
    kills, finished_early = 0, 0
    while kills < 20:
        if (run / "config.toml").exists():
            cmd = cli + ["--resume", str(run)]
        else:
            cmd = cli + ["--preset", str(preset), "--seed", "5", "--out", str(run)]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            proc.wait(timeout=rng.uniform(0.3, 4.0))
            finished_early += 1  # the run ended before its kill: start a new one in a fresh folder
            assert proc.returncode == 0, proc.stderr.read().decode()
            check_folder(run)
            run = tmp_path / f"run{finished_early}"
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            kills += 1
            check_folder(run)
        finally:
            proc.stdout.close()
            proc.stderr.close()

    # The last kill may have come before a fresh run made its folder: then it starts afresh.
    last = ["--resume", str(run)] if (run / "config.toml").exists() else ["--preset", str(preset), "--seed", "5", "--out", str(run)]
    done = subprocess.run(cli + last, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == str(run)
    seen = check_folder(run)
    assert seen.get(".png", 0) >= 2 and seen.get(".jsonl") == 2
    assert not list(run.rglob(".*.tmp")), "stale temp files survive a resume"
    assert json.loads((run / "result.json").read_text())["status"] == "done"
    # Killed and resumed again and again, the run ends with the genome of the uninterrupted run.
    assert (run / "genome.json").read_text() == (tmp_path / "ref" / "genome.json").read_text()
    ref_log = [{k: v for k, v in json.loads(x).items() if k != "elapsed_s"}
               for x in (tmp_path / "ref" / "log.jsonl").read_text().splitlines()]
    log = [{k: v for k, v in json.loads(x).items() if k != "elapsed_s"} for x in (run / "log.jsonl").read_text().splitlines()]
    assert log == ref_log
