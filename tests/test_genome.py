import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyface.genome import Genome, GenomeError, random_genome
from polyface.genome_io import from_json


def test_random_genome_shapes_and_ranges():
    g = random_genome(np.random.default_rng(0), 50, 6)
    assert g.vertices.shape == (50, 6, 2) and g.colours.shape == (50, 4)
    assert g.vertices.min() >= 0 and g.vertices.max() <= 1
    assert g.colours.min() >= 0 and g.colours.max() <= 1


def test_same_seed_same_genome_other_seed_differs():
    a = random_genome(np.random.default_rng(7), 20, 5, mode="grey")
    b = random_genome(np.random.default_rng(7), 20, 5, mode="grey")
    c = random_genome(np.random.default_rng(8), 20, 5, mode="grey")
    assert a == b and a != c
    assert np.array_equal(a.colours[:, 0], a.colours[:, 1])


def test_json_round_trip_is_exact():
    g = random_genome(np.random.default_rng(1), 10, 4, symmetric=True)
    back = from_json(g.to_json())
    assert back.mode == g.mode and back.symmetric
    assert back == g  # bit for bit: a resumed run continues from the very same genomes


def test_symmetric_drawn_mirrors_each_polygon():
    g = random_genome(np.random.default_rng(2), 3, 4, symmetric=True)
    verts, cols = g.drawn()
    assert verts.shape == (6, 4, 2)
    np.testing.assert_allclose(verts[1, :, 0], 1 - g.vertices[0, :, 0])
    np.testing.assert_allclose(cols[1], g.colours[0])


def _doc(**changes):
    d = random_genome(np.random.default_rng(3), 2, 3).to_dict()
    d.update(changes)
    return json.dumps(d)


@pytest.mark.parametrize(
    "text, field",
    [
        ("{", "not valid JSON"),
        ("[]", "JSON object"),
        (_doc(version=3), "'version'"),
        (_doc(format="other"), "'format'"),
        (_doc(mode="cmyk"), "'mode'"),
        (_doc(vertices=[[[0, 0], [1, 1]]]), "'vertices'"),
        (_doc(colours=[[0, 0, 0, 1]]), "'colours'"),
        (_doc(background=[0, 0]), "'background'"),
        (_doc(background=[0, 0, 2]), "'background'"),
        (_doc(colours=[[0, 0, 0, float("nan")]] * 2), "'colours'"),
        (_doc(vertices="abc"), "'vertices'"),
        (_doc(extra=1), "unknown field"),
        (_doc(symmetric="yes"), "'symmetric'"),
    ],
)
def test_bad_genome_json_names_the_field(text, field):
    with pytest.raises(GenomeError, match=field):
        from_json(text)


def test_too_many_polygons_is_refused():
    with pytest.raises(GenomeError, match="polygons"):
        Genome(np.zeros((5000, 3, 2)), np.zeros((5000, 4)))


unit = st.floats(0, 1, allow_nan=False, width=32)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(0, 12),
    v=st.integers(3, 8),
    data=st.data(),
    mode=st.sampled_from(["rgba", "grey"]),
    sym=st.booleans(),
)
def test_round_trip_property(n, v, data, mode, sym):
    verts = np.array(data.draw(st.lists(st.lists(st.tuples(unit, unit), min_size=v, max_size=v), min_size=n, max_size=n)))
    verts = verts.reshape(n, v, 2)
    cols = np.array(data.draw(st.lists(st.tuples(unit, unit, unit, unit), min_size=n, max_size=n))).reshape(n, 4)
    if mode == "grey":
        cols[:, 1] = cols[:, 2] = cols[:, 0]
    g = Genome(verts, cols, np.array([0.1, 0.2, 0.3]), mode, sym)
    back = from_json(g.to_json())
    assert back.n_polygons == n and back.mode == mode and back.symmetric == sym
    np.testing.assert_allclose(back.background, g.background, atol=1e-6)
    if n:  # an empty genome has no vertex count to keep
        assert back == g
