"""Presets that extend another: layering, the name and description they record, and the
one-line errors of a bad ``extends``; the built-in presets that extend the default."""

from __future__ import annotations

from pathlib import Path

import pytest

import polyface.preset as preset_module
from polyface.config import Config, ConfigError
from polyface.preset import MAX_EXTENDS, builtin_presets, describe_presets, load_preset


@pytest.fixture
def builtins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Stand-in built-in presets: write(name, body) adds one to a folder that replaces the shipped ones."""
    folder = tmp_path / "builtin"
    folder.mkdir()
    monkeypatch.setattr(preset_module, "builtin_presets", lambda: {p.stem: p for p in folder.glob("*.toml")})

    def write(name: str, body: str) -> Path:
        path = folder / f"{name}.toml"
        path.write_text(body)
        return path

    return write


def _error(name_or_path) -> str:
    with pytest.raises(ConfigError) as e:
        load_preset(str(name_or_path))
    msg = str(e.value)
    assert "\n" not in msg
    return msg


# ---- layering ------------------------------------------------------------------------------


def test_extends_layers_over_the_parents_resolved_settings(builtins, tmp_path: Path) -> None:
    builtins("base", 'description = "base"\n[picture]\npolygons = 10\nvertices = 4\n[judge]\nhaar = true\n')
    builtins("mid", 'description = "mid"\nextends = "base"\n[picture]\nvertices = 7\noval = 0.5\n')
    mine = tmp_path / "mine.toml"
    mine.write_text('extends = "mid"\n[picture]\npolygons = 12\n')
    cfg = load_preset(str(mine))
    assert (cfg.polygons, cfg.vertices, cfg.oval, cfg.haar) == (12, 7, 0.5, True)
    assert cfg.colour == Config().colour  # what no preset of the chain sets keeps its default
    assert cfg.preset == "mine"  # the extending preset's name, not its parent's
    assert load_preset("mid").preset == "mid"


def test_description_is_the_files_own_else_its_parents(builtins, tmp_path: Path) -> None:
    builtins("base", 'description = "soft grey masks"\n[picture]\npolygons = 10\n')
    own = tmp_path / "own.toml"
    own.write_text('extends = "base"\ndescription = "in colour"\n[picture]\ncolour = "rgba"\n')
    assert load_preset(str(own)).description == "in colour"
    tweak = tmp_path / "tweak.toml"
    tweak.write_text('extends = "base"\n[search]\ntime_limit = 60\n')
    assert load_preset(str(tweak)).description == "soft grey masks"


def test_cross_field_rules_hold_on_the_layered_settings(builtins, tmp_path: Path) -> None:
    builtins("base", 'description = "b"\n[picture]\npolygons = 10\nmax_polygons = 20\n')
    mine = tmp_path / "mine.toml"
    mine.write_text('extends = "base"\n[picture]\npolygons = 30\n')
    msg = _error(mine)
    assert msg.startswith(f"{mine}: ") and "'polygons' must be at most max_polygons (20)" in msg


# ---- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ['"nope"', '"other.toml"', '"./base.toml"', "3", '["base"]'])
def test_extends_names_a_built_in_preset(builtins, tmp_path: Path, value: str) -> None:
    builtins("base", 'description = "b"\n')
    builtins("second", 'description = "s"\n')
    (tmp_path / "other.toml").write_text('description = "o"\n')
    mine = tmp_path / "mine.toml"
    mine.write_text(f"extends = {value}\n")
    msg = _error(mine)
    assert msg.startswith(f"{mine}: key 'extends' must be the name of a built-in preset (base, second), got ")


def test_a_loop_of_extends_is_one_line(builtins) -> None:
    builtins("a", 'description = "a"\nextends = "b"\n')
    b = builtins("b", 'description = "b"\nextends = "a"\n')
    msg = _error("a")
    assert msg.startswith(f"{b}: key 'extends' makes a loop (a -> b -> a); it must be the name of a built-in preset (a, b")
    self_loop = builtins("c", 'description = "c"\nextends = "c"\n')
    assert _error("c").startswith(f"{self_loop}: key 'extends' makes a loop (c -> c)")


def test_extends_goes_at_most_MAX_EXTENDS_deep(builtins) -> None:
    n = MAX_EXTENDS + 1  # p0 extends p1 ... extends p9: nine links
    paths = [builtins(f"p{i}", f'description = "{i}"\nextends = "p{i + 1}"\n[picture]\npolygons = {i}\n') for i in range(n)]
    builtins(f"p{n}", 'description = "root"\n[picture]\nvertices = 9\n')
    cfg = load_preset("p1")  # eight links
    assert (cfg.polygons, cfg.vertices, cfg.preset) == (1, 9, "p1")
    msg = _error("p0")
    chain = " -> ".join(f"p{i}" for i in range(n + 1))
    assert msg.startswith(f"{paths[-1]}: key 'extends' goes more than {MAX_EXTENDS} presets deep ({chain}); ")
    assert "it must be the name of a built-in preset (p0, p1, " in msg


# ---- the built-in presets ------------------------------------------------------------------


def test_every_built_in_preset_says_what_it_makes_in_its_own_words() -> None:
    described = dict(describe_presets())
    assert set(described) == set(builtin_presets())
    assert all(described.values()) and len(set(described.values())) == len(described)
    assert not any(d.startswith("(broken") for d in described.values())


def _settings(cfg: Config) -> dict:
    d = cfg.to_dict()
    del d["preset"], d["description"]
    return d


def test_colour_is_the_default_in_colour() -> None:
    default, colour = load_preset("default"), load_preset("colour")
    assert default.colour == "grey" and colour.colour == "rgba" and colour.preset == "colour"
    assert _settings(colour) == {**_settings(default), "colour": "rgba"}


def test_faces_is_the_default_with_five_minutes() -> None:
    default, faces = load_preset("default"), load_preset("faces")
    assert faces.time_limit == 300.0 and faces.preset == "faces"
    assert _settings(faces) == {**_settings(default), "time_limit": 300.0}
