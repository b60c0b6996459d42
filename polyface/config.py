"""Run settings: one frozen dataclass, layered from defaults, a preset (TOML) and overrides.

A preset file is the settings tree: ``description`` and ``seed`` at its top, every other
setting in the table of its section (``SECTIONS``: picture, judge, search, finish, output,
machine). In Python the settings are one flat ``Config``: each key is one setting in one section.

Every field has a type and an allowed range; a bad value raises ``ConfigError`` with a
one-line message naming the source file, the key and what is allowed. Preset files are found
and read by ``polyface.preset``; the ranges of sizes and counts live in ``polyface.limits``.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from typing import Any

import tomli_w

from polyface import limits
from polyface.limits import Spec
from polyface.limits import fmt as _fmt

PRESET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class ConfigError(ValueError):
    """A setting is unknown, of the wrong type or out of range."""


# Keys a run's config.toml records after the settings; a preset loader ignores them, so that
# file runs again as a preset (``polyface evolve --preset RUN/config.toml``).
PROVENANCE = ("polyface_version", "torch_version", "python_version", "resolved_device")
MAX_PRESET_BYTES = 1024 * 1024


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
    init: str = "random"  # random shapes, "face": their greys from the mean face, "layout": a face's parts
    oval: float = 0.0  # every shape inside a centred oval this share of the canvas wide; 0 = anywhere
    palette: tuple[str, ...] | None = None  # colours polygons pick from (polyface.palettes)
    # search
    strategy: str = "population"
    population: int = 24
    elites: int = 4
    starts: int = 0  # population strategy: starting genomes the first generation scores (the best elites go on); 0: elites
    work_size: int = 64
    search_sizes: tuple[int, ...] = (96,)
    search_thresholds: tuple[float, float, float] = (0.8, 0.9, 0.7)
    min_box: float = 0.5
    face_margin: float = limits.NO_MARGIN  # the face box may run off the canvas
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
    # gradient refinement (population strategy): each generation the best refine_top parents take
    # this many gradient steps on the soft render and join the batch; 0 = off
    refine: int = 0
    refine_top: int = 1
    # the ensemble: MTCNN always; these must agree too
    blazeface: bool = False
    haar: bool = False
    prior: float = 0.0
    # stop rules
    max_generations: int = 20000
    stagnation: int = 0
    polish: int = 0  # generations the search goes on after its first verified portrait; 0 = stop there
    contrast: float = 1.0  # the finished portrait's shapes moved up to this many times as far from the ground (1: as evolved)
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
    profile: bool = False  # write profile.json: where the run's time went

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


FIELDS: dict[str, Spec] = {
    "preset": Spec(str),
    "description": Spec(str),
    "seed": limits.SEED,
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
    "init": Spec(str, choices=("random", "face", "layout")),
    "oval": Spec(float, 0.0, 1.0, help="0 (anywhere) or the width share of the oval every shape stays inside"),
    "palette": Spec(tuple, 1, 256, help="a built-in palette's name or a list of #rrggbb colours"),
    "strategy": Spec(str, choices=("population", "hillclimb", "pgpe"), help="population: mutate the best few; hillclimb: Pareidoloop's (1+1) annealing; pgpe: move a Gaussian over one genome's parameters (population // 2 sample pairs a generation)"),
    "population": Spec(int, 1, 4096),
    "elites": Spec(int, 1, 4096),
    "starts": Spec(int, 0, 4096, help="starting genomes the population strategy's first generation draws and scores; the best elites go on (0: elites)"),
    "work_size": Spec(int, 24, 512),
    "search_sizes": Spec(tuple, 24, 1024),
    "search_thresholds": Spec(tuple, 0.0, 1.0, items=3),
    "min_box": limits.MIN_BOX,
    "face_margin": limits.FACE_MARGIN,
    "target": Spec(float, 0.0, 1.0),
    "verify_sizes": Spec(tuple, 24, 4096),
    "augment": Spec(int, 0, 64),
    "augment_shift": Spec(float, 0.0, 0.3),
    "augment_scale": Spec(float, 0.0, 0.5),
    "augment_rotate": Spec(float, 0.0, 45.0),
    "augment_blur": Spec(float, 0.0, 3.0),
    "augment_colour": Spec(float, 0.0, 0.5),
    "landmarks": Spec(float, 0.0, 1.0),
    "refine": Spec(int, 0, 1000, help="gradient steps each generation's best parents take on the soft render (0: off; population strategy only)"),
    "refine_top": Spec(int, 1, 4096, help="how many of the best parents are refined each generation"),
    "blazeface": Spec(bool),
    "haar": Spec(bool),
    "prior": Spec(float, 0.0, 0.9),
    "max_generations": Spec(int, 1, 10**9),
    "stagnation": Spec(int, 0, 10**9),
    "polish": Spec(int, 0, 10**6, help="generations to go on after the first verified portrait (0: stop there)"),
    "time_limit": Spec(float, 0.0, 10**7),
    "contrast": limits.CONTRAST,
    "size": limits.RENDER_SIZE,
    "frame_size": limits.FRAME_SIZE,
    "frame_every": Spec(int, 0, 10**6),
    "log_every": Spec(int, 1, 10**6),
    "checkpoint_every": Spec(float, 0.0, 3600.0),
    "gif": Spec(bool),
    "device": Spec(str, choices=("auto", "cpu", "cuda", "mps")),
    "threads": limits.THREADS,
    "profile": Spec(bool),
}

# The settings tree: a preset file holds ``preset``, ``description``, ``seed`` (and ``extends``)
# at its top and every other setting in the table of its section. In Python the settings stay
# one flat Config: each key names one setting, in one section.
SECTIONS: dict[str, tuple[str, ...]] = {
    # what is drawn: the shapes, their colours, where they may go, how a run starts
    "picture": ("polygons", "max_polygons", "vertices", "colour", "grey_values", "palette", "background",
                "symmetric", "alpha_min", "alpha_max", "radius", "oval", "init"),
    # what a portrait is, and how the judge reads a picture: members, rule, views, sizes
    "judge": ("blazeface", "haar", "prior", "min_box", "face_margin", "target", "landmarks", "work_size",
              "search_sizes", "verify_sizes", "search_thresholds", "augment", "augment_shift", "augment_scale",
              "augment_rotate", "augment_blur", "augment_colour"),
    # how the search looks for one, and when it stops
    "search": ("strategy", "population", "elites", "starts", "refine", "refine_top", "max_generations",
               "stagnation", "time_limit"),
    # what happens after the first portrait
    "finish": ("polish", "contrast"),
    # what a run writes
    "output": ("size", "frame_size", "frame_every", "log_every", "checkpoint_every", "gif"),
    # where and how it runs
    "machine": ("device", "threads", "profile"),
}
TOP = ("preset", "description", "seed")  # the keys at a preset file's top, outside any table
SECTION_OF = {key: name for name, keys in SECTIONS.items() for key in keys}


def flatten(data: dict[str, Any], source: str = "", top: tuple[str, ...] = TOP) -> dict[str, Any]:
    """A settings tree as read from TOML (``TOP`` keys, then one table per section) -> flat
    settings, not yet validated; a key in the wrong place is refused in one line that names it
    and the table it belongs in. ``top`` may allow more keys at the top (``extends``)."""
    where = f"{source}: " if source else ""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if key in top:
            flat[key] = value
        elif key in SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"{where}[{key}] must be a table of settings ({', '.join(SECTIONS[key])}), got {value!r}")
            for sub, v in value.items():
                home = SECTION_OF.get(sub)
                if home is None:
                    known = ", ".join(SECTIONS[key])
                    raise ConfigError(f"{where}unknown key {sub!r} in [{key}] (known keys there: {known})")
                if home != key:
                    raise ConfigError(f"{where}key {sub!r} belongs in the [{home}] table, not in [{key}]")
                flat[sub] = v
        elif key in SECTION_OF:
            raise ConfigError(f"{where}key {key!r} belongs in the [{SECTION_OF[key]}] table (write it under a line [{SECTION_OF[key]}])")
        else:
            allowed = ", ".join([*top, *(f"[{s}]" for s in SECTIONS)])
            raise ConfigError(f"{where}unknown key {key!r} at the top (allowed there: {allowed})")
    return flat


def nest(values: dict[str, Any]) -> dict[str, Any]:
    """Flat settings -> the settings tree (``TOP`` keys first, then one table per section, in
    ``SECTIONS`` order; keys that are neither stay at the top, e.g. a run's provenance)."""
    out = {k: v for k, v in values.items() if k not in SECTION_OF}
    for name, keys in SECTIONS.items():
        table = {k: values[k] for k in keys if k in values}
        if table:
            out[name] = table
    return out


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
            raise ConfigError(f"{where}key 'palette' must hold only greys (#rrggbb with rr = gg = bb) when colour is grey; for colours add --colour rgba (colour = \"rgba\" in a preset)")
    if cfg.strategy == "pgpe" and cfg.polygons < 1:
        raise ConfigError(f"{where}key 'polygons' must be at least 1 with strategy pgpe (it moves the shapes it starts with), got {cfg.polygons}")
    if cfg.strategy == "pgpe" and cfg.population < 2:
        raise ConfigError(f"{where}key 'population' must be at least 2 with strategy pgpe (pairs of samples), got {cfg.population}")
    if cfg.elites > cfg.population and cfg.strategy == "population":
        raise ConfigError(f"{where}key 'elites' must be at most population ({cfg.population}), got {cfg.elites}")
    return cfg


def apply(cfg: Config, values: dict[str, Any], source: str = "") -> Config:
    """A new Config with ``values`` applied over ``cfg``, each one validated."""
    checked = {k: check_value(k, v, source) for k, v in values.items()}
    return check_config(dataclasses.replace(cfg, **checked), source)


def to_toml(values: dict[str, Any]) -> str:
    """Flat settings as the settings tree's TOML text (any string, control characters included,
    is written so that it reads back the same)."""
    return tomli_w.dumps(nest(values))
