"""The soft rasterizer against Cairo (antialiased and not), its gradients, packing and padding."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from polyface.genome import Genome, random_genome
from polyface.render import soft
from polyface.render.cairo import render_batch


@pytest.fixture(params=["cpu", "cuda"])
def device(request: pytest.FixtureRequest) -> str:
    if request.param == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    return request.param


def population(seed: int) -> list[Genome]:
    """Random genomes of the kinds the search makes: rgba, grey, symmetric, 4 to 6 vertices."""
    rng = np.random.default_rng(seed)
    return [
        random_genome(rng, 50, 6),
        random_genome(rng, 50, 4),
        random_genome(rng, 40, 6, mode="grey"),
        random_genome(rng, 30, 6, symmetric=True),
        random_genome(rng, 25, 5, mode="grey", symmetric=True),
    ]


@pytest.fixture(scope="module")
def genomes() -> list[Genome]:
    return population(0)


@pytest.fixture(scope="module")
def soft_images(genomes: list[Genome]) -> dict[float, torch.Tensor]:
    batch = soft.pack(genomes)
    return {s: batch.render(64, s) for s in (1.0, 2.0, 4.0, 6.0, 8.0, 16.0, 1e4)}


def test_close_to_cairo_antialiased(genomes: list[Genome], soft_images: dict[float, torch.Tensor]) -> None:
    """Measured on population(0..3) at 64 px: mean |diff| 0.0034-0.0037 and 99th percentile
    0.032-0.033 at sharpness 6 (the closest), 0.0049-0.0054 and 0.049-0.055 at sharpness 8. Sharper
    than about 6 the difference grows again, towards that of the non-antialiased render (mean
    0.013-0.015, 99th percentile 0.16-0.18 at 1e4)."""
    want = render_batch(genomes, 64, antialias=True)
    diff = {s: (img - want).abs() for s, img in soft_images.items()}
    means = [float(diff[s].mean()) for s in (1.0, 2.0, 4.0, 6.0)]
    assert means == sorted(means, reverse=True), f"the difference does not fall with sharpness: {means}"
    for s, mean, p99 in ((6.0, 0.005, 0.045), (8.0, 0.0075, 0.075)):
        got_mean, got_p99 = float(diff[s].mean()), float(diff[s].flatten().quantile(0.99))
        assert got_mean < mean and got_p99 < p99, f"sharpness {s}: mean {got_mean:.4f}, p99 {got_p99:.4f}"


def test_tends_to_cairo_non_antialiased(genomes: list[Genome], soft_images: dict[float, torch.Tensor]) -> None:
    """Measured on population(0..3) at 64 px: mean |diff| 0.0012-0.0014 at sharpness 1e4, 0.13-0.28 % of the pixels
    off by more than 2/255 (centres within Cairo's 1/256 px vertex rounding of an edge, and its
    span merging, polyface/render/torch.py)."""
    want = render_batch(genomes, 64, antialias=False)
    means = [float((soft_images[s] - want).abs().mean()) for s in (4.0, 8.0, 16.0, 1e4)]
    assert means == sorted(means, reverse=True), f"the difference does not fall with sharpness: {means}"
    diff = (soft_images[1e4] - want).abs()
    assert float(diff.mean()) < 0.002
    assert float((diff > 2 / 255).float().mean()) < 0.005


def star(points: int, step: int, centre=(0.5, 0.5), radius: float = 0.4, turn: float = 0.0) -> np.ndarray:
    """A regular star polygon {points/step}; step 2 of 5 is a pentagram (its inner pentagon winds twice)."""
    angles = turn + 2 * math.pi * step * np.arange(points) / points
    return np.stack([centre[0] + radius * np.cos(angles), centre[1] + radius * np.sin(angles)], 1)


def white(vertices: list[np.ndarray]) -> Genome:
    n = len(vertices)
    return Genome(np.array(vertices), np.tile([1.0, 1.0, 1.0, 1.0], (n, 1)), np.zeros(3))


def test_self_overlapping_polygon_has_no_seam() -> None:
    """Edges inside the fill (a pentagram's inner pentagon: winding 2 on one side, 1 on the other)
    are no boundary: every pixel Cairo covers fully is covered, from sharpness 8 on, to at least
    sigmoid(8 * 0.5 px)."""
    g = white([star(5, 2, turn=0.3)])
    full = render_batch([g], 32, antialias=True)[0, 0] == 1.0
    got = soft.pack([g]).render(32, 8.0)[0, 0]
    assert int(full.sum()) > 100
    assert float(got[full].min()) > 0.98


def test_hard_polygons_follow_the_winding_rule() -> None:
    """Self-intersecting (bow ties, stars wound several times) and off-canvas polygons, at large sharpness."""
    rng = np.random.default_rng(5)
    shapes = [
        np.array([[0.1, 0.1], [0.9, 0.9], [0.9, 0.1], [0.1, 0.9]]),  # bow tie: windings +1 and -1
        star(7, 3, radius=0.45),
        star(5, 2, centre=(0.1, 0.9), radius=0.5),  # partly off the canvas
        np.array([[-0.4, -0.3], [1.4, 0.2], [0.6, 1.5], [0.2, -0.5]]),
    ]
    shapes += [rng.uniform(-0.3, 1.3, size=(6, 2)) for _ in range(8)]
    genomes = [white([s]) for s in shapes]
    want = render_batch(genomes, 48, antialias=False)
    got = soft.pack(genomes, dtype=torch.float64).render(48, 1e6).float()
    wrong = (got - want).abs() > 0.5
    assert float(wrong.float().mean()) < 0.003, f"{int(wrong.sum())} pixels differ"


def test_symmetric_mirror_follows_each_polygon(genomes: list[Genome]) -> None:
    """A symmetric genome renders like its drawn polygons (Genome.drawn: each one, then its mirror)."""
    sym = genomes[3:]
    drawn = [Genome(*g.drawn(), g.background, g.mode) for g in sym]
    a = soft.pack(sym).render(48, 4.0)
    b = soft.pack(drawn).render(48, 4.0)
    assert float((a - b).abs().max()) < 1e-5


def tiny(dtype=torch.float64) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Two 4-gons (the second a bow tie reaching off the canvas) on an 8 px canvas."""
    v = torch.tensor(
        [[[[0.15, 0.2], [0.7, 0.1], [0.8, 0.65], [0.3, 0.75]], [[0.35, 0.3], [1.05, 0.9], [0.9, 0.35], [0.4, 0.95]]]],
        dtype=dtype,
    )
    c = torch.tensor([[[0.9, 0.3, 0.2, 0.7], [0.1, 0.6, 0.8, 0.55]]], dtype=dtype)
    bg = torch.tensor([[0.2, 0.25, 0.3]], dtype=dtype)
    return v.requires_grad_(), c.requires_grad_(), bg.requires_grad_()


@pytest.mark.parametrize("symmetric", [False, True])
def test_gradcheck(symmetric: bool) -> None:
    """Gradients for vertices, colours, alpha and background against finite differences (float64)."""
    fn = lambda v, c, bg: soft.soft_render(v, c, bg, 8, 2.0, symmetric=symmetric)  # noqa: E731
    assert torch.autograd.gradcheck(fn, tiny(), eps=1e-6, atol=1e-6, rtol=1e-4)


def test_gradcheck_through_edge_crossings() -> None:
    """A pentagram's concave corners are edge crossings: the pixels nearest to one pass the gradient
    to the four vertices of the two edges that cross there."""
    v = torch.tensor(star(5, 2, radius=0.42, turn=0.2)[None, None], dtype=torch.float64, requires_grad=True)
    c = torch.tensor([[[0.8, 0.5, 0.3, 0.9]]], dtype=torch.float64)
    bg = torch.tensor([[0.1, 0.2, 0.3]], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda v: soft.soft_render(v, c, bg, 8, 2.0), (v,), eps=1e-6, atol=1e-6, rtol=1e-4)


def test_gradient_moves_vertices_towards_a_target() -> None:
    """A few gradient steps on vertices and colours bring the soft render closer to Cairo's render of a target."""
    rng = np.random.default_rng(9)
    target = random_genome(rng, 6, 5, radius=0.3)
    start = target.copy()
    start.vertices += rng.normal(0, 0.05, start.vertices.shape).astype(np.float32)
    start.colours[:, :3] = 0.5
    want = render_batch([target], 32, antialias=True)
    batch = soft.pack([start], requires_grad=True)
    opt = torch.optim.Adam([batch.vertices, batch.colours], lr=0.01)
    losses = []
    for _ in range(25):
        loss = (batch.render(32, 4.0) - want).square().mean()
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert losses[-1] < 0.5 * losses[0], losses
    moved = soft.unpack([start], batch)[0]
    error = lambda g: float((render_batch([g], 32) - want).abs().mean())  # noqa: E731
    assert error(moved) < error(start)


def test_mixed_batch_equals_single_renders(device: str) -> None:
    rng = np.random.default_rng(11)
    genomes = [
        random_genome(rng, 12, 6),
        random_genome(rng, 3, 3, mode="grey"),
        random_genome(rng, 7, 9),
        random_genome(rng, 0, 6),
        random_genome(rng, 5, 4, symmetric=True),
    ]
    batch = soft.pack(genomes, device, requires_grad=True)
    assert batch.vertices.shape == (5, 12, 9, 2) and batch.colours.shape == (5, 12, 4)
    images = batch.render(40, 4.0)
    for i, g in enumerate(genomes):
        alone = soft.pack([g], device).render(40, 4.0)
        assert float((images[i : i + 1].detach() - alone).abs().max()) < 1e-5, f"genome {i} differs when padded"
    images.sum().backward()
    # Padding (vertices after a polygon's last, polygons after a genome's last) gets no gradient.
    assert float(batch.vertices.grad[~batch.mask].abs().max()) == 0.0
    assert float(batch.colours.grad[1, 3:].abs().max()) == 0.0
    assert float(batch.vertices.grad[batch.mask].abs().max()) > 0.0


def test_device_and_dtype_follow_the_inputs(device: str) -> None:
    g = random_genome(np.random.default_rng(1), 5, 5)
    for dtype in (torch.float32, torch.float64):
        img = soft.pack([g], device, dtype).render(16, 4.0)
        assert img.dtype == dtype and img.device.type == device and img.shape == (1, 3, 16, 16)


def test_chunks_and_tiles_do_not_change_the_image(monkeypatch: pytest.MonkeyPatch) -> None:
    """One polygon at a time, or one tile for the whole canvas (nothing skipped), gives the same image."""
    rng = np.random.default_rng(4)
    batch = soft.pack([random_genome(rng, 10, 6), random_genome(rng, 8, 5, symmetric=True)])
    image = batch.render(36, 4.0)
    assert float((image - batch.render(36, 4.0, max_bytes=1)).abs().max()) < 1e-5
    monkeypatch.setattr(soft, "TILE", 40)
    assert float((image - batch.render(36, 4.0)).abs().max()) < 1e-6
    monkeypatch.undo()
    v, c, bg = (t.detach() for t in tiny())
    loose = soft.soft_render(v, c, bg, 20, 0.5)
    far = soft.soft_render(v * 0.2, c, bg, 20, 0.5)  # small polygons: most tiles far from them
    assert float((loose - soft.soft_render(v, c, bg, 20, 0.5, max_bytes=1)).abs().max()) < 1e-12
    assert float(far[0, :, -1, -1].sub(bg[0]).abs().max()) > 1e-6  # the sigmoid's tail reaches the far corner


def test_empty_and_transparent() -> None:
    bg = np.array([0.2, 0.5, 0.9], np.float32)
    empty = Genome(np.zeros((0, 3, 2)), np.zeros((0, 4)), bg)
    g = random_genome(np.random.default_rng(5), 4, 6)
    g.colours[:, 3] = 0.0
    point = Genome(np.full((1, 4, 2), 0.5), [[1.0, 1.0, 1.0, 1.0]], bg)  # zero area: Cairo paints nothing
    img = soft.pack([empty, g, point]).render(16, 4.0)
    assert torch.equal(img[0], torch.from_numpy(bg)[:, None, None].expand(3, 16, 16))
    assert float((img[1] - torch.from_numpy(g.background)[:, None, None]).abs().max()) < 1e-6
    assert torch.equal(img[2], img[0])
    assert soft.pack([]).render(16, 4.0).shape == (0, 3, 16, 16)


def test_pack_unpack_round_trip_and_clamping() -> None:
    rng = np.random.default_rng(3)
    palette = np.array([[0, 0, 0], [255, 128, 0], [255, 255, 255]], np.float32) / np.float32(255)
    genomes = [
        random_genome(rng, 6, 5),
        random_genome(rng, 4, 3, mode="grey", symmetric=True),
        random_genome(rng, 3, 4, palette=palette),
    ]
    batch = soft.pack(genomes, dtype=torch.float64, requires_grad=True)
    assert all(t.is_leaf and t.requires_grad for t in (batch.vertices, batch.colours, batch.background))
    assert soft.unpack(genomes, batch) == genomes
    with torch.no_grad():
        batch.vertices.mul_(3.0).sub_(1.0)
        batch.colours.add_(torch.linspace(-2, 2, batch.colours.numel(), dtype=torch.float64).view_as(batch.colours))
        batch.background.add_(5.0)
    out = soft.unpack(genomes, batch)  # Genome() validates each
    assert out[0].vertices.min() == -0.5 and out[0].vertices.max() == 1.5
    assert np.all(out[1].colours[:, 0] == out[1].colours[:, 2])  # grey stays grey
    assert np.array_equal(out[2].colours[:, :3], genomes[2].colours[:, :3])  # palette colours kept
    assert np.array_equal(out[2].index, genomes[2].index)
    assert np.all(out[0].background == 1.0)
    assert np.array_equal(soft.unpack(genomes, batch, background=False)[0].background, genomes[0].background)


def test_rejects_bad_size() -> None:
    v, c, bg = tiny()
    for size in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="size"):
            soft.soft_render(v, c, bg, size, 4.0)  # type: ignore[arg-type]
