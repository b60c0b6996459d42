"""BlazeFace as a module: batching, empty results, input checks, weight-file checks, letterbox."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from polyface.detect.blazeface import BlazeFace
from polyface.detect.blazeface_decode import _resize_axis, _taps, letterbox
from polyface.detect.blazeface_net import WEIGHTS_FILE, WeightsError, load_net, read_weights
from polyface.genome import random_genome
from polyface.render.cairo import render_batch

from conftest import to_batch

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def blazeface() -> BlazeFace:
    return BlazeFace()


def _sized(img: np.ndarray, w: int, h: int) -> np.ndarray:
    return np.asarray(Image.fromarray(np.ascontiguousarray(img)).resize((w, h), Image.Resampling.BOX))


@pytest.fixture(scope="module")
def faces64(face_crop) -> torch.Tensor:
    """Four 64x64 images: the face, its mirror image, a smaller face on grey, and blank."""
    small = np.full((64, 64, 3), 128, np.uint8)
    small[12:52, 12:52] = _sized(face_crop, 40, 40)
    imgs = [_sized(face_crop, 64, 64), _sized(face_crop[:, ::-1], 64, 64), small, np.zeros((64, 64, 3), np.uint8)]
    return to_batch(*imgs)


def test_finds_the_face_with_sensible_keypoints(blazeface, face_crop):
    det = blazeface(to_batch(face_crop))
    assert det.count.tolist() == [1] and float(det.best_prob[0]) > 0.8
    x0, y0, x1, y1 = det.best_box[0].tolist()
    pts = det.best_landmarks[0]
    assert (pts[:, 0] > x0 - 5).all() and (pts[:, 0] < x1 + 5).all() and (pts[:, 1] > y0 - 5).all()
    right_eye, left_eye, nose, mouth = pts[0], pts[1], pts[2], pts[3]
    assert right_eye[0] < nose[0] < left_eye[0]  # the subject's right eye is on the image's left
    assert max(right_eye[1], left_eye[1]) < nose[1] < mouth[1]


def test_batched_equals_one_by_one(blazeface, faces64, face_crop):
    rng = np.random.default_rng(3)
    polys = render_batch([random_genome(rng, 30, 6) for _ in range(4)], 64)
    pair = np.zeros((64, 64, 3), np.uint8)
    pair[16:48, :32], pair[16:48, 32:] = _sized(face_crop, 32, 32), _sized(face_crop[:, ::-1], 32, 32)
    batch = torch.cat([to_batch(pair), faces64, polys])
    det = blazeface(batch)
    assert det.count[:4].tolist() == [2, 1, 1, 1]
    for i in range(len(batch)):
        one = blazeface(batch[i : i + 1])
        boxes, probs, marks = det.for_image(i)
        assert int(det.count[i]) == int(one.count[0])
        np.testing.assert_allclose(boxes.numpy(), one.boxes.numpy(), atol=1e-3)
        np.testing.assert_allclose(probs.numpy(), one.probs.numpy(), atol=1e-5)
        np.testing.assert_allclose(marks.numpy(), one.landmarks.numpy(), atol=1e-3)
        for field in ("best_prob", "best_logit", "best_box", "best_landmarks"):
            np.testing.assert_allclose(getattr(det, field)[i].numpy(), getattr(one, field)[0].numpy(), atol=1e-3)
        if len(probs):  # the best face is the most probable one, and faces come best first
            assert float(det.best_prob[i]) == float(probs.max()) == float(det.probs[det.image_index == i][0])
            np.testing.assert_array_equal(det.best_box[i].numpy(), boxes[0].numpy())


def test_blank_images_give_no_face_and_dense_zeros(blazeface, faces64):
    det = blazeface(torch.cat([torch.zeros(1, 3, 48, 48), torch.ones(1, 3, 48, 48)]))
    assert det.count.tolist() == [0, 0]
    assert det.boxes.shape == (0, 4) and det.landmarks.shape == (0, 6, 2) and det.probs.shape == (0,)
    assert det.best_box.shape == (2, 4) and det.best_landmarks.shape == (2, 6, 2)
    assert not det.best_prob.any() and not det.best_logit.any() and not det.best_box.any()
    assert det.size == (48, 48)
    empty = blazeface(torch.zeros(0, 3, 32, 32))
    assert empty.count.shape == (0,) and empty.best_landmarks.shape == (0, 6, 2)
    mixed = blazeface(faces64[[3, 0, 3]])  # blank, face, blank
    assert mixed.count.tolist() == [0, 1, 0]
    for field in ("best_prob", "best_logit", "best_box", "best_landmarks"):
        values = getattr(mixed, field)
        assert not values[[0, 2]].any() and values[1].abs().sum() > 0, field


def test_shapes_and_dtypes(blazeface, faces64):
    det = blazeface(faces64)
    k, b = len(det.probs), faces64.shape[0]
    assert k == int(det.count.sum()) == 3
    assert det.boxes.shape == (k, 4) and det.landmarks.shape == (k, 6, 2) and det.logits.shape == (k,)
    assert det.image_index.tolist() == [0, 1, 2] and det.image_index.dtype == torch.long
    assert det.count.shape == (b,) and det.best_prob.shape == (b,) and det.best_logit.shape == (b,)
    assert det.best_box.shape == (b, 4) and det.best_landmarks.shape == (b, 6, 2)
    for t in (det.boxes, det.probs, det.logits, det.landmarks, det.best_prob, det.best_box):
        assert t.dtype == torch.float32
    np.testing.assert_allclose(det.probs.numpy(), torch.sigmoid(det.logits).numpy(), rtol=1e-6)
    assert (det.boxes[:, 2:] > det.boxes[:, :2]).all()
    assert float(blazeface(faces64.double()).probs.sum()) == pytest.approx(float(det.probs.sum()), abs=1e-5)


def test_rejects_bad_images(blazeface):
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        blazeface(torch.zeros(3, 64, 64))
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        blazeface(torch.zeros(1, 4, 64, 64))
    with pytest.raises(ValueError, match="floats in \\[0, 1\\].*uint8"):
        blazeface(torch.zeros(1, 3, 64, 64, dtype=torch.uint8))
    with pytest.raises(ValueError, match="min_score"):
        BlazeFace(min_score=1.5)


def test_max_logit_is_the_smooth_signal(blazeface, faces64):
    top = blazeface.max_logit(faces64)
    det = blazeface(faces64)
    _, logits = blazeface.raw(faces64)
    assert top.shape == (4,)
    np.testing.assert_allclose(top.numpy(), logits.amax(1).numpy(), atol=1e-6)
    np.testing.assert_allclose(top[:3].numpy(), det.best_logit[:3].numpy(), atol=1e-6)  # the best face's own logit
    assert float(top[3]) < 0.0 < float(top[:3].min())  # blank is below the 0.5 threshold, faces above


def _save_npz(path: Path, arrays: dict) -> Path:
    np.savez(path, **arrays)
    return path


def test_bad_weight_files_are_named_clearly(tmp_path):
    good = {k: v.numpy() for k, v in read_weights().items()}
    assert load_net().stem.weight.shape == (24, 3, 5, 5)
    wrong = dict(good, **{"blocks.3.pw.weight": np.zeros((36, 32, 3, 3), np.float32)})
    with pytest.raises(WeightsError, match=r"wrong\.npz: array 'blocks\.3\.pw\.weight' is float32\[36, 32, 3, 3\], "):
        read_weights(_save_npz(tmp_path / "wrong.npz", wrong))
    half = dict(good, **{"stem.bias": good["stem.bias"].astype(np.float16)})
    with pytest.raises(WeightsError, match="'stem.bias' is float16"):
        read_weights(_save_npz(tmp_path / "half.npz", half))
    missing = {k: v for k, v in good.items() if k != "cls8.bias"}
    with pytest.raises(WeightsError, match=r"missing arrays \['cls8\.bias'\]"):
        BlazeFace(weights=_save_npz(tmp_path / "missing.npz", missing))
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(WeightsError, match="junk.npz: cannot read BlazeFace weights"):
        read_weights(tmp_path / "junk.npz")
    with pytest.raises(WeightsError, match="absent.npz"):
        read_weights(tmp_path / "absent.npz")
    assert WEIGHTS_FILE.is_file()


def test_letterbox_maps_boxes_back_to_the_input(blazeface, face_crop):
    """A wide image is detected as its black-barred square would be, shifted by the bar."""
    face = _sized(face_crop, 96, 96)
    wide = np.zeros((96, 160, 3), np.uint8)
    wide[:, 20:116] = face
    square = np.zeros((160, 160, 3), np.uint8)
    square[32:128] = wide
    dw, ds = blazeface(to_batch(wide)), blazeface(to_batch(square))
    assert dw.count.tolist() == ds.count.tolist() == [1]
    assert dw.size == (96, 160)
    np.testing.assert_allclose(dw.boxes.numpy(), ds.boxes.numpy() - [0, 32, 0, 32], atol=1e-3)
    np.testing.assert_allclose(dw.landmarks.numpy(), ds.landmarks.numpy() - [0, 32], atol=1e-3)
    np.testing.assert_allclose(dw.probs.numpy(), ds.probs.numpy(), atol=1e-6)


@pytest.mark.parametrize("h,w", [(64, 64), (100, 100), (96, 128), (160, 120), (128, 128)])
def test_letterbox_resizes_as_opencv_warp_does(h, w, astronaut):
    """MediaPipe maps the ROI's corners onto the tensor's with OpenCV (bilinear, zero border)."""
    cv2 = pytest.importorskip("cv2")
    img = _sized(astronaut, w, h)
    s = max(h, w)
    x0, y0 = (w - s) / 2, (h - s) / 2
    src = np.float32([[x0, y0 + s], [x0, y0], [x0 + s, y0], [x0 + s, y0 + s]])
    dst = np.float32([[0, 128], [0, 0], [128, 0], [128, 128]])
    matrix = cv2.getPerspectiveTransform(src, dst)
    want = cv2.warpPerspective(img, matrix, (128, 128), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    x, _ = letterbox(to_batch(img))
    got = (x[0].permute(1, 2, 0).numpy() + 1.0) * 127.5
    diff = np.abs(got - want.astype(np.float32))
    assert diff.max() <= 1.01 and diff.mean() < 0.01


def test_letterbox_skips_the_identity_resize_with_the_same_values():
    # A 128 px image needs no resize (weights 1 and 0): the skip must give what the two passes
    # give, bit for bit, on floats that are not 8-bit levels (robust scoring's shifted copies).
    x = torch.rand(4, 3, 128, 128, generator=torch.Generator().manual_seed(3))
    taps = _taps(128, 0.0, 128.0, x.device)
    full = _resize_axis(_resize_axis(x, 2, taps).transpose(2, 3), 2, taps).transpose(2, 3)
    want = torch.floor(full.clamp(0.0, 1.0) * 255.0 + 0.501) * (2.0 / 255.0) - 1.0
    got, box = letterbox(x)
    assert torch.equal(got, want) and box == (0.0, 0.0, 128.0)


def test_same_results_on_every_device(device, faces64):
    cpu = BlazeFace()(faces64)
    dev = BlazeFace(device=device)
    assert dev.device.type == device
    det = dev(faces64.to(device))
    assert det.count.tolist() == cpu.count.tolist()
    np.testing.assert_allclose(det.boxes.cpu().numpy(), cpu.boxes.numpy(), atol=0.05)
    np.testing.assert_allclose(det.probs.cpu().numpy(), cpu.probs.numpy(), atol=1e-4)


def test_logits_are_clipped_as_mediapipe_does():
    from polyface.detect.blazeface_decode import anchors, decode

    logits = torch.zeros(1, 896)
    logits[0, :3] = torch.tensor([150.0, -150.0, 99.5])
    d = decode(torch.zeros(1, 896, 16), logits, anchors())
    assert d.logits[0, :4].tolist() == [100.0, -100.0, 99.5, 0.0]
    assert d.scores[0, :2].tolist() == [1.0, 0.0]
    np.testing.assert_allclose(d.boxes[0, 0].numpy(), [0.5 / 16] * 4, atol=1e-7)  # zero size at the first anchor
    last = [[7.5 / 8, 7.5 / 8]] * 6  # the last cell of the 8x8 map
    np.testing.assert_allclose(d.points[0, 895].numpy(), last, atol=1e-7)


def test_runtime_needs_only_numpy_and_torch():
    """Detection never imports the packages that carried or ran the original model."""
    import subprocess
    import sys

    code = (
        "import sys, torch\n"
        "from polyface.detect import BlazeFace\n"
        "BlazeFace()(torch.rand(1, 3, 32, 32))\n"
        "bad = {'mediapipe', 'tensorflow', 'tflite', 'tflite_runtime', 'ai_edge_litert'}\n"
        "print(sorted(bad & {m.split('.')[0] for m in sys.modules}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
