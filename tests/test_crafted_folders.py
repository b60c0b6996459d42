"""Crafted folders the gallery and resume read: a seed folder linking out of the gallery, a
result.json that is a FIFO or a link to /dev/zero, numbers too long for a float, a log.jsonl
with absurd scores. Each is refused or skipped at once: no hang, no unbounded read, no
traceback, nothing written outside the folder."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from polyface.batch import write_pages
from polyface.engines.seed import is_done, run_seed
from polyface.runio.plot import read_log_points, score_svg

from run_fixtures import copy_run, interrupted, small  # noqa: F401  (interrupted: a fixture)
from test_gallery import make_run

HUGE = "9" * 401


def finishes(fn, *args, timeout: float = 10.0):
    """``fn(*args)``'s value, failing when it takes longer than ``timeout`` (a hang)."""
    box = {}

    def call():
        try:
            box["value"] = fn(*args)
        except BaseException as e:  # noqa: BLE001  (reported below)
            box["error"] = e

    t = threading.Thread(target=call, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), f"{fn.__name__} hangs"
    if "error" in box:
        raise box["error"]
    return box["value"]


def test_a_result_json_that_is_a_fifo_does_not_hang_the_done_check(tmp_path):
    run = tmp_path / "0"
    run.mkdir()
    os.mkfifo(run / "result.json")
    try:
        assert finishes(is_done, run) is False
    finally:  # let a blocked reader go
        try:
            os.close(os.open(run / "result.json", os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_a_result_json_linking_to_dev_zero_is_not_read(tmp_path):
    run = tmp_path / "0"
    run.mkdir()
    (run / "result.json").symlink_to("/dev/zero")
    assert finishes(is_done, run) is False


def test_a_number_too_long_for_a_float_does_not_break_the_pages(tmp_path):
    g = tmp_path / "g"
    make_run(g, 0)
    bad = make_run(g, 1)
    (bad / "result.json").write_text(f'{{"status": "done", "seed": 1, "best": {HUGE}, "generations": {HUGE}}}')
    sheet, index = write_pages(g)
    assert index.is_file() and sheet.is_file()


def test_a_seed_folder_linking_out_of_the_gallery_is_refused(tmp_path):
    gallery, elsewhere = tmp_path / "g", tmp_path / "elsewhere"
    gallery.mkdir()
    elsewhere.mkdir()
    (gallery / "0").symlink_to(elsewhere)
    with pytest.raises(Exception, match="outside"):
        run_seed(small(max_generations=2), gallery, 0, gif=False)
    assert not list(elsewhere.iterdir())


def test_score_svg_from_a_crafted_log_stays_small(tmp_path):
    log = tmp_path / "log.jsonl"
    lines = [{"generation": 1, "best": 0.5, "mean": 0.1}, {"generation": 2, "best": 1e300, "mean": None},
             {"generation": 3, "best": -1e300, "mean": 1e308}]
    log.write_text("\n".join(json.dumps(x) for x in lines) + f'\n{{"generation": {HUGE}, "best": 1.0}}\n')
    svg = finishes(lambda: score_svg(read_log_points(log)))
    assert svg.count("<text") < 40 and len(svg) < 100_000


def test_resume_with_a_crafted_log_writes_a_small_score_svg(interrupted, tmp_path):
    from polyface.run import resume

    run = copy_run(interrupted, tmp_path / "run")
    lines = (run / "log.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    first["best"] = 1e300
    lines[0] = json.dumps(first)
    lines[1] = lines[1].replace('"generation":2', f'"generation":{HUGE}')
    text = "\n".join(lines) + "\n"
    (run / "log.jsonl").write_text(text)
    doc = json.loads((run / "checkpoint.json").read_text())
    doc["files"]["log.jsonl"] = len(text.encode())
    (run / "checkpoint.json").write_text(json.dumps(doc))
    finishes(lambda: resume(run, max_generations=6), timeout=120)
    svg = (run / "score.svg").read_text()
    assert svg.count("<text") < 40


def test_a_crafted_seed_folder_gets_an_empty_tile_without_a_whole_read(tmp_path, monkeypatch):
    """A 3 GB sparse genome.json and a FIFO as best.png: the contact sheet's tile for that seed
    is empty, found without reading either whole and without blocking."""
    import os

    from polyface.runio.contact_sheet import _tile_image
    from polyface.runio.results import RunSummary

    seed = tmp_path / "7"
    seed.mkdir()
    with open(seed / "genome.json", "wb") as f:
        f.truncate(3 << 30)
    os.mkfifo(seed / "best.png")
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: pytest.fail(f"read whole: {self}"))
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail(f"read whole: {self}"))
    run = RunSummary(seed, 7, "default", "done", 2.5, 0.99, True, 10, 100, 1.0)
    assert _tile_image(run, 32) is None


def test_show_never_blocks_on_a_result_file_that_is_a_fifo(tmp_path):
    """``show`` asks a run folder whether it has ended: a FIFO named result.json is no answer,
    and asking must not block (a plain read of a FIFO waits for a writer forever)."""
    import os
    import threading

    from polyface.runio.live_show import RunReader

    os.mkfifo(tmp_path / "result.json")
    reader = RunReader.__new__(RunReader)
    reader.folder = tmp_path
    got = []
    t = threading.Thread(target=lambda: got.append(reader._ended()), daemon=True)
    t.start()
    t.join(10)
    assert not t.is_alive() and got == [None]


def test_a_huge_frame_png_is_refused_before_it_is_decoded(tmp_path, monkeypatch):
    from PIL import Image

    from polyface.runio import frames
    from polyface.runio.layout import RunFolderError

    big = tmp_path / "000001.png"
    with open(big, "wb") as f:
        f.truncate(frames.MAX_FRAME_BYTES + 1)
    monkeypatch.setattr(Image, "open", lambda *a, **k: pytest.fail("decoded a file over the cap"))
    with pytest.raises(RunFolderError, match="000001.png"):
        frames._read_png(big, None)
