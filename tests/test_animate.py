"""GIF and MP4 animations of a run folder (polyface.runio.gif, video and frames)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from polyface.genome import random_genome
from polyface.render.cairo import render_rgb, save
from polyface.runio.frames import AnimationInfo, frame_durations, select_frames
from polyface.runio.gif import make_gif
from polyface.runio.layout import RunFolderError
from polyface.runio.readers import read_history
from polyface.runio.video import MissingDependency, make_video

FRAME = 48


def make_run(
    root: Path, n: int = 8, size: int = FRAME, mode: str = "rgba", seed: int = 0, repeat: int = 1
) -> Path:
    """A run folder as the evolution loop writes it: frames/, history.jsonl, genome.json, result.json.

    Each of the ``n`` improvements is a fresh random genome (so every frame differs); with
    ``repeat`` > 1 each genome appears that many times in a row (identical pictures).
    """
    run = root / str(seed)
    (run / "frames").mkdir(parents=True)
    rng = np.random.default_rng(seed)
    lines, best, k = [], 0.0, 0
    for i in range(n):
        g = random_genome(rng, 12, 4, mode=mode)
        for _ in range(repeat):
            k += 1
            best += 1.0 / k
            frame = f"frames/{k:06d}.png"
            save(g, run / frame, size)
            entry = {"frame": frame, "generation": 5 * k, "evaluations": 50 * k, "best": best,
                     "elapsed_s": 0.25 * k, "genome": g.to_dict()}
            lines.append(json.dumps(entry))
    (run / "history.jsonl").write_text("\n".join(lines) + "\n")
    (run / "genome.json").write_text(g.to_json())
    result = {"seed": seed, "preset": "default", "status": "done", "best": best, "min_prob": 0.9,
              "portrait": True, "generations": 5 * k, "evaluations": 50 * k, "elapsed_s": 0.25 * k}
    (run / "result.json").write_text(json.dumps(result))
    return run


def gif_frames(path: Path) -> tuple[list[np.ndarray], list[int], dict]:
    """Decoded RGB frames, per-frame durations and the first frame's info of a GIF."""
    with Image.open(path) as im:
        info = dict(im.info)
        pics, durations = [], []
        for i in range(im.n_frames):
            im.seek(i)
            durations.append(im.info["duration"])
            pics.append(np.asarray(im.convert("RGB")))
    return pics, durations, info


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run(tmp_path_factory.mktemp("runs"), n=10)


def test_gif_defaults_every_improvement(run: Path) -> None:
    info = make_gif(run)
    assert isinstance(info, AnimationInfo)
    assert info.path == run / "evolution.gif"
    assert info.bytes == info.path.stat().st_size > 0
    pics, durations, meta = gif_frames(info.path)
    assert info.n_frames == len(pics) == 10
    assert pics[0].shape == (FRAME, FRAME, 3)
    assert durations == info.durations_ms == [100] * 9 + [2100]
    assert meta["loop"] == 0  # forever
    # the shared palette keeps the frames close to the PNGs they came from
    for k, pic in enumerate(pics, start=1):
        ref = np.asarray(Image.open(run / "frames" / f"{k:06d}.png").convert("RGB"))
        assert psnr(pic, ref) > 28
    assert not [p.name for p in run.iterdir() if p.name.endswith(".tmp")]  # atomic: nothing left over


def test_gif_frames_fps_hold_and_no_loop(run: Path, tmp_path: Path) -> None:
    out = tmp_path / "a.gif"
    info = make_gif(run, out, fps=20, frames=4, hold=1.5, loop=False)
    pics, durations, meta = gif_frames(out)
    assert info.n_frames == len(pics) == 4
    assert durations == info.durations_ms == [50, 50, 50, 1550]
    assert "loop" not in meta  # no NETSCAPE extension: plays once
    # first and last picture are the first and last improvement
    first = np.asarray(Image.open(run / "frames" / "000001.png").convert("RGB"))
    last = np.asarray(Image.open(run / "frames" / "000010.png").convert("RGB"))
    assert psnr(pics[0], first) > 28 and psnr(pics[-1], last) > 28


def test_gif_size_rerenders_from_genomes(run: Path, tmp_path: Path) -> None:
    info = make_gif(run, tmp_path / "big.gif", size=72, frames=3)
    pics, _, _ = gif_frames(info.path)
    assert info.n_frames == 3 and pics[0].shape == (72, 72, 3)
    lines = (run / "history.jsonl").read_text().splitlines()
    from polyface.genome_io import from_dict

    final = render_rgb(from_dict(json.loads(lines[-1])["genome"]), 72)
    assert psnr(pics[-1], final) > 28


def test_gif_missing_pngs_are_rendered(tmp_path: Path) -> None:
    run = make_run(tmp_path, n=3, size=40)
    (run / "frames" / "000002.png").unlink()
    info = make_gif(run, tmp_path / "x.gif")
    pics, _, _ = gif_frames(info.path)
    assert info.n_frames == 3 and pics[1].shape == (40, 40, 3)  # rendered at the other frames' size


def test_gif_caption_bar(run: Path, tmp_path: Path) -> None:
    plain, _, _ = gif_frames(make_gif(run, tmp_path / "p.gif", size=128, frames=2).path)
    capped, _, _ = gif_frames(make_gif(run, tmp_path / "c.gif", size=128, frames=2, caption=True).path)
    assert capped[0].shape == plain[0].shape == (128, 128, 3)
    bar_c, bar_p = capped[-1][-12:].astype(int), plain[-1][-12:].astype(int)
    assert (bar_c.min(axis=2) > 200).sum() > 20  # white text in the bar
    assert np.median(bar_c) < np.median(bar_p) or np.median(bar_p) < 40  # the bar darkens the picture
    assert psnr(capped[-1][:64], plain[-1][:64]) > 28  # the top of the portrait is untouched


def test_grey_run_is_lossless(tmp_path: Path) -> None:
    run = make_run(tmp_path, n=4, mode="grey")
    pics, _, _ = gif_frames(make_gif(run).path)
    for k, pic in enumerate(pics, start=1):
        ref = np.asarray(Image.open(run / "frames" / f"{k:06d}.png").convert("RGB"))
        assert np.array_equal(pic, ref)


def test_identical_pictures_merge(tmp_path: Path) -> None:
    run = make_run(tmp_path, n=3, repeat=2)
    info = make_gif(run, fps=10, hold=1.0)
    _, durations, _ = gif_frames(info.path)
    assert info.n_frames == 3
    assert durations == info.durations_ms == [200, 200, 1200]


def test_select_frames() -> None:
    assert select_frames([1, 2, 3], None) == [0, 1, 2]
    assert select_frames([1, 2, 3], 10) == [0, 1, 2]
    assert select_frames([1, 2, 3], 1) == [2]
    # a run with a big early jump and a long tail of small gains
    bests = [0.0, 5.0] + [5.0 + 0.01 * i for i in range(1, 99)]
    for n in (2, 3, 7, 20, 99, 100):
        idx = select_frames(bests, n)
        assert len(idx) == n and idx[0] == 0 and idx[-1] == len(bests) - 1
        assert idx == sorted(set(idx))
    idx = select_frames(bests, 7)
    gaps = np.diff(idx[1:])
    assert idx[1] == 1 and gaps.max() <= 1.5 * gaps.min()  # the jump shown once, then the tail evenly
    with pytest.raises(ValueError):
        select_frames(bests, 0)


def test_frame_durations_follow_the_clock() -> None:
    d = frame_durations(30, 30, 0.0)
    assert all(x in (30, 40) for x in d)
    assert abs(sum(d[:-1]) - 29 * 1000 / 30) <= 10
    assert frame_durations(3, 10, 2.0) == [100, 100, 2100]
    assert frame_durations(2, 100, 0.0) == [20, 20]  # never below what browsers honour


def test_bad_arguments(run: Path) -> None:
    for kwargs in ({"fps": 0}, {"fps": 60}, {"hold": -1}, {"size": 0}, {"frames": 0}):
        with pytest.raises(ValueError):
            make_gif(run, **kwargs)


def _one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_run_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(RunFolderError) as e:
        make_gif(tmp_path / "nope")
    assert "nope" in _one_line(e)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RunFolderError) as e:
        make_gif(empty)
    assert "history.jsonl" in _one_line(e) and "missing" in str(e.value)
    (empty / "history.jsonl").write_text("\n")
    with pytest.raises(RunFolderError) as e:
        make_gif(empty)
    assert "history.jsonl" in _one_line(e) and "no frames" in str(e.value)

    run = make_run(tmp_path, n=3)
    lines = (run / "history.jsonl").read_text().splitlines()
    (run / "history.jsonl").write_text("\n".join([lines[0], "{oops", lines[2]]) + "\n")
    with pytest.raises(RunFolderError) as e:
        make_gif(run)
    assert "history.jsonl" in _one_line(e) and "line 2" in str(e.value) and "JSON" in str(e.value)
    (run / "history.jsonl").write_text(lines[0] + "\n" + json.dumps({"frame": "frames/x.png"}) + "\n")
    with pytest.raises(RunFolderError) as e:
        make_gif(run)
    assert "line 2" in _one_line(e) and "'best'" in str(e.value)

    # a PNG that is gone and no genome to render it from
    entry = json.loads(lines[1])
    del entry["genome"]
    (run / "history.jsonl").write_text(lines[0] + "\n" + json.dumps(entry) + "\n")
    (run / "frames" / "000002.png").unlink()
    with pytest.raises(RunFolderError) as e:
        make_gif(run)
    assert "000002.png" in _one_line(e)
    assert not (run / "evolution.gif").exists()


def test_unterminated_last_line_is_skipped(tmp_path: Path) -> None:
    run = make_run(tmp_path, n=3)
    text = (run / "history.jsonl").read_text()
    (run / "history.jsonl").write_text(text + '{"frame": "frames/0000')  # interrupted mid-append
    assert len(read_history(run)) == 3
    assert make_gif(run).n_frames == 3


def test_video_without_imageio_ffmpeg(run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # import fails as if not installed
    with pytest.raises(MissingDependency, match="pip install imageio-ffmpeg") as e:
        make_video(run, tmp_path / "v.mp4")
    assert isinstance(e.value, RuntimeError)
    assert not (tmp_path / "v.mp4").exists()


def test_video_mp4(run: Path, tmp_path: Path) -> None:
    pytest.importorskip("imageio_ffmpeg", reason="imageio-ffmpeg not installed (pip install imageio-ffmpeg)")
    import imageio.v2 as imageio

    out = tmp_path / "evo.mp4"
    info = make_video(run, out, fps=10, size=33, frames=5, hold=0.5, caption=True)
    assert info.path == out and info.bytes == out.stat().st_size > 0
    assert info.n_frames == 5 and info.durations_ms == [100, 100, 100, 100, 600]
    with imageio.get_reader(out, format="FFMPEG") as reader:
        meta = reader.get_meta_data()
        frames = [f for f in reader]
    assert len(frames) == 5 + 5  # one per picture, then 0.5 s of the last at 10 fps
    assert frames[0].shape == (34, 34, 3)  # odd size padded to even for yuv420p
    assert meta["codec"] == "h264" and meta["pix_fmt"].startswith("yuv420p")
    assert not [p.name for p in tmp_path.iterdir() if p.name != "evo.mp4"]
