"""BlazeFace runs its network in slices of ``CPU_CHUNK`` images on the CPU (faster per image):
a large batch gives each image the same detections as scoring that image alone."""

from __future__ import annotations

import torch

from polyface.detect.blazeface import CPU_CHUNK, BlazeFace
from conftest import to_batch


def test_a_batch_larger_than_a_slice_scores_each_image_as_alone(face_crop):
    gen = torch.Generator().manual_seed(0)
    face = torch.nn.functional.interpolate(to_batch(face_crop), size=(96, 96), mode="area")
    noise = torch.rand((2 * CPU_CHUNK + 3, 3, 96, 96), generator=gen)
    images = torch.cat([noise[:5], face, noise[5:], face.flip(-1)])  # faces in two different slices
    bz = BlazeFace()
    det, top = bz.detect(images)
    assert int(det.count[5]) == 1 and int(det.count[-1]) == 1
    for i in range(len(images)):
        one, one_top = bz.detect(images[i : i + 1])
        assert int(det.count[i]) == int(one.count[0]), i
        assert abs(float(top[i]) - float(one_top[0])) < 1e-3, i
        if int(one.count[0]):
            torch.testing.assert_close(det.best_box[i], one.best_box[0], atol=1e-3, rtol=0)
