"""Lanes: a batch's detector work split between threads changes no score."""

import numpy as np
import pytest
import torch

from polyface.detect.types import concat_detections
from polyface.genome import random_genome
from polyface.preset import load_preset
from polyface.placement import n_lanes
from polyface.run import build
from polyface.search.lanes import MIN_PER_LANE, Lanes, torch_threads

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
        out = lanes.map(lambda x, main: (seen.append((threading.get_ident(), main)), x.sum().item())[1], torch.arange(10.0))
    finally:
        lanes.close()
    assert out == [sum(range(5)), sum(range(5, 10))]
    assert len({ident for ident, _ in seen}) == 2 and sorted(m for _, m in seen) == [False, True]


def test_whole_gives_torch_every_lane_and_takes_it_back():
    lanes = Lanes(2)
    with torch_threads(1):
        with lanes.whole():
            assert torch.get_num_threads() == 2
        assert torch.get_num_threads() == 1
    lanes.close()


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
    with torch_threads(1):
        two, _ = build(cfg, torch.device("cpu"), lanes=2)
        one, _ = build(cfg, torch.device("cpu"), detector=two.detector, lanes=1)  # the same networks
        try:
            a, b = one.score_batch(genomes, seed=5), two.score_batch(genomes, seed=5)
        finally:
            one.close()
            two.close()
    assert len(two.lanes.bounds(len(genomes) * cfg.augment)) == 2  # the batch was really split
    assert len(set(a.scores.round(6).tolist())) > 3  # scores that tell candidates apart
    np.testing.assert_array_equal(a.scores, b.scores)
    np.testing.assert_array_equal(a.passes, b.passes)
    np.testing.assert_array_equal(a.boxes, b.boxes)


def test_a_cpu_run_has_a_lane_per_torch_thread_with_onnx_and_without_workers(monkeypatch):
    pytest.importorskip("onnxruntime")
    cfg = load_preset("default")
    with torch_threads(2):
        assert n_lanes(cfg, torch.device("cpu")) == 2
        assert n_lanes(cfg.replace(workers=2), torch.device("cpu")) == 1
        problem, _ = build(cfg, torch.device("cpu"), lanes=2)
        assert problem.detector.backend == "onnx" and problem.accept.backend == "torch"
        problem.close()
        monkeypatch.setattr("polyface.detect.ort.available", lambda: False)
        assert n_lanes(cfg, torch.device("cpu")) == 1  # torch alone gains nothing from lanes
    with torch_threads(1):
        assert n_lanes(cfg, torch.device("cpu")) == 1


@pytest.mark.parametrize("threads", [2])
def test_a_run_gives_torch_its_threads_back(threads):
    from polyface.run import evolve

    cfg = load_preset("default").replace(seed=1, max_generations=2, polish=0, population=8, elites=2)
    with torch_threads(threads):
        evolve(cfg, write=False)
        assert torch.get_num_threads() == threads
