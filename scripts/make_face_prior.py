"""Build polyface's mean-face prior from the 100 face crops that scikit-image ships.

    python scripts/make_face_prior.py    # writes polyface/data/face_prior.npz

``skimage.data.lfw_subset()`` holds 100 grey 25x25 face crops from Labeled Faces in the Wild
followed by 100 non-face crops. Each face is made zero-mean and unit-norm, the mean of them
is normalised the same way and stored as float32 (``mean_face``, 25x25), with the sha256 of
the source file, so the prior needs neither scikit-image nor the data at run time.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "polyface" / "data" / "face_prior.npz"


def normalise(a: np.ndarray) -> np.ndarray:
    flat = a.reshape(len(a), -1).astype(np.float64)
    flat -= flat.mean(1, keepdims=True)
    return flat / np.linalg.norm(flat, axis=1, keepdims=True)


def main() -> None:
    import skimage
    import skimage.data

    data = skimage.data.lfw_subset()
    if data.shape != (200, 25, 25):
        raise SystemExit(f"unexpected lfw_subset shape {data.shape}")
    source = Path(skimage.data.__file__).parent / "lfw_subset.npy"
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    faces = normalise(data[:100])
    mean = faces.mean(0)
    mean = (mean - mean.mean()) / np.linalg.norm(mean - mean.mean())
    buf = io.BytesIO()
    np.savez(
        buf,
        mean_face=mean.reshape(25, 25).astype(np.float32),
        source_sha256=np.array(digest),
        skimage_version=np.array(skimage.__version__),
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_bytes(buf.getvalue())
    non = normalise(data[100:])
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes); source sha256 {digest}")
    print(f"correlation with the mean: faces {np.mean(faces @ mean):.3f}, non-faces {np.mean(non @ mean):.3f}")


if __name__ == "__main__":
    main()
