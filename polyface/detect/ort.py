"""The detectors' networks on ONNX Runtime: the same weights, exported from the torch modules.

A network is exported with ``torch.onnx.export`` to an in-memory buffer when its detector is
built (nothing is downloaded), kept in a cache folder for the next run's start
(``onnx_cache``: checked against the torch network before it is used), and run by ONNX
Runtime on the CPU.
``OrtNet`` is called like the torch module it replaces: torch tensors in, torch tensors out.
With one thread BlazeFace's network ran about 1.4x as fast so, MTCNN's three small ones about
0.75x (docs/decisions.md); each detector's ``AUTO_ONNX_THREADS`` says when
its backend="auto" takes onnx. Optional: ``pip install 'polyface[onnx]'``.
"""

from __future__ import annotations

import importlib.util
import io
import warnings

import numpy as np
import torch
from torch import nn

from polyface.detect import onnx_cache

BACKENDS = ("auto", "torch", "onnx")
OPSET = 17


class BackendError(ValueError):
    """An unknown backend, or one that cannot run here."""


def available() -> bool:
    """True when onnxruntime (to run) and onnx (for torch's exporter) can be imported."""
    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "onnx"))


def resolve(backend: str, device: torch.device, onnx_threads: int | None = None) -> str:
    """'torch' or 'onnx' for ``backend`` on ``device``: "auto" is onnx on the CPU when
    onnxruntime is installed and torch runs at most ``onnx_threads`` threads (None: any number;
    each detector passes its ``AUTO_ONNX_THREADS``), torch otherwise; onnx runs on the CPU only."""
    if backend not in BACKENDS:
        raise BackendError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "auto":
        faster = onnx_threads is None or torch.get_num_threads() <= onnx_threads
        return "onnx" if faster and device.type == "cpu" and available() else "torch"
    if backend == "onnx":
        if device.type != "cpu":
            raise BackendError(f"backend 'onnx' runs on the CPU only, not on {device.type}")
        if not available():
            raise BackendError("backend 'onnx' needs onnxruntime and onnx: `pip install onnxruntime onnx`")
    return backend


def export(net: nn.Module, example: torch.Tensor, outputs: list[str], dynamic: dict[int, str]) -> bytes:
    """``net`` (on the CPU, in eval mode) as an ONNX model, in memory."""
    buf = io.BytesIO()
    with warnings.catch_warnings():  # the TorchScript exporter's deprecation and tracer notes
        warnings.simplefilter("ignore")
        torch.onnx.export(
            net,
            (example,),
            buf,
            input_names=["x"],
            output_names=outputs,
            dynamic_axes={"x": dynamic, **{name: {0: "batch"} for name in outputs}},
            opset_version=OPSET,
            dynamo=False,
        )
    return buf.getvalue()


class OrtNet:
    """An ONNX Runtime network standing in for a torch network on the CPU.

    ``threads`` is its intra-op thread count (default: torch's, read at build time,
    so a process limited to one torch thread stays at one).
    """

    def __init__(
        self,
        net: nn.Module,
        example: torch.Tensor,
        outputs: list[str],
        dynamic: dict[int, str] | None = None,
        threads: int | None = None,
    ) -> None:
        import onnxruntime as ort

        dynamic = dynamic or {0: "batch"}
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(threads or torch.get_num_threads())
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.log_severity_level = 3
        # Idle ONNX Runtime threads sleep instead of spinning, leaving the cores to torch's own threads.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # No arena and no planned memory per input shape: both keep what the largest batch of
        # each shape needed. A run of the default (seed 4, 300 generations, two lanes) peaked at
        # 1.13 GB without them against 1.27 GB with, at the same speed and with the same genome.
        opts.enable_cpu_mem_arena = False
        opts.enable_mem_pattern = False
        self.threads = opts.intra_op_num_threads
        self.net = net  # for an empty batch, which the exported graph's reshapes cannot take
        key = onnx_cache.model_key(net, example, outputs, dynamic, OPSET)
        cached = onnx_cache.read(key)
        self.runtime = self._session(ort, cached, opts) if cached is not None else None
        self.from_cache = self.runtime is not None and self._matches(example)
        if not self.from_cache:  # none kept, or not one this network gives: export it
            model = export(net, example, outputs, dynamic)
            self.runtime = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
            onnx_cache.write(key, model)

    @staticmethod
    def _session(ort, model: bytes, opts):
        """A session of ``model`` (bytes read from disk), or None where they are not a model."""
        try:
            return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
        except Exception:  # onnxruntime raises its own errors (InvalidProtobuf, Fail, ...) for bad bytes
            return None

    def _matches(self, example: torch.Tensor) -> bool:
        """True when the session gives the torch network's outputs, in number, shape and value, on
        a test input of ``example``'s shape (a cached model is checked before it is used)."""
        x = torch.rand(example.shape, generator=torch.Generator().manual_seed(0)) * 2.0 - 1.0
        try:
            got = self(x)
        except Exception:  # a model of other inputs or outputs fails inside onnxruntime
            return False
        with torch.inference_mode():
            want = tuple(self.net(x))
        return len(got) == len(want) and all(
            g.shape == w.shape and torch.allclose(g, w, rtol=1e-3, atol=1e-4) for g, w in zip(got, want)
        )

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if x.device.type != "cpu":
            raise BackendError(f"the onnx backend runs on the CPU, got a tensor on {x.device}")
        if len(x) == 0:
            return tuple(self.net(x))
        data = np.ascontiguousarray(x.detach().to(torch.float32).numpy())
        return tuple(torch.from_numpy(out) for out in self.runtime.run(None, {"x": data}))
