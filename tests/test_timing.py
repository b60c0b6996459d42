"""The run's own time breakdown (``profile = true``): its sections add up to the run's time.

Real short runs on the CPU with the real detectors (MTCNN, BlazeFace, the face prior, Haar),
once with two scoring processes and once in one process. No timed assertions: only that the
parts account for the whole within 10%.
"""

from __future__ import annotations

import json


from polyface.preset import load_preset
from polyface.run import evolve
from polyface.search.timing import OFF, Timings

START_STOP = ("start: ", "stop: ")


def tiny(**kw):
    base = dict(
        seed=5, work_size=48, search_sizes=(64,), polygons=20, population=8, elites=2, size=96,
        frame_size=48, verify_sizes=(48, 64, 96), max_generations=6, threads=1, checkpoint_every=0.0,
        blazeface=True, prior=0.3, haar=True, augment=2, profile=True,
    )  # fmt: skip
    base.update(kw)
    return load_preset("default").replace(**base)


def test_breakdown_adds_up_to_the_run_time(tmp_path):
    r = evolve(tiny(), out=tmp_path / "run")
    doc = json.loads((tmp_path / "run" / "profile.json").read_text())
    assert doc == json.loads(json.dumps(r.extra["profile"]))
    secs = {s["section"]: s["seconds"] for s in doc["sections"]}
    # Every part of the run the issue names shows up, measured in the process that did it.
    for name in ("render", "augment", "mtcnn", "blazeface", "prior", "verify: render", "verify: mtcnn", "search (ask/tell)"):
        assert secs.get(name, 0.0) > 0.0, name
    assert {"verify: blazeface", "verify: prior", "verify: haar"} <= set(secs)  # some take < 0.1 ms
    assert any(k.startswith("write: RunFolder.on_improve") for k in secs)
    # The whole run, from building the detectors to the last file written.
    assert doc["wall_s"] >= r.elapsed_s
    assert abs(sum(secs.values()) - doc["wall_s"]) <= 0.10 * doc["wall_s"]
    # The loop alone: every section but start-up, shutdown and the writes after the clock stopped.
    loop = sum(v for k, v in secs.items() if not k.startswith(START_STOP) and not k.endswith(".on_end"))
    assert abs(loop - r.elapsed_s) <= 0.10 * r.elapsed_s


def test_profile_off_writes_nothing(tmp_path):
    r = evolve(tiny(profile=False, max_generations=2), out=tmp_path / "run")
    assert not (tmp_path / "run" / "profile.json").exists()
    assert "profile" not in r.extra


def test_nested_sections_count_self_time_once():
    now = [0.0]
    t = Timings(clock=lambda: now[0])
    with t.section("outer"):
        now[0] += 1.0
        with t.section("inner"):
            now[0] += 2.0
        now[0] += 0.5
    assert t.seconds == {"outer": 1.5, "inner": 2.0}
    assert t.total() == 3.5
    with OFF.section("x"):
        pass
    assert OFF.seconds == {}


def test_cli_profile_flag_prints_the_table_and_writes_profile_json(tmp_path):
    from click.testing import CliRunner

    from polyface.cli import cli

    out = tmp_path / "run"
    args = ["evolve", "--set", "work_size=48", "--size", "64", "--set", "frame_size=48", "--polygons", "12",
            "--set", "population=8", "--set", "threads=1", "--max-generations", "3", "--seed", "2",
            "--out", str(out), "--set", "profile=true"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[-1] == str(out)  # the run folder stays the last line
    assert any(line.startswith("wall time of the run") for line in lines)
    doc = json.loads((out / "profile.json").read_text())
    assert {s["section"] for s in doc["sections"]} >= {"render", "mtcnn", "verify: mtcnn"}
