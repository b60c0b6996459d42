"""The second detector (OpenCV's Haar cascade) and its graded depth score."""

import numpy as np
import pytest
import torch

pytest.importorskip("cv2")

from polyface.detect.haar import HaarDepth  # noqa: E402
from polyface.genome import random_genome  # noqa: E402
from polyface.render.cairo import render_batch  # noqa: E402

from conftest import to_batch  # noqa: E402


def test_real_face_is_found_at_full_depth(face_crop):
    haar = HaarDepth(min_box=0.5)
    x = to_batch(face_crop)
    assert haar.found(x).tolist() == [True]
    assert float(haar(x)[0]) == 1.0


def test_depth_is_graded_on_random_polygons():
    haar = HaarDepth(min_box=0.5)
    rng = np.random.default_rng(0)
    x = render_batch([random_genome(rng, 50, 6) for _ in range(24)], 64, antialias=False)
    depth = haar(x).numpy()
    assert depth.min() >= 0 and depth.max() <= 1
    assert len(np.unique(depth)) >= 2  # some windows get further through the cascade than others
    assert not haar.found(torch.full((1, 3, 64, 64), 0.5))[0]


def test_haar_holds_back_exactly_the_portraits_it_does_not_see():
    import json
    from pathlib import Path

    from polyface.detect import FaceDetector
    from polyface.genome_io import from_dict
    from problems import portrait_problem

    data = Path(__file__).parent / "data"
    # Both are portraits by MTCNN's rule at 64 px; the cascade finds only the second.
    genomes = [from_dict(json.loads((data / f"genome_{n}.json").read_text())) for n in ("mtcnn_only", "haar")]
    found = HaarDepth(min_box=0.5).found(render_batch(genomes, 64, antialias=False))
    assert found.tolist() == [False, True]
    plain = portrait_problem(FaceDetector(), search_sizes=()).score_batch(genomes, None).scores
    mixed = portrait_problem(FaceDetector(), search_sizes=(), haar=True).score_batch(genomes, None).scores
    assert (plain >= 2).all()
    assert mixed[0] < 2 <= mixed[1]  # the cascade's no pulls a portrait below the pass tier
    assert mixed[1] <= plain[1] + 1e-6  # and its yes never lifts one


def _climb(haar: HaarDepth, images) -> np.ndarray:
    """The graded score by its definition: the deepest cut, climbed one by one, that finds a large face."""
    out = np.zeros(images.shape[0], np.float32)
    for i in range(images.shape[0]):
        for k, (_, cut) in enumerate(haar.cascades):
            if not haar.found(images[i : i + 1], k)[0]:
                break
            out[i] = cut / haar.total
    return out


def test_whole_cascade_first_gives_the_climbed_depth(face_crop):
    import json
    from pathlib import Path

    from polyface.genome_io import from_dict

    data = Path(__file__).parent / "data"
    evolved = [from_dict(json.loads(p.read_text())) for p in sorted(data.glob("genome_*.json"))]
    rng = np.random.default_rng(1)
    haar = HaarDepth(min_box=0.5)
    for size in (64, 128):
        images = torch.cat([
            render_batch(evolved + [random_genome(rng, 30, 5) for _ in range(16)], size, antialias=False),
            torch.nn.functional.interpolate(to_batch(face_crop), size=(size, size), mode="area"),
        ])  # fmt: skip
        expected = _climb(haar, images)
        assert (expected == 1.0).sum() >= 2 and (expected < 1.0).sum() >= 8  # both paths are taken
        assert haar(images).numpy().tolist() == expected.tolist()


def test_cuts_read_from_memory_equal_the_cascade_cut_with_its_xml(face_crop):
    """A cut read from memory (its stages found by the XML parser) finds, window for window, what
    the same cascade finds when its XML is cut with ElementTree and read from a file."""
    import tempfile
    import xml.etree.ElementTree as ET
    from pathlib import Path

    import cv2

    from polyface.detect.haar import CASCADE, _cut_text, _gray, _load

    def by_file(stages: int):
        tree = ET.parse(Path(cv2.data.haarcascades) / CASCADE)
        cascade = tree.getroot().find("cascade")
        for stage in list(cascade.find("stages"))[stages:]:
            cascade.find("stages").remove(stage)
        cascade.find("stageNum").text = str(stages)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "cut.xml"
            tree.write(path, encoding="utf-8", xml_declaration=True)
            return cv2.CascadeClassifier(str(path))

    rng = np.random.default_rng(2)
    images = torch.cat([
        render_batch([random_genome(rng, 30, 5) for _ in range(12)], 96, antialias=False),
        torch.nn.functional.interpolate(to_batch(face_crop), size=(96, 96), mode="area"),
    ])  # fmt: skip
    for stages in (1, 5, 12, 20, 24):
        root = ET.fromstring(_cut_text(stages))
        assert len(root.find("cascade/stages")) == stages and root.find("cascade/stageNum").text == str(stages)
        assert len(root.find("cascade/features")) > 2000  # the features every stage refers to stay
        mine, theirs = _load(stages), by_file(stages)
        found = 0
        for g in _gray(images):
            a, b = (sorted(map(tuple, c.detectMultiScale(g, 1.1, 1, minSize=(30, 30)))) for c in (mine, theirs))
            assert a == b  # sorted: OpenCV's threads hand the windows back in any order
            found += len(a)
        assert found > 0
    with pytest.raises(ValueError, match="stages"):
        _cut_text(25)
