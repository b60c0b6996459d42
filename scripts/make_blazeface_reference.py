"""Write the BlazeFace references under tests/data/, made by Google's own code, for the tests.

    python scripts/make_blazeface_reference.py tflite SOURCE
    python scripts/make_blazeface_reference.py mediapipe

``tflite`` (needs ``ai-edge-litert``, Google's TFLite interpreter, and scikit-image; SOURCE is
what ``convert_blazeface.py`` takes) runs the original model on a fixed set of 128x128 RGB
images (photos from scikit-image, cropped and rescaled, and random polygon portraits rendered
by polyface from a seeded generator) and writes ``blazeface_tflite.npz``: the images (uint8)
and the raw outputs ``regressors`` (N,896,16) and ``classificators`` (N,896).

``mediapipe`` (needs ``mediapipe==0.10.21`` and scikit-image; mediapipe wants numpy<2, so run
it from a venv of its own) runs MediaPipe's whole face detection solution (short range,
minimum confidence 0.5) on images of other sizes and shapes (letterboxing, upscaling, several
faces, none) and writes ``blazeface_mediapipe.npz``: the images and the detections (boxes
x0, y0, x1, y1 and keypoints in pixels, scores, image index).
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from polyface.atomic import atomic_path  # noqa: E402  (standard library only)

DATA = REPO / "tests" / "data"


def resize(img: np.ndarray, size: int = 128) -> np.ndarray:
    """Area-average resize of a uint8 RGB image to size x size (PIL, deterministic)."""
    from PIL import Image

    return np.asarray(Image.fromarray(img).resize((size, size), Image.Resampling.BOX))


def tflite_images() -> tuple[list[str], np.ndarray]:
    """Names and (N,128,128,3) uint8 images: faces, a non-face photo, polygon portraits."""
    from skimage import data

    from polyface.genome import random_genome
    from polyface.render.cairo import BatchRenderer

    astro = data.astronaut()
    cam = np.stack([data.camera()] * 3, -1)
    imgs = {
        "astronaut-face": resize(astro[30:230, 125:325]),
        "astronaut-head": resize(astro[0:300, 100:400]),
        "camera": resize(cam),
        "camera-face": resize(cam[60:260, 130:330]),
    }
    rng = np.random.default_rng(2024)
    genomes = [random_genome(rng, n_polygons=40, n_vertices=5) for _ in range(2)]
    for i, img in enumerate(BatchRenderer(128).render(genomes)):
        imgs[f"polygons-{i}"] = img
    return list(imgs), np.stack(list(imgs.values()))


def run_interpreter(model: bytes, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The .tflite model on (N,128,128,3) uint8 images -> regressors (N,896,16), logits (N,896)."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=model)
    it.allocate_tensors()
    (inp,) = it.get_input_details()
    outs = {d["name"]: d["index"] for d in it.get_output_details()}
    regs, logits = [], []
    for img in images:
        it.set_tensor(inp["index"], (img.astype(np.float32) / 127.5 - 1.0)[None])
        it.invoke()
        regs.append(it.get_tensor(outs["regressors"])[0].copy())
        logits.append(it.get_tensor(outs["classificators"])[0, :, 0].copy())
    return np.stack(regs), np.stack(logits)


def mediapipe_images() -> dict[str, np.ndarray]:
    """Images of several sizes and shapes, as MediaPipe's solution gets them (uint8 RGB)."""
    from PIL import Image, ImageDraw
    from skimage import data

    astro = data.astronaut()
    face = astro[30:230, 125:325]
    cam = np.stack([data.camera()] * 3, -1)

    def sized(img: np.ndarray, w: int, h: int) -> np.ndarray:
        return np.asarray(Image.fromarray(img).resize((w, h), Image.Resampling.BOX))

    rng = np.random.default_rng(7)
    poly = Image.new("RGB", (64, 64), (30, 30, 30))
    draw = ImageDraw.Draw(poly, "RGBA")
    for _ in range(30):
        pts = [tuple(p) for p in rng.uniform(0, 64, (5, 2)).tolist()]
        draw.polygon(pts, fill=tuple(int(v) for v in rng.integers(0, 256, 4)))
    return {
        "face-64": sized(face, 64, 64),
        "face-150": sized(face, 150, 150),
        "astronaut-wide-96x128": sized(astro[0:300, 50:450], 128, 96),
        "astronaut-tall-160x120": sized(astro[0:400, 100:400], 120, 160),
        "camera-100": sized(cam, 100, 100),
        "two-faces-64x128": np.concatenate([sized(face, 64, 64), sized(face[:, ::-1], 64, 64)], axis=1),
        "polygons-64": np.asarray(poly),
        "blank-64": np.zeros((64, 64, 3), np.uint8),
    }


def run_mediapipe(images: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """MediaPipe's face detection solution on each image -> flat detection arrays."""
    import mediapipe as mp

    boxes, points, scores, index = [], [], [], []
    with mp.solutions.face_detection.FaceDetection(model_selection=0, min_detection_confidence=0.5) as fd:
        for i, img in enumerate(images.values()):
            h, w = img.shape[:2]
            for det in fd.process(np.ascontiguousarray(img)).detections or []:
                loc = det.location_data
                bb = loc.relative_bounding_box
                boxes.append([bb.xmin * w, bb.ymin * h, (bb.xmin + bb.width) * w, (bb.ymin + bb.height) * h])
                points.append([[k.x * w, k.y * h] for k in loc.relative_keypoints])
                scores.append(det.score[0])
                index.append(i)
    return {
        "boxes": np.array(boxes, np.float32).reshape(-1, 4),
        "landmarks": np.array(points, np.float32).reshape(-1, 6, 2),
        "scores": np.array(scores, np.float32),
        "image_index": np.array(index, np.int64),
        "mediapipe_version": np.array(mp.__version__),
    }


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    bio = io.BytesIO()
    np.savez_compressed(bio, **arrays)
    with atomic_path(path) as tmp:
        tmp.write_bytes(bio.getvalue())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("kind", choices=["tflite", "mediapipe"])
    ap.add_argument("source", type=Path, nargs="?", help="for tflite: mediapipe wheel or the .tflite")
    args = ap.parse_args(argv)
    if args.kind == "tflite":
        if args.source is None:
            ap.error("tflite needs SOURCE")
        from convert_blazeface import read_source

        model, where = read_source(args.source)
        names, images = tflite_images()
        reg, logits = run_interpreter(model, images)
        out = DATA / "blazeface_tflite.npz"
        write_npz(out, {"names": np.array(names), "images": images, "regressors": reg,
                        "classificators": logits, "source": np.array(where)})  # fmt: skip
        print(f"wrote {out}: {len(names)} images, logits up to {logits.max(1).round(3).tolist()}")
        return 0
    images = mediapipe_images()
    dets = run_mediapipe(images)
    out = DATA / "blazeface_mediapipe.npz"
    arrays = {f"image:{k}": v for k, v in images.items()}
    write_npz(out, {**arrays, "names": np.array(list(images)), **dets})
    print(f"wrote {out}: {len(dets['scores'])} faces in {len(images)} images, index {dets['image_index'].tolist()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
