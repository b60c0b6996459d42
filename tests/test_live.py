"""The live page: the in-memory hook, the server's paths and headers, score.svg, and a real
headless Chromium watching a short real run (``-m browser``)."""

from __future__ import annotations

import base64
import http.client
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from polyface.preset import load_preset
from polyface.judge.score import PASS_TIER
from polyface.genome_io import from_json
from polyface.run import evolve
from polyface.runio.live import LiveState
from polyface.runio.live_server import PageServer, safe_file
from polyface.runio.live_view import detector_view, png_bytes
from polyface.runio.plot import score_svg

ROOT = Path(__file__).resolve().parents[1]
SVG = "{http://www.w3.org/2000/svg}"
TINY = dict(seed=2, work_size=48, polygons=10, population=6, size=96, frame_size=48, verify_sizes=(48,))


def tiny_cfg(**changes):
    return load_preset("default").replace(**{**TINY, **changes})


@pytest.fixture(scope="module")
def live_run(tmp_path_factory) -> tuple[LiveState, Path]:
    out = tmp_path_factory.mktemp("live") / "run"
    cfg = tiny_cfg(max_generations=6)
    state = LiveState(out, cfg.to_dict())
    evolve(cfg, out=out, hooks=[state])
    return state, out


@pytest.fixture()
def server(live_run):
    srv = PageServer(live_run[0]).start()
    yield srv
    srv.stop()


def get(srv: PageServer, path: str, host: str | None = None) -> tuple[int, dict, bytes]:
    """A raw GET: the path goes out exactly as written (no client-side normalising)."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    conn.putrequest("GET", path, skip_host=True)
    conn.putheader("Host", host or f"127.0.0.1:{srv.port}")
    conn.endheaders()
    res = conn.getresponse()
    body = res.read()
    conn.close()
    return res.status, dict(res.getheaders()), body


def test_hook_keeps_the_run_in_memory(live_run) -> None:
    state, out = live_run
    s = state.state(0, 0)
    assert s["status"] == "ended" and s["ended"]["status"] == "max_generations"
    assert s["n_points"] == 6 and [p[0] for p in s["points"]] == [1, 2, 3, 4, 5, 6]
    history = (out / "history.jsonl").read_text().splitlines()
    assert s["n_frames"] == len(history) and s["frames"][-1][0] == json.loads(history[-1])["generation"]
    assert len(s["population"]["scores"]) == 6 + 4  # children + re-scored elites (noisy preset)
    assert state.frame(s["n_frames"] - 1) == from_json((out / "genome.json").read_text())
    assert state.state(6, s["n_frames"])["points"] == []  # only what the page has not seen yet
    assert {"best.png", "best.svg", "score.svg", "genome.json"} <= set(s["files"])


def test_the_page_writes_nothing_to_the_run_folder(live_run, tmp_path: Path) -> None:
    _, with_page = live_run
    plain = tmp_path / "plain"
    evolve(tiny_cfg(max_generations=6), out=plain)
    listing = lambda d: sorted(str(p.relative_to(d)) for p in d.rglob("*"))
    assert listing(with_page) == listing(plain)


def test_endpoints_and_headers(server, live_run) -> None:
    state, out = live_run
    code, headers, html = get(server, "/")
    assert code == 200 and "default-src 'none'" in headers["Content-Security-Policy"]
    text = html.decode()
    assert 'src="/page.js"' in text and "http://" not in text and "https://" not in text
    for asset in ("/page.css", "/page.js"):
        code, headers, body = get(server, asset)
        assert code == 200 and "Content-Security-Policy" in headers
        assert b"https://" not in body and body.count(b"http://") == body.count(b"http://www.w3.org/2000/svg")
    code, _, body = get(server, "/api/state?p=0&f=0")
    assert code == 200 and json.loads(body)["n_points"] == 6
    last = state.state(0, 0)["n_frames"] - 1
    code, headers, png = get(server, f"/api/frame/{last}.png")
    assert code == 200 and headers["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(png)).size == (384, 384)
    assert png == png_bytes(from_json((out / "genome.json").read_text()), 384)
    code, _, body = get(server, f"/api/frame/{last}.json")
    view = json.loads(body)
    # Every member of the run's judge (the default preset's), each with its yes or no.
    assert view["size"] == 48 and [d["name"] for d in view["detectors"]] == ["mtcnn", "blazeface", "prior", "haar"]
    assert all(isinstance(d["portrait"], bool) for d in view["detectors"])
    assert view["detectors"][0]["colour"].startswith("#") and len(view["detectors"][0]["point_names"]) == 5
    code, _, png = get(server, "/api/pop/6.png")
    sprite = Image.open(io.BytesIO(png)).convert("RGB")
    assert code == 200 and sprite.size == (8 * 58 - 2, 2 * 58 - 2)  # ten candidates, eight a row
    gen, genomes, scores = state.population()
    best = genomes[int(np.argmax(scores))]
    cell = Image.open(io.BytesIO(png_bytes(best, 56))).convert("RGB")
    assert np.array_equal(np.asarray(sprite)[:56, :56], np.asarray(cell))  # best first
    assert get(server, "/api/pop/6/0.png")[0] == 404
    assert get(server, f"/api/frame/{last + 1}.png")[0] == 404
    assert get(server, "/files/best.png")[2] == (out / "best.png").read_bytes()


@pytest.mark.parametrize(
    "path",
    [
        "/files/../config.toml",
        "/files/%2e%2e%2fconfig.toml",
        "/files/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/files/..%2F..%2Fetc%2Fpasswd",
        "/files/%2Fetc%2Fpasswd",
        "/files//etc/passwd",
        "/files/frames%2F000001.png",
        "/files/config.toml",
        "/files/checkpoint.json",
        "/files/best.png%00.txt",
        "/files/%252e%252e%252fconfig.toml",
        "/etc/passwd",
        "/../../etc/passwd",
        "/page.html",
        "/web/page.js",
    ],
)
def test_nothing_outside_the_listed_files(server, path) -> None:
    code, headers, body = get(server, path)
    assert code == 404 and b"root:" not in body and b"seed" not in body
    assert "Content-Security-Policy" in headers


def test_symlinks_out_of_the_folder_are_refused(live_run, tmp_path: Path) -> None:
    _, out = live_run
    secret = tmp_path / "secret.gif"
    secret.write_bytes(b"GIF89a secret")
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "evolution.gif").symlink_to(secret)
    (folder / "best.pdf").symlink_to("../secret.gif")
    shutil.copy(out / "best.png", folder / "best.png")
    (folder / "best.svg").symlink_to(folder / "best.png")  # inside the folder: fine
    assert safe_file(folder, "evolution.gif") is None and safe_file(folder, "best.pdf") is None
    assert safe_file(folder, "best.svg") == (folder / "best.png").resolve()
    srv = PageServer(LiveState(folder)).start()
    try:
        assert get(srv, "/files/evolution.gif")[0] == 404
        assert get(srv, "/files/best.pdf")[0] == 404
        assert get(srv, "/files/best.png")[0] == 200
    finally:
        srv.stop()


def test_other_host_names_are_refused(server) -> None:
    assert get(server, "/", host="evil.example:80")[0] == 403
    assert get(server, "/api/state", host=f"localhost:{server.port}")[0] == 200


def test_the_page_shows_each_members_verdict_on_a_genome() -> None:
    """The page's view is the judge's final-check verdict, member by member (tests/test_judge.py
    checks that it agrees with ``polyface score`` and the final check on the same images)."""
    genome = from_json((Path(__file__).parent / "data" / "genome_framed.json").read_text())
    view = detector_view(genome, 64, load_preset("default").to_dict())
    assert [d["name"] for d in view["detectors"]] == ["mtcnn", "blazeface", "prior", "haar"]
    assert view["portrait"] and all(d["portrait"] for d in view["detectors"])
    faces = view["detectors"][0]["faces"]
    assert len(faces) == 1 and len(view["detectors"][1]["faces"]) == 1
    assert view["detectors"][2]["correlation"] >= 0.3
    x0, y0, x1, y1 = faces[0]["box"]
    assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1 and x1 - x0 > 0.5
    assert faces[0]["prob"] > 0.99 and len(faces[0]["points"]) == 5
    (lex, ley), (rex, _), (nx, ny), (mlx, mly), _ = faces[0]["points"]
    assert lex < nx < rex and ley < ny < mly  # eyes, then nose, then mouth, down the face
    plain = detector_view(genome, 64, {})  # no settings: the plain Config's judge, MTCNN alone
    assert [d["name"] for d in plain["detectors"]] == ["mtcnn"]


def test_score_svg_curve_pass_line_and_sparkline() -> None:
    pts = [(g, 0.5 + g / 10, 0.4 + g / 20) for g in range(1, 31)]
    root = ET.fromstring(score_svg(pts, 300, 120))
    lines = {p.get("class"): p.get("points").split() for p in root.iter(f"{SVG}polyline")}
    assert len(lines["best"]) == 30 and len(lines["mean"]) == 30
    ys = [float(p.split(",")[1]) for p in lines["best"]]
    assert ys == sorted(ys, reverse=True)  # a rising score climbs up the picture
    pass_y = float(next(root.iter(f"{SVG}line")).get("y1"))
    assert pass_y > ys[-1]  # the curve ends above the pass tier (3.5 > 2)
    spark = ET.fromstring(score_svg(pts, 120, 30, pass_tier=PASS_TIER, sparkline=True))
    assert not list(spark.iter(f"{SVG}text")) and len(list(spark.iter(f"{SVG}polyline"))) == 1
    many = ET.fromstring(score_svg([(g, 1.0, None) for g in range(5000)]))
    assert len(next(many.iter(f"{SVG}polyline")).get("points").split()) == 600


def test_run_folder_gets_score_svg(live_run) -> None:
    _, out = live_run
    root = ET.fromstring((out / "score.svg").read_text())
    best = [p for p in root.iter(f"{SVG}polyline") if p.get("class") == "best"]
    assert len(best[0].get("points").split()) == 7  # six generations and the final line
    assert not list(out.glob(".*.tmp"))


# ---- a real browser ---------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no chromium (apt-get install -y chromium)")


class Chrome:
    """Headless Chromium driven over its DevTools protocol: navigate, evaluate, screenshot, and
    every request the page made (``requests``) and every script error (``errors``)."""

    def __init__(self, tmp: Path) -> None:
        websocket = pytest.importorskip("websocket")
        profile = tmp / "profile"
        (profile / "DevToolsActivePort").unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--remote-debugging-port=0", "--window-size=1280,1000", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        port_file = profile / "DevToolsActivePort"
        for _ in range(300):
            if port_file.is_file() and len(port_file.read_text().splitlines()) >= 2:
                break
            time.sleep(0.1)
        port = int(port_file.read_text().splitlines()[0])
        targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30).read())
        page = next(t for t in targets if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60, suppress_origin=True)
        self.timeout = websocket.WebSocketTimeoutException
        self.next_id, self.requests, self.errors = 0, [], []
        for domain in ("Page", "Network", "Runtime", "Log"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride", width=1280, height=1000, deviceScaleFactor=1, mobile=False)

    def _event(self, msg: dict) -> None:
        if msg.get("method") == "Network.requestWillBeSent":
            self.requests.append(msg["params"]["request"]["url"])
        elif msg.get("method") == "Runtime.exceptionThrown":
            self.errors.append(msg["params"]["exceptionDetails"].get("text", "exception"))
        elif msg.get("method") == "Runtime.consoleAPICalled" and msg["params"]["type"] == "error":
            self.errors.append(str(msg["params"]["args"]))
        elif msg.get("method") == "Log.entryAdded" and msg["params"]["entry"]["level"] == "error":
            entry = msg["params"]["entry"]  # a blocked request (CSP) lands here too
            self.errors.append(f"{entry['text']} {entry.get('url', '')}".strip())

    def send(self, method: str, **params) -> dict:
        self.next_id += 1
        self.ws.settimeout(60)
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                assert "error" not in msg, msg
                return msg.get("result", {})
            self._event(msg)

    def eval(self, expr: str):
        res = self.send("Runtime.evaluate", expression=expr, returnByValue=True)
        assert "exceptionDetails" not in res, res
        return res["result"].get("value")

    def goto(self, url: str) -> None:
        """Navigate and wait until the page has loaded."""
        self.send("Page.navigate", url=url)
        for _ in range(300):
            if self.eval(f"location.href === {json.dumps(url)} && document.readyState === 'complete'"):
                return
            time.sleep(0.1)
        raise AssertionError(f"{url} did not load")

    def screenshot(self, path: Path) -> Path:
        path.write_bytes(base64.b64decode(self.send("Page.captureScreenshot", format="png")["data"]))
        return path

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


PAGE_STATE = """(() => { const img = document.getElementById('portrait');
  const pop = [...document.querySelectorAll('#pop img')];
  return {frame: img.dataset.frame || null, loaded: img.complete && img.naturalWidth > 0,
          points: Number(document.getElementById('plot').dataset.points || 0),
          ended: document.body.dataset.ended || null, banner: document.getElementById('ended').textContent,
          toggles: document.getElementById('toggles').textContent,
          boxes: document.querySelectorAll('#overlay rect').length,
          pop: pop.length, pop_loaded: pop.filter((i) => i.complete && i.naturalWidth > 0).length,
          files: [...document.querySelectorAll('#files a')].map((a) => a.getAttribute('href'))}; })()"""


def cli_process(args: list[str]) -> tuple[subprocess.Popen, str]:
    """``polyface ARGS`` in a child process, and the URL it prints first."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "polyface.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    url = proc.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:"), (url, proc.stderr.read() if proc.poll() is not None else "")
    return proc, url


def only_local(requests: list[str], url: str) -> list[str]:
    """The requests that went anywhere but the page's own server."""
    return [r for r in requests if not r.startswith(url)]


@pytest.mark.browser
@pytest.mark.slow
@needs_chromium
def test_browser_watches_a_live_run(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["evolve", "--live", "--port", "0", "--seed", "3", "--time-limit", "15", "--set", "work_size=48",
            "--polygons", "10", "--set", "population=6", "--size", "96", "--set", "frame_size=48", "-q", "--out", str(out)]
    proc, url = cli_process(args)
    chrome = Chrome(tmp_path)
    try:
        chrome.goto(url)
        seen, shot, state = [], None, {}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            state = chrome.eval(PAGE_STATE)
            if state["loaded"] and state["frame"] is not None and state["frame"] not in seen:
                seen.append(state["frame"])
            if shot is None and len(seen) >= 3 and state["pop_loaded"] >= 1:
                shot = chrome.screenshot(tmp_path / "live-page.png")
            if state["ended"]:
                break
            time.sleep(0.3)
        time.sleep(1.0)
        final = chrome.eval(PAGE_STATE)
        chrome.screenshot(tmp_path / "live-page-ended.png")
        requests = list(chrome.requests)
    finally:
        chrome.close()
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    assert len(seen) >= 3, f"the portrait changed {len(seen) - 1} times: {seen}"
    assert final["points"] > 0 and "MTCNN" in final["toggles"]
    assert final["ended"] in ("time_limit", "target") and "The run has ended" in final["banner"] and final["loaded"]
    assert shot is not None and Image.open(shot).size == (1280, 1000)
    assert any("/api/pop/" in r for r in requests) and any(r.endswith(".json") for r in requests)
    assert only_local(requests, url) == [] and chrome.errors == []
    port = int(url.rsplit(":", 1)[1].strip("/"))
    with pytest.raises(OSError):  # the server stopped with the command
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    print(f"screenshots: {tmp_path / 'live-page.png'} {tmp_path / 'live-page-ended.png'}")


@pytest.mark.slow
def test_ctrl_c_with_the_page_open_still_saves_the_best(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["evolve", "--live", "--seed", "4", "--time-limit", "120", "--set", "work_size=48", "--polygons", "10",
            "--set", "population=6", "--size", "96", "--set", "frame_size=48", "-q", "--out", str(out)]
    proc, url = cli_process(args)
    for _ in range(600):
        with urllib.request.urlopen(url + "api/state", timeout=30) as r:
            if json.loads(r.read())["n_frames"] >= 2:
                break
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    assert json.loads((out / "result.json").read_text())["status"] == "interrupted"
    assert from_json((out / "genome.json").read_text()).n_polygons > 0 and (out / "best.png").is_file()
    assert proc.stdout.read().strip() == str(out)  # the URL first, the run folder last


def test_a_connection_that_sends_nothing_is_closed(server, monkeypatch) -> None:
    """A client that connects and says nothing must not hold a server thread forever."""
    import socket

    from polyface.runio import live_server

    assert live_server.Handler.timeout is not None and 0 < live_server.Handler.timeout <= 60
    monkeypatch.setattr(live_server.Handler, "timeout", 0.5)  # the same path, sooner
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        start = time.monotonic()
        assert s.recv(1024) == b""  # closed by the server, not by our own timeout
        assert time.monotonic() - start < 5


@pytest.mark.parametrize("args", [["--out", "a-file"], ["--resume", "no-such-run"], ["--resume", "a-file"]])
def test_live_refuses_a_bad_folder_before_it_prints_a_url(tmp_path, monkeypatch, args) -> None:
    from click.testing import CliRunner

    from polyface.cli import cli

    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file").write_text("not a run\n")
    result = CliRunner().invoke(cli, ["evolve", "--live", "--quiet", "--seed", "1", *args])
    assert result.exit_code == 2, result.output
    assert "http://" not in result.output


def test_served_files_are_streamed_with_a_size_cap(server, live_run, monkeypatch) -> None:
    """A 3 GB sparse file in the run folder is refused (413) without being read; a file under
    the cap comes whole, read in pieces, never with a whole-file read."""
    import polyface.runio.live_server as live_server

    _, out = live_run
    huge = out / "evolution.mp4"
    with open(huge, "wb") as f:
        f.truncate(3 << 30)
    try:
        monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail(f"read whole: {self}"))
        code, _, body = get(server, "/files/evolution.mp4")
        assert code == 413 and len(body) < 100
        monkeypatch.setattr(live_server, "CHUNK", 1000)
        code, headers, body = get(server, "/files/best.png")
        monkeypatch.undo()
        assert code == 200 and body == (out / "best.png").read_bytes() and int(headers["Content-Length"]) == len(body)
    finally:
        huge.unlink()
