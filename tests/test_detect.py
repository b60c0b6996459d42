"""The detector against facenet-pytorch's MTCNN (the reference implementation), on real faces."""

import numpy as np
import pytest
import torch

from polyface.detect import FaceDetector
from polyface.detect.nets import weights_dir

from conftest import to_batch


def _images(astronaut):
    from skimage import data

    cam = np.stack([data.camera()] * 3, -1)
    face = astronaut[30:230, 125:325]
    imgs = {
        "astronaut": astronaut,
        "camera": cam,
        "face": face,
        "face-small": np.asarray(__import__("PIL.Image", fromlist=["Image"]).fromarray(face).resize((96, 96))),
        "wide": astronaut[0:300, 50:450],
    }
    return {k: np.ascontiguousarray(v) for k, v in imgs.items()}


@pytest.fixture(scope="module")
def reference():
    facenet = pytest.importorskip("facenet_pytorch")
    return facenet.MTCNN(keep_all=True, device="cpu")


def test_weights_found_without_import():
    folder = weights_dir()
    assert {p.name for p in folder.glob("*.pt")} >= {"pnet.pt", "rnet.pt", "onet.pt"}


@pytest.mark.parametrize("name", ["astronaut", "camera", "face", "face-small", "wide"])
def test_parity_with_facenet_pytorch(name, astronaut, detector, reference):
    img = _images(astronaut)[name]
    ref_boxes, ref_probs = reference.detect(img)
    det = detector(to_batch(img))
    boxes, probs, _ = det.for_image(0)
    if ref_boxes is None:
        assert len(probs) == 0
        return
    order = np.argsort(-np.asarray(ref_probs, dtype=float))
    ref_boxes = np.asarray(ref_boxes, dtype=float)[order]
    ref_probs = np.asarray(ref_probs, dtype=float)[order]
    assert len(probs) == len(ref_probs)
    np.testing.assert_allclose(probs.numpy(), ref_probs, atol=1e-4)
    np.testing.assert_allclose(boxes.numpy(), ref_boxes, atol=1.0)


def test_landmarks_match_reference(astronaut, detector, reference):
    img = _images(astronaut)["face"]
    _, _, ref_points = reference.detect(img, landmarks=True)
    _, _, points = detector(to_batch(img)).for_image(0)
    np.testing.assert_allclose(points.numpy(), np.asarray(ref_points, dtype=float), atol=1.0)


def test_batch_equals_one_by_one(astronaut, detector):
    face = _images(astronaut)["face"]
    blank = np.full_like(face, 128)
    flipped = np.ascontiguousarray(face[:, ::-1])
    det = detector(to_batch(face, blank, flipped))
    assert det.count.tolist()[1] == 0 and det.best_prob[1] == 0
    for i, img in ((0, face), (2, flipped)):
        one = detector(to_batch(img))
        assert int(det.count[i]) == int(one.count[0])
        assert abs(float(det.best_prob[i]) - float(one.best_prob[0])) < 1e-5
        assert torch.allclose(det.best_box[i], one.best_box[0], atol=1e-3)


def test_dense_fields_have_documented_shapes(astronaut, detector):
    det = detector(to_batch(_images(astronaut)["face"], _images(astronaut)["face"]))
    k = det.probs.shape[0]
    assert det.boxes.shape == (k, 4) and det.landmarks.shape == (k, 5, 2) and det.image_index.shape == (k,)
    assert det.count.shape == (2,) and det.best_box.shape == (2, 4) and det.best_landmarks.shape == (2, 5, 2)
    assert det.best_prob.dtype == torch.float32 and det.best_logit.shape == (2,)
    assert float(det.best_logit[0]) > 5  # a real face: high log-odds


def test_blank_image_has_no_face(detector):
    det = detector(torch.full((1, 3, 80, 80), 0.5))
    assert int(det.count[0]) == 0 and float(det.best_prob[0]) == 0.0


def test_runs_on_each_device(device, astronaut):
    det = FaceDetector(device=device)(to_batch(_images(astronaut)["face"]))
    assert int(det.count[0]) == 1 and float(det.best_prob[0]) > 0.99


def test_onet_logit_ranks_a_face_above_noise(astronaut, detector):
    face = np.ascontiguousarray(astronaut[62:172, 170:280])  # cropped to the face box, as O-Net sees faces
    noise = np.random.default_rng(0).integers(0, 255, face.shape, dtype=np.uint8)
    logits = detector.onet_logit(to_batch(face, noise))
    assert logits[0] > 3 and logits[0] > logits[1]


def test_cascade_depth_says_how_far_an_image_got(astronaut, detector):
    """``detect_depth`` finds what ``forward`` finds, and below a face says which stage stopped
    the image: [0, 1/3] at P-Net (its best window's probability over the threshold), [1/3, 2/3]
    at R-Net, [2/3, 1] at O-Net; 1 where a face is found."""
    from polyface.detect.crops import resize_area
    from polyface.detect.batching import in_powers_of_two

    x = to_batch(_images(astronaut)["face-small"], np.full((96, 96, 3), 128, np.uint8))
    det, depth = detector.detect_depth(x)
    ref = detector(x)
    assert torch.equal(det.count, ref.count) and torch.equal(det.best_box, ref.best_box)
    assert int(det.count[0]) == 1 and float(depth[0]) == 1.0 and float(depth[1]) < 1 / 3
    # Every stage made impossible in turn (no probability exceeds 1): the face stops there.
    for stage, th in enumerate(((1.001, 0.7, 0.7), (0.6, 1.0, 0.7), (0.6, 0.7, 1.0))):
        det, depth = detector.detect_depth(x[:1], thresholds=th)
        assert int(det.count[0]) == 0
        assert stage / 3 <= float(depth[0]) <= (stage + 1) / 3, (stage, float(depth))
    # At P-Net: its best window's probability over the pyramid, a third of the way.
    _, depth = detector.detect_depth(x, thresholds=(1.001, 0.7, 0.7))
    best = torch.zeros(2)
    for scale in detector.scales(96, 96):
        data = resize_area(x * 255.0, (int(96 * scale + 1), int(96 * scale + 1)))
        _, logits = in_powers_of_two(detector.nets()[0], (data - 127.5) * 0.0078125)
        best = torch.maximum(best, torch.softmax(logits, 1)[:, 1].amax(dim=(1, 2)))
    torch.testing.assert_close(depth, best / 1.001 / 3)
    # Windows narrower than ``depth_side`` do not count: none is as wide as the image plus one.
    _, depth = detector.detect_depth(x, thresholds=(1.001, 0.7, 0.7), depth_side=97)
    assert depth.tolist() == [0.0, 0.0]
    det, depth = detector.detect_depth(x, depth_side=97)
    assert int(det.count[0]) == 1 and float(depth[0]) == 1.0  # a face found counts whatever its size


def test_bad_input_shape(detector):
    with pytest.raises(ValueError, match="shape"):
        detector(torch.zeros(3, 64, 64))


def test_detectors_implement_the_contract(face_crop, detector):
    """MTCNN, BlazeFace and the Haar cascade all take (B,3,H,W) in [0, 1] and return Detections."""
    from polyface.detect import Detections, Detector

    x = to_batch(face_crop, np.zeros_like(face_crop))
    from polyface.detect.blazeface import BlazeFace

    found = [detector, BlazeFace()]
    try:
        from polyface.detect.haar import HaarDetector

        found.append(HaarDetector(min_share=0.4))
    except Exception:  # OpenCV missing: only MTCNN
        pass
    boxes = []
    for det in found:
        assert isinstance(det, Detector) and det.name
        d = det(x)
        assert isinstance(d, Detections) and d.size == face_crop.shape[:2]
        assert d.count.tolist()[1] == 0 and d.count.tolist()[0] >= 1, det.name
        boxes.append(d.best_box[0].cpu())
    # the two families put the face in the same place (x0, y0, x1, y1 within a tenth of the side)
    assert all(float((b - boxes[0]).abs().max()) <= 0.1 * face_crop.shape[0] for b in boxes)


def test_crops_equal_area_resizing_each_crop():
    """``crop_resize`` gives, crop by crop, what facenet-pytorch's resize of each cut gives."""
    from polyface.detect.crops import crop_resize

    g = torch.Generator().manual_seed(0)
    images = torch.rand(4, 3, 40, 56, generator=g) * 255
    k = 30
    index = torch.randint(0, 4, (k,), generator=g)
    y0 = torch.randint(0, 39, (k,), generator=g)
    x0 = torch.randint(0, 55, (k,), generator=g)
    y1 = torch.minimum(y0 + 1 + torch.randint(0, 40, (k,), generator=g), torch.tensor(40))
    x1 = torch.minimum(x0 + 1 + torch.randint(0, 56, (k,), generator=g), torch.tensor(56))
    y0[0], y1[0], x0[0], x1[0] = 0, 40, 0, 56  # a whole image
    y1[1], x1[1] = y0[1] + 1, x0[1] + 1  # one pixel
    for out in (24, 48):
        got = crop_resize(images, index, y0, y1, x0, x1, out)
        for i in range(k):
            cut = images[index[i] : index[i] + 1, :, y0[i] : y1[i], x0[i] : x1[i]]
            want = torch.nn.functional.interpolate(cut, size=(out, out), mode="area")[0]
            torch.testing.assert_close(got[i], want, rtol=1e-5, atol=1e-3)
    assert crop_resize(images, index[:0], y0[:0], y1[:0], x0[:0], x1[:0], 24).shape == (0, 3, 24, 24)
