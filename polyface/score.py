"""Score image files with the face detector: the faces found and the portrait verdict."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from polyface import fitness, validate
from polyface.detect.mtcnn import Detections, FaceDetector

MAX_PIXELS = 8192 * 8192
MAX_IMAGE_BYTES = 512 * 1024 * 1024  # an uncompressed 8192x8192 RGBA BMP is 256 MiB


class ImageError(ValueError):
    """An input image cannot be read; the message names the file."""


@dataclass
class ImageScore:
    path: str
    faces: list[dict]
    best_prob: float
    portrait: bool
    detectors: dict = field(default_factory=dict)  # name -> that detector's verdict

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "faces": self.faces,
            "best_prob": self.best_prob,
            "portrait": self.portrait,
            "detectors": self.detectors,
        }


def load_image(path: str | Path) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 RGB; any problem is an ImageError naming the file."""
    path = Path(path)
    shown = validate.quote(path)
    try:
        data = validate.read_regular(path, MAX_IMAGE_BYTES, "image file")
    except FileNotFoundError:
        raise ImageError(f"{shown}: no such file") from None
    except validate.FileKindError as e:
        raise ImageError(str(e)) from None
    except OSError as e:
        raise ImageError(f"{shown}: cannot be read ({e.strerror or type(e).__name__})") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                w, h = im.size
                if w * h > MAX_PIXELS:
                    raise ImageError(f"{shown}: image is {w}x{h}; allowed at most {MAX_PIXELS} pixels")
                if w < 1 or h < 1:
                    raise ImageError(f"{shown}: image is {w}x{h}; allowed at least 1x1")
                im.load()
                if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                    rgba = im.convert("RGBA")
                    bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                    rgb = Image.alpha_composite(bg, rgba).convert("RGB")
                else:
                    rgb = im.convert("RGB")
                return np.array(rgb, dtype=np.uint8)  # a writable copy: torch.from_numpy warns on read-only arrays
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(f"{shown}: no such file") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"{shown}: image too large; allowed at most {MAX_PIXELS} pixels") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageError(f"{shown}: not a readable image ({type(e).__name__}: {str(e).splitlines()[0][:120]})") from None


def member_votes(
    x: torch.Tensor, det: Detections, members: dict, min_box: float, face_margin: float = fitness.NO_MARGIN
) -> dict[str, dict]:
    """Each ensemble member's verdict on one image (1,3,H,W) whose MTCNN detections are ``det``:
    BlazeFace's portrait rule (on the image area-averaged to its 128 px input), the mean-face
    correlation in MTCNN's box, and the whole Haar cascade, for those in ``members`` (name -> module)."""
    from polyface.detect.blazeface import blaze_input

    out = {}
    if "blazeface" in members:
        b = members["blazeface"](blaze_input(x))
        out["blazeface"] = {
            "portrait": bool(fitness.portrait_rule(b, min_box, face_margin)[0]),
            "prob": round(float(b.best_prob[0]), 6),
            "faces": int(b.count[0]),
        }
    if "prior" in members:
        corr = float(members["prior"](x, det.best_box)[0]) if int(det.count[0]) else 0.0
        out["prior"] = {"correlation": round(corr, 4)}
    if "haar" in members:
        out["haar"] = {"portrait": bool(members["haar"].found(x)[0])}
    return out


def score_images(
    paths: list[str | Path],
    detector: FaceDetector,
    min_box: float = 0.5,
    members: dict | None = None,
    face_margin: float = fitness.NO_MARGIN,
) -> list[ImageScore]:
    """Detect faces in each image and apply the portrait rule; with ``members`` (see
    ``member_votes``) each other detector's verdict too."""
    out = []
    for p in paths:
        img = load_image(p)
        x = torch.from_numpy(img).permute(2, 0, 1)[None].float().div(255.0)
        det = detector(x)
        boxes, probs, _ = det.for_image(0)
        faces = [
            {"box": [round(float(v), 2) for v in b], "prob": round(float(pr), 6)}
            for b, pr in zip(boxes.tolist(), probs.tolist())
        ]
        passes = bool(fitness.portrait_rule(det, min_box, face_margin)[0])
        votes = {"mtcnn": {"portrait": passes, "prob": round(float(det.best_prob[0]), 6), "faces": int(det.count[0])}}
        votes.update(member_votes(x, det, members or {}, min_box, face_margin))
        out.append(
            ImageScore(
                path=str(p),
                faces=faces,
                best_prob=round(float(det.best_prob[0]), 6),
                portrait=votes["mtcnn"]["portrait"],
                detectors=votes,
            )
        )
    return out
