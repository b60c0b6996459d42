"""Run settings: one frozen dataclass, layered from defaults, a preset (TOML) and overrides.

Every field has a type and an allowed range; a bad value raises ``ConfigError`` with a
one-line message naming the source file, the key and what is allowed.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

PRESET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class ConfigError(ValueError):
    """A setting is unknown, of the wrong type or out of range."""


@dataclass(frozen=True)
class Config:
    """Every setting of a run. See ``FIELDS`` for types and ranges."""

    preset: str = "default"
    description: str = ""
    seed: int | None = None
    # genome
    polygons: int = 50
    max_polygons: int = 120
    vertices: int = 6
    colour: str = "rgba"
    grey_values: str = "any"
    background: str = "#1e1e1e"
    symmetric: bool = False
    alpha_min: float = 0.15
    alpha_max: float = 0.85
    radius: float = 0.15
    palette: tuple[str, ...] | None = None  # colours polygons pick from (polyface.palettes)
    # search
    strategy: str = "population"
    population: int = 24
    elites: int = 4
    work_size: int = 64
    search_sizes: tuple[int, ...] = (96,)
    search_thresholds: tuple[float, float, float] = (0.8, 0.9, 0.7)
    min_box: float = 0.5
    target: float = 0.99
    verify_sizes: tuple[int, ...] = (64, 96, 128, 192, 256, 384)
    # robust scoring
    augment: int = 0
    augment_shift: float = 0.03
    augment_scale: float = 0.08
    augment_rotate: float = 4.0
    augment_blur: float = 0.6
    augment_colour: float = 0.08
    landmarks: float = 0.0
    ensemble: float = 0.0
    # stop rules
    max_generations: int = 20000
    stagnation: int = 0
    time_limit: float = 0.0
    # output
    size: int = 512
    frame_size: int = 256
    frame_every: int = 1
    log_every: int = 1
    checkpoint_every: float = 5.0
    gif: bool = False
    # machine
    device: str = "auto"
    threads: int = 0
    workers: int = 0

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if v is None:
                continue
            out[f.name] = list(v) if isinstance(v, tuple) else v
        return out


@dataclass(frozen=True)
class Spec:
    kind: type
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] = ()
    items: int | None = None  # fixed length for tuples; None for any length >= 1
    help: str = ""

    def describe(self) -> str:
        if self.choices:
            return "one of " + ", ".join(self.choices)
        noun = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}[self.kind]
        if self.lo is not None and self.hi is not None:
            noun += f" in {_fmt(self.lo)}..{_fmt(self.hi)}"
        return noun


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


FIELDS: dict[str, Spec] = {
    "preset": Spec(str),
    "description": Spec(str),
    "seed": Spec(int, 0, 2**63 - 1),
    "polygons": Spec(int, 0, 4096),
    "max_polygons": Spec(int, 1, 4096),
    "vertices": Spec(int, 3, 64),
    "colour": Spec(str, choices=("rgba", "grey")),
    "grey_values": Spec(str, choices=("any", "bw")),
    "background": Spec(str),
    "symmetric": Spec(bool),
    "alpha_min": Spec(float, 0.0, 1.0),
    "alpha_max": Spec(float, 0.0, 1.0),
    "radius": Spec(float, 0.01, 1.0),
    "palette": Spec(tuple, 1, 256, help="a built-in palette's name or a list of #rrggbb colours"),
    "strategy": Spec(str, choices=("population", "hillclimb")),
    "population": Spec(int, 1, 4096),
    "elites": Spec(int, 1, 4096),
    "work_size": Spec(int, 24, 512),
    "search_sizes": Spec(tuple, 24, 1024),
    "search_thresholds": Spec(tuple, 0.0, 1.0, items=3),
    "min_box": Spec(float, 0.05, 1.0),
    "target": Spec(float, 0.0, 1.0),
    "verify_sizes": Spec(tuple, 24, 4096),
    "augment": Spec(int, 0, 64),
    "augment_shift": Spec(float, 0.0, 0.3),
    "augment_scale": Spec(float, 0.0, 0.5),
    "augment_rotate": Spec(float, 0.0, 45.0),
    "augment_blur": Spec(float, 0.0, 3.0),
    "augment_colour": Spec(float, 0.0, 0.5),
    "landmarks": Spec(float, 0.0, 1.0),
    "ensemble": Spec(float, 0.0, 1.0),
    "max_generations": Spec(int, 1, 10**9),
    "stagnation": Spec(int, 0, 10**9),
    "time_limit": Spec(float, 0.0, 10**7),
    "size": Spec(int, 16, 16384),
    "frame_size": Spec(int, 16, 4096),
    "frame_every": Spec(int, 0, 10**6),
    "log_every": Spec(int, 1, 10**6),
    "checkpoint_every": Spec(float, 0.0, 3600.0),
    "gif": Spec(bool),
    "device": Spec(str, choices=("auto", "cpu", "cuda", "mps")),
    "threads": Spec(int, 0, 256),
    "workers": Spec(int, 0, 256),
}

HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


def parse_colour(text: str) -> tuple[float, float, float]:
    """'#rrggbb' -> RGB floats in [0, 1]."""
    if not isinstance(text, str) or not HEX.match(text):
        raise ValueError(f"colour must be #rrggbb, got {text!r}")
    return tuple(int(text[i : i + 2], 16) / 255.0 for i in (1, 3, 5))


def check_value(key: str, value: Any, source: str) -> Any:
    """Validate one setting; returns the value in its canonical type."""
    spec = FIELDS.get(key)
    where = f"{source}: " if source else ""
    if spec is None:
        raise ConfigError(f"{where}unknown key {key!r} (known keys: {', '.join(sorted(FIELDS))})")
    if key == "seed" and value is None:
        return None
    if key == "palette":
        from polyface.palettes import PaletteError, parse_palette

        try:
            return parse_palette(value)
        except PaletteError as e:
            raise ConfigError(f"{where}{e}") from None
    if spec.kind is tuple:
        return _check_tuple(key, value, spec, where)
    if spec.kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}key {key!r} must be true or false, got {value!r}")
        return value
    if spec.kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}key {key!r} must be {spec.describe()}, got {value!r}")
    elif spec.kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"{where}key {key!r} must be {spec.describe()}, got {value!r}")
        value = float(value)
    elif spec.kind is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}key {key!r} must be {spec.describe()}, got {value!r}")
        if spec.choices and value not in spec.choices:
            raise ConfigError(f"{where}key {key!r} must be {spec.describe()}, got {value!r}")
    if spec.lo is not None and not spec.lo <= value <= spec.hi:
        raise ConfigError(f"{where}key {key!r} must be {spec.describe()}, got {value!r}")
    if key == "background":
        try:
            parse_colour(value)
        except ValueError:
            raise ConfigError(f"{where}key 'background' must be a colour #rrggbb, got {value!r}") from None
    if key == "preset" and not PRESET_NAME.match(value):
        raise ConfigError(f"{where}key 'preset' must be a name of letters, digits, '-' and '_', got {value!r}")
    return value


def _check_tuple(key: str, value: Any, spec: Spec, where: str) -> tuple:
    what = "numbers" if key == "search_thresholds" else "integers"
    rng = f"{_fmt(spec.lo)}..{_fmt(spec.hi)}"
    count = f"{spec.items} " if spec.items else ""
    msg = f"{where}key {key!r} must be a list of {count}{what} in {rng}, got {value!r}"
    if not isinstance(value, (list, tuple)) or (spec.items and len(value) != spec.items):
        raise ConfigError(msg)
    if key == "search_sizes" and len(value) > 8:
        raise ConfigError(msg.replace("a list of", "a list of at most 8"))
    out = []
    for v in value:
        ok_type = isinstance(v, (int, float)) and not isinstance(v, bool)
        if key != "search_thresholds":
            ok_type = ok_type and isinstance(v, int)
        if not ok_type or not (spec.lo <= v <= spec.hi) or (isinstance(v, float) and not math.isfinite(v)):
            raise ConfigError(msg)
        out.append(float(v) if key == "search_thresholds" else int(v))
    if key == "verify_sizes" and not out:
        raise ConfigError(msg)
    return tuple(out)


def check_config(cfg: Config, source: str = "") -> Config:
    """Cross-field checks that single keys cannot make."""
    where = f"{source}: " if source else ""
    if cfg.alpha_min > cfg.alpha_max:
        raise ConfigError(f"{where}key 'alpha_min' must be at most alpha_max ({cfg.alpha_max}), got {cfg.alpha_min}")
    if cfg.polygons > cfg.max_polygons:
        raise ConfigError(
            f"{where}key 'polygons' must be at most max_polygons ({cfg.max_polygons}), got {cfg.polygons}"
        )
    if cfg.palette and cfg.colour == "grey":
        from polyface.palettes import is_grey

        if not is_grey(cfg.palette):
            raise ConfigError(f"{where}key 'palette' must hold only greys (#rrggbb with rr = gg = bb) when colour is grey (or set colour to rgba)")
    if cfg.elites > cfg.population and cfg.strategy == "population":
        raise ConfigError(f"{where}key 'elites' must be at most population ({cfg.population}), got {cfg.elites}")
    return cfg


def apply(cfg: Config, values: dict[str, Any], source: str = "") -> Config:
    """A new Config with ``values`` applied over ``cfg``, each one validated."""
    checked = {k: check_value(k, v, source) for k, v in values.items()}
    return check_config(dataclasses.replace(cfg, **checked), source)


# ---- presets -------------------------------------------------------------------------------


def builtin_presets() -> dict[str, Path]:
    """Name -> path of the presets shipped with polyface."""
    folder = resources.files("polyface.presets")
    return {
        Path(p.name).stem: Path(str(p)) for p in folder.iterdir() if p.name.endswith(".toml")
    }


def read_preset_file(path: Path) -> dict[str, Any]:
    """Parse a preset TOML file into a dict of raw values (not yet validated)."""
    source = str(path)
    if path.is_dir():
        raise ConfigError(f"{source}: is a folder, not a preset file (.toml)")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{source}: no such preset file") from None
    except OSError as e:
        raise ConfigError(f"{source}: cannot be read ({e.strerror})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{source}: not a text file (preset files are UTF-8 TOML)") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{source}: not valid TOML ({e})") from None
    if not data:
        raise ConfigError(f"{source}: empty preset (give at least 'description')")
    return data


def resolve_preset(name_or_path: str) -> tuple[str, Path]:
    """A preset given by built-in name or by file path -> (name, path)."""
    builtins = builtin_presets()
    if name_or_path in builtins:
        return name_or_path, builtins[name_or_path]
    looks_like_path = name_or_path.endswith(".toml") or "/" in name_or_path or "\\" in name_or_path
    if not looks_like_path:
        raise ConfigError(
            f"preset {name_or_path!r}: no such built-in preset (built-in: {', '.join(sorted(builtins))}; "
            "or give a path to a .toml file)"
        )
    path = Path(name_or_path)
    if path.suffix.lower() != ".toml" and not path.is_dir():
        raise ConfigError(f"preset {name_or_path!r}: a preset file must be a .toml file")
    stem = path.stem if PRESET_NAME.match(path.stem) else "custom"
    return stem, path


def load_preset(name_or_path: str = "default") -> Config:
    """The Config a preset gives over the defaults."""
    name, path = resolve_preset(name_or_path)
    data = read_preset_file(path)
    data.setdefault("preset", name)
    return apply(Config(), data, str(path))


def describe_presets() -> list[tuple[str, str]]:
    """(name, one-line description) of each built-in preset."""
    out = []
    for name, path in sorted(builtin_presets().items()):
        try:
            desc = str(read_preset_file(path).get("description", ""))
        except ConfigError as e:
            desc = f"(broken: {e})"
        out.append((name, desc.splitlines()[0] if desc else ""))
    return out


def to_toml(values: dict[str, Any]) -> str:
    """A flat dict of settings as TOML text."""
    lines = []
    for k, v in values.items():
        lines.append(f"{k} = {_toml_value(v)}")
    return "\n".join(lines) + "\n"


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    s = str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{s}"'
