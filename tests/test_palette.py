"""Palettes: parsing, genome JSON version 2 (and version 1 still loading), mutation that stays
in the palette, exact colours in PNG and SVG, and bad palettes refused in one line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from polyface.cli import cli
from polyface.config import ConfigError, apply
from polyface.preset import load_preset
from polyface.genome import Genome, GenomeError, palette_rgb, random_genome
from polyface.genome_io import from_dict, from_json
from polyface.palettes import BUILTIN, PaletteError, parse_palette, to_rgb
from polyface.render.cairo import render_rgb, save
from polyface.search.mutate import MutationSettings, mutate

SKIN = to_rgb(BUILTIN["skin"])


def _palette_genome(seed: int = 0, n: int = 12) -> Genome:
    return random_genome(np.random.default_rng(seed), n, 5, palette=SKIN)


def test_parse_names_lists_and_text() -> None:
    assert parse_palette("duotone") == BUILTIN["duotone"]
    assert parse_palette(" #1E1E1E , #e0c097") == ("#1e1e1e", "#e0c097")
    assert parse_palette(["#000000"]) == ("#000000",)
    assert np.array_equal(to_rgb(("#ff0080",)), np.array([[1.0, 0.0, 128 / 255]], np.float32))


@pytest.mark.parametrize(
    "value, message",
    [
        ("", "empty"),
        ([], "empty"),
        ("#12345g", "entry 1 must be a colour #rrggbb"),
        ("#123456,#fff", "entry 2 must be a colour #rrggbb"),
        (",".join(["#010203"] * 257), "257 colours; allowed 1..256"),
        ("sepia", "no built-in palette 'sepia'"),
        ([1, 2], "entry 1"),
    ],
)
def test_bad_palettes_are_refused(value, message) -> None:
    with pytest.raises(PaletteError, match=message):
        parse_palette(value)


def test_json_round_trip_is_version_2_and_exact() -> None:
    g = _palette_genome()
    d = g.to_dict()
    assert d["version"] == 2 and "colours" not in d
    assert d["palette"] == list(BUILTIN["skin"])
    assert len(d["index"]) == len(d["alpha"]) == g.n_polygons
    back = from_json(g.to_json())
    assert back == g
    assert np.array_equal(back.colours[:, :3], SKIN[back.index])
    assert back.to_json() == g.to_json()


def test_version_1_genomes_still_load() -> None:
    v1 = {
        "format": "polyface-genome",
        "version": 1,
        "mode": "rgba",
        "symmetric": False,
        "background": [0.1, 0.2, 0.3],
        "vertices": [[[0.1, 0.1], [0.9, 0.1], [0.5, 0.9]]],
        "colours": [[0.25, 0.5, 0.75, 0.5]],
    }
    g = from_dict(v1)
    assert g.palette is None and g.index is None
    assert g.colours.tolist() == [[0.25, 0.5, 0.75, 0.5]]
    assert g.to_dict()["version"] == 2 and g.to_dict()["colours"] == v1["colours"]
    with pytest.raises(GenomeError, match="unknown field 'alpha'"):
        from_dict({**v1, "palette": ["#000000"], "index": [0], "alpha": [0.5]})


@pytest.mark.parametrize(
    "change, field",
    [
        ({"index": [99] * 12}, "'index' must be in 0..7"),
        ({"palette": ["#12345"] * 8}, "'palette' must hold colours"),
        ({"palette": []}, "'palette' must be a list of 1..256"),
        ({"alpha": [0.5]}, "'alpha' must be a list of 12"),
        ({"index": [0.5] * 12}, "'index' must be a list of integers"),
    ],
)
def test_bad_palette_json_names_the_field(change, field) -> None:
    d = {**_palette_genome().to_dict(), **change}
    with pytest.raises(GenomeError, match=field):
        from_dict(d)


def test_colours_off_the_palette_are_refused() -> None:
    g = _palette_genome()
    cols = g.colours.copy()
    cols[0, :3] = 0.5
    with pytest.raises(GenomeError, match="palette entries"):
        Genome(g.vertices, cols, g.background, palette=g.palette, index=g.index)


def test_mutation_stays_in_the_palette() -> None:
    rng = np.random.default_rng(5)
    s = MutationSettings(n_vertices=5, max_polygons=30)
    g = _palette_genome()
    seen = set()
    for _ in range(400):
        g = mutate(g, rng, s)
        assert g.palette is not None and np.array_equal(g.palette, SKIN)
        assert g.index.shape == (g.n_polygons,)
        assert np.array_equal(g.colours[:, :3], SKIN[g.index])  # every colour is an entry
        seen.update(g.index.tolist())
    assert len(seen) == len(SKIN)  # mutation moves between entries


def test_png_and_svg_reproduce_the_palette(tmp_path: Path) -> None:
    g = random_genome(np.random.default_rng(2), 20, 4, palette=to_rgb(BUILTIN["duotone"]), alpha=(1.0, 1.0))
    g.background[:] = palette_rgb(["#336699"])[0]
    allowed = {(0x1E, 0x1E, 0x1E), (0xE0, 0xC0, 0x97), (0x33, 0x66, 0x99)}
    img = render_rgb(g, 128, antialias=False)
    assert {tuple(int(v) for v in c) for c in np.unique(img.reshape(-1, 3), axis=0)} <= allowed
    save(g, tmp_path / "p.png", 64, antialias=False)
    png = np.asarray(Image.open(tmp_path / "p.png").convert("RGB"))
    assert {tuple(int(v) for v in c) for c in np.unique(png.reshape(-1, 3), axis=0)} <= allowed
    save(g, tmp_path / "p.svg", 64)
    fills = re.findall(r"rgb\(([\d.]+)%,\s*([\d.]+)%,\s*([\d.]+)%\)", (tmp_path / "p.svg").read_text())
    assert fills
    assert {tuple(round(float(v) * 2.55) for v in f) for f in fills} <= allowed


def test_config_key_from_preset_file_and_cross_check(tmp_path: Path) -> None:
    preset = tmp_path / "mine.toml"
    preset.write_text('description = "mine"\n[picture]\npalette = ["#102030", "#A0B0C0"]\n')
    assert load_preset(str(preset)).palette == ("#102030", "#a0b0c0")
    preset.write_text('description = "mine"\n[picture]\npalette = "grey2012"\ncolour = "grey"\n')
    assert load_preset(str(preset)).palette == ("#000000", "#ffffff")
    preset.write_text('description = "mine"\n[picture]\npalette = []\n')
    with pytest.raises(ConfigError, match=r"mine.toml: palette is empty"):
        load_preset(str(preset))
    with pytest.raises(ConfigError, match="only greys"):
        apply(load_preset("default"), {"colour": "grey", "palette": "skin"})


@pytest.mark.parametrize(
    "value, message",
    [
        ("", "option --palette: palette is empty"),
        ("#1e1e1e,#e0c09", "option --palette: palette entry 2 must be a colour #rrggbb, got '#e0c09'"),
        (",".join(["#000000"] * 257), "option --palette: palette has 257 colours; allowed 1..256"),
        ("nope", "option --palette: no built-in palette 'nope'"),
    ],
)
def test_cli_refuses_bad_palettes_in_one_line(value, message, tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["evolve", "--palette", value, "--out", str(tmp_path / "r")])
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], res.stderr
    assert "Traceback" not in res.output and not (tmp_path / "r").exists()


@pytest.mark.slow
def test_evolve_with_a_palette_writes_a_palette_genome(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["evolve", "--seed", "4", "--palette", "skin", "--colour", "rgba", "--max-generations", "4", "--set", "work_size=48",
            "--polygons", "10", "--set", "population=6", "--size", "64", "--set", "frame_size=48", "-q", "--out", str(out)]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.stderr
    doc = json.loads((out / "genome.json").read_text())
    assert doc["version"] == 2 and doc["palette"] == list(BUILTIN["skin"])
    g = from_dict(doc)
    assert np.array_equal(g.colours[:, :3], SKIN[g.index])
    import tomllib

    assert tomllib.loads((out / "config.toml").read_text())["picture"]["palette"] == list(BUILTIN["skin"])


def test_palette_genome_errors_name_its_own_fields():
    """A version-2 genome has no 'colours' field: an error about its alpha names 'alpha'."""
    doc = {"format": "polyface-genome", "version": 2, "mode": "rgba", "symmetric": False, "background": [0, 0, 0],
           "vertices": [[[0, 0], [1, 0], [0, 1]]], "palette": ["#ff0000"], "index": [0]}
    for alpha in (2.0, -0.5):
        with pytest.raises(GenomeError, match="field 'alpha'") as err:
            from_json(json.dumps(dict(doc, alpha=[alpha])))
        assert "colours" not in str(err.value)


def test_palette_errors_quote_a_bad_entry_briefly_and_name_the_flag_for_colours():
    with pytest.raises(PaletteError) as err:
        parse_palette("#123456," + "x" * 200_000)
    assert len(str(err.value)) < 200
    with pytest.raises(PaletteError) as err:
        parse_palette("y" * 200_000)
    assert len(str(err.value)) < 400
    with pytest.raises(ConfigError, match="--colour rgba"):  # the grey default given a colour palette
        apply(load_preset("default"), {"palette": ["#ff0000"]}, "x.toml")
