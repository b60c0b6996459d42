"""A full disk while writing any output: the command fails with one line naming the file and
saying the disk is full; the file it would have replaced is left as it was, and nothing empty or
half-written appears under an output's name. Runs on a small tmpfs (needs root; skipped without)."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from polyface import atomic
from polyface.cli import cli
from polyface.genome import random_genome
from polyface.render import cairo as cairo_render
from polyface.runio.run_folder import RunFolder
from polyface.search.loop import Progress


@pytest.fixture
def disk(tmp_path):
    """A 512 KiB tmpfs at ``tmp_path/disk``; fill it with ``fill(disk)``."""
    where = tmp_path / "disk"
    where.mkdir()
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(where)],
                              capture_output=True, check=False)
    except OSError:
        pytest.skip("no mount command")
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


def fill(folder: Path) -> None:
    """Fill the file system of ``folder`` to the last byte."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        for chunk in (65536, 4096, 1):
            with contextlib.suppress(OSError):
                while os.write(fd, b"\0" * chunk):
                    pass
    finally:
        os.close(fd)


def genome():
    rng = np.random.default_rng(1)
    return random_genome(rng, 30, 4, "rgba", np.array([0.5, 0.5, 0.5], np.float32), False, 0.3, (0.3, 0.8))


def assert_disk_full_line(result, name: str) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code != 0, result.output
    err = result.stderr
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert name in lines[0] and "disk is full" in lines[0], lines[0]


@pytest.mark.parametrize("ext", ["pdf", "svg", "png"])
def test_render_on_a_full_disk_fails_naming_the_file_and_keeps_the_old_one(disk, tmp_path, ext):
    g = genome()
    gpath = tmp_path / "genome.json"
    gpath.write_text(g.to_json())
    out = disk / f"portrait.{ext}"
    cairo_render.save(g, out, 64)
    before = out.read_bytes()
    assert before
    fill(disk)
    result = CliRunner().invoke(cli, ["render", str(gpath), "--size", "1024", "-o", str(out)])
    assert_disk_full_line(result, f"portrait.{ext}")
    assert out.read_bytes() == before
    assert sorted(p.name for p in disk.iterdir()) == ["filler", f"portrait.{ext}"]  # no temp file left


def test_gif_on_a_full_disk_fails_naming_the_file(disk, tmp_path):
    run = tmp_path / "run"
    folder = RunFolder(run, "seed = 1\n", size=64, frame_size=48)
    rng = np.random.default_rng(2)
    for i in range(1, 6):
        g = random_genome(rng, 20, 4, "rgba", np.array([0.5, 0.5, 0.5], np.float32), False, 0.3, (0.3, 0.8))
        folder.on_improve(g, Progress(i, i * 4, 0.1 * i, 0.0, 0.1 * i, False, 0.1))
    fill(disk)
    result = CliRunner().invoke(cli, ["gif", str(run), "-o", str(disk / "evolution.gif"), "--size", "256"])
    assert_disk_full_line(result, "evolution.gif")
    assert sorted(p.name for p in disk.iterdir()) == ["filler"]


@pytest.mark.parametrize(("name", "body", "tail"), [
    ("x.pdf", b"%PDF-1.5\n1 0 obj\n", "%%EOF"),
    ("x.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "IEND"),
    ("x.svg", b"<?xml version='1.0'?><svg><g>", "</svg>"),
    ("x.gif", b"GIF89a\x01\0\x01\0", "trailer"),
    ("x.pdf", b"", "empty"),
])
def test_a_truncated_output_never_replaces_the_file(tmp_path, name, body, tail):
    """What a writer that does not report its write errors leaves (pycairo's PDF surface on a
    full disk writes nothing and says nothing) is caught before the rename."""
    out = tmp_path / name
    out.write_bytes(b"the good one")
    with pytest.raises(OSError) as e, atomic.atomic_path(out) as tmp:
        tmp.write_bytes(body)
    assert e.value.filename == str(out)
    assert e.value.errno in (errno.EIO, errno.ENOSPC)
    assert tail in str(e.value) or tail == "trailer" or tail == "empty"
    assert out.read_bytes() == b"the good one"
    assert os.listdir(tmp_path) == [name]
