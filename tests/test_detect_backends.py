"""The detectors' ONNX Runtime backend gives what their torch networks give: raw outputs of
every network within 1e-4, and the same detections (probabilities within 1e-4, boxes within
0.01 px), on real faces (the astronaut) and on random polygon images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from polyface.detect import mtcnn, ort  # noqa: E402
from polyface.detect.blazeface import BlazeFace, blaze_input  # noqa: E402
from polyface.detect.blazeface_decode import letterbox  # noqa: E402
from polyface.detect.mtcnn import FaceDetector  # noqa: E402
from polyface.genome import random_genome  # noqa: E402
from polyface.render.cairo import render_batch  # noqa: E402
from conftest import to_batch  # noqa: E402

SEARCH = dict(thresholds=(0.8, 0.9, 0.7))


@pytest.fixture(scope="module")
def pair() -> tuple[FaceDetector, FaceDetector]:
    return FaceDetector(backend="torch"), FaceDetector(backend="onnx")


@pytest.fixture(scope="module")
def blaze_pair() -> tuple[BlazeFace, BlazeFace]:
    return BlazeFace(backend="torch"), BlazeFace(backend="onnx")


@pytest.fixture(scope="module")
def images(astronaut, face_crop) -> dict[int, torch.Tensor]:
    """size -> 3 astronaut crops (face large, small and off-centre) then 9 random polygon images."""
    crops = [face_crop, astronaut[0:320, 100:420], astronaut[20:260, 60:300]]
    crops = [np.ascontiguousarray(c) for c in crops]
    rng = np.random.default_rng(5)
    polys = [random_genome(rng, 40, 5) for _ in range(9)]
    out = {}
    for size in (64, 96, 128):
        faces = [F.interpolate(to_batch(c), size=(size, size), mode="area") for c in crops]
        out[size] = torch.cat([*faces, render_batch(polys, size)])
    return out


def close(a: tuple[torch.Tensor, ...], b: tuple[torch.Tensor, ...], rtol: float = 0.0) -> None:
    """Within 1e-4 (plus ``rtol`` of the value: float32 sums in another order differ by a few
    units in the last place, about 5e-6 of the value, which is more than 1e-4 for values ~50)."""
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.shape == y.shape
        torch.testing.assert_close(x, y, atol=1e-4, rtol=rtol)


def normalised(x: torch.Tensor) -> torch.Tensor:
    return (x * 255.0 - 127.5) * 0.0078125


@pytest.mark.parametrize("size", [64, 96, 128])
def test_pnet_outputs_match_torch(pair, images, size):
    torch_det, onnx_det = pair
    for scale in torch_det.scales(size, size):
        side = int(size * scale + 1)
        x = normalised(F.interpolate(images[size], size=(side, side), mode="area"))
        with torch.inference_mode():
            close(onnx_det.nets()[0](x), torch_det.pnet(x))


def test_rnet_and_onet_outputs_match_torch(pair, images):
    torch_det, onnx_det = pair
    for net, side in ((1, 24), (2, 48)):
        x = normalised(F.interpolate(images[128], size=(side, side), mode="area"))
        with torch.inference_mode():
            close(onnx_det.nets()[net](x), torch_det.nets()[net](x))


def test_blazeface_outputs_match_torch(blaze_pair, images):
    torch_bz, onnx_bz = blaze_pair
    for size in (64, 128):
        x, _ = letterbox(images[size])
        with torch.inference_mode():
            close(onnx_bz._net(x), torch_bz.net(x), rtol=1e-5)  # regressors are pixels, up to ~100


def same_detections(a, b) -> None:
    assert torch.equal(a.count, b.count)
    assert torch.equal(a.image_index, b.image_index)
    torch.testing.assert_close(a.probs, b.probs, atol=1e-4, rtol=0)
    torch.testing.assert_close(a.best_prob, b.best_prob, atol=1e-4, rtol=0)
    torch.testing.assert_close(a.boxes, b.boxes, atol=0.01, rtol=0)
    torch.testing.assert_close(a.landmarks, b.landmarks, atol=0.01, rtol=0)


@pytest.mark.parametrize("size", [64, 96, 128])
def test_mtcnn_detections_match_torch(pair, images, size):
    torch_det, onnx_det = pair
    a, b = torch_det(images[size], **SEARCH), onnx_det(images[size], **SEARCH)
    assert int(a.count[:3].gt(0).sum()) >= 2  # the astronaut is found: the cascade ran to O-Net
    same_detections(a, b)
    torch.testing.assert_close(torch_det.onet_logit(images[size]), onnx_det.onet_logit(images[size]), atol=1e-4, rtol=0)


def test_blazeface_detections_match_torch(blaze_pair, images):
    torch_bz, onnx_bz = blaze_pair
    x = blaze_input(images[128])
    (a, top_a), (b, top_b) = torch_bz.detect(x), onnx_bz.detect(x)
    assert int(a.count[:3].gt(0).sum()) >= 2
    same_detections(a, b)
    torch.testing.assert_close(top_a, top_b, atol=1e-4, rtol=0)


def test_onnx_backend_is_deterministic_and_takes_empty_batches(pair, blaze_pair, images):
    _, onnx_det = pair
    first, again = onnx_det(images[96], **SEARCH), onnx_det(images[96], **SEARCH)
    assert torch.equal(first.boxes, again.boxes) and torch.equal(first.probs, again.probs)
    assert onnx_det(images[64][:0]).count.shape == (0,)
    assert blaze_pair[1](images[64][:0]).count.shape == (0,)


def test_onnx_crops_run_in_small_unpadded_slices_with_the_same_results(pair, images, monkeypatch):
    # ONNX Runtime keeps nothing per shape: R-Net and O-Net run on slices of at most ORT_CHUNK
    # crops (faster: their activations stay in cache), bit for bit what one pass gives.
    _, onnx_det = pair
    seen: dict[int, list[int]] = {1: [], 2: []}

    def watch(k, net):
        return lambda x: seen[k].append(len(x)) or net(x)

    want = onnx_det(images[96], **SEARCH)
    nets = onnx_det._onnx
    monkeypatch.setattr(onnx_det, "_onnx", (nets[0], watch(1, nets[1]), watch(2, nets[2])))
    got = onnx_det(images[96], **SEARCH)
    crops = sum(seen[2])
    assert crops > mtcnn.ORT_CHUNK and max(seen[1] + seen[2]) <= mtcnn.ORT_CHUNK
    monkeypatch.setattr(mtcnn, "ORT_CHUNK", 10**6)
    seen[2].clear()
    whole = onnx_det(images[96], **SEARCH)
    assert seen[2] == [crops]  # one pass, unpadded
    for field in ("boxes", "probs", "landmarks", "count"):
        assert torch.equal(getattr(got, field), getattr(whole, field))
        assert torch.equal(getattr(got, field), getattr(want, field))


def test_sessions_keep_no_arena_and_no_plans_per_shape(pair, blaze_pair):
    # Both would hold on to what each batch shape once needed: a run's memory grows with them.
    for net in (*pair[1].nets(), blaze_pair[1]._onnx):
        opts = net.runtime.get_session_options()
        assert not opts.enable_cpu_mem_arena and not opts.enable_mem_pattern


def test_auto_picks_onnx_where_it_is_faster_and_torch_without_onnxruntime(monkeypatch):
    cpu = torch.device("cpu")
    assert ort.resolve("auto", cpu) == "onnx"
    assert ort.resolve("auto", torch.device("cuda")) == "torch"
    assert ort.resolve("torch", cpu) == "torch"
    assert torch.get_num_threads() == 2  # conftest's
    assert FaceDetector().backend == "torch" and BlazeFace().backend == "torch"
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)  # a single-thread run or worker
    assert FaceDetector().backend == "torch" and BlazeFace().backend == "onnx"
    monkeypatch.setattr(ort, "available", lambda: False)
    assert ort.resolve("auto", cpu) == "torch"
    assert BlazeFace().backend == "torch"
    with pytest.raises(ort.BackendError, match="needs onnxruntime"):
        ort.resolve("onnx", cpu)


def test_bad_backends_are_refused():
    with pytest.raises(ort.BackendError, match="one of auto, torch, onnx"):
        FaceDetector(backend="tensorrt")
    with pytest.raises(ort.BackendError, match="CPU only"):
        ort.resolve("onnx", torch.device("cuda"))
