"""``polyface show RUN``: the run folder read as untrusted input, the page of a finished run,
and a real headless Chromium scrubbing through its frames (``-m browser``)."""

from __future__ import annotations

import json
import shutil
import signal
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from polyface.cli import cli
from polyface.run import evolve
from polyface.runio.live_server import PageServer
from polyface.runio.live_show import RunReader, ShowError
from test_live import PAGE_STATE, Chrome, cli_process, get, needs_chromium, only_local, tiny_cfg


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("show") / "run"
    evolve(tiny_cfg(seed=5, max_generations=12), out=out)
    return out


@pytest.fixture()
def run_copy(finished, tmp_path: Path) -> Path:
    dst = tmp_path / "run"
    shutil.copytree(finished, dst)
    return dst


def test_reader_frames_curve_and_files(finished) -> None:
    r = RunReader(finished)
    s = r.state(0, 0)
    history = (finished / "history.jsonl").read_text().splitlines()
    assert s["n_frames"] == len(history) >= 2
    assert [f[0] for f in s["frames"]] == [json.loads(h)["generation"] for h in history]
    assert s["n_points"] == 13 and s["points"][-1][3] is None  # 12 generations and the final line
    assert s["status"] == "ended" and s["ended"]["status"] == "max_generations"
    assert {"best.png", "best.svg", "score.svg", "genome.json"} <= set(s["files"])
    assert r.frame(0) is not None and r.frame(len(history)) is None
    assert r.meta()["mode"] == "show" and r.meta()["settings"]["seed"] == 5


def test_running_run_is_followed_line_by_line(run_copy: Path) -> None:
    history = run_copy / "history.jsonl"
    lines = history.read_text().splitlines(keepends=True)
    history.write_text("".join(lines[:1]) + lines[1][:40])  # the second line still being written
    (run_copy / "result.json").unlink()
    r = RunReader(run_copy)
    s = r.state(0, 0)
    assert s["n_frames"] == 1 and s["status"] == "running"
    history.write_text("".join(lines))
    assert r.state(0, 1)["n_frames"] == len(lines)
    assert len(r.state(0, 1)["frames"]) == len(lines) - 1


@pytest.fixture()
def no_serving(monkeypatch):
    """Where a bad folder is read without error, ``show`` would serve until Ctrl-C: stop it
    at once instead (exit 130), so that the test fails rather than hangs."""
    import polyface.runio.live as live

    class Refuse(live.PageServer):
        def start(self):
            self.server_close()
            raise KeyboardInterrupt

    monkeypatch.setattr(live, "PageServer", Refuse)


def _break_line(run: Path, name: str, change) -> None:
    path = run / name
    lines = path.read_text().splitlines()
    doc = json.loads(lines[0])
    lines[0] = change(doc) if callable(change) else change
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    "name, change, message",
    [
        ("history.jsonl", "{not json", "history.jsonl: line 1: not a JSON object"),
        ("history.jsonl", "[1, 2]", "history.jsonl: line 1: not a JSON object"),
        ("history.jsonl", lambda d: json.dumps({**d, "generation": -3}), "line 1: field 'generation' must be an integer"),
        ("history.jsonl", lambda d: json.dumps({**d, "best": "high"}), "line 1: field 'best' must be a finite number"),
        ("history.jsonl", lambda d: json.dumps({**d, "genome": {**d["genome"], "mode": "cmyk"}}),
         "line 1: field 'genome': field 'mode'"),
        ("history.jsonl", lambda d: json.dumps({k: v for k, v in d.items() if k != "genome"}),
         "line 1: field 'genome': a genome must be a JSON object"),
        ("log.jsonl", lambda d: json.dumps({**d, "elapsed_s": None}), "log.jsonl: line 1: field 'elapsed_s'"),
        ("log.jsonl", "\xff\xfe", "log.jsonl: line 1: not a JSON object"),
    ],
)
def test_bad_run_folders_end_in_one_line(run_copy: Path, name, change, message, no_serving) -> None:
    _break_line(run_copy, name, change)
    with pytest.raises(ShowError, match=message.replace("(", r"\(")):
        RunReader(run_copy)
    res = CliRunner().invoke(cli, ["show", str(run_copy)])
    assert res.exit_code == 2 and "Traceback" not in res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and str(run_copy) in lines[0]


@pytest.mark.parametrize(
    "prepare, message",
    [
        (lambda run: shutil.rmtree(run), "not a run folder (no such folder)"),
        (lambda run: (run / "config.toml").unlink(), "config.toml: missing"),
        (lambda run: (run / "config.toml").write_text("seed = = 1"), "config.toml: not valid TOML"),
        (lambda run: (run / "history.jsonl").unlink(), "history.jsonl: missing or empty"),
    ],
)
def test_missing_pieces_end_in_one_line(run_copy: Path, prepare, message, no_serving) -> None:
    prepare(run_copy)
    res = CliRunner().invoke(cli, ["show", str(run_copy)])
    assert res.exit_code == 2 and "Traceback" not in res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], res.stderr


def test_bad_port_is_one_line(finished, no_serving) -> None:
    res = CliRunner().invoke(cli, ["show", str(finished), "--port", "70000"])
    assert res.exit_code == 2 and res.stderr.strip() == "polyface: error: option --port must be an integer in 0..65535, got 70000"
    srv = PageServer(RunReader(finished)).start()
    try:
        res = CliRunner().invoke(cli, ["show", str(finished), "--port", str(srv.port)])
        assert res.exit_code == 2 and f"cannot listen on 127.0.0.1:{srv.port}" in res.stderr
    finally:
        srv.stop()


def test_a_line_that_breaks_later_keeps_the_page_up(run_copy: Path) -> None:
    r = RunReader(run_copy)
    n = r.state(0, 0)["n_frames"]
    with open(run_copy / "history.jsonl", "a") as f:
        f.write("garbage\n")
    s = r.state(0, n)
    assert s["n_frames"] == n and "line" in s["error"] and "not a JSON object" in s["error"]
    srv = PageServer(r).start()
    try:
        assert get(srv, "/api/frame/0.png")[0] == 200
    finally:
        srv.stop()


@pytest.mark.browser
@needs_chromium
def test_browser_shows_a_finished_run_and_scrubs(finished, tmp_path: Path) -> None:
    proc, url = cli_process(["show", str(finished), "--port", "0"])
    chrome = Chrome(tmp_path)
    try:
        chrome.goto(url)
        state = {}
        for _ in range(200):
            state = chrome.eval(PAGE_STATE)
            if state["loaded"] and state["ended"] and state["files"] and "MTCNN" in state["toggles"]:
                break
            time.sleep(0.2)
        n = len((finished / "history.jsonl").read_text().splitlines())
        assert state["frame"] == str(n - 1) and state["points"] == 13
        assert {"/files/best.png", "/files/best.svg", "/files/score.svg"} <= set(state["files"])
        chrome.screenshot(tmp_path / "show-page-end.png")
        frames = []
        for k in (0, n // 2):
            chrome.eval(f"(() => {{ const s = document.getElementById('scrub'); s.value = '{k}';"
                        " s.dispatchEvent(new Event('input')); })()")
            for _ in range(100):
                state = chrome.eval(PAGE_STATE)
                label = chrome.eval("document.getElementById('frame-label').textContent")
                if state["frame"] == str(k) and state["loaded"]:
                    break
                time.sleep(0.1)
            frames.append((state["frame"], label))
        cursor = chrome.eval("document.querySelectorAll('#plot .cursor').length")
        shot = chrome.screenshot(tmp_path / "show-page-scrubbed.png")
        requests = list(chrome.requests)
    finally:
        chrome.close()
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)
    assert [f for f, _ in frames] == ["0", str(n // 2)]
    assert frames[0][1].startswith(f"frame 1 of {n}") and cursor == 1
    assert any(r.endswith("/api/frame/0.json") for r in requests)
    assert any(r.endswith("/api/frame/0.png") for r in requests)
    assert only_local(requests, url) == [] and chrome.errors == []
    assert Image.open(shot).size == (1280, 1000)
    assert code == 0
    print(f"screenshots: {tmp_path / 'show-page-end.png'} {shot}")
