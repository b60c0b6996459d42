"""A corpus of bad inputs, each run through the CLI: one line on stderr, exit code 2, nothing written.

Every case runs in a fresh temporary working folder holding the files it needs. The test checks
that the command exits with code 2, prints exactly one non-empty line on stderr (naming the file,
the field or option, and what is allowed), prints no traceback and leaves no new file behind.
Every ``evolve`` and ``gallery`` case must fail before the evolution starts.
"""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from polyface.cli import cli
from polyface.config import SECTION_OF

# ---- building blocks -----------------------------------------------------------------------

DROP = object()


def genome_dict(**over) -> dict:
    """A valid two-triangle genome as a dict, with fields replaced (or dropped with DROP)."""
    d = {
        "format": "polyface-genome",
        "version": 1,
        "mode": "rgba",
        "symmetric": False,
        "background": [0.1, 0.1, 0.1],
        "vertices": [[[0.1, 0.1], [0.9, 0.1], [0.5, 0.9]], [[0.2, 0.2], [0.8, 0.3], [0.4, 0.7]]],
        "colours": [[1.0, 0.0, 0.0, 0.5], [0.0, 1.0, 0.0, 0.5]],
    }
    for k, v in over.items():
        if v is DROP:
            d.pop(k, None)
        else:
            d[k] = v
    return d


def genome(**over) -> str:
    return json.dumps(genome_dict(**over))


def png_bytes(w: int = 64, h: int = 64, seed: int = 0) -> bytes:
    """A real PNG of random noise (so its compressed data is large enough to cut in half)."""
    arr = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_header_only(w: int, h: int) -> bytes:
    """A PNG that claims ``w`` x ``h`` pixels (valid signature, IHDR with CRC) and holds none."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 16)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def bmp_header_only(w: int, h: int) -> bytes:
    """A 24-bit BMP that claims ``w`` x ``h`` pixels and holds none."""
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + len(info), 0, 0, 14 + len(info)) + info


def history_line(**over) -> str:
    entry = {"frame": "frames/000001.png", "generation": 1, "evaluations": 24, "best": 0.5, "elapsed_s": 0.1,
             "genome": genome_dict()}
    entry.update(over)
    return json.dumps(entry)


def make_dir(*parts: str) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        for p in parts:
            (root / p).mkdir(parents=True, exist_ok=True)

    return setup


# ---- the corpus ----------------------------------------------------------------------------


@dataclass
class Case:
    id: str
    args: list[str]
    words: tuple[str, ...]
    files: dict[str, str | bytes] = field(default_factory=dict)
    setup: Callable[[Path], None] | None = None
    marks: tuple = ()


def param(c: Case):
    return pytest.param(c, id=c.id, marks=c.marks)


GOOD_GENOME = {"g.json": genome()}
GOOD_RUN = {"run/history.jsonl": history_line() + "\n", "run/result.json": "{}"}
PRESET = "p.toml"


def in_tables(body: str) -> str:
    """A preset body written as settings, one a line, with each setting moved under its table."""
    top, tables = [], {}
    for line in body.splitlines():
        key = line.partition("=")[0].strip()
        if key in SECTION_OF:
            tables.setdefault(SECTION_OF[key], []).append(line)
        else:
            top.append(line)
    return "\n".join(top + [f"[{t}]\n" + "\n".join(lines) for t, lines in tables.items()]) + "\n"


def preset_case(id: str, body: str | bytes, *words: str, raw: bool = False) -> Case:
    """A preset file holding ``body``, its settings moved under their tables unless ``raw``."""
    if isinstance(body, str) and not raw:
        body = in_tables(body)
    return Case(f"preset-{id}", ["evolve", "--preset", PRESET, "--quiet"], (PRESET, *words), {PRESET: body})


PRESET_CASES = [
    preset_case("unknown-key", "bogus = 1\n", "unknown key", "bogus"),
    preset_case("wrong-table", "[search]\nprior = 0.3\n", "prior", "[judge]", raw=True),
    preset_case("setting-at-top", "population = 3\n", "population", "[search]", raw=True),
    preset_case("table-not-table", "judge = 3\n", "[judge]", "table", raw=True),
    preset_case("wrong-type-int", 'polygons = "many"\n', "polygons", "0..4096"),
    preset_case("float-for-int", "population = 2.5\n", "population", "1..4096"),
    preset_case("wrong-type-bool", 'symmetric = "yes"\n', "symmetric", "true or false"),
    preset_case("wrong-type-str", "colour = 3\n", "colour", "rgba, grey"),
    preset_case("out-of-range-int", "vertices = 100\n", "vertices", "3..64"),
    preset_case("out-of-range-float", "alpha_min = 1.5\n", "alpha_min", "0..1"),
    preset_case("negative-seed", "seed = -1\n", "seed", "0..9223372036854775807"),
    preset_case("huge-int", "polygons = 99999999999999999999\n", "polygons", "0..4096"),
    preset_case("nan", "target = nan\n", "target", "0..1"),
    preset_case("inf", "time_limit = inf\n", "time_limit", "0..10000000"),
    preset_case("oval-negative", "oval = -0.2\n", "oval", "0..1"),
    preset_case("polish-fraction", "polish = 2.5\n", "polish", "0..1000000"),
    preset_case("contrast-below-one", "contrast = 0.5\n", "contrast", "1..4"),
    preset_case("bad-choice", 'strategy = "annealing"\n', "strategy", "population, hillclimb"),
    preset_case("bad-background", 'background = "red"\n', "background", "#rrggbb"),
    preset_case("bad-preset-name", 'preset = "../evil"\n', "preset", "letters, digits"),
    preset_case("search-sizes-small", "search_sizes = [10]\n", "search_sizes", "24..1024"),
    preset_case("search-sizes-not-list", "search_sizes = 96\n", "search_sizes", "24..1024"),
    preset_case("thresholds-two-items", "search_thresholds = [0.5, 0.5]\n", "search_thresholds", "3 numbers"),
    preset_case("verify-sizes-empty", "verify_sizes = []\n", "verify_sizes", "24..4096"),
    preset_case("empty-file", "", "empty preset"),
    preset_case("only-comments", "# nothing here\n", "empty preset"),
    preset_case("not-toml", "polygons = = 3\n", "not valid TOML"),
    preset_case("binary-garbage", bytes(range(256)) * 4, "not a text file"),
    preset_case("latin-1", 'description = "caf\xe9"\n'.encode("latin-1"), "not a text file"),
    preset_case("alpha-min-over-max", "alpha_min = 0.9\nalpha_max = 0.2\n", "alpha_min", "alpha_max"),
    preset_case("polygons-over-max", "polygons = 200\nmax_polygons = 100\n", "polygons", "max_polygons (100)"),
    preset_case("elites-over-population", "population = 2\nelites = 5\n", "elites", "population (2)"),
    Case("preset-directory", ["evolve", "--preset", "dir.toml"], ("dir.toml", "is a folder"), setup=make_dir("dir.toml")),
    Case("preset-directory-no-suffix", ["evolve", "--preset", "./presetdir"], ("presetdir", "is a folder"),
         setup=make_dir("presetdir")),
    Case("preset-missing-file", ["evolve", "--preset", "missing.toml"], ("missing.toml", "no such preset file")),
    Case("set-unknown-key", ["evolve", "--set", "nope=1"], ("--set", "unknown key 'nope'")),
    Case("set-no-equals", ["evolve", "--set", "polish"], ("--set", "KEY=VALUE")),
    Case("set-bad-value", ["evolve", "--set", "polish=abc"], ("--set", "polish", "0..1000000")),
    Case("preset-dotdot-name", ["evolve", "--preset", "../default"], ("../default", ".toml")),
    Case("preset-dotdot-missing", ["evolve", "--preset", "../nowhere/x.toml"], ("x.toml", "no such preset file")),
    Case("preset-not-builtin", ["evolve", "--preset", "nosuch"], ("nosuch", "no such built-in preset", "default")),
    Case("preset-empty-name", ["evolve", "--preset", ""], ("no such built-in preset",)),
    Case("gallery-preset-bad", ["gallery", "-n", "1", "--preset", PRESET, "--out", "g"], (PRESET, "vertices", "3..64"),
         {PRESET: "[picture]\nvertices = 1\n"}),
]


def render_case(id: str, text: str | bytes, *words: str, name: str = "g.json") -> Case:
    return Case(f"genome-{id}", ["render", name, "--size", "32", "-o", "out.png"], (name, *words), {name: text})


DEEP = 100_000
GENOME_CASES = [
    render_case("malformed-json", '{"format": "polyface-genome",', "not valid JSON"),
    render_case("empty-file", "", "not valid JSON"),
    render_case("json-array", "[]", "JSON object"),
    render_case("json-null", "null", "JSON object"),
    render_case("json-number", "-3", "JSON object"),
    render_case("empty-object", "{}", "format", "polyface-genome"),
    render_case("wrong-format-tag", genome(format="svg"), "format", "polyface-genome"),
    render_case("wrong-version", genome(version=3), "version", "1"),
    render_case("version-missing", genome(version=DROP), "version", "1"),
    render_case("version-bool", genome(version=True), "version", "1"),
    render_case("unknown-field", genome(extra=1), "unknown field", "extra"),
    render_case("missing-vertices", genome(vertices=DROP), "vertices", "missing"),
    render_case("vertices-2d", genome(vertices=[[0.1, 0.2], [0.3, 0.4]]), "vertices", "(N, V, 2)"),
    render_case("vertices-ragged", genome(vertices=[[[0.1, 0.1], [0.2, 0.2], [0.3, 0.3]], [[0.1, 0.1]]]),
                "vertices", "equal lengths"),
    render_case("vertices-strings", genome(vertices=[[["a", "b"], ["c", "d"], ["e", "f"]]]), "vertices", "numbers"),
    render_case("two-vertices", genome(vertices=[[[0.1, 0.1], [0.2, 0.2]]] * 2), "vertices", "3..64"),
    render_case("65-vertices", genome(vertices=[[[0.5, 0.5]] * 65] * 2), "vertices", "3..64"),
    render_case("colours-shape", genome(colours=[[1.0, 0.0, 0.0]] * 2), "colours", "(2, 4)"),
    render_case("colours-count", genome(colours=[[1.0, 0.0, 0.0, 0.5]] * 3), "colours", "(2, 4)"),
    render_case("background-4", genome(background=[0.1, 0.1, 0.1, 1.0]), "background", "3 numbers"),
    render_case("background-negative", genome(background=[-0.1, 0.0, 0.0]), "background", "[0.0, 1.0]"),
    render_case("nan-vertex", genome().replace("0.9]", "NaN]", 1), "vertices", "NaN"),
    render_case("infinity-colour", genome().replace("0.5]", "Infinity]", 1), "colours", "infinity"),
    render_case("minus-infinity", genome().replace("[0.1, 0.1, 0.1]", "[-Infinity, 0.1, 0.1]"), "background", "NaN or infinity"),
    render_case("overflow-1e400", genome().replace("0.9]", "1e400]", 1), "vertices", "NaN or infinity"),
    render_case("too-large-for-float32", genome().replace("0.9]", "1e39]", 1), "vertices", "float32"),
    render_case("vertex-out-of-range", genome(vertices=[[[0.1, 0.1], [2.0, 0.1], [0.5, 0.9]]] * 2),
                "vertices", "[-0.5, 1.5]"),
    render_case("colour-out-of-range", genome(colours=[[1.5, 0.0, 0.0, 0.5]] * 2), "colours", "[0.0, 1.0]"),
    render_case("alpha-negative", genome(colours=[[1.0, 0.0, 0.0, -0.5]] * 2), "colours", "[0.0, 1.0]"),
    render_case("too-many-polygons", genome(vertices=[[[0.1, 0.1], [0.2, 0.1], [0.1, 0.2]]] * 4097,
                                            colours=[[0.5, 0.5, 0.5, 0.5]] * 4097), "4097", "0..4096"),
    render_case("bad-mode", genome(mode="cmyk"), "mode", "grey, rgba"),
    render_case("mode-number", genome(mode=3), "mode", "grey, rgba"),
    render_case("symmetric-string", genome(symmetric="yes"), "symmetric", "true or false"),
    render_case("grey-mode-colours", genome(mode="grey"), "colours", "grey mode"),
    render_case("not-utf8", b'{"format": "polyface-genome\xff\xfe"}', "not a text file"),
    render_case("png-as-genome", png_bytes(8, 8), "not a text file"),
    render_case("deeply-nested", "[" * DEEP + "]" * DEEP, "nested too deeply"),
    render_case("deeply-nested-field", genome(vertices=DROP)[:-1] + ', "vertices": ' + "[" * 900 + "]" * 900 + "}",
                "vertices"),
    Case("genome-directory", ["render", "gdir", "--size", "32", "-o", "out.png"], ("gdir", "is a folder"),
         setup=make_dir("gdir")),
    Case("genome-missing", ["render", "nope.json", "--size", "32", "-o", "out.png"], ("nope.json", "no such genome file")),
]

IMAGE_CASES = [
    Case("image-text-file", ["score", "notes.png"], ("notes.png", "not a readable image"), {"notes.png": "hello\n"}),
    Case("image-svg", ["score", "pic.svg"], ("pic.svg", "not a readable image"),
         {"pic.svg": '<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"/>'}),
    Case("image-truncated-png", ["score", "half.png"], ("half.png", "not a readable image"),
         {"half.png": png_bytes(64, 64)[: len(png_bytes(64, 64)) // 2]}),
    Case("image-zero-bytes", ["score", "empty.png"], ("empty.png", "not a readable image"), {"empty.png": b""}),
    Case("image-directory", ["score", "imgdir"], ("imgdir", "is a folder"), setup=make_dir("imgdir")),
    Case("image-missing", ["score", "gone.png"], ("gone.png", "no such file")),
    Case("image-huge-png", ["score", "huge.png"], ("huge.png", "too large", str(8192 * 8192)),
         {"huge.png": png_header_only(100_000, 100_000)}),
    Case("image-huge-bmp", ["score", "huge.bmp"], ("huge.bmp", str(8192 * 8192)),
         {"huge.bmp": bmp_header_only(100_000, 100_000)}),
    Case("image-good-then-bad", ["score", "ok.png", "bad.png"], ("bad.png", "not a readable image"),
         {"ok.png": png_bytes(32, 32), "bad.png": b"\x89PNG\r\n\x1a\nrubbish"}),
    Case("score-min-box-zero", ["score", "ok.png", "--min-box", "0"], ("--min-box", "0.05..1"), {"ok.png": png_bytes(32, 32)}),
    Case("score-min-box-two", ["score", "ok.png", "--min-box", "2"], ("--min-box", "0.05..1"), {"ok.png": png_bytes(32, 32)}),
    Case("score-min-box-nan", ["score", "ok.png", "--min-box", "nan"], ("--min-box", "0.05..1"), {"ok.png": png_bytes(32, 32)}),
    Case("score-min-box-text", ["score", "ok.png", "--min-box", "big"], ("--min-box", "big"), {"ok.png": png_bytes(32, 32)}),
    Case("score-face-margin-high", ["score", "ok.png", "--face-margin", "0.5"], ("--face-margin", "-1..0.2"), {"ok.png": png_bytes(32, 32)}),
    Case("score-face-margin-nan", ["score", "ok.png", "--face-margin", "nan"], ("--face-margin", "-1..0.2"), {"ok.png": png_bytes(32, 32)}),
    Case("score-device-unknown", ["score", "ok.png", "--device", "tpu"], ("--device", "tpu", "auto, cpu, cuda"),
         {"ok.png": png_bytes(32, 32)}),
    Case("score-device-cuda-missing", ["score", "ok.png", "--device", "cuda"], ("cuda", "no CUDA GPU"),
         {"ok.png": png_bytes(32, 32)},
         marks=(pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is present"),)),
    Case("score-no-images", ["score"], ("IMAGES",)),
    Case("score-preset-unknown", ["score", "ok.png", "--preset", "nope"], ("nope", "no such built-in preset"),
         {"ok.png": png_bytes(32, 32)}),
]


def evolve_case(id: str, flags: list[str], *words: str, **kw) -> Case:
    return Case(f"evolve-{id}", ["evolve", "--quiet", *flags], words, **kw)


EVOLVE_CASES = [
    evolve_case("size-negative", ["--size", "-5"], "--size", "16..16384"),
    evolve_case("size-zero", ["--size", "0"], "--size", "16..16384"),
    evolve_case("size-over-16384", ["--size", "16385"], "--size", "16..16384"),
    evolve_case("size-not-a-number", ["--size", "big"], "--size", "big"),
    evolve_case("work-size-small", ["--set", "work_size=10"], "--set", "work_size", "24..512"),
    evolve_case("polygons-negative", ["--polygons", "-1"], "--polygons", "0..4096"),
    evolve_case("polygons-over-max", ["--polygons", "500"], "--polygons", "max_polygons (60)"),
    evolve_case("vertices-two", ["--vertices", "2"], "--vertices", "3..64"),
    evolve_case("oval-over-one", ["--oval", "1.5"], "--oval", "0..1"),
    evolve_case("polish-negative", ["--polish", "-3"], "--polish", "0..1000000"),
    evolve_case("contrast-over-four", ["--contrast", "5"], "--contrast", "1..4"),
    evolve_case("contrast-nan", ["--contrast", "nan"], "--contrast", "1..4"),
    evolve_case("population-zero", ["--set", "population=0"], "--set", "population", "1..4096"),
    evolve_case("population-below-elites", ["--set", "population=2"], "--set", "elites", "population (2)"),
    evolve_case("time-limit-negative", ["--time-limit", "-1"], "--time-limit", "0..10000000"),
    evolve_case("time-limit-nan", ["--time-limit", "nan"], "--time-limit", "0..10000000"),
    evolve_case("target-over-one", ["--set", "target=1.5"], "--set", "target", "0..1"),
    evolve_case("max-generations-zero", ["--max-generations", "0"], "--max-generations", "1..1000000000"),
    evolve_case("seed-negative", ["--seed", "-1"], "--seed", "0..9223372036854775807"),
    evolve_case("threads-negative", ["--set", "threads=-1"], "--set", "threads", "0..256"),
    evolve_case("frame-size-small", ["--set", "frame_size=8"], "--set", "frame_size", "16..4096"),
    evolve_case("device-unknown", ["--device", "tpu"], "--device", "auto, cpu, cuda"),
    evolve_case("device-cuda-missing", ["--device", "cuda"], "cuda", "no CUDA GPU",
                marks=(pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is present"),)),
    evolve_case("colour-unknown", ["--colour", "purple"], "--colour", "rgba, grey"),
    evolve_case("pgpe-without-shapes", ["--preset", "pareidoloop", "--set", "strategy=pgpe"], "polygons", "at least 1", "pgpe"),
    evolve_case("pgpe-one-sample", ["--set", "strategy=pgpe", "--set", "population=1", "--set", "elites=1"], "population", "at least 2", "pgpe"),
    evolve_case("strategy-unknown", ["--set", "strategy=annealing"], "--set", "strategy", "population, hillclimb"),
    evolve_case("init-unknown", ["--init", "template"], "--init", "random, face, layout"),
    evolve_case("out-is-a-file", ["--out", "taken.txt"], "taken.txt", "not a folder", files={"taken.txt": "x"}),
    evolve_case("out-under-a-file", ["--out", "taken.txt/run"], "taken.txt", "not a folder", files={"taken.txt": "x"}),
    evolve_case("unknown-option", ["--colours", "grey"], "--colours"),
    evolve_case("set-wrong-table", ["--set", "search.prior=0.4"], "--set", "prior", "[judge]"),
    evolve_case("set-unknown-table", ["--set", "look.size=64"], "--set", "look"),
]

RENDER_CASES = [
    Case("render-size-zero", ["render", "g.json", "--size", "0", "-o", "o.png"], ("--size", "16..16384"), GOOD_GENOME),
    Case("render-size-negative", ["render", "g.json", "--size", "-64", "-o", "o.png"], ("--size", "16..16384"), GOOD_GENOME),
    Case("render-size-over-16384", ["render", "g.json", "--size", "16385", "-o", "o.png"], ("--size", "16..16384"),
         GOOD_GENOME),
    Case("render-unknown-extension", ["render", "g.json", "-o", "o.jpg"], ("o.jpg", ".png, .svg or .pdf"), GOOD_GENOME),
    Case("render-no-extension", ["render", "g.json", "-o", "picture"], ("picture", ".png, .svg or .pdf"), GOOD_GENOME),
    Case("render-out-is-folder", ["render", "g.json", "-o", "outdir.png"], ("outdir.png", "is a folder"), GOOD_GENOME,
         setup=make_dir("outdir.png")),
    Case("render-out-under-a-file", ["render", "g.json", "-o", "taken.txt/o.png"], ("taken.txt", "not a folder"),
         {**GOOD_GENOME, "taken.txt": "x"}),
    Case("render-bad-background", ["render", "g.json", "-o", "o.png", "--background", "red"],
         ("--background", "#rrggbb"), GOOD_GENOME),
    Case("render-missing-out", ["render", "g.json"], ("-o",), GOOD_GENOME),
]

ANIMATION_CASES = [
    Case("gif-fps-zero", ["gif", "run", "--fps", "0"], ("--fps", "1..60"), GOOD_RUN),
    Case("gif-fps-over-60", ["gif", "run", "--fps", "61"], ("--fps", "1..60"), GOOD_RUN),
    Case("gif-fps-over-gif-limit", ["gif", "run", "--fps", "55"], ("--fps", "50"), GOOD_RUN),
    Case("gif-frames-zero", ["gif", "run", "--frames", "0"], ("--frames", "1..10000"), GOOD_RUN),
    Case("gif-frames-negative", ["gif", "run", "--frames", "-3"], ("--frames", "1..10000"), GOOD_RUN),
    Case("gif-frames-too-many", ["gif", "run", "--frames", "10001"], ("--frames", "1..10000"), GOOD_RUN),
    Case("gif-size-large", ["gif", "run", "--size", "4097"], ("--size", "16..4096"), GOOD_RUN),
    Case("gif-hold-negative", ["gif", "run", "--hold", "-1"], ("--hold", "0..60"), GOOD_RUN),
    Case("gif-hold-nan", ["gif", "run", "--hold", "nan"], ("--hold", "0..60"), GOOD_RUN),
    Case("gif-size-small", ["gif", "run", "--size", "8"], ("--size", "16..4096"), GOOD_RUN),
    Case("gif-out-extension", ["gif", "run", "-o", "anim.png"], ("anim.png", ".gif or .mp4"), GOOD_RUN),
    Case("gif-out-is-folder", ["gif", "run", "-o", "adir.gif"], ("adir.gif", "is a folder"), GOOD_RUN,
         setup=make_dir("adir.gif")),
    Case("gif-not-a-run-folder", ["gif", "plain"], ("history.jsonl", "missing"), setup=make_dir("plain")),
    Case("gif-missing-folder", ["gif", "nowhere"], ("nowhere", "not a run folder")),
    Case("gif-on-a-file", ["gif", "g.json"], ("g.json", "not a run folder"), GOOD_GENOME),
    Case("gif-empty-history", ["gif", "run"], ("history.jsonl", "no frames"), {"run/history.jsonl": ""}),
    Case("gif-bad-history-line", ["gif", "run"], ("history.jsonl", "line 1", "not valid JSON"),
         {"run/history.jsonl": "{oops\n" + history_line() + "\n"}),
    Case("gif-history-bad-genome", ["gif", "run"], ("history.jsonl", "line 1", "bad genome", "colours"),
         {"run/history.jsonl": history_line(genome=genome_dict(colours=[[2.0, 0, 0, 1]] * 2)) + "\n"}),
    Case("gif-history-best-null", ["gif", "run"], ("history.jsonl", "best", "finite"),
         {"run/history.jsonl": history_line(best=None) + "\n"}),
    Case("gif-history-frame-escapes", ["gif", "run"], ("history.jsonl", "frame", "inside the run folder"),
         {"run/history.jsonl": history_line(frame="../../etc/passwd", genome=None) + "\n"}),
    Case("gif-frame-png-corrupt", ["gif", "run"], ("000001.png", "not a readable image"),
         {"run/history.jsonl": history_line(genome=None) + "\n", "run/frames/000001.png": b"\x89PNG broken"}),
    Case("video-out-extension", ["video", "run", "-o", "anim.gif"], ("anim.gif", ".mp4"), GOOD_RUN),
    Case("video-fps-zero", ["video", "run", "--fps", "0"], ("--fps", "1..60"), GOOD_RUN),
    Case("video-size-small", ["video", "run", "--size", "8"], ("--size", "16..4096"), GOOD_RUN),
    Case("video-frames-zero", ["video", "run", "--frames", "0"], ("--frames", "1..10000"), GOOD_RUN),
    Case("video-hold-over-60", ["video", "run", "--hold", "61"], ("--hold", "0..60"), GOOD_RUN),
    Case("video-not-a-run-folder", ["video", "plain"], ("history.jsonl", "missing"), setup=make_dir("plain")),
]

GALLERY_CASES = [
    Case("gallery-n-zero", ["gallery", "-n", "0", "--out", "g"], ("-n", "1..100000")),
    Case("gallery-n-negative", ["gallery", "-n", "-4", "--out", "g"], ("-n", "1..100000")),
    Case("gallery-n-missing", ["gallery", "--out", "g"], ("-n",)),
    Case("gallery-out-is-a-file", ["gallery", "-n", "1", "--out", "taken.txt"], ("taken.txt", "not a folder"),
         {"taken.txt": "x"}),
    Case("gallery-out-under-a-file", ["gallery", "-n", "1", "--out", "taken.txt/g"], ("taken.txt", "not a folder"),
         {"taken.txt": "x"}),
    Case("gallery-workers-negative", ["gallery", "-n", "1", "--workers", "-1", "--out", "g"], ("--workers", "0..256")),
    Case("gallery-seed-start-negative", ["gallery", "-n", "1", "--seed-start", "-1", "--out", "g"], ("--seed-start",)),
    Case("gallery-time-limit-negative", ["gallery", "-n", "1", "--time-limit", "-2", "--out", "g"],
         ("--time-limit", "0..10000000")),
    Case("gallery-size-zero", ["gallery", "-n", "1", "--size", "0", "--out", "g"], ("--size", "16..16384")),
    Case("gallery-device-unknown", ["gallery", "-n", "1", "--device", "tpu", "--out", "g"], ("--device", "auto, cpu, cuda")),
    Case("gallery-device-cuda-missing", ["gallery", "-n", "1", "--device", "cuda", "--out", "g"], ("cuda", "no CUDA GPU"),
         marks=(pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is present"),)),
    Case("gallery-engine-unknown", ["gallery", "-n", "1", "--engine", "spark", "--out", "g"], ("--engine", "local", "ray")),
    Case("gallery-address-without-ray", ["gallery", "-n", "1", "--address", "127.0.0.1:6379", "--out", "g"],
         ("--address", "--engine ray")),
    Case("evolve-port-over-65535", ["evolve", "--port", "70000", "--out", "r"], ("--port", "0..65535")),
    Case("evolve-palette-bad-hex", ["evolve", "--colour", "rgba", "--palette", "#12,#ff0000", "--out", "r"],
         ("--palette", "#rrggbb")),
    Case("show-run-dir-missing", ["show", "nowhere"], ("nowhere", "not a run folder")),
    Case("show-port-negative", ["show", "nowhere", "--port", "-1"], ("--port", "0..65535")),
    Case("unknown-command", ["paint"], ("paint",)),
]

def checkpoint(**over) -> str:
    doc = {"format": "polyface-checkpoint", "version": 1, "config": {"preset": "default", "seed": 1}, "files": {},
           "loop": {}, "strategy": {}, "problem": {}, "n_frames": 0, "improvements": 0}
    for k, v in over.items():
        if v is DROP:
            doc.pop(k)
        else:
            doc[k] = v
    return json.dumps(doc)


CKPT = "run/checkpoint.json"
RESUME_CASES = [
    Case("resume-missing-folder", ["evolve", "--resume", "nowhere"], ("nowhere", "no such run folder")),
    Case("resume-on-a-file", ["evolve", "--resume", "g.json"], ("g.json", "no such run folder"), GOOD_GENOME),
    Case("resume-not-a-run-folder", ["evolve", "--resume", "plain"], ("checkpoint.json", "no checkpoint"),
         setup=make_dir("plain")),
    Case("resume-garbage-checkpoint", ["evolve", "--resume", "run"], ("checkpoint.json", "not a readable checkpoint"),
         {CKPT: "{nope"}),
    Case("resume-binary-checkpoint", ["evolve", "--resume", "run"], ("checkpoint.json", "not a readable checkpoint"),
         {CKPT: bytes(range(256))}),
    Case("resume-wrong-format", ["evolve", "--resume", "run"], ("checkpoint.json", "format", "polyface-checkpoint"),
         {CKPT: checkpoint(format="other")}),
    Case("resume-wrong-version", ["evolve", "--resume", "run"], ("checkpoint.json", "version", "1"),
         {CKPT: checkpoint(version=7)}),
    Case("resume-missing-field", ["evolve", "--resume", "run"], ("checkpoint.json", "loop", "missing"),
         {CKPT: checkpoint(loop=DROP)}),
    Case("resume-bad-config-value", ["evolve", "--resume", "run"], ("checkpoint.json", "polygons", "0..4096"),
         {CKPT: checkpoint(config={"polygons": -1})}),
    Case("resume-bad-max-generations", ["evolve", "--resume", "run", "--max-generations", "0"],
         ("--max-generations", "1..1000000000"), {CKPT: checkpoint()}),
    Case("resume-config-not-an-object", ["evolve", "--resume", "run"], ("checkpoint.json", "config"),
         {CKPT: checkpoint(config="default")}),
    Case("resume-empty-strategy-state", ["evolve", "--resume", "run"], ("checkpoint.json", "strategy"),
         {CKPT: checkpoint()}),
]

ALL_CASES = RESUME_CASES + PRESET_CASES + GENOME_CASES + IMAGE_CASES + EVOLVE_CASES + RENDER_CASES + ANIMATION_CASES + GALLERY_CASES


# ---- the checks ----------------------------------------------------------------------------


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` (hidden ones too) with its size and modification time."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames + dirnames:
            p = Path(dirpath) / name
            st = p.lstat()
            out[str(p.relative_to(root))] = (st.st_size, st.st_mtime_ns) if p.is_file() else (-1, 0)
    return out


def invoke(args: list[str]):
    result = CliRunner().invoke(cli, args, catch_exceptions=True)
    return result


def assert_one_line_error(result, words) -> str:
    crash = result.exception if not isinstance(result.exception, SystemExit) else None
    assert crash is None, f"uncaught {type(crash).__name__}: {crash}"
    stderr = result.stderr
    assert "Traceback" not in result.output and "Traceback" not in stderr
    assert result.exit_code == 2, f"exit code {result.exit_code}; stderr: {stderr!r}"
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].strip(), f"stderr is not one line: {stderr!r}"
    line = lines[0]
    assert line.startswith("polyface: error: "), line
    for w in words:
        assert w.lower() in line.lower(), f"{w!r} missing from {line!r}"
    return line


@pytest.mark.parametrize("case", [param(c) for c in ALL_CASES])
def test_bad_input(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    for name, content in case.files.items():
        p = work / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, encoding="utf-8")
    if case.setup:
        case.setup(work)
    monkeypatch.chdir(work)
    before = snapshot(work)
    result = invoke(case.args)
    assert_one_line_error(result, case.words)
    assert result.stdout == "", f"stdout not empty: {result.stdout!r}"
    assert snapshot(work) == before, "a file or folder was created or changed"


def test_every_option_has_a_bad_input_case() -> None:
    """Each command's value-taking options and arguments appear in at least one case above,
    so a new option cannot arrive without a test of what it refuses."""
    import click

    from polyface.cli import cli

    ids = [c.id for c in ALL_CASES]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    missing = []
    for name, command in cli.commands.items():
        cases = [c.args for c in ALL_CASES if c.args and c.args[0] == name]
        for param in command.params:
            if isinstance(param, click.Option) and (param.is_flag or param.count or param.hidden):
                continue
            if isinstance(param, click.Argument):
                covered = bool(cases)
            else:
                covered = any(opt in args for args in cases for opt in param.opts)
            if not covered:
                missing.append(f"{name} {param.opts[0]}")
    assert not missing, "options without a bad-input case: " + ", ".join(missing)


def test_out_folder_not_writable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as root (or with CAP_DAC_OVERRIDE): chmod 0o500 does not stop writes here")
        (tmp_path / "g.json").write_text(genome())
        monkeypatch.chdir(tmp_path)
        for args, words in (
            (["render", "g.json", "--size", "32", "-o", "locked/o.png"], ("locked", "not writable")),
            (["evolve", "--quiet", "--out", "locked/run"], ("locked", "not writable")),
            (["gallery", "-n", "1", "--out", "locked/g"], ("locked", "not writable")),
        ):
            before = snapshot(tmp_path)
            assert_one_line_error(invoke(args), words)
            assert snapshot(tmp_path) == before
    finally:
        locked.chmod(0o700)


# ---- positive controls: valid images in other formats still score --------------------------


@pytest.mark.parametrize("fmt", ["GIF", "BMP"])
def test_valid_gif_and_bmp_still_score(fmt: str, face_crop: np.ndarray, tmp_path: Path) -> None:
    path = tmp_path / f"face.{fmt.lower()}"
    Image.fromarray(face_crop).save(path, format=fmt)
    # MTCNN's box spans about 43 % of this crop's width, so the portrait rule needs --min-box 0.4
    result = invoke(["score", "--json", "--min-box", "0.4", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    data = json.loads(result.stdout)
    assert data["path"] == str(path)
    assert len(data["faces"]) == 1
    assert data["portrait"] is True and data["best_prob"] >= 0.99


def test_real_process_prints_one_line(tmp_path: Path) -> None:
    """Outside CliRunner too: the installed entry point's stderr is one line, exit code 2."""
    bad = tmp_path / "bad.json"
    bad.write_text(genome(version=9))
    out = tmp_path / "o.png"
    proc = subprocess.run(
        [sys.executable, "-c", "from polyface.cli import main; main()", "render", str(bad), "-o", str(out)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [f"polyface: error: {bad}: field 'version' must be one of 1, 2, got 9"]
    assert not out.exists()
