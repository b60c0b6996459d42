"""Lanes: one batch's images split between threads, each running the detectors on one core.

The detectors' networks are small; torch's own threads split every small convolution between
the cores and wait for each other after each one. Two threads that each take half the images,
with one thread apiece, keep both cores busy instead. On torch the lanes gained little (each op
takes the GIL back, and MTCNN runs many small ops); with the networks on ONNX Runtime, which
holds the GIL once a pass, real runs of the default scored 1.26x (1.13-1.34x) the candidates/s
of torch's own two threads (5 seeds side by side; docs/decisions.md).

Each image's result depends on the image alone, so the split changes no score.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TypeVar

import torch

T = TypeVar("T")

MIN_PER_LANE = 4  # fewer images than this per lane are not worth a thread's hand-off


class Lanes:
    """``n`` lanes: the calling thread and ``n - 1`` helper threads."""

    def __init__(self, n: int = 1) -> None:
        if n < 1:
            raise ValueError(f"lanes must be at least 1, got {n}")
        self.n = n
        self._pool = ThreadPoolExecutor(n - 1, thread_name_prefix="polyface-lane") if n > 1 else None

    def bounds(self, b: int) -> list[tuple[int, int]]:
        """Contiguous slices of ``b`` images, one a lane, as even as can be."""
        k = max(1, min(self.n, b // MIN_PER_LANE))
        cuts = [b * i // k for i in range(k + 1)]
        return list(zip(cuts[:-1], cuts[1:]))

    def map(
        self, fn: Callable[[torch.Tensor, int], T], images: torch.Tensor, waiting: AbstractContextManager | None = None
    ) -> list[T]:
        """``fn(slice, lane)`` for each lane's slice of ``images``, in order; lane 0 is this
        thread, the others run on helpers, in inference mode. ``waiting`` is entered while this
        thread waits for the helpers (a timing section)."""
        spans = self.bounds(images.shape[0])
        if self._pool is None or len(spans) == 1:
            return [fn(images, 0)]

        def helper(lane: int, a: int, z: int) -> T:
            with torch.inference_mode():  # grad mode is per thread
                return fn(images[a:z], lane)

        futures = [self._pool.submit(helper, lane, a, z) for lane, (a, z) in enumerate(spans[1:], 1)]
        first = fn(images[spans[0][0] : spans[0][1]], 0)
        with waiting or nullcontext():
            rest = [f.result() for f in futures]
        return [first, *rest]

    def whole(self) -> AbstractContextManager:
        """A block that runs unsplit work (one image, many sizes) on all the lanes' cores:
        torch and OpenCV get ``n`` threads within it, and one again after."""
        return library_threads(self.n) if self.n > 1 else nullcontext()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


@contextmanager
def library_threads(n: int) -> Iterator[None]:
    """The thread counts of torch's ops and of OpenCV's set to ``n`` within the block, and
    restored after. Lanes run with one each: the cores are theirs."""
    import cv2

    before = torch.get_num_threads(), cv2.getNumThreads()
    torch.set_num_threads(n)
    cv2.setNumThreads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before[0])
        cv2.setNumThreads(before[1])


def lane_threads(n: int) -> AbstractContextManager:
    """A block in which ``n`` lanes run: torch and OpenCV with one thread each (one lane: as they are)."""
    return library_threads(1) if n > 1 else nullcontext()
