"""Score image files with the judge: the faces found, each member's verdict and the portrait verdict."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from polyface import validate
from polyface.judge.judge import Judge

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
    detectors: dict = field(default_factory=dict)  # member name -> its verdict (``Judge.report``)

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


def score_images(paths: list[str | Path], judge: Judge) -> list[ImageScore]:
    """Each image as the judge sees it in the final check: MTCNN's faces, every member's verdict
    (``Judge.report``) and the portrait verdict, which every member must give."""
    out = []
    for p in paths:
        img = load_image(p)
        x = torch.from_numpy(img).permute(2, 0, 1)[None].float().div(255.0)
        report = judge.report(x)
        h, w = img.shape[:2]
        faces = [
            {"box": [round(v * s, 2) for v, s in zip(f["box"], (w, h, w, h))], "prob": f["prob"]}
            for f in report["mtcnn"]["faces"]
        ]
        out.append(
            ImageScore(
                path=str(p),
                faces=faces,
                best_prob=faces[0]["prob"] if faces else 0.0,
                portrait=all(r["portrait"] for r in report.values()),
                detectors=report,
            )
        )
    return out
