"""config.toml: written by a real TOML writer, read back as the same settings whatever text a
preset holds, and usable as a preset (``polyface evolve --preset RUN/config.toml``)."""

from __future__ import annotations

import tomllib

import pytest
import torch
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyface.cli import cli
from polyface.config import Config
from polyface.preset import builtin_presets, load_preset
from polyface.run import config_record, evolve

texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=80)  # any text but lone surrogates
configs = st.builds(
    lambda desc, seed, polygons, target, sym, sizes: Config(
        description=desc, seed=seed, polygons=polygons, target=target, symmetric=sym, verify_sizes=sizes
    ),
    texts,
    st.integers(0, 2**63 - 1),
    st.integers(0, 50),
    st.floats(0.0, 1.0),
    st.booleans(),
    st.lists(st.integers(24, 4096), min_size=1, max_size=6).map(tuple),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cfg=configs)
def test_config_toml_reads_back_as_the_same_settings(tmp_path_factory, cfg):
    path = tmp_path_factory.mktemp("cfg") / "config.toml"
    path.write_text(config_record(cfg, torch.device("cpu")), encoding="utf-8")
    record = tomllib.loads(path.read_text(encoding="utf-8"))
    assert record["description"] == cfg.description and record["resolved_device"] == "cpu"
    assert load_preset(str(path)) == cfg  # the header's promise: the file is a preset


@pytest.mark.parametrize("name", sorted(builtin_presets()))
def test_config_toml_of_every_built_in_preset_is_a_preset_without_extends(tmp_path, name):
    cfg = load_preset(name).replace(seed=1)
    path = tmp_path / "config.toml"
    path.write_text(config_record(cfg, torch.device("cpu")), encoding="utf-8")
    assert "extends" not in tomllib.loads(path.read_text(encoding="utf-8"))  # every setting resolved
    assert load_preset(str(path)) == cfg


def test_a_run_runs_again_from_its_config_toml(tmp_path, monkeypatch):
    cfg = load_preset("default").replace(
        seed=4, work_size=48, search_sizes=(), polygons=12, population=6, elites=2, size=64, frame_size=32,
        verify_sizes=(48,), max_generations=3, threads=2, description="a\rb\u0001c \"q\" \\",
    )
    first = evolve(cfg, out=tmp_path / "first", checkpoint_every=0)
    header = (tmp_path / "first" / "config.toml").read_text().splitlines()[0]
    assert "polyface evolve --preset THIS_FILE" in header
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["evolve", "--quiet", "--preset", "first/config.toml", "--out", "again"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "again" / "genome.json").read_text() == (tmp_path / "first" / "genome.json").read_text()
    assert first.extra["config"] == load_preset(str(tmp_path / "again" / "config.toml"))
