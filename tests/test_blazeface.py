"""BlazeFace against Google's own code: the TFLite interpreter and MediaPipe's face detection.

Three references, each checked by its own test:
- ``blazeface_tflite.npz``: the original .tflite's raw outputs from the TFLite interpreter on
  fixed 128x128 images (made by ``scripts/make_blazeface_reference.py tflite``);
- ``blazeface_mediapipe.npz``: the detections of MediaPipe's whole face detection solution on
  images of other sizes and shapes (``... mediapipe``);
- live, where ``ai-edge-litert`` is installed: the interpreter on photos and random polygons.
Detections are also compared with ``reference_detect`` below, a plain loop-by-loop rewrite of
MediaPipe's SsdAnchors, TensorsToDetections and weighted NonMaxSuppression calculators.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from polyface.detect.blazeface import BlazeFace

DATA = Path(__file__).parent / "data"
MODEL = DATA / "face_detection_short_range.tflite"
SCORE_TOL, PX_TOL, RAW_TOL = 1e-3, 1.0, 2e-3


# --- an independent re-implementation of MediaPipe's post-processing, one box at a time -----
def reference_anchors() -> list[tuple[float, float]]:
    """SsdAnchorsCalculator with the short-range options (fixed anchor size: centres only)."""
    strides, out, layer = [8, 16, 16, 16], [], 0
    while layer < len(strides):
        last, per_cell = layer, 0
        while last < len(strides) and strides[last] == strides[layer]:
            per_cell += 2  # aspect ratio 1.0 plus the interpolated scale
            last += 1
        fm = math.ceil(128 / strides[layer])
        for y in range(fm):
            for x in range(fm):
                out += [((x + 0.5) / fm, (y + 0.5) / fm)] * per_cell
        layer = last
    return out


def _iou(a, b) -> float:
    ix = min(a[2], b[2]) - max(a[0], b[0])
    iy = min(a[3], b[3]) - max(a[1], b[1])
    if ix <= 0 or iy <= 0:
        return 0.0
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def reference_detect(reg: np.ndarray, logits: np.ndarray, min_score=0.5, thr=0.3):
    """(896,16), (896,) raw outputs -> [(score, box[4], keypoints[6][2], cluster size)], in [0,1] units."""
    dets = []
    for i, (ax, ay) in enumerate(reference_anchors()):
        score = 1.0 / (1.0 + math.exp(-min(max(float(logits[i]), -100.0), 100.0)))
        if score < min_score:
            continue
        r = reg[i].astype(np.float64)
        xc, yc, w, h = r[0] / 128 + ax, r[1] / 128 + ay, r[2] / 128, r[3] / 128
        if w < 0 or h < 0:
            continue
        kps = [(r[4 + 2 * k] / 128 + ax, r[5 + 2 * k] / 128 + ay) for k in range(6)]
        dets.append((score, [xc - w / 2, yc - h / 2, xc + w / 2, yc + h / 2], kps))
    remaining = sorted(dets, key=lambda d: -d[0])
    out = []
    while remaining:
        top = remaining[0]
        group = [d for d in remaining if _iou(d[1], top[1]) > thr]
        remaining = [d for d in remaining if _iou(d[1], top[1]) <= thr]
        total = sum(d[0] for d in group)
        box = [sum(d[0] * d[1][j] for d in group) / total for j in range(4)]
        kps = [[sum(d[0] * d[2][k][j] for d in group) / total for j in range(2)] for k in range(6)]
        out.append((top[0], box, kps, len(group)))
    return out


# --- shared by the tests below ---------------------------------------------------------------
@pytest.fixture(scope="module")
def blazeface() -> BlazeFace:
    return BlazeFace()


def to_batch(*images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float().div(255.0)


def assert_same_faces(det, i: int, expected: list, scale: float) -> None:
    """Image i of ``det`` holds ``expected`` (reference_detect's output, [0,1] units * scale px)."""
    sel = (det.image_index == i).nonzero().flatten()
    assert len(sel) == len(expected), f"image {i}: {len(sel)} faces, reference {len(expected)}"
    if not expected:
        return
    np.testing.assert_allclose(det.probs[sel].numpy(), [e[0] for e in expected], atol=SCORE_TOL)
    np.testing.assert_allclose(det.boxes[sel].numpy(), np.array([e[1] for e in expected]) * scale, atol=PX_TOL)
    np.testing.assert_allclose(det.landmarks[sel].numpy(), np.array([e[2] for e in expected]) * scale, atol=PX_TOL)


def check_against_interpreter(blazeface, images, reg, logits) -> int:
    """Raw outputs and detections of the torch module vs the interpreter's; returns merged clusters."""
    x = to_batch(*images)
    t_reg, t_logits = blazeface.raw(x)
    assert np.abs(t_logits.numpy() - logits).max() < RAW_TOL
    assert np.abs(t_reg.numpy() - reg).max() < RAW_TOL
    det = blazeface(x)
    merged = 0
    for i in range(len(images)):
        expected = reference_detect(reg[i], logits[i])
        assert_same_faces(det, i, expected, 128.0)
        merged += sum(e[3] > 1 for e in expected)
    return merged


# --- the tests -------------------------------------------------------------------------------
def test_matches_committed_interpreter_outputs(blazeface):
    ref = np.load(DATA / "blazeface_tflite.npz")
    merged = check_against_interpreter(blazeface, ref["images"], ref["regressors"], ref["classificators"])
    assert merged >= 2  # the weighted averaging of several anchors was exercised


def test_matches_mediapipe_face_detection_solution(blazeface):
    """The whole pipeline (letterbox, resize, decode, NMS, back to pixels) vs MediaPipe 0.10.21."""
    ref = np.load(DATA / "blazeface_mediapipe.npz")
    assert int(ref["image_index"].max()) > 0 and len(ref["scores"]) >= 5
    for i, name in enumerate(ref["names"]):
        img = ref[f"image:{name}"]
        det = blazeface(to_batch(img))
        sel = ref["image_index"] == i
        assert int(det.count[0]) == int(sel.sum()), name
        assert det.size == img.shape[:2]
        np.testing.assert_allclose(det.probs.numpy(), ref["scores"][sel], atol=SCORE_TOL, err_msg=str(name))
        np.testing.assert_allclose(det.boxes.numpy(), ref["boxes"][sel], atol=PX_TOL, err_msg=str(name))
        np.testing.assert_allclose(det.landmarks.numpy(), ref["landmarks"][sel], atol=PX_TOL, err_msg=str(name))


def test_decode_and_weighted_nms_match_reference_on_crowded_outputs():
    """Made-up raw outputs with many overlapping boxes above the threshold, of every IoU."""
    from polyface.detect.blazeface_decode import anchors, decode, weighted_nms

    rng = np.random.default_rng(5)
    b = 4
    logits = rng.uniform(-8.0, -1.0, (b, 896)).astype(np.float32)
    reg = np.zeros((b, 896, 16), np.float32)
    for i in range(b):
        hot = rng.choice(896, size=60, replace=False)
        logits[i, hot] = rng.uniform(-0.5, 5.0, 60)
        reg[i, hot, :2] = rng.normal(0.0, 6.0, (60, 2))
        reg[i, hot, 2:4] = rng.uniform(8.0, 50.0, (60, 2))
        reg[i, hot, 4:] = rng.normal(0.0, 10.0, (60, 12))
    logits[b - 1, hot[:3]] = 4.0
    reg[b - 1, hot[:3], 2] = -5.0  # negative widths are dropped
    m = weighted_nms(decode(torch.from_numpy(reg), torch.from_numpy(logits), anchors()), 0.5, 0.3)
    sizes = []
    for i in range(b):
        expected = reference_detect(reg[i], logits[i])
        sizes += [e[3] for e in expected]
        sel = (m.image_index == i).nonzero().flatten()
        assert len(sel) == len(expected)
        np.testing.assert_allclose(m.scores[sel].numpy(), [e[0] for e in expected], atol=1e-6)
        np.testing.assert_allclose(m.boxes[sel].numpy(), [e[1] for e in expected], atol=1e-5)
        np.testing.assert_allclose(m.points[sel].numpy(), [e[2] for e in expected], atol=1e-5)
    assert max(sizes) >= 3 and sizes.count(1) >= 3  # both merged and lone boxes took part


def _live_images() -> list[np.ndarray]:
    from skimage import data

    from polyface.genome import random_genome
    from polyface.render.cairo import BatchRenderer

    def sized(img, box=None):
        im = Image.fromarray(np.ascontiguousarray(img))
        return np.asarray(im.resize((128, 128), Image.Resampling.BILINEAR, box=box))

    astro, cam = data.astronaut(), np.stack([data.camera()] * 3, -1)
    faces = [sized(astro, (125, 30, 325, 230)), sized(astro, (150, 40, 300, 190)), sized(astro, (60, 0, 460, 400)),
             sized(astro[:, ::-1]), sized(cam, (120, 50, 340, 270)), sized(data.chelsea())]  # fmt: skip
    rng = np.random.default_rng(11)
    polys = BatchRenderer(128).render([random_genome(rng, 30, 6, symmetric=s) for s in (False, True) * 3])
    return faces + list(polys)


def test_live_parity_with_tflite_interpreter(blazeface):
    litert = pytest.importorskip("ai_edge_litert.interpreter", reason="ai-edge-litert (TFLite interpreter) missing")
    it = litert.Interpreter(model_path=str(MODEL))
    it.allocate_tensors()
    outs = {d["name"]: d["index"] for d in it.get_output_details()}
    images = _live_images()
    regs, logits = [], []
    for img in images:
        it.set_tensor(it.get_input_details()[0]["index"], (img.astype(np.float32) / 127.5 - 1.0)[None])
        it.invoke()
        regs.append(it.get_tensor(outs["regressors"])[0].copy())
        logits.append(it.get_tensor(outs["classificators"])[0, :, 0].copy())
    merged = check_against_interpreter(blazeface, images, np.stack(regs), np.stack(logits))
    assert merged >= 2


def test_converter_reproduces_shipped_weights(tmp_path):
    pytest.importorskip("tflite", reason="the tflite flatbuffer parser is missing")
    import subprocess
    import sys

    from polyface.detect.blazeface_net import WEIGHTS_FILE

    script = Path(__file__).parents[1] / "scripts" / "convert_blazeface.py"
    subprocess.run([sys.executable, str(script), str(MODEL), "--out", str(tmp_path)], check=True, capture_output=True)
    assert (tmp_path / "blazeface_short_range.npz").read_bytes() == WEIGHTS_FILE.read_bytes()
    assert "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8" in (
        tmp_path / "BLAZEFACE_PROVENANCE.md"
    ).read_text()
