"""CPU worker processes that score slices of a population.

Each worker is a fresh Python (``-I``: isolated, so neither the working folder nor
PYTHONPATH comes first on its path) told where the parent's own ``polyface`` package lies,
with one torch thread and its own renderer and detector. Genomes go out and scores come back over the worker's stdin/stdout
as length-prefixed messages: a small JSON header and raw float32/float64 arrays; never
images, never pickle. Plain subprocesses need no ``if __name__ == "__main__"`` guard in
the caller's script.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch

from polyface.detect.mtcnn import FaceDetector
from polyface.genome import Genome
from polyface.search.augment import AugmentSettings
from polyface.search.problem import PortraitProblem
from polyface.search.timing import Timings
from polyface.search.types import Evaluation

_LEN = struct.Struct("<Q")


def _send(stream: BinaryIO, header: dict[str, Any], arrays: list[np.ndarray]) -> None:
    head = json.dumps(header).encode()
    body = b"".join(np.ascontiguousarray(a).tobytes() for a in arrays)
    stream.write(_LEN.pack(len(head)) + head + _LEN.pack(len(body)) + body)
    stream.flush()


def _read_exact(stream: BinaryIO, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = stream.read(n - len(buf))
        if not chunk:
            raise EOFError("worker stream closed")
        buf += chunk
    return bytes(buf)


def _recv(stream: BinaryIO) -> tuple[dict[str, Any], bytes]:
    head = _read_exact(stream, _LEN.unpack(_read_exact(stream, _LEN.size))[0])
    body = _read_exact(stream, _LEN.unpack(_read_exact(stream, _LEN.size))[0])
    return json.loads(head), body


def encode_genomes(genomes: list[Genome]) -> tuple[list[dict], list[np.ndarray]]:
    meta, arrays = [], []
    for g in genomes:
        meta.append(
            {
                "n": g.n_polygons,
                "v": g.n_vertices,
                "mode": g.mode,
                "symmetric": bool(g.symmetric),
                "background": [float(x) for x in g.background],
            }
        )
        arrays += [g.vertices.astype(np.float32), g.colours.astype(np.float32)]
    return meta, arrays


def decode_genomes(meta: list[dict], body: bytes) -> list[Genome]:
    out, offset = [], 0
    for m in meta:
        nv = m["n"] * m["v"] * 2
        verts = np.frombuffer(body, np.float32, nv, offset).reshape(m["n"], m["v"], 2)
        offset += nv * 4
        cols = np.frombuffer(body, np.float32, m["n"] * 4, offset).reshape(m["n"], 4)
        offset += m["n"] * 16
        out.append(Genome(verts.copy(), cols.copy(), np.array(m["background"], np.float32), m["mode"], m["symmetric"]))
    return out


def _settings_to_json(settings: dict[str, Any]) -> dict[str, Any]:
    s = dict(settings)
    if s.get("augment") is not None:
        s["augment"] = vars(s["augment"])
    return s


def serve(stdin: BinaryIO, stdout: BinaryIO) -> None:
    """The worker's loop: settings first, then (genomes, seed) requests until the stream ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    torch.set_num_threads(1)
    header, _ = _recv(stdin)
    settings = header["settings"]
    if settings.get("augment") is not None:
        settings["augment"] = AugmentSettings(**settings["augment"])
    for key in ("search_sizes", "thresholds"):
        settings[key] = tuple(settings[key])
    problem = PortraitProblem(FaceDetector(device="cpu"), **settings)
    profile = bool(header.get("profile"))
    if profile:
        problem.timings = Timings()
    _send(stdout, {"ready": True}, [])
    while True:
        try:
            header, body = _recv(stdin)
        except EOFError:
            return
        t0 = problem.timings.clock()
        ev = problem.score_batch(decode_genomes(header["genomes"], body), header["seed"])
        table = np.column_stack([ev.scores, ev.passes, ev.probs, ev.boxes]).astype(np.float64)
        reply: dict[str, Any] = {"rows": len(table)}
        if profile:  # this request's sections and busy time, for the parent's breakdown
            t = problem.timings
            reply |= {"seconds": t.seconds, "calls": t.calls, "busy": t.clock() - t0}
            problem.timings.reset()
        _send(stdout, reply, [table])


def worker_command() -> list[str]:
    """The command of a worker: this Python, isolated, importing polyface from where the parent
    did (so a ``polyface/`` in the working folder never runs, and workers run the parent's code)."""
    root = str(Path(__file__).resolve().parents[2])  # the folder that holds this polyface package
    code = (
        "import signal; signal.signal(signal.SIGINT, signal.SIG_IGN); "  # Ctrl-C is the parent's to handle
        f"import sys; sys.path.insert(0, {root!r}); from polyface.search.workers import main; main()"
    )
    return [sys.executable, "-I", "-c", code]


def main() -> None:
    """A worker's entry point; it ends quietly when its parent has gone (closed pipes)."""
    try:
        serve(sys.stdin.buffer, sys.stdout.buffer)
    except (BrokenPipeError, EOFError):
        pass
    os._exit(0)  # no flush of a closed stdout at exit, so no "Exception ignored" noise


class WorkerPool:
    """``size`` persistent worker processes; ``score`` splits a batch into contiguous slices.

    ``polyface.run`` builds the pool from a problem's ``settings`` and hands it to the problem
    (``PortraitProblem.use_pool``), so the problem never imports this module.
    """

    def __init__(self, size: int, settings: dict[str, Any], profile: bool = False, wait: bool = True) -> None:
        """Start the workers; with ``wait`` False return at once (``score`` and ``wait_ready``
        wait for them), so the caller can work while they load."""
        self.size = size
        self.reports: list[dict[str, Any]] = []  # with ``profile``: each worker's timings of the last call
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        self.procs = [
            subprocess.Popen(
                worker_command(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
            )
            for _ in range(size)
        ]
        self._starting = list(self.procs)
        try:
            for p in self.procs:
                _send(p.stdin, {"settings": _settings_to_json(settings), "profile": profile}, [])
            if wait:
                self.wait_ready()
        except BaseException:  # Ctrl-C while they start (or one died): none may outlive this
            self._kill()
            raise

    def wait_ready(self) -> None:
        """Block until every worker has loaded its detectors; on Ctrl-C, or if one died while
        starting, kill them all and raise."""
        try:
            for p in self._starting:
                _recv(p.stdout)
        except BaseException:
            self._kill()
            raise
        self._starting = []

    def _kill(self) -> None:
        for p in self.procs:
            p.kill()
            p.wait()

    def score(self, genomes: list[Genome], seed: int | None) -> Evaluation:
        self.wait_ready()
        slices = np.array_split(np.arange(len(genomes)), self.size)
        for p, idx in zip(self.procs, slices):
            meta, arrays = encode_genomes([genomes[i] for i in idx])
            _send(p.stdin, {"genomes": meta, "seed": seed}, arrays)
        tables, self.reports = [], []
        for p in self.procs:
            header, body = _recv(p.stdout)
            tables.append(np.frombuffer(body, np.float64).reshape(header["rows"], 7))
            if "busy" in header:
                self.reports.append(header)
        t = np.concatenate(tables)
        return Evaluation(scores=t[:, 0], passes=t[:, 1] > 0.5, probs=t[:, 2], boxes=t[:, 3:7])

    def close(self) -> None:
        for p in self._starting:  # still loading: nothing to finish, stop it now
            p.kill()
        self._starting = []
        for p in self.procs:
            try:
                p.stdin.close()
            except OSError:
                pass
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
        self.procs = []


if __name__ == "__main__":
    main()
