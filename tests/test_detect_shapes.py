"""MTCNN runs its networks on few batch shapes (the CPU backend caches compiled kernels per
shape) and gets the same results as one pass over the whole batch."""

import numpy as np
import pytest
import torch

from polyface.detect import FaceDetector
from polyface.detect.batching import BUCKET, bucket, in_powers_of_two, in_slices, padded

from conftest import to_batch


@pytest.fixture(scope="module")
def torch_detector():
    return FaceDetector(backend="torch")


def test_bucket_rounds_up_to_a_multiple():
    assert [bucket(n) for n in (0, 1, BUCKET, BUCKET + 1, 5 * BUCKET - 1)] == [BUCKET, BUCKET, BUCKET, 2 * BUCKET, 5 * BUCKET]


@pytest.mark.parametrize("n", [1, 5, 16, 23])
def test_padded_and_split_passes_equal_one_pass(torch_detector, n):
    gen = torch.Generator().manual_seed(n)
    crops24 = torch.rand(n, 3, 24, 24, generator=gen) * 2 - 1
    crops48 = torch.rand(n, 3, 48, 48, generator=gen) * 2 - 1
    images = torch.rand(n, 3, 30, 30, generator=gen) * 2 - 1
    for net, x, split in (
        (torch_detector.rnet, crops24, padded),
        (torch_detector.onet, crops48, padded),
        (torch_detector.pnet, images, in_powers_of_two),
        (torch_detector.onet, crops48, lambda net, x: in_slices(net, x, 4)),
    ):
        with torch.inference_mode():
            want, got = net(x), split(net, x)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.shape == w.shape
            torch.testing.assert_close(g, w, atol=1e-4, rtol=1e-4)


def test_networks_see_few_batch_shapes(torch_detector, astronaut):
    seen = {"pnet": set(), "rnet": set(), "onet": set()}
    hooks = [
        getattr(torch_detector, name).register_forward_pre_hook(lambda m, args, name=name: seen[name].add(args[0].shape[0]))
        for name in seen
    ]
    rng = np.random.default_rng(0)
    face = astronaut[30:230, 125:325]
    try:
        for n in (3, 7, 11, 23):  # batch sizes that are no multiple of anything
            imgs = [face if i % 2 else rng.integers(0, 256, face.shape, dtype=np.uint8) for i in range(n)]
            det = torch_detector(torch.nn.functional.interpolate(to_batch(*imgs), size=(96, 96), mode="area"))
            assert int(det.count[1]) >= 1  # the cascade ran to the end: O-Net saw the faces
            torch_detector.onet_logit(to_batch(*imgs[:n]))
    finally:
        for h in hooks:
            h.remove()
    assert seen["rnet"] and all(b % BUCKET == 0 for b in seen["rnet"])
    assert seen["onet"] and all(b % BUCKET == 0 for b in seen["onet"])
    assert seen["pnet"] <= {1, 2, 4, 8, 16}
