"""Lanes: a batch's detector work split between threads changes no score."""

import numpy as np
import pytest
import torch

from polyface.detect.types import concat_detections
from polyface.genome import random_genome
from polyface.preset import load_preset
from polyface.placement import n_lanes
from polyface.run import build
from polyface.detect.lanes import MIN_PER_LANE, Lanes, library_threads

from conftest import to_batch


def test_bounds_cover_the_batch_in_even_contiguous_slices():
    lanes = Lanes(2)
    try:
        assert lanes.bounds(56) == [(0, 28), (28, 56)]
        assert lanes.bounds(9) == [(0, 4), (4, 9)]
        assert lanes.bounds(2 * MIN_PER_LANE - 1) == [(0, 2 * MIN_PER_LANE - 1)]  # too few to split
        assert Lanes(1).bounds(56) == [(0, 56)]
    finally:
        lanes.close()


def test_map_runs_every_slice_in_order_on_two_threads():
    import threading

    lanes = Lanes(2)
    seen = []
    try:
        out = lanes.map(lambda x, lane: (seen.append((threading.get_ident(), lane)), x.sum().item())[1], torch.arange(10.0))
    finally:
        lanes.close()
    assert out == [sum(range(5)), sum(range(5, 10))]
    assert len({ident for ident, _ in seen}) == 2 and sorted(lane for _, lane in seen) == [0, 1]
    assert dict((lane, ident) for ident, lane in seen)[0] == threading.get_ident()  # lane 0 is the caller


def test_whole_gives_torch_and_opencv_every_lane_and_takes_them_back():
    import cv2

    lanes = Lanes(2)
    with library_threads(1):
        with lanes.whole():
            assert torch.get_num_threads() == 2 and cv2.getNumThreads() == 2
        assert torch.get_num_threads() == 1 and cv2.getNumThreads() == 1
    lanes.close()


def test_haar_in_lanes_equals_one_pass_with_a_cascade_per_lane(face_crop):
    from polyface.detect.haar import HaarDepth

    rng = np.random.default_rng(2)
    noise = [rng.integers(0, 256, face_crop.shape, dtype=np.uint8) for _ in range(4)]
    images = torch.nn.functional.interpolate(to_batch(face_crop, *noise[:2], face_crop, *noise[2:]), size=(96, 96))
    one = HaarDepth(0.5)
    own = HaarDepth(0.5, shared=False)
    assert all(a is not b for (a, _), (b, _) in zip(one.cascades, own.cascades))
    lanes = Lanes(2)
    try:
        with library_threads(1):
            got = torch.cat([torch.as_tensor(d) for d in lanes.map(lambda x, lane: (one, own)[lane](x), images)])
    finally:
        lanes.close()
    want = torch.as_tensor(one(images))
    assert float(want[0]) == 1.0 and float(want[3]) == 1.0 and float(want[1:3].max()) < 1.0
    torch.testing.assert_close(got, want)


def test_concatenated_detections_equal_one_pass(detector, face_crop):
    rng = np.random.default_rng(3)
    noise = [rng.integers(0, 256, face_crop.shape, dtype=np.uint8) for _ in range(3)]
    images = torch.nn.functional.interpolate(to_batch(noise[0], face_crop, noise[1], face_crop, noise[2]), size=(96, 96))
    whole = detector(images)
    parts = concat_detections([detector(images[:2]), detector(images[2:])])
    assert int(whole.count[1]) >= 1 and int(whole.count[3]) >= 1  # faces in both halves
    for name in ("count", "image_index", "best_prob", "best_box", "best_logit", "boxes", "probs", "landmarks"):
        torch.testing.assert_close(getattr(parts, name), getattr(whole, name), atol=1e-4, rtol=1e-4, msg=name)
    assert parts.size == whole.size


def test_the_default_scores_the_same_on_one_lane_and_on_two():
    cfg = load_preset("default").replace(seed=4, augment=3)  # 36 images: the halves cut a copy in two
    rng = np.random.default_rng(8)
    genomes = [random_genome(rng, 12, 5, mode="grey", symmetric=True, radius=0.3) for _ in range(12)]
    pytest.importorskip("onnxruntime")
    with library_threads(1):
        two, _ = build(cfg, torch.device("cpu"), lanes=2)
        one, _ = build(cfg, torch.device("cpu"), detector=two.judge.members[0].search, lanes=1)  # the same networks
        try:
            a, b = one.score_batch(genomes, seed=5), two.score_batch(genomes, seed=5)
        finally:
            one.close()
            two.close()
    assert len(two.judge.lanes.bounds(len(genomes) * cfg.augment)) == 2  # the batch was really split
    assert len(set(a.scores.round(6).tolist())) > 3  # scores that tell candidates apart
    np.testing.assert_array_equal(a.scores, b.scores)
    np.testing.assert_array_equal(a.boxes, b.boxes)


def test_a_cpu_run_has_a_lane_per_torch_thread_with_onnx(monkeypatch):
    pytest.importorskip("onnxruntime")
    cfg = load_preset("default")
    with library_threads(2):
        assert n_lanes(cfg, torch.device("cpu")) == 2
        problem, _ = build(cfg, torch.device("cpu"), lanes=2)
        mtcnn, haar = problem.judge.members[0], problem.judge.members[-1]
        assert mtcnn.search.backend == "onnx" and mtcnn.reference.backend == "torch"
        one, two = haar.lanes  # a cascade of its own for the second lane
        assert two.cascades[0][0] is not one.cascades[0][0]
        problem.close()
        monkeypatch.setattr("polyface.detect.ort.available", lambda: False)
        assert n_lanes(cfg, torch.device("cpu")) == 1  # torch alone gains nothing from lanes
    with library_threads(1):
        assert n_lanes(cfg, torch.device("cpu")) == 1


@pytest.mark.parametrize("threads", [2])
def test_a_run_gives_torch_its_threads_back(threads):
    from polyface.run import evolve

    cfg = load_preset("default").replace(seed=1, max_generations=2, polish=0, population=8, elites=2)
    with library_threads(threads):
        evolve(cfg, write=False)
        assert torch.get_num_threads() == threads
