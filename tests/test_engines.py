"""Gallery engines without Ray: the local pool's workers die with the gallery, the "ray missing"
message, and the checks on files that come back from other machines."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from polyface.engines.transfer import FolderSync, TransferError, apply, check_name, read_folder

LONG_PRESET = """description = "runs until killed"
[picture]
polygons = 10
[judge]
work_size = 48
search_sizes = []
verify_sizes = [64]
[search]
population = 6
elites = 2
max_generations = 1000000
[output]
frame_size = 48
"""


def _children(pid: int) -> list[int]:
    kids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids += [int(k) for k in (task / "children").read_text().split()]
    return kids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie has exited; only its exit status waits to be read


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc (Linux)")
def test_local_workers_die_with_the_gallery(tmp_path: Path) -> None:
    preset = tmp_path / "long.toml"
    preset.write_text(LONG_PRESET)
    out = tmp_path / "g"
    cmd = [sys.executable, "-m", "polyface.cli", "gallery", "-n", "2", "--workers", "2", "--no-gif",
           "--time-limit", "600", "--preset", str(preset), "--out", str(out)]
    gallery = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 240
        while not all((out / s / "checkpoint.json").exists() for s in ("0", "1")):  # both seeds evolving
            assert gallery.poll() is None, gallery.stderr.read().decode()
            assert time.monotonic() < deadline, "the seeds never started"
            time.sleep(0.2)
        workers = [p for p in _children(gallery.pid) if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()]
        assert len(workers) == 2
        gallery.send_signal(signal.SIGKILL)
        gallery.wait()
        deadline = time.monotonic() + 60  # a liveness bound, not a speed claim
        while any(_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [p for p in workers if _alive(p)], "pool workers outlived the killed gallery"
    finally:
        for p in [gallery.pid, *workers]:
            if _alive(p):
                os.kill(p, signal.SIGKILL)
        gallery.stderr.close()


def test_ray_missing_is_one_line_and_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from polyface.cli import cli

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    engine = sys.modules.pop("polyface.engines.ray", None)
    try:
        result = CliRunner().invoke(cli, ["gallery", "-n", "1", "--engine", "ray", "--out", str(tmp_path / "g")])
    finally:  # later tests get the module that saw Ray, or import it afresh
        sys.modules.pop("polyface.engines.ray", None)
        if engine is not None:
            sys.modules["polyface.engines.ray"] = engine
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert lines == ["polyface: error: --engine ray needs Ray, which is not installed: pip install 'polyface[ray]'"]
    assert not (tmp_path / "g" / "0").exists()


@pytest.mark.parametrize(
    "name",
    ["../x", "frames/../../x", "/etc/passwd", "a/b/c", "frames/.hidden", ".lock", "", ".", "..", "a\\b",
     "frames//x", "./x", "x\x00", "frames/", 7, None, "\u00e9t\u00e9.png"],
)
def test_untrusted_names_are_refused(name, tmp_path: Path) -> None:
    with pytest.raises(TransferError):
        check_name(name)
    with pytest.raises(TransferError):
        apply(tmp_path / "seed", [("config.toml", 0, b"ok"), (name, 0, b"x")])
    assert not (tmp_path / "seed" / "config.toml").exists()  # nothing is written when any entry is refused


def test_apply_appends_and_refuses_gaps(tmp_path: Path) -> None:
    seed = tmp_path / "7"
    assert apply(seed, [("result.json", 0, b"{}"), ("frames/000001.png", 0, b"p"), ("log.jsonl", 0, b"a\n")]) == [
        "frames/000001.png", "log.jsonl", "result.json"]  # result.json is written last
    apply(seed, [("log.jsonl", 2, b"b\n")])
    assert (seed / "log.jsonl").read_bytes() == b"a\nb\n"
    with pytest.raises(TransferError, match="append at byte 9"):
        apply(seed, [("log.jsonl", 9, b"c\n")])
    with pytest.raises(TransferError, match="offset"):
        apply(seed, [("log.jsonl", -1, b"c\n")])
    assert (seed / "log.jsonl").read_bytes() == b"a\nb\n"
    (tmp_path / "elsewhere").mkdir()
    (seed / "frames2").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(TransferError, match="outside"):
        apply(seed, [("frames2/x.png", 0, b"x")])
    assert not list((tmp_path / "elsewhere").iterdir())
    assert not [p for p in seed.rglob("*") if p.name.endswith(".tmp")]


def test_folder_sync_sends_new_lines_then_whole_files(tmp_path: Path) -> None:
    run, gallery = tmp_path / "run", tmp_path / "g" / "0"
    (run / "frames").mkdir(parents=True)
    apply(gallery, [("log.jsonl", 0, b"1\n")])  # what the gallery held when the seed was sent out
    (run / "log.jsonl").write_bytes(b"1\n2\n")
    (run / ".lock").write_bytes(b"")
    sync = FolderSync(run, read_folder(gallery))
    sent = []

    def step() -> list:
        entries = sync.changes()
        apply(gallery, entries)
        sent.append(entries)
        return entries

    assert step() == [("log.jsonl", 2, b"2\n")]
    assert step() == []
    (run / "frames" / "000001.png").write_bytes(b"png")
    (run / "checkpoint.json").write_bytes(b"{}")
    assert step() == [("frames/000001.png", 0, b"png"), ("checkpoint.json", 0, b"{}")]
    (run / "log.jsonl").write_bytes(b"1\nX\n3\n")  # cut back on resume, then grown past the old end
    assert step() == [("log.jsonl", 0, b"1\nX\n3\n")]
    (run / "log.jsonl").write_bytes(b"1\nX\n3\n4\n")
    assert step() == [("log.jsonl", 6, b"4\n")]
    assert read_folder(gallery) == read_folder(run)  # the gallery's copy is the run folder, lock aside
    assert ".lock" not in read_folder(run)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--address", "127.0.0.1:1"], "option --address needs --engine ray"),
        (["--engine", "ray", "--address", "127.0.0.1:1"], "--address 127.0.0.1:1: no Ray cluster answers there"),
    ],
)
def test_bad_address_is_one_line_and_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from polyface.cli import cli

    if "ray" in args:
        pytest.importorskip("ray")
    result = CliRunner().invoke(cli, ["gallery", "-n", "1", *args, "--out", str(tmp_path / "g")])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"polyface: error: {message}"), lines
    assert not (tmp_path / "g" / "0").exists()


@pytest.mark.parametrize(
    "msg",
    [None, [], {"node": "n", "files": "x"}, {"node": 1, "files": []}, {"node": "n", "files": [], "outcome": ("won", "")},
     {"node": "n", "files": [], "outcome": "done"}, {"node": "n", "files": [], "outcome": ("done",)}],
)
def test_malformed_task_messages_are_refused(msg) -> None:
    from polyface.engines.ray import _check_message  # importable without Ray: only the engine needs it

    with pytest.raises(TransferError):
        _check_message(msg)


def test_task_message_is_read() -> None:
    from polyface.engines.ray import _check_message

    assert _check_message({"node": "n", "files": [], "outcome": None}) == ("n", [], None)
    assert _check_message({"node": "n", "files": [], "outcome": ("done", "x" * 5000)})[2] == ("done", "x" * 1000)


class ScriptedEngine:
    """An engine for the orchestration only: each seed 'finishes' at once with a result.json
    (seed 2 fails), no evolution."""

    name, workers = "scripted", 1

    def start(self) -> None:
        pass

    def run(self, job, seeds):
        from polyface.engines import SeedOutcome

        for s in seeds:
            yield SeedOutcome(s, "running")
            if s == 2:
                yield SeedOutcome(s, "failed", "ValueError: scripted")
                continue
            (job.out_dir / str(s)).mkdir()
            (job.out_dir / str(s) / "result.json").write_text(json.dumps({"seed": s, "status": "done", "best": 1.0}))
            yield SeedOutcome(s, "done")

    def close(self) -> None:
        pass


def test_gallery_orchestration_progress_and_pages(tmp_path: Path) -> None:
    from polyface.batch import run_gallery
    from polyface.config import Config

    (tmp_path / "0").mkdir()
    (tmp_path / "0" / "result.json").write_text(json.dumps({"seed": 0, "status": "done", "best": 1.0}))
    seen = []

    def on_event(o, p) -> None:
        index = tmp_path / "index.html"
        listed = index.read_text().count("data-seed=") if index.exists() else 0
        seen.append((o.seed, o.status, p.done, p.running, p.failed, p.skipped, listed))

    outcomes = run_gallery(Config(), 6, tmp_path, engine=ScriptedEngine(), on_event=on_event,
                           pages_every=2, pages_interval_s=0)
    assert [(o.seed, o.status) for o in outcomes] == [(0, "skipped"), (1, "done"), (2, "failed"), (3, "done"),
                                                      (4, "done"), (5, "done")]
    assert seen[0] == (0, "skipped", 0, 0, 0, 1, 0)
    finals = [row for row in seen if row[1] != "running"]
    # (seed, status, done, running, failed, skipped, runs listed in index.html after the event)
    assert finals[1:] == [(1, "done", 1, 0, 0, 1, 0), (2, "failed", 1, 0, 1, 1, 0), (3, "done", 2, 0, 1, 1, 3),
                          (4, "done", 3, 0, 1, 1, 3), (5, "done", 4, 0, 1, 1, 5)]
    assert [row[3] for row in seen if row[1] == "running"] == [1, 1, 1, 1, 1]
    assert (tmp_path / "index.html").read_text().count("data-seed=") == 5  # and once more at the end


def _resident_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads /proc (Linux)")
def test_freed_heap_goes_back_to_the_system_between_seeds() -> None:
    import ctypes

    from polyface.engines.seed import release_free_heap

    libc = ctypes.CDLL(None)
    if not hasattr(libc, "malloc_trim"):
        pytest.skip("not glibc")
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    m_trim_threshold = -1
    # As a seed's checks at large sizes leave the heap: ~300 MB of blocks under the mmap threshold,
    # freed, that free() keeps (here for sure: no trimming on free while the test runs).
    assert libc.mallopt(m_trim_threshold, 1 << 30)
    try:
        blocks = [libc.malloc(100_000) for _ in range(3000)]
        for b in blocks:
            ctypes.memset(b, 1, 100_000)
        for b in blocks:
            libc.free(b)
        before = _resident_mb()
        assert release_free_heap()
        assert before - _resident_mb() > 200, "the ~300 MB freed stayed resident"
    finally:
        libc.mallopt(m_trim_threshold, 128 * 1024)  # glibc's default


def test_a_worker_trims_its_heap_after_every_seed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from polyface.engines import seed as seed_module
    from polyface.preset import load_preset

    calls = []
    monkeypatch.setattr(seed_module, "release_free_heap", lambda: calls.append(1) or True)
    cfg = load_preset(str(_preset(tmp_path))).replace(max_generations=2, polish=0)
    for s in (1, 2):
        assert seed_module.run_seed(cfg, tmp_path / "g", s, gif=False).status == "done"
    assert len(calls) == 2


def _preset(tmp_path: Path) -> Path:
    p = tmp_path / "short.toml"
    p.write_text(LONG_PRESET)
    return p


def test_an_append_to_a_crafted_gallery_copy_is_refused_without_reading_it(tmp_path, monkeypatch):
    """The gallery's copy of a seed's log is where a crafted folder can hide a FIFO or a
    multi-GB sparse file: an append to either is one TransferError, with no hang or huge read."""
    import os

    from polyface.engines import transfer

    seed = tmp_path / "1"
    seed.mkdir()
    os.mkfifo(seed / "log.jsonl")
    with pytest.raises(transfer.TransferError, match="log.jsonl"):
        transfer.apply(seed, [("log.jsonl", 3, b"x\n")])
    (seed / "log.jsonl").unlink()
    with open(seed / "log.jsonl", "wb") as f:
        f.truncate(transfer.MAX_FILE + 1)
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail(f"read whole: {self}"))
    with pytest.raises(transfer.TransferError, match="log.jsonl"):
        transfer.apply(seed, [("log.jsonl", 3, b"x\n")])
