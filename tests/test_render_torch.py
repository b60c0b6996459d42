"""The torch rasterizer against Cairo, the canonical renderer (ANTIALIAS_NONE, as in the search)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from polyface.genome import Genome, random_genome
from polyface.render import torch as trender
from polyface.render.cairo import BatchRenderer



@pytest.fixture(params=["cpu", "cuda"])
def device(request: pytest.FixtureRequest) -> str:
    if request.param == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    return request.param


def cairo_render(genomes: list[Genome], size: int) -> torch.Tensor:
    return BatchRenderer(size, antialias=False).render_tensor(genomes)


def assert_matches_cairo(genomes: list[Genome], size: int, device: str) -> None:
    got = trender.render(trender.pack(genomes, device), size)
    assert got.shape == (len(genomes), 3, size, size)
    assert got.dtype == torch.float32
    assert got.device.type == device
    want = cairo_render(genomes, size)
    # The rasterizer reproduces Cairo bit for bit (see polyface/render/torch.py): every pixel equal.
    diff = (got.cpu() - want).abs().amax(dim=1)
    wrong = int((diff > 0).sum())
    assert wrong == 0, f"{wrong} pixels differ, by up to {float(diff.max()) * 255:.0f}/255"


@pytest.mark.parametrize(
    ("n_polygons", "n_vertices", "mode", "size"),
    [
        (50, 6, "rgba", 64),
        (50, 6, "grey", 64),
        (50, 3, "rgba", 32),
        (50, 12, "rgba", 100),
        (30, 6, "rgba", 100),
        (50, 6, "rgba", 32),
    ],
)
def test_parity_with_cairo(device: str, n_polygons: int, n_vertices: int, mode: str, size: int) -> None:
    rng = np.random.default_rng(1000 * n_vertices + size)
    genomes = [random_genome(rng, n_polygons, n_vertices, mode=mode) for _ in range(6)]
    assert_matches_cairo(genomes, size, device)


def test_symmetric_genomes(device: str) -> None:
    rng = np.random.default_rng(7)
    genomes = [random_genome(rng, 25, 6, symmetric=True) for _ in range(4)]
    genomes.append(random_genome(rng, 25, 5, mode="grey", symmetric=True))
    assert_matches_cairo(genomes, 64, device)
    # The packed polygons are the drawn ones: each followed by its mirror image.
    packed = trender.pack(genomes[:1], device)
    assert packed.n_polygons == 50
    verts = packed.vertices.cpu().numpy()[0]
    np.testing.assert_allclose(verts[1::2, :, 0], 1.0 - verts[0::2, :, 0], atol=1e-6)


def test_hard_polygons(device: str) -> None:
    """Self-intersecting, off-canvas, grid-aligned and opaque polygons: Cairo's edge cases."""
    rng = np.random.default_rng(3)
    genomes = []
    for k in range(6):
        n, v = 12, int(rng.choice([3, 4, 7]))
        if k % 2:
            verts = rng.integers(-4, 68, size=(n, v, 2)) / 64.0  # half-pixel grid at 32 px
        else:
            verts = rng.uniform(-0.5, 1.5, size=(n, v, 2))
        cols = rng.uniform(0.0, 1.0, size=(n, 4))
        cols[::3, 3] = 1.0
        genomes.append(Genome(verts, cols, rng.uniform(0.0, 1.0, 3)))
    got = trender.render(trender.pack(genomes, device), 32).cpu()
    assert torch.equal(got, cairo_render(genomes, 32))


def test_mixed_batch_equals_single_renders(device: str) -> None:
    rng = np.random.default_rng(11)
    genomes = [
        random_genome(rng, 40, 6),
        random_genome(rng, 3, 3, mode="grey"),
        random_genome(rng, 17, 12),
        random_genome(rng, 0, 6),
        random_genome(rng, 10, 4, symmetric=True),
    ]
    packed = trender.pack(genomes, device)
    assert packed.vertices.shape == (5, 40, 12, 2)
    assert packed.colours.shape == (5, 40, 4)
    assert packed.background.shape == (5, 3)
    assert float(packed.colours[1, 3:, 3].abs().max()) == 0.0  # padding is transparent
    batch = trender.render(packed, 48)
    for i, g in enumerate(genomes):
        alone = trender.render(trender.pack([g], device), 48)
        assert torch.equal(batch[i : i + 1], alone), f"genome {i} differs when padded"
    assert torch.equal(batch.cpu(), cairo_render(genomes, 48))


def test_empty_genome_is_background(device: str) -> None:
    bg = np.array([0.2, 0.5, 0.9], np.float32)
    empty = Genome(np.zeros((0, 3, 2)), np.zeros((0, 4)), bg)
    for genomes in ([empty], [empty, empty.copy()]):
        got = trender.render(trender.pack(genomes, device), 16).cpu()
        want = cairo_render(genomes, 16)
        assert torch.equal(got, want)
    expected = torch.tensor([51, 128, 230], dtype=torch.float32) / 255.0  # floor(round(v * 65535) / 256)
    assert torch.equal(got[0, :, 0, 0], expected)
    assert trender.render(trender.pack([], device), 16).shape == (0, 3, 16, 16)


def test_transparent_polygons_are_skipped(device: str) -> None:
    g = random_genome(np.random.default_rng(5), 10, 6)
    g.colours[:, 3] = 0.0
    got = trender.render(trender.pack([g], device), 24).cpu()
    assert torch.equal(got, cairo_render([g], 24))
    assert torch.equal(got, got[:, :, :1, :1].expand_as(got))


def test_chunking_does_not_change_the_image(device: str) -> None:
    rng = np.random.default_rng(2)
    packed = trender.pack([random_genome(rng, 20, 6) for _ in range(3)], device)
    whole = trender.render(packed, 40)
    tiny = trender.render(packed, 40, max_bytes=1)  # one genome and one polygon at a time
    assert torch.equal(whole, tiny)


def test_render_rejects_bad_size() -> None:
    packed = trender.pack([random_genome(np.random.default_rng(0), 2, 3)])
    for size in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="size"):
            trender.render(packed, size)  # type: ignore[arg-type]
