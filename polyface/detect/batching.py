"""How a batch is fed to a network: in padded buckets, in powers of two or in small slices.

The torch CPU backend compiles and caches kernels per input shape, so MTCNN pads its crops to
few batch shapes there. ONNX Runtime keeps nothing per shape; there the networks run fastest on
small unpadded slices, whose activations stay in the core's cache.
"""

from __future__ import annotations

import torch

BUCKET = 16  # torch: R-Net and O-Net batches are padded to a multiple of this many crops (see ``bucket``)


def bucket(n: int) -> int:
    """The batch size ``n`` crops are padded to: the next multiple of ``BUCKET``. The CPU backend
    compiles and caches kernels per input shape; the number of boxes changes with every call,
    and one shape per count grew a run by hundreds of MB."""
    return max(-(-n // BUCKET), 1) * BUCKET


def padded(net, data: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``net(data)`` run on ``data`` zero-padded to ``bucket(len(data))`` images, sliced back."""
    n = data.shape[0]
    m = bucket(n)
    if n and m != n:
        data = torch.cat([data, data.new_zeros((m - n, *data.shape[1:]))])
    return tuple(o[:n] for o in net(data))


def in_powers_of_two(net, data: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``net(data)`` run on slices of ``data`` whose lengths are the powers of two that sum to
    its length (21 images: 16, 4, 1), so that a network sees few batch shapes, with no padding."""
    n, start, outs = data.shape[0], 0, []
    if n & (n - 1) == 0:  # a power of two, or no image at all
        return tuple(net(data))
    for bit in reversed(range(n.bit_length())):
        if n >> bit & 1:
            outs.append(net(data[start : start + (1 << bit)]))
            start += 1 << bit
    return tuple(torch.cat(parts) for parts in zip(*outs))


def in_slices(net, data: torch.Tensor, n: int) -> tuple[torch.Tensor, ...]:
    """``net(data)`` run on consecutive slices of at most ``n`` images, unpadded."""
    if data.shape[0] <= n:
        return tuple(net(data))
    outs = [net(data[i : i + n]) for i in range(0, data.shape[0], n)]
    return tuple(torch.cat(parts) for parts in zip(*outs))
