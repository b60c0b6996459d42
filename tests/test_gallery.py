"""Gallery: collecting runs, the contact sheet, index.html (and, with Chromium, that it loads)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np
import pytest
from PIL import Image

from polyface.genome import Genome, random_genome
from polyface.render.cairo import save
from polyface.runio.contact_sheet import contact_sheet
from polyface.runio.index_page import write_index
from polyface.runio.results import RunSummary, by_score, collect
from test_live import Chrome

HOSTILE = "<script>alert(1)</script>"


def make_run(
    gallery: Path,
    seed: int,
    best: float | None = 1.0,
    status: str = "done",
    preset: str = "default",
    background: tuple[float, float, float] | None = None,
    png: bool = True,
    svg: bool = True,
    gif: bool = False,
    genome: bool = True,
    log: list[float] | None = None,
) -> Path:
    """A finished run folder ``gallery/<seed>/`` with a real Cairo portrait.

    With ``background`` the genome has no polygons: its picture is that flat colour. With
    ``log`` the folder gets a log.jsonl of those best scores, one line per 10 generations.
    """
    run = gallery / str(seed)
    run.mkdir(parents=True)
    if background is None:
        g = random_genome(np.random.default_rng(seed), 15, 4)
    else:
        g = Genome(np.zeros((0, 3, 2)), np.zeros((0, 4)), np.asarray(background))
    if genome:
        (run / "genome.json").write_text(g.to_json())
    if png:
        save(g, run / "best.png", 64)
    if svg:
        save(g, run / "best.svg", 64)
    if gif:
        frames = [Image.new("RGB", (16, 16), c) for c in ("red", "blue")]
        frames[0].save(run / "evolution.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    if log is not None:
        lines = [{"generation": 10 * i, "evaluations": 400 * i, "best": b, "mean": b - 0.5, "elapsed_s": 0.5 * i,
                  "portrait": b > 1.0, "note": HOSTILE} for i, b in enumerate(log)]
        (run / "log.jsonl").write_text("".join(json.dumps(d) + "\n" for d in lines))
    result = {"seed": seed, "preset": preset, "status": status, "best": best, "min_prob": 0.875,
              "portrait": True, "generations": 120, "evaluations": 4800, "elapsed_s": 95.5}
    (run / "result.json").write_text(json.dumps(result))
    return run


class Tags(HTMLParser):
    """Every start tag of a page with its attributes."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag]


@pytest.fixture
def gallery(tmp_path: Path) -> Path:
    g = tmp_path / "gallery"
    make_run(g, 3, best=1.5, gif=True, log=[-1.0, 0.2, 0.2, 1.1, 1.5])
    make_run(g, 11, best=2.5, status="interrupted", preset=HOSTILE, log=[0.5, 2.5])
    make_run(g, 7, best=0.5, svg=False, log=[0.0, 0.5, 0.5])
    make_run(g, 20, best=None, png=False)
    (g / "12").mkdir()  # still running: no result.json
    (g / "notes").mkdir()  # not a run
    return g


def test_collect(gallery: Path) -> None:
    bad = gallery / "30"
    bad.mkdir()
    (bad / "result.json").write_text("{not json")
    runs = collect(gallery)
    assert [r.seed for r in runs] == [3, 7, 11, 20]
    by_seed = {r.seed: r for r in runs}
    assert by_seed[11].finished is False and by_seed[11].status == "interrupted"
    assert by_seed[3].finished and by_seed[3].best == 1.5 and by_seed[3].min_prob == 0.875
    assert by_seed[3].gif is not None and by_seed[7].gif is None and by_seed[7].svg is None
    assert by_seed[20].best is None and by_seed[20].png is None
    assert [r.seed for r in by_score(runs)] == [11, 3, 7, 20]
    assert isinstance(runs[0], RunSummary) and runs[0].name == "3"


def _runs_of(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of each run of True in a 1-D mask."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return [(int(a), int(b - a)) for a, b in zip(edges[::2], edges[1::2])]


def test_contact_sheet_grid(tmp_path: Path) -> None:
    g = tmp_path / "g"
    runs = [make_run(g, s, best=float(s), background=(1.0, 0.0, 0.0)) for s in range(5)]
    summaries = collect(g)
    out = contact_sheet(summaries, g / "contact-sheet.png", tile=64, columns=3)
    assert out == g / "contact-sheet.png" and len(runs) == 5
    sheet = np.asarray(Image.open(out).convert("RGB")).astype(int)
    red = (sheet[..., 0] > 200) & (sheet[..., 1] < 40) & (sheet[..., 2] < 40)
    cols, rows = _runs_of(red.any(axis=0)), _runs_of(red.any(axis=1))
    assert [n for _, n in cols] == [64, 64, 64] and [n for _, n in rows] == [64, 64]
    assert red.sum() == 5 * 64 * 64
    h, w = sheet.shape[:2]
    assert w < 3 * 64 + 4 * 16 and h < 2 * 64 + 2 * 48 + 3 * 16  # margins and label lines, not more
    # seed and score are written beneath each tile: dark text on the neutral background
    below = sheet[rows[0][0] + 64 : rows[1][0], cols[0][0] : cols[0][0] + 64]
    assert (below.max(axis=2) < 100).sum() > 20
    assert np.ptp(sheet[0, :]) == 0  # the top margin is one flat neutral colour
    assert not [p for p in g.iterdir() if p.name.endswith(".tmp")]


def test_contact_sheet_sources(tmp_path: Path) -> None:
    g = tmp_path / "g"
    a = make_run(g, 1, background=(1.0, 0.0, 0.0))
    save(Genome(np.zeros((0, 3, 2)), np.zeros((0, 4)), np.array([0.0, 0.0, 1.0])), a / "best.png", 32)
    make_run(g, 2, background=(0.0, 0.0, 1.0), genome=False)  # only best.png, resized
    make_run(g, 3, background=(0.0, 1.0, 0.0), genome=False, png=False)  # nothing to show
    out = contact_sheet(collect(g), tmp_path / "sheet.png", tile=48, columns=3)
    sheet = np.asarray(Image.open(out).convert("RGB")).astype(int)
    red = (sheet[..., 0] > 200) & (sheet[..., 1] < 40) & (sheet[..., 2] < 40)
    blue = (sheet[..., 2] > 200) & (sheet[..., 0] < 40) & (sheet[..., 1] < 40)
    green = (sheet[..., 1] > 200) & (sheet[..., 0] < 40) & (sheet[..., 2] < 40)
    assert red.sum() == 48 * 48  # the genome wins over best.png
    assert blue.sum() == 48 * 48
    assert green.sum() == 0
    assert contact_sheet([], tmp_path / "empty.png").is_file()


def test_index_escapes_sorts_and_links(gallery: Path) -> None:
    runs = collect(gallery)
    contact_sheet(runs, gallery / "contact-sheet.png", tile=32)
    page = write_index(gallery, runs)
    assert page == gallery / "index.html"
    text = page.read_text(encoding="utf-8")
    assert HOSTILE not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    tags = Tags(text)
    assert not tags.all("link") and all(s.get("src") is None for s in tags.all("script"))

    cards = [a for t, a in tags.tags if t == "figure"]
    assert [c["data-seed"] for c in cards] == ["11", "3", "7", "20"]  # best score first, no score last

    imgs = tags.all("img")
    # 20 has no PNG; only 3 has an evolution GIF, stacked over its portrait
    assert [i["src"] for i in imgs] == ["11/best.png", "3/best.png", "3/evolution.gif", "7/best.png"]
    assert [i.get("class") for i in imgs] == [None, None, "evolution", None]
    for img in imgs:
        assert "data-state" in (img["onload"] or "") and "loaded" in (img["onload"] or "")
        assert "data-state" in (img["onerror"] or "") and "broken" in (img["onerror"] or "")

    hrefs = [a["href"] for a in tags.all("a")]
    for url in hrefs + [i["src"] for i in imgs]:  # relative, and a file inside the gallery folder
        assert url and not urlsplit(url).scheme and not url.startswith(("/", "//"))
        target = (gallery / unquote(url)).resolve()
        assert target.is_file() and target.is_relative_to(gallery.resolve()), url
    assert "contact-sheet.png" in hrefs
    assert "3/evolution.gif" in hrefs and not [h for h in hrefs if h.startswith(("7/", "11/")) and h.endswith(".gif")]
    assert "3/best.svg" in hrefs and "7/best.svg" not in hrefs and "20/best.svg" in hrefs
    urls = text.replace('xmlns="http://www.w3.org/2000/svg"', "")  # a namespace name, never fetched
    assert "http://" not in urls and "https://" not in urls
    for value in ("2.500", "0.875", "120", "1 min 36 s", "interrupted"):
        assert value in text


def _chromium(args: list[str], tmp: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("chromium")
    assert exe is not None
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
           "--virtual-time-budget=5000", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90)


needs_chromium = pytest.mark.skipif(
    shutil.which("chromium") is None, reason="no chromium binary on PATH (apt-get install -y chromium)"
)


@pytest.mark.browser
@needs_chromium
def test_browser_loads_every_image(gallery: Path, tmp_path: Path) -> None:
    runs = collect(gallery)
    page = write_index(gallery, runs)
    dom = _chromium(["--dump-dom", page.as_uri()], tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    imgs = Tags(dom.stdout).all("img")
    assert [i["src"] for i in imgs] == ["11/best.png", "3/best.png", "3/evolution.gif", "7/best.png"]
    assert [i.get("data-state") for i in imgs] == ["loaded"] * 4  # the hidden GIF too
    note = [a for t, a in Tags(dom.stdout).tags if a.get("id") == "broken-note"]
    assert note and "hidden" in note[0]

    shot = tmp_path / "shot.png"
    res = _chromium(["--window-size=1200,900", f"--screenshot={shot}", page.as_uri()], tmp_path)
    assert shot.is_file(), res.stderr[-2000:]
    im = np.asarray(Image.open(shot).convert("RGB"))
    assert im.shape[:2] == (900, 1200)
    assert im.std() > 10 and len(np.unique(im.reshape(-1, 3), axis=0)) > 100  # text and portraits, not blank


@pytest.mark.browser
@needs_chromium
def test_browser_flags_broken_images_and_resorts(gallery: Path, tmp_path: Path) -> None:
    (gallery / "7" / "best.png").write_bytes(b"not a png")
    page = write_index(gallery, collect(gallery))
    dom = _chromium(["--dump-dom", page.as_uri() + "#sort=seed"], tmp_path)
    tags = Tags(dom.stdout)
    states = {i["src"]: i.get("data-state") for i in tags.all("img")}
    assert states == {"3/best.png": "loaded", "3/evolution.gif": "loaded", "7/best.png": "broken",
                      "11/best.png": "loaded"}
    assert [a["data-seed"] for t, a in tags.tags if t == "figure"] == ["3", "7", "11", "20"]
    note = [a for t, a in tags.tags if a.get("id") == "broken-note"]
    assert note and "hidden" not in note[0]


def _card_svgs(text: str) -> dict[str, list[ET.Element]]:
    """The inline <svg> elements of each card, by the card's data-seed."""
    out: dict[str, list[ET.Element]] = {}
    for seed, body in re.findall(r'<figure class="run" data-seed="(\d*)"(.*?)</figure>', text, re.S):
        out[seed] = [ET.fromstring(svg) for svg in re.findall(r"<svg\b.*?</svg>", body, re.S)]
    return out


def test_index_sparklines(gallery: Path) -> None:
    make_run(gallery, 40, best=3.0, log=[1.0, 3.0])
    (gallery / "40" / "log.jsonl").write_text('{"generation": 0, "best": "<b>bold</b>"}\n')  # fails read_log
    text = write_index(gallery, collect(gallery)).read_text(encoding="utf-8")
    assert HOSTILE not in text and "<b>bold</b>" not in text
    svgs = _card_svgs(text)
    assert sorted(svgs) == ["11", "20", "3", "40", "7"]
    assert svgs["20"] == [] and svgs["40"] == []  # no log.jsonl; an invalid one
    ns = "{http://www.w3.org/2000/svg}"
    for seed, n in (("3", 5), ("7", 3), ("11", 2)):
        (svg,) = svgs[seed]
        assert svg.findtext(f"{ns}title") == "score curve" and not svg.findall(f"{ns}text")  # no axes
        (best,) = [e for e in svg.iter(f"{ns}polyline") if e.get("class") == "best"]
        pts = [tuple(map(float, p.split(","))) for p in best.get("points").split()]
        assert len(pts) == n
        xs, ys = [x for x, _ in pts], [y for _, y in pts]
        assert xs == sorted(xs) and xs[0] < xs[-1]
        assert ys[-1] < ys[0]  # each curve ends above where it started (SVG y grows downwards)
    (pts3,) = [[float(p.split(",")[1]) for p in e.get("points").split()]
               for e in svgs["3"][0].iter(f"{ns}polyline") if e.get("class") == "best"]
    assert pts3[1] == pts3[2] and pts3[1] < pts3[0] and pts3[4] < pts3[3] < pts3[2]  # the shape of the log


def test_index_gif_shown_on_hover_by_css() -> None:
    css = (Path(write_index.__code__.co_filename).parent / "templates" / "gallery.css").read_text()
    rules = dict(re.findall(r"([^{}]+)\{([^}]*)\}", css))
    rules = {" ".join(k.split()): v for k, v in rules.items()}
    assert "display: none" in rules[".run .thumb .evolution"]
    assert "display: block" in rules[".run:hover .thumb .evolution, .run:focus-within .thumb .evolution"]


@pytest.mark.browser
@needs_chromium
def test_browser_plays_gif_on_hover_and_focus(gallery: Path, tmp_path: Path) -> None:
    page = write_index(gallery, collect(gallery))
    chrome = Chrome(tmp_path)
    shown = "getComputedStyle(document.querySelector('img.evolution')).display"
    centre = ("(function () { var r = document.querySelector('[data-seed=\"%s\"] .thumb').getBoundingClientRect();"
              " return [r.x + r.width / 2, r.y + r.height / 2]; })()")
    try:
        chrome.goto(page.as_uri())
        assert chrome.eval("document.querySelector('img.evolution').getAttribute('data-state')") == "loaded"
        assert chrome.eval(shown) == "none"
        x, y = chrome.eval(centre % 3)
        chrome.send("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)
        assert chrome.eval(shown) == "block"
        assert chrome.eval(f"document.elementFromPoint({x}, {y}).getAttribute('src')") == "3/evolution.gif"
        chrome.send("Input.dispatchMouseEvent", type="mouseMoved", x=1, y=1)
        assert chrome.eval(shown) == "none"
        chrome.eval("document.querySelector('[data-seed=\"3\"] nav a').focus()")  # keyboard focus in the card
        assert chrome.eval(shown) == "block"
        chrome.eval("document.activeElement.blur()")
        assert chrome.eval(shown) == "none"
        x, y = chrome.eval(centre % 7)  # a card without a GIF keeps its portrait on hover
        chrome.send("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)
        assert chrome.eval(f"document.elementFromPoint({x}, {y}).getAttribute('src')") == "7/best.png"
        assert chrome.errors == []  # no script error, no request the CSP blocked
        assert chrome.requests and all(r.startswith(gallery.as_uri() + "/") for r in chrome.requests)
    finally:
        chrome.close()
