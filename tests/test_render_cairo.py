import xml.etree.ElementTree as ET

import numpy as np
import pytest

from polyface.genome import Genome, random_genome
from polyface.render.cairo import BatchRenderer, render_batch, render_rgb, save


def square(colour, alpha=1.0, bg=(0.0, 0.0, 0.0)):
    verts = np.array([[[0.25, 0.25], [0.75, 0.25], [0.75, 0.75], [0.25, 0.75]]])
    return Genome(verts, np.array([[*colour, alpha]]), np.array(bg))


def test_square_colour_position_and_channel_order():
    img = render_rgb(square((1.0, 0.5, 0.0)), 40, antialias=False)
    assert img.shape == (40, 40, 3) and img.dtype == np.uint8
    assert tuple(img[20, 20]) == (255, 128, 0)  # RGB, not Cairo's BGRA
    assert tuple(img[2, 2]) == (0, 0, 0)
    assert (img[:, :, 0] == 255).sum() == 20 * 20


def test_alpha_composites_over_background():
    img = render_rgb(square((1.0, 1.0, 1.0), alpha=0.5, bg=(0.0, 0.0, 1.0)), 20, antialias=False)
    r, g, b = (int(v) for v in img[10, 10])
    assert abs(r - 128) <= 1 and abs(g - 128) <= 1 and b == 255


def test_nonzero_fill_rule_fills_self_overlap():
    # A pentagram drawn in one path: nonzero winding fills the centre, even-odd would not.
    ang = np.pi / 2 + np.arange(5) * 4 * np.pi / 5
    star = np.stack([0.5 + 0.45 * np.cos(ang), 0.5 - 0.45 * np.sin(ang)], 1)[None]
    g = Genome(star, np.array([[1.0, 1.0, 1.0, 1.0]]), np.zeros(3))
    assert render_rgb(g, 64, antialias=False)[32, 32, 0] == 255


def test_batch_matches_single_and_tensor_layout():
    rng = np.random.default_rng(0)
    gs = [random_genome(rng, 30, 6) for _ in range(4)]
    batch = BatchRenderer(48).render(gs)
    for i, g in enumerate(gs):
        assert np.array_equal(batch[i], render_rgb(g, 48, antialias=False))
    t = render_batch(gs, 48, antialias=False)
    assert tuple(t.shape) == (4, 3, 48, 48) and 0 <= float(t.min()) and float(t.max()) <= 1
    assert np.allclose(t[1].permute(1, 2, 0).numpy() * 255, batch[1], atol=0.01)


def test_antialiasing_smooths_edges():
    g = Genome(np.array([[[0.1, 0.1], [0.9, 0.3], [0.2, 0.9]]]), np.array([[1.0, 1.0, 1.0, 1.0]]), np.zeros(3))
    hard = render_rgb(g, 64, antialias=False)
    soft = render_rgb(g, 64, antialias=True)
    assert set(np.unique(hard[..., 0])) <= {0, 255}
    assert len(np.unique(soft[..., 0])) > 10


@pytest.mark.parametrize("ext", ["png", "svg", "pdf"])
def test_save_formats(tmp_path, ext):
    g = random_genome(np.random.default_rng(1), 20, 5)
    path = save(g, tmp_path / f"p.{ext}", 300)
    data = path.read_bytes()
    assert not list(tmp_path.glob(".*tmp"))  # no temp files left behind
    if ext == "png":
        from PIL import Image

        with Image.open(path) as im:
            assert im.size == (300, 300)
    elif ext == "svg":
        root = ET.fromstring(data)
        assert root.tag.endswith("svg") and root.get("width").startswith("300")
        assert len(root.findall(".//{http://www.w3.org/2000/svg}path")) >= 20
    else:
        assert data.startswith(b"%PDF") and b"%%EOF" in data[-64:]


def test_bad_size_and_extension():
    g = random_genome(np.random.default_rng(1), 2, 3)
    with pytest.raises(ValueError, match="size"):
        render_rgb(g, 0)
    with pytest.raises(ValueError, match="extension"):
        save(g, "x.jpg", 64)


def test_file_output_does_not_import_torch(tmp_path):
    """PNG/SVG/PDF files come from Cairo alone: torch is imported only for tensors."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from polyface.genome import random_genome\n"
        "from polyface.render.cairo import render_rgb, save\n"
        "g = random_genome(np.random.default_rng(0), 5, 4)\n"
        f"save(g, {str(tmp_path / 'x.png')!r}, 32); save(g, {str(tmp_path / 'x.svg')!r}, 32)\n"
        "render_rgb(g, 16)\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert (tmp_path / "x.png").is_file() and (tmp_path / "x.svg").is_file()
