import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyface.config import FIELDS, PRESET_NAME, Config, ConfigError, Spec, apply, flatten, to_toml
from polyface.preset import describe_presets, load_preset


def test_builtin_presets_load_and_describe_themselves():
    names = dict(describe_presets())
    assert {"default", "pareidoloop", "triangles", "mono", "fool"} <= set(names)
    assert all(names.values())
    p = load_preset("pareidoloop")
    assert p.strategy == "hillclimb" and p.colour == "grey" and p.vertices == 4
    assert p.work_size == 50 and p.background == "#1e1e1e"


def test_user_preset_file_layers_over_defaults(tmp_path):
    f = tmp_path / "mine.toml"
    f.write_text('description = "x"\n[picture]\npolygons = 12\nsymmetric = true\n')
    cfg = load_preset(str(f))
    assert cfg.preset == "mine" and cfg.polygons == 12 and cfg.symmetric and cfg.vertices == Config().vertices


@pytest.mark.parametrize(
    "body, needle",
    [
        ("[picture]\npolygonz = 3", "unknown key 'polygonz' in [picture]"),
        ("polygons = 3", "key 'polygons' belongs in the [picture] table"),
        ("[search]\nprior = 0.3", "key 'prior' belongs in the [judge] table, not in [search]"),
        ("[looks]\nsize = 64", "unknown key 'looks' at the top"),
        ("picture = 3", "[picture] must be a table"),
        ("[judge]\nensemble = 0.5", "unknown key 'ensemble'"),  # no old name is mapped onto a setting
        ("[picture]\npolygons = -1", "'polygons' must be an integer in 0..4096"),
        ("[picture]\npolygons = 2.5", "'polygons' must be an integer"),
        ('[picture]\ncolour = "cmyk"', "'colour' must be one of rgba, grey"),
        ("[judge]\ntarget = 1.5", "'target' must be a number in 0..1"),
        ("[picture]\nsymmetric = 1", "'symmetric' must be true or false"),
        ('[picture]\nbackground = "red"', "'background' must be a colour #rrggbb"),
        ("[judge]\nsearch_sizes = [64, 9999]", "'search_sizes' must be a list"),
        ("[judge]\nsearch_thresholds = [0.5, 0.5]", "'search_thresholds' must be a list of 3"),
        ("[picture]\nalpha_min = 0.9\nalpha_max = 0.1", "'alpha_min' must be at most"),
        ("[picture]\npolygons = [", "not valid TOML"),
        ("", "empty preset"),
    ],
)
def test_bad_preset_names_file_key_and_range(tmp_path, body, needle):
    f = tmp_path / "bad.toml"
    f.write_text(body + "\n")
    with pytest.raises(ConfigError) as e:
        load_preset(str(f))
    msg = str(e.value)
    assert needle in msg and str(f) in msg and "\n" not in msg


def test_missing_and_folder_presets(tmp_path):
    with pytest.raises(ConfigError, match="no such preset file"):
        load_preset(str(tmp_path / "none.toml"))
    with pytest.raises(ConfigError, match="is a folder"):
        load_preset(str(tmp_path) + "/")
    with pytest.raises(ConfigError, match="must be a .toml file"):
        load_preset("../etc/passwd")
    with pytest.raises(ConfigError, match="no such built-in preset"):
        load_preset("nope")


@settings(max_examples=80, deadline=None)
@given(
    polygons=st.integers(-10, 5000),
    target=st.floats(allow_nan=True, allow_infinity=True),
    colour=st.text(max_size=6),
)
def test_preset_parsing_property(polygons, target, colour):
    """Any values either give a Config within the declared ranges or a one-line ConfigError."""
    values = {"polygons": polygons, "target": target, "colour": colour, "max_polygons": 4096}
    try:
        cfg = apply(Config(), values, "p.toml")
    except ConfigError as e:
        assert "\n" not in str(e) and str(e).startswith("p.toml: ")
        return
    assert 0 <= cfg.polygons <= 4096 and 0.0 <= cfg.target <= 1.0 and cfg.colour in ("rgba", "grey")


def _value(key: str, spec: Spec) -> st.SearchStrategy:
    """Any value the spec of ``key`` allows."""
    if spec.choices:
        return st.sampled_from(spec.choices)
    if key == "preset":
        return st.from_regex(PRESET_NAME, fullmatch=True)
    if key == "background":
        return st.from_regex(r"#[0-9a-fA-F]{6}", fullmatch=True)
    if spec.kind is str:
        return st.text(max_size=40)  # any characters: quotes, backslashes, \r, control characters
    if spec.kind is bool:
        return st.booleans()
    if spec.kind is int:
        return st.integers(int(spec.lo), int(spec.hi))
    if spec.kind is float:
        return st.floats(spec.lo, spec.hi, allow_nan=False)
    if key == "search_thresholds":
        return st.tuples(*[st.floats(spec.lo, spec.hi, allow_nan=False)] * 3)
    if key == "palette":
        hexes = st.from_regex(r"#[0-9a-f]{6}", fullmatch=True)
        return st.lists(hexes, min_size=int(spec.lo), max_size=8).map(tuple)
    return st.lists(st.integers(int(spec.lo), int(spec.hi)), min_size=key == "verify_sizes", max_size=8).map(tuple)


def _consistent(values: dict) -> dict:
    """The cross-field rules: alpha_min <= alpha_max, polygons <= max_polygons, elites <= population."""
    v = dict(values)
    v["alpha_min"], v["alpha_max"] = sorted((v["alpha_min"], v["alpha_max"]))
    v["max_polygons"] = max(v["max_polygons"], v["polygons"], 1)
    v["population"] = max(v["population"], v["elites"])
    if v["colour"] == "grey":  # a grey run's palette holds greys
        v["palette"] = tuple("#" + c[1:3] * 3 for c in v["palette"])
    return v


@settings(max_examples=150, deadline=None)
@given(st.fixed_dictionaries({k: _value(k, spec) for k, spec in FIELDS.items()}).map(_consistent))
def test_config_toml_round_trip(values):
    """Every setting, at any value its spec allows, comes back equal from config.toml's text."""
    import tomllib

    cfg = apply(Config(), values, "generated")
    back = apply(Config(), flatten(tomllib.loads(to_toml(cfg.to_dict()))), "round-trip")
    assert back == cfg
