"""The CLI's happy paths through click's CliRunner, on tiny runs (a few seconds each on 2 cores)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from polyface.cli import cli
from polyface.config import PROVENANCE, TOP, flatten

TINY = ["--set", "work_size=48", "--polygons", "10", "--set", "population=6", "--size", "96", "--set", "frame_size=48"]
RUN_FILES = ("genome.json", "best.png", "best.svg", "log.jsonl", "result.json", "config.toml")


def invoke(args: list[str], cwd: Path | None = None):
    old = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=True)
    finally:
        os.chdir(old)
    crash = result.exception if not isinstance(result.exception, SystemExit) else None
    assert crash is None, f"uncaught {type(crash).__name__}: {crash}\nstderr: {result.stderr}"
    assert "Traceback" not in result.output
    return result


def ok(args: list[str], cwd: Path | None = None):
    result = invoke(args, cwd)
    assert result.exit_code == 0, f"exit code {result.exit_code}; stderr: {result.stderr}"
    return result


def evolve_tiny(out: Path, *extra: str, generations: int = 8, seed: int = 5):
    return ok(["evolve", *TINY, "--max-generations", str(generations), "--seed", str(seed), "--out", out, *extra])


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny run (seed 5, 8 generations: several improvements, so several frames)."""
    out = tmp_path_factory.mktemp("cli") / "run"
    result = evolve_tiny(out, "--quiet")
    assert result.stdout.splitlines()[-1] == str(out)
    return out


# ---- presets -------------------------------------------------------------------------------


def test_presets_lists_each_with_its_description() -> None:
    result = ok(["presets"])
    rows = {line.split()[0]: line.split(None, 1)[1] for line in result.stdout.splitlines() if line.strip()}
    for name in ("default", "pareidoloop", "triangles", "mono", "fool"):
        assert name in rows, result.stdout
        assert len(rows[name]) > 10, f"{name} has no description"
    assert "Pareidoloop" in rows["pareidoloop"]
    assert result.stderr == ""


# ---- evolve --------------------------------------------------------------------------------


def test_evolve_writes_the_run_folder(run_dir: Path) -> None:
    for name in RUN_FILES:
        assert (run_dir / name).is_file(), name
    with Image.open(run_dir / "best.png") as im:
        assert im.size == (96, 96)
    svg = ET.parse(run_dir / "best.svg").getroot()
    assert svg.get("width", "").startswith("96")
    result = json.loads((run_dir / "result.json").read_text())
    assert result["seed"] == 5 and result["status"] == "done" and result["generations"] == 8
    log = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    assert log[-1]["final"] is True
    assert "seed = 5" in (run_dir / "config.toml").read_text()
    assert len(list((run_dir / "frames").glob("*.png"))) >= 3


def test_same_seed_same_genome_and_gif(run_dir: Path, tmp_path: Path) -> None:
    """A second run with the same seed (with live progress, and --gif) gives the same genome."""
    out = tmp_path / "again"
    result = evolve_tiny(out, "--gif")
    assert result.stdout.splitlines()[-1] == str(out)
    assert "portrait" in result.stderr  # the summary line of the live progress
    assert (out / "genome.json").read_text() == (run_dir / "genome.json").read_text()
    with Image.open(out / "evolution.gif") as im:
        assert im.format == "GIF" and im.n_frames >= 2


def test_evolve_set_sets_any_setting_as_a_preset_file_would(tmp_path: Path) -> None:
    import tomllib

    out = tmp_path / "set"
    sets = ["polish=3", "contrast=1", "search_sizes=[]", "init=random", "background=#000000",
            'description="from --set"', "polygons=40", "max_polygons=12", "polygons=12"]
    evolve_tiny(out, "--quiet", *[a for s in sets for a in ("--set", s)])
    cfg = flatten(tomllib.loads((out / "config.toml").read_text()), top=tuple(PROVENANCE) + TOP)  # the settings tree
    assert (cfg["polish"], cfg["contrast"], cfg["search_sizes"], cfg["init"]) == (3, 1.0, [], "random")
    assert (cfg["background"], cfg["description"], cfg["max_polygons"]) == ("#000000", "from --set", 12)
    assert cfg["polygons"] == 10  # --polygons 10 (in TINY) over --set polygons=12
    assert cfg["vertices"] == 5 and cfg["preset"] == "default"  # the rest is the preset's


def test_set_applies_over_the_preset_and_under_the_other_options() -> None:
    from polyface.cli import resolve_config

    cfg = resolve_config("colour", [("polish", 7)], [("polish", 50), ("oval", 0.5), ("oval", 0.6)])
    assert (cfg.polish, cfg.oval, cfg.colour) == (7, 0.6, "rgba")


@pytest.mark.parametrize(
    "value, line",
    [
        ("polish=abc", "option --set: key 'polish' must be an integer in 0..1000000, got 'abc'"),
        ("polish=2.5", "option --set: key 'polish' must be an integer in 0..1000000, got 2.5"),
        ("search_sizes=[96,9999]", "option --set: key 'search_sizes' must be a list of integers in 24..1024, got [96, 9999]"),
        ("init=faces", "option --set: key 'init' must be one of random, face, layout, got 'faces'"),
        ("background=red", "option --set: key 'background' must be a colour #rrggbb, got 'red'"),
        ("polygons=200", "option --set: key 'polygons' must be at most max_polygons (60), got 200"),
        ("polish", "option --set must be KEY=VALUE with a setting's key as in a preset file (--set polish=50), got 'polish'"),
        ("=50", "option --set must be KEY=VALUE with a setting's key as in a preset file (--set polish=50), got '=50'"),
        ("description=a\udcffb", "option --set must be UTF-8 text, got 'description=a\\udcffb'"),
    ],
)
def test_evolve_set_errors_are_one_line(tmp_path: Path, value: str, line: str) -> None:
    result = invoke(["evolve", *TINY, "--max-generations", "1", "--set", value, "--out", tmp_path / "run"])
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [f"polyface: error: {line}"]
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("key", ["polihs", "ensemble", "extends", "work-size"])
def test_evolve_set_refuses_unknown_keys(tmp_path: Path, key: str) -> None:
    result = invoke(["evolve", *TINY, "--max-generations", "1", "--set", f"{key}=1", "--out", tmp_path / "run"])
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"polyface: error: option --set: unknown key '{key}' (known keys: alpha_max, ")
    assert not (tmp_path / "run").exists()


# ---- score ---------------------------------------------------------------------------------


def test_score_json_face_and_blank(face_crop: np.ndarray, tmp_path: Path) -> None:
    face = tmp_path / "face.png"
    blank = tmp_path / "blank.png"
    Image.fromarray(face_crop).save(face)
    Image.new("RGB", (200, 200), (128, 128, 128)).save(blank)
    result = ok(["score", "--json", face, blank])
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    for d in (first, second):
        assert set(d) == {"path", "faces", "best_prob", "portrait", "detectors"}
    assert first["path"] == str(face)
    assert len(first["faces"]) == 1
    f = first["faces"][0]
    assert len(f["box"]) == 4 and all(isinstance(v, (int, float)) for v in f["box"])
    assert 0.0 <= f["prob"] <= 1.0
    assert first["portrait"] is True and first["best_prob"] >= 0.99
    assert second["path"] == str(blank)
    assert second["faces"] == [] and second["portrait"] is False
    # every member of the ensemble says its word: all see the real face, none the blank
    assert first["detectors"]["blazeface"]["portrait"] and first["detectors"]["haar"]["portrait"]
    assert first["detectors"]["prior"]["correlation"] > 0.2
    assert not any(v.get("portrait") for v in second["detectors"].values())


def test_score_tells_an_mtcnn_only_portrait_from_an_ensemble_one(tmp_path: Path) -> None:
    data = Path(__file__).parent / "data"
    pngs = []
    for name in ("mtcnn_only", "ensemble"):
        pngs.append(tmp_path / f"{name}.png")
        ok(["render", data / f"genome_{name}.json", "--size", "128", "-o", pngs[-1]])
    # Without the default's frame (``--face-margin -1``): MTCNN accepts both, BlazeFace only the
    # second, and a portrait needs every member of the judge.
    lines = ok(["score", "--json", "--face-margin", "-1", *pngs]).stdout.splitlines()
    first, second = (json.loads(line) for line in lines)
    assert first["detectors"]["mtcnn"]["portrait"] and not first["detectors"]["blazeface"]["portrait"]
    assert not first["portrait"]
    assert second["detectors"]["mtcnn"]["portrait"] and second["detectors"]["blazeface"]["portrait"]
    assert list(second["detectors"]) == ["mtcnn", "blazeface", "prior", "haar"]


def test_score_text_output(face_crop: np.ndarray, tmp_path: Path) -> None:
    face = tmp_path / "face.png"
    Image.fromarray(face_crop).save(face)
    result = ok(["score", face])
    assert result.stdout.startswith(f"{face}: PORTRAIT (box [")


# ---- render --------------------------------------------------------------------------------


def test_render_png_svg_pdf_at_4096(run_dir: Path, tmp_path: Path) -> None:
    genome = run_dir / "genome.json"
    png, svg, pdf = (tmp_path / f"x.{ext}" for ext in ("png", "svg", "pdf"))
    for out in (png, svg, pdf):
        result = ok(["render", genome, "--size", "4096", "-o", out])
        assert result.stdout.strip() == str(out)
    with Image.open(png) as im:
        assert im.format == "PNG" and im.size == (4096, 4096)
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    assert root.get("width") in ("4096", "4096px") and root.get("height") in ("4096", "4096px")
    assert root.get("viewBox") == "0 0 4096 4096"
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and b"%%EOF" in data[-64:]


def test_render_background_override(tmp_path: Path) -> None:
    """--background replaces the genome's own background wherever no polygon covers the canvas."""
    genome = {
        "format": "polyface-genome", "version": 1, "mode": "rgba", "symmetric": False, "background": [0.1, 0.2, 0.3],
        "vertices": [[[0.0, 0.0], [0.25, 0.0], [0.0, 0.25]]], "colours": [[0.0, 1.0, 0.0, 1.0]],
    }
    (tmp_path / "g.json").write_text(json.dumps(genome))
    plain, red = tmp_path / "plain.png", tmp_path / "red.png"
    ok(["render", tmp_path / "g.json", "--size", "64", "-o", plain])
    ok(["render", tmp_path / "g.json", "--size", "64", "-o", red, "--background", "#ff0000"])
    a = np.asarray(Image.open(plain).convert("RGB")).astype(int)
    b = np.asarray(Image.open(red).convert("RGB")).astype(int)
    assert a[48, 48].tolist() == [25, 51, 76]  # the genome's background (0.1, 0.2, 0.3) in Cairo's 8 bits
    assert b[48, 48].tolist() == [255, 0, 0] and (b == [255, 0, 0]).all(axis=2).mean() > 0.9
    assert b[2, 2].tolist() == a[2, 2].tolist() == [0, 255, 0]  # the opaque triangle is untouched


@pytest.mark.browser
@pytest.mark.skipif(shutil.which("chromium") is None, reason="no chromium binary on PATH to rasterise the SVG")
def test_svg_matches_png(run_dir: Path, tmp_path: Path) -> None:
    """The SVG, rasterised by headless Chromium, matches the PNG from the same genome."""
    png, svg, shot = tmp_path / "x.png", tmp_path / "x.svg", tmp_path / "shot.png"
    ok(["render", run_dir / "genome.json", "--size", "256", "-o", png])
    ok(["render", run_dir / "genome.json", "--size", "256", "-o", svg])
    cmd = [shutil.which("chromium"), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars", "--window-size=256,256",
           f"--screenshot={shot}", svg.as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    assert shot.is_file(), proc.stderr[-2000:]
    a = np.asarray(Image.open(png).convert("RGB"), dtype=np.float64)
    b = np.asarray(Image.open(shot).convert("RGB"), dtype=np.float64)[:256, :256]
    assert b.shape == a.shape
    assert np.abs(a - b).mean() < 2.0


# ---- gif / video ---------------------------------------------------------------------------


def test_gif_three_frames_with_caption(run_dir: Path) -> None:
    result = ok(["gif", run_dir, "--frames", "3", "--caption"])
    gif = run_dir / "evolution.gif"
    assert result.stdout.startswith(f"{gif}  (3 frames")
    with Image.open(gif) as im:
        assert im.format == "GIF" and im.n_frames == 3 and im.size == (48, 48)


def test_gif_command_writes_mp4(run_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("imageio_ffmpeg")
    out = tmp_path / "x.mp4"
    ok(["gif", run_dir, "-o", out, "--frames", "3", "--fps", "5", "--hold", "0"])
    data = out.read_bytes()
    assert data[4:8] == b"ftyp"


def test_video_command(run_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("imageio_ffmpeg")
    out = tmp_path / "v.mp4"
    result = ok(["video", run_dir, "-o", out, "--size", "64", "--hold", "0.5"])
    assert result.stdout.startswith(str(out))
    assert out.read_bytes()[4:8] == b"ftyp"


# ---- gallery -------------------------------------------------------------------------------

SMALL_PRESET = """description = "tiny, for tests"
[picture]
polygons = 10
[judge]
work_size = 48
search_sizes = []
verify_sizes = [64]
[search]
population = 6
elites = 2
max_generations = 4
[output]
frame_size = 48
"""


def test_gallery_and_resume_skips_done_seeds(tmp_path: Path) -> None:
    preset = tmp_path / "small.toml"
    preset.write_text(SMALL_PRESET)
    g = tmp_path / "g"
    args = ["gallery", "-n", "2", "--time-limit", "5", "--workers", "1", "--out", g, "--preset", preset, "--size", "96"]
    result = ok(args)
    assert result.stdout.splitlines()[-1] == str(g / "index.html")
    assert "seed 0: done" in result.stderr and "seed 1: done" in result.stderr, result.stderr
    for seed in ("0", "1"):
        assert (g / seed / "result.json").is_file()
        with Image.open(g / seed / "best.png") as im:
            assert im.size == (96, 96)
    assert (g / "contact-sheet.png").is_file() and (g / "index.html").is_file()
    for seed in ("0", "1"):  # each portrait gets its evolution GIF, linked from the page
        with Image.open(g / seed / "evolution.gif") as im:
            assert im.format == "GIF"
        assert f'href="{seed}/evolution.gif"' in (g / "index.html").read_text()
    stamps = {p: p.stat().st_mtime_ns for p in g.glob("*/result.json")}

    again = ok(args)
    assert again.stderr.count("skipped") == 2, again.stderr
    assert "seed 0: skipped" in again.stderr and "seed 1: skipped" in again.stderr
    assert {p: p.stat().st_mtime_ns for p in g.glob("*/result.json")} == stamps


def test_cli_and_library_take_the_same_animation_limits() -> None:
    """`polyface gif` options and make_gif/make_video's checks accept exactly the same values."""
    from polyface import limits
    from polyface.cli_support import UserError, click_type
    from polyface.runio.frames import check_animation

    def cli_accepts(spec, value) -> bool:
        try:
            click_type(spec).convert(str(value), None, None)
            return True
        except UserError:
            return False

    def lib_accepts(**kw) -> bool:
        args = {"fps": 10, "hold": 1.0, "size": None, "frames": None} | kw
        try:
            check_animation(**args)
            return True
        except ValueError:
            return False

    for name, spec in (("size", limits.FRAME_SIZE), ("frames", limits.FRAMES), ("fps", limits.FPS), ("hold", limits.HOLD)):
        for v in (spec.lo - 1, spec.lo, spec.hi, spec.hi + 1):
            v = int(v) if spec.kind is int else float(v)
            assert cli_accepts(spec, v) == lib_accepts(**{name: v}) == (spec.lo <= v <= spec.hi), (name, v)


def test_gif_of_one_frame(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "one.gif"
    result = ok(["gif", run_dir, "--frames", "1", "-o", out])
    assert result.stdout.startswith(f"{out}  (1 frames")
    with Image.open(out) as im:
        assert getattr(im, "n_frames", 1) == 1


def test_evolve_set_takes_a_key_under_its_table(tmp_path: Path) -> None:
    """--set judge.prior=0.4 is --set prior=0.4; config.toml holds it in its [judge] table."""
    import tomllib

    out = tmp_path / "tabled"
    evolve_tiny(out, "--quiet", "--set", "judge.prior=0.4", "--set", "finish.polish=0")
    tree = tomllib.loads((out / "config.toml").read_text())
    assert tree["judge"]["prior"] == 0.4 and tree["finish"]["polish"] == 0
    assert "prior" not in tree  # every setting sits in its table
