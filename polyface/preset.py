"""Presets: the built-in TOML files shipped as the package ``polyface.presets``, and user files.

A preset is a flat TOML table of ``polyface.config.Config`` settings, validated key by key
over the defaults; every problem is one ``ConfigError`` naming the file, key and range.
(The module is ``preset``, singular: ``polyface.presets`` is the package of built-in files.)
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from polyface import validate
from polyface.config import MAX_PRESET_BYTES, PRESET_NAME, PROVENANCE, Config, ConfigError, apply


def builtin_presets() -> dict[str, Path]:
    """Name -> path of the presets shipped with polyface."""
    folder = resources.files("polyface.presets")
    return {
        Path(p.name).stem: Path(str(p)) for p in folder.iterdir() if p.name.endswith(".toml")
    }


def read_preset_file(path: Path) -> dict[str, Any]:
    """Parse a preset TOML file (a regular file of at most ``MAX_PRESET_BYTES``) into a dict of
    raw values, not yet validated; the provenance keys of a run's config.toml are dropped."""
    source = validate.quote(path)
    try:
        raw = validate.read_regular(path, MAX_PRESET_BYTES, "preset file (.toml)")
    except FileNotFoundError:
        raise ConfigError(f"{source}: no such preset file") from None
    except validate.FileKindError as e:
        raise ConfigError(str(e)) from None
    except OSError as e:
        raise ConfigError(f"{source}: cannot be read ({e.strerror or type(e).__name__})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{source}: not a text file (preset files are UTF-8 TOML)") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{source}: not valid TOML ({e})") from None
    except RecursionError:
        raise ConfigError(f"{source}: not valid TOML (nested too deeply)") from None
    for key in PROVENANCE:
        data.pop(key, None)
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
    return apply(Config(), data, validate.quote(path))


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
