"""The Ray engine on real Ray clusters on this machine (marked ``ray``; deselect with -m 'not ray').

Token authentication stays on, as Ray 2.60 sets it for a new local cluster, with the token in
the environment (RAY_AUTH_TOKEN) so that no test writes ~/.ray/auth_token. Ray reads the mode
when it is imported, so both are set before ``import ray``; drivers started by the tests
inherit them, as a driver joining a cluster with token authentication must.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

os.environ.pop("RAY_ADDRESS", None)  # the tests start their own clusters
os.environ.setdefault("RAY_AUTH_MODE", "token")
os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))
ray = pytest.importorskip("ray")

from polyface.batch import run_gallery  # noqa: E402
from polyface.config import Config, apply  # noqa: E402
from polyface.preset import read_preset_file  # noqa: E402
from polyface.engines.ray import RayEngine  # noqa: E402
from polyface.genome_io import from_json  # noqa: E402
from polyface.runio.readers import read_checkpoint  # noqa: E402

pytestmark = pytest.mark.ray

SEEDS = (0, 1, 2)
PRESET = """description = "small gallery for the Ray tests"
[picture]
polygons = 10
[judge]
work_size = 48
search_sizes = []
verify_sizes = [64]
[search]
population = 6
elites = 2
max_generations = 120
[output]
size = 96
frame_size = 48
checkpoint_every = 0.2
"""
STORE = 80 * 2**20


@pytest.fixture(scope="module")
def preset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("preset") / "small.toml"
    path.write_text(PRESET)
    return path


@pytest.fixture(scope="module")
def cfg(preset: Path) -> Config:
    return apply(Config(), read_preset_file(preset), str(preset))


@pytest.fixture(scope="module")
def reference(cfg: Config, tmp_path_factory: pytest.TempPathFactory) -> dict[int, str]:
    """genome.json of each seed from the local engine (two processes)."""
    out = tmp_path_factory.mktemp("local")
    outcomes = run_gallery(cfg, len(SEEDS), out, workers=2, gif=False, engine="local")
    assert [o.status for o in outcomes] == ["done"] * len(SEEDS)
    return {s: (out / str(s) / "genome.json").read_text() for s in SEEDS}


def check_folder(run: Path, killed: bool = False) -> None:
    """Every file of a seed folder loads completely: nothing torn or half-written. Right after a
    SIGKILL (``killed``) an atomic write cut short may have left its temporary file, never renamed
    into place; anywhere else (the resume removes them) none may be left."""
    for path in sorted(p for p in run.rglob("*") if p.is_file()):
        name = path.name
        if killed and name.startswith(".") and name.endswith(".tmp"):
            continue
        assert not name.endswith(".tmp"), f"temp file left: {path}"
        if name == ".lock":
            continue
        if name == "checkpoint.json":
            read_checkpoint(run)
        elif name == "genome.json":
            from_json(path.read_text())
        elif path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".jsonl":
            text = path.read_text()
            assert text.endswith("\n"), f"{path} ends in a torn line"
            [json.loads(line) for line in text.splitlines()]
        elif path.suffix in (".png", ".gif"):
            with Image.open(path) as im:
                im.load()
        elif path.suffix == ".svg":
            ET.parse(path)
        elif path.suffix == ".toml":
            tomllib.loads(path.read_text())
        else:
            raise AssertionError(f"unexpected file {path}")


def kept_frames(run: Path) -> dict[Path, int]:
    """The frames the run's checkpoint counts, with their modification times: a run that continues
    from that checkpoint leaves them as they are; one that starts again writes them anew."""
    n = read_checkpoint(run)["n_frames"]
    return {p: p.stat().st_mtime_ns for p in sorted((run / "frames").glob("*.png"))[:n]}


def lose_node(cluster, node) -> None:
    """Lose ``node`` as a machine is lost: SIGKILL its raylet's worker processes (the task running
    there among them) at once, then the node. Ray's ``remove_node`` alone kills the raylet, and a
    worker may live on long enough to stream its seed to the end."""
    raylet, killed = node.all_processes["raylet"][0].process.pid, 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(fields[1]) == raylet:  # its parent is the raylet
            try:
                os.kill(int(stat.parent.name), signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
    assert killed, "no worker process runs under the node's raylet"
    cluster.remove_node(node, allow_graceful=False)


def final_lines(run: Path) -> int:
    return sum(1 for line in (run / "log.jsonl").read_text().splitlines() if json.loads(line).get("final"))


@pytest.fixture(scope="class")
def address():
    """A local Ray cluster of 2 CPUs in this process; its address, for drivers that join it."""
    info = ray.init(num_cpus=2, object_store_memory=STORE, include_dashboard=False, log_to_driver=False)
    yield info.address_info["address"]
    ray.shutdown()


class TestLocalCluster:
    def test_gallery_matches_the_local_engine(self, address, cfg, reference, tmp_path: Path) -> None:
        events = []
        outcomes = run_gallery(cfg, len(SEEDS), tmp_path, engine=RayEngine(workers=2),
                               on_event=lambda o, p: events.append((o, p.running)))
        assert [(o.seed, o.status) for o in outcomes] == [(s, "done") for s in SEEDS], outcomes
        assert max(running for _, running in events) == 2
        for s in SEEDS:
            assert (tmp_path / str(s) / "genome.json").read_text() == reference[s]
            check_folder(tmp_path / str(s))
            assert final_lines(tmp_path / str(s)) == 1
            assert (tmp_path / str(s) / "evolution.gif").is_file()
        assert (tmp_path / "contact-sheet.png").is_file() and (tmp_path / "index.html").is_file()

    def test_a_failed_seed_is_reported_and_the_others_finish(self, address, cfg, reference, tmp_path: Path) -> None:
        (tmp_path / "1").mkdir()
        (tmp_path / "1" / "checkpoint.json").write_text('{"format": "polyface-checkpoint", "version": 99}')
        outcomes = run_gallery(cfg, 2, tmp_path, engine=RayEngine(workers=2), gif=False)
        assert [(o.seed, o.status) for o in outcomes] == [(0, "done"), (1, "failed")]
        assert outcomes[1].detail.startswith("RunFolderError: ") and "'version' must be 1" in outcomes[1].detail
        assert (tmp_path / "0" / "genome.json").read_text() == reference[0]

    def test_resumes_after_the_driver_is_killed(self, address, preset, reference, tmp_path: Path) -> None:
        out = tmp_path / "g"
        cmd = [sys.executable, "-m", "polyface.cli", "gallery", "-n", str(len(SEEDS)), "--engine", "ray",
               "--address", address, "--workers", "2", "--no-gif", "--preset", str(preset), "--out", str(out)]
        driver = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while not list(out.glob("*/checkpoint.json")):  # the driver holds a first checkpoint
            assert driver.poll() is None and time.monotonic() < deadline, "no checkpoint came back"
            time.sleep(0.05)
        driver.send_signal(signal.SIGKILL)
        driver.wait()
        unfinished = [s for s in SEEDS if not (out / str(s) / "result.json").exists()]
        kept = {s: kept_frames(out / str(s)) for s in unfinished if (out / str(s) / "checkpoint.json").exists()}
        assert any(kept.values()), "the driver was killed too late to test a resume"
        for s in SEEDS:
            if (out / str(s)).exists():
                check_folder(out / str(s), killed=True)

        again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stderr
        assert again.stdout.strip().splitlines()[-1] == str(out / "index.html")
        for s in SEEDS:
            expected = "skipped" if s not in unfinished else "done"
            assert f"seed {s}: {expected}" in again.stderr, again.stderr
            assert (out / str(s) / "genome.json").read_text() == reference[s]
            check_folder(out / str(s))
            assert final_lines(out / str(s)) == 1
            assert {p: p.stat().st_mtime_ns for p in kept.get(s, {})} == kept.get(s, {})  # continued, not restarted
        assert "portraits/min" in again.stderr


def test_two_nodes_one_lost_mid_run(cfg, reference, tmp_path: Path) -> None:
    from ray.cluster_utils import Cluster

    quick = {"health_check_period_ms": 500, "health_check_timeout_ms": 500, "health_check_failure_threshold": 3}
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "object_store_memory": STORE, "include_dashboard": False, "_system_config": quick})
    try:
        worker = cluster.add_node(num_cpus=1, object_store_memory=STORE)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False)
        head_id, worker_id = cluster.head_node.node_id, worker.node_id
        events, killed, kept = [], [], {}

        def on_event(o, progress) -> None:
            events.append(o)
            if o.status == "saved" and o.where == worker_id and not killed:
                killed.append(o.seed)  # a checkpoint of this seed is in --out: lose its node now
                kept.update(kept_frames(tmp_path / str(o.seed)))
                lose_node(cluster, worker)

        outcomes = run_gallery(cfg, len(SEEDS), tmp_path, engine=RayEngine(workers=2), gif=False, on_event=on_event)
    finally:
        ray.shutdown()
        cluster.shutdown()
    assert killed, "no seed ran on the second node"
    assert {o.where for o in events if o.status == "running"} == {head_id, worker_id}
    lost = killed[0]
    assert [o.seed for o in events if o.status == "retrying"] == [lost]
    assert kept and {p: p.stat().st_mtime_ns for p in kept} == kept  # it continued from the checkpoint
    assert [o.where for o in events if o.seed == lost and o.status == "running"] == [worker_id, head_id]
    assert [(o.seed, o.status) for o in outcomes] == [(s, "done") for s in SEEDS], outcomes
    finals = [o.seed for o in events if o.final]
    assert sorted(finals) == list(SEEDS)  # no seed completed twice
    for s in SEEDS:
        check_folder(tmp_path / str(s))
        assert final_lines(tmp_path / str(s)) == 1
        assert (tmp_path / str(s) / "genome.json").read_text() == reference[s]  # resumed, not restarted anew
