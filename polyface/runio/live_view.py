"""What the run pages show of a genome: PNG bytes in memory, and what each detector sees.

Detectors are listed by name in ``DETECTORS``, each with its own colour; the page draws
every detector's faces (box, and keypoints where it has them) as its own toggle. A new
detector of the ensemble joins by ``register(name, Overlay(...))``.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import cairo
import numpy as np
import torch

from polyface.genome import Genome
from polyface.render.cairo import BatchRenderer, draw

PNG_SIZES = (48, 64, 96, 128, 192, 256, 384, 512)


def png_bytes(genome: Genome, size: int) -> bytes:
    """The genome rendered (antialiased) at ``size`` px as PNG bytes; nothing touches the disk."""
    surface = cairo.ImageSurface(cairo.FORMAT_RGB24, size, size)
    draw(cairo.Context(surface), genome, size)
    buf = io.BytesIO()
    surface.write_to_png(buf)
    surface.finish()
    return buf.getvalue()


def sprite_png(genomes: list[Genome], cell: int = 56, cols: int = 8, gap: int = 2) -> bytes:
    """Many genomes as one PNG grid, row by row (one request for the page's population)."""
    rows = max(1, -(-len(genomes) // cols))
    width = min(len(genomes), cols) * (cell + gap) - gap if genomes else cell
    surface = cairo.ImageSurface(cairo.FORMAT_RGB24, max(width, 1), rows * (cell + gap) - gap)
    ctx = cairo.Context(surface)
    ctx.set_source_rgb(0.08, 0.08, 0.08)
    ctx.paint()
    for i, g in enumerate(genomes):
        ctx.save()
        ctx.translate((i % cols) * (cell + gap), (i // cols) * (cell + gap))
        ctx.rectangle(0, 0, cell, cell)
        ctx.clip()
        draw(ctx, g, cell)
        ctx.restore()
    buf = io.BytesIO()
    surface.write_to_png(buf)
    surface.finish()
    return buf.getvalue()


@dataclass(frozen=True)
class Overlay:
    """One detector as the page shows it.

    ``detect(images)`` takes (B,3,H,W) floats in [0, 1] and returns, per image, a list of faces
    ``{"box": [x0, y0, x1, y1], "prob": p or None, "points": [[x, y], ...]}`` in canvas units.
    """

    label: str
    colour: str
    detect: Callable[[torch.Tensor], list[list[dict]]]
    point_names: tuple[str, ...] = ()
    enabled: Callable[[dict], bool] = field(default=lambda settings: True)


_lock = threading.Lock()
_mtcnn = None


def _mtcnn_faces(images: torch.Tensor) -> list[list[dict]]:
    global _mtcnn
    from polyface.detect.mtcnn import FaceDetector

    with _lock:  # one detector for the page, on the CPU: it never competes for the run's GPU memory
        if _mtcnn is None:
            _mtcnn = FaceDetector(device="cpu")
        det = _mtcnn(images)
    h, w = images.shape[2:]
    scale = np.array([w, h, w, h], np.float64)
    out = []
    for i in range(images.shape[0]):
        boxes, probs, marks = det.for_image(i)
        faces = []
        for b, p, m in zip(boxes.tolist(), probs.tolist(), marks.tolist()):
            faces.append(
                {
                    "box": [round(v, 4) for v in (np.array(b) / scale).tolist()],
                    "prob": round(float(p), 6),
                    "points": [[round(x / w, 4), round(y / h, 4)] for x, y in m],
                }
            )
        out.append(faces)
    return out


DETECTORS: dict[str, Overlay] = {
    "mtcnn": Overlay(
        "MTCNN", "#4fc3f7", _mtcnn_faces, ("left eye", "right eye", "nose", "mouth left", "mouth right")
    ),
}


def register(name: str, overlay: Overlay) -> None:
    """Add a detector to every page (e.g. ``blazeface`` with 6 keypoints, ``haar`` with a box)."""
    DETECTORS[name] = overlay


def detector_view(genome: Genome, size: int, settings: dict | None = None) -> dict:
    """Each enabled detector's faces on the genome rendered as the search sees it (``size`` px,
    no antialiasing): ``{"size": size, "detectors": [{"name", "label", "colour", "point_names", "faces"}]}``."""
    images = BatchRenderer(size, antialias=False).render_tensor([genome])
    views = []
    for name, ov in DETECTORS.items():
        if not ov.enabled(settings or {}):
            continue
        views.append(
            {
                "name": name,
                "label": ov.label,
                "colour": ov.colour,
                "point_names": list(ov.point_names),
                "faces": ov.detect(images)[0],
            }
        )
    return {"size": size, "detectors": views}
