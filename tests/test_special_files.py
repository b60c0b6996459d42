"""Special files as input and unusable output locations, table-driven; paths with control
characters, property-based. Each case ends in one line on stderr and exit code 2, promptly
(a FIFO must not block, /dev/zero must not be read until memory runs out), changing nothing."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import string
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyface.cli import cli

from test_bad_inputs import assert_one_line_error, genome, history_line, png_bytes, snapshot


class Blocked(BaseException):
    """Raised by the alarm: a BaseException, so no ``except OSError`` of the code under test eats it."""


@contextlib.contextmanager
def deadline(seconds: int):
    """Fail (instead of hanging the suite) when the block blocks."""

    def alarm(signum, frame):
        raise Blocked(f"still running after {seconds} s: blocked on a special file?")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def fifo(p: Path) -> None:
    os.mkfifo(p)


def dev_zero(p: Path) -> None:
    p.symlink_to("/dev/zero")


def dev_null(p: Path) -> None:
    p.symlink_to("/dev/null")


def folder(p: Path) -> None:
    p.mkdir()


def sparse(size: int) -> Callable[[Path], None]:
    def make(p: Path) -> None:
        with open(p, "wb") as f:
            f.truncate(size)

    make.__name__ = f"sparse-{size >> 20}MiB"
    return make


SPECIAL = {"fifo": fifo, "dev-zero": dev_zero, "dev-null": dev_null, "folder": folder}

# (input kind, path of the special file, command, files the command needs besides it, size cap + 1)
INPUTS = [
    ("preset", "p.toml", ["evolve", "--quiet", "--preset", "p.toml"], {}, (1 << 20) + 1),
    ("genome", "g.json", ["render", "g.json", "-o", "o.png"], {}, (64 << 20) + 1),
    ("image", "i.png", ["score", "i.png"], {}, (512 << 20) + 1),
    ("history", "run/history.jsonl", ["gif", "run"], {"run/result.json": "{}"}, (1024 << 20) + 1),
    ("checkpoint", "run/checkpoint.json", ["evolve", "--quiet", "--resume", "run"], {}, (256 << 20) + 1),
    ("config", "run/config.toml", ["evolve", "--quiet", "--resume", "run"], {}, (1 << 20) + 1),
]


def _cases():
    for kind, name, args, files, cap in INPUTS:
        for special, make in SPECIAL.items():
            if special == "folder" and kind == "config":
                continue  # a folder named config.toml is not taken for a run's config (no run there)
            yield pytest.param(name, args, files, make, "regular", id=f"{kind}-{special}")
        yield pytest.param(name, args, files, sparse(cap), "may be at most", id=f"{kind}-over-cap")


@pytest.mark.parametrize("name, args, files, make, word", list(_cases()))
def test_special_file_as_input(tmp_path, monkeypatch, name, args, files, make, word):
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    target = tmp_path / name
    target.parent.mkdir(parents=True, exist_ok=True)
    make(target)
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    with deadline(20):
        result = CliRunner().invoke(cli, args)
    assert_one_line_error(result, (Path(name).name, word))
    assert snapshot(tmp_path) == before


def _dangling(root: Path) -> None:
    (root / "gone").symlink_to(root / "nowhere" / "at-all")


# (name, args with OUT standing for the location, what the line must name)
OUTPUTS = [
    ("render", ["render", "g.json", "--size", "32", "-o", "OUT/o.png"]),
    ("gif", ["gif", "run", "-o", "OUT/o.gif"]),
    ("evolve", ["evolve", "--quiet", "--out", "OUT/run"]),
    ("gallery", ["gallery", "-n", "1", "--out", "OUT/g"]),
]
@pytest.mark.parametrize("cmd, args", OUTPUTS, ids=[o[0] for o in OUTPUTS])
@pytest.mark.parametrize("where", ["proc", "dangling-link", "read-only"])
def test_unusable_output_location(tmp_path, monkeypatch, cmd, args, where):
    (tmp_path / "g.json").write_text(genome())
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "history.jsonl").write_text(history_line() + "\n")
    if where == "proc":
        loc = "/proc/self/polyface-out"
    elif where == "dangling-link":
        _dangling(tmp_path)
        loc = "gone"
    else:  # a folder without write permission (a read-only mount answers the same check)
        (tmp_path / "locked").mkdir()
        (tmp_path / "locked").chmod(0o500)
        if os.access(tmp_path / "locked", os.W_OK):
            pytest.skip("running as root: chmod 0o500 does not stop writes here")
        loc = "locked"
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    result = CliRunner().invoke(cli, [a.replace("OUT", loc) for a in args])
    assert_one_line_error(result, (loc,))
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("args", [["render", "g.json", "--size", "32", "-o", "gone.png"], ["gif", "run", "-o", "gone.gif"]],
                         ids=["render", "gif"])
def test_dangling_link_as_output_file(tmp_path, monkeypatch, args):
    (tmp_path / "g.json").write_text(genome())
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "history.jsonl").write_text(history_line() + "\n")
    out = tmp_path / args[-1]
    out.symlink_to(tmp_path / "missing" / "target")
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    assert_one_line_error(CliRunner().invoke(cli, args), (args[-1], "dangling"))
    assert snapshot(tmp_path) == before


# ---- control characters in paths -----------------------------------------------------------

name_chars = st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",))
names = st.text(name_chars, min_size=1, max_size=12).filter(lambda s: s not in (".", "..") and not s.isprintable())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stem=names, which=st.sampled_from(["genome", "preset", "image", "run"]))
def test_paths_with_control_characters_stay_on_one_line(tmp_path_factory, stem, which):
    root = tmp_path_factory.mktemp("ctl")
    path = root / stem
    if which == "genome":
        path.write_text(genome(version=9))
        args = ["render", str(path), "-o", str(root / "o.png")]
    elif which == "preset":
        path = root / (stem + ".toml")
        path.write_text("polygons = -1\n")
        args = ["evolve", "--quiet", "--preset", str(path)]
    elif which == "image":
        path.write_bytes(png_bytes()[:40])
        args = ["score", str(path)]
    else:
        path.mkdir()
        (path / "checkpoint.json").write_text(json.dumps({"format": "other"}))
        args = ["evolve", "--quiet", "--resume", str(path)]
    line = assert_one_line_error(CliRunner().invoke(cli, args), ())
    assert repr(str(path))[1:-1] in line or str(path) in line
    assert all(c.isprintable() for c in line)


def test_printable_paths_are_shown_as_they_are(tmp_path):
    path = tmp_path / f"plain {string.ascii_letters}.json"
    path.write_text(genome(version=9))
    line = assert_one_line_error(CliRunner().invoke(cli, ["render", str(path), "-o", str(tmp_path / "o.png")]), ())
    assert f"{path}: field 'version'" in line
