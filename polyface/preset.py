"""Presets: the built-in TOML files shipped as the package ``polyface.presets``, and user files.

A preset is a flat TOML table of ``polyface.config.Config`` settings, validated key by key
over the defaults; every problem is one ``ConfigError`` naming the file, key and range.
(The module is ``preset``, singular: ``polyface.presets`` is the package of built-in files.)

``extends = "NAME"`` names a built-in preset to start from instead of the defaults: the file's
own settings apply over that preset's resolved ones, and the built-in may extend another in
turn, up to ``MAX_EXTENDS`` deep. Only built-in names may be extended (a user file may extend
a built-in, never another file). ``preset``, the name a run records, is the extending
preset's. ``description`` is a setting like any other: a file's own description replaces its
parent's whole (they are never joined), and a file without one keeps its parent's, so that a
one-line change of a built-in still says what it makes; a file that changes what the parent
makes should say so in its own. ``extends`` is not a setting: a resolved Config, and so a
run's config.toml, has no ``extends`` and runs again as it stands.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from polyface import validate
from polyface.config import MAX_PRESET_BYTES, PRESET_NAME, PROVENANCE, TOP, Config, ConfigError, apply, flatten

MAX_EXTENDS = 8  # links of ``extends`` one preset may follow

def builtin_presets() -> dict[str, Path]:
    """Name -> path of the presets shipped with polyface."""
    folder = resources.files("polyface.presets")
    return {
        Path(p.name).stem: Path(str(p)) for p in folder.iterdir() if p.name.endswith(".toml")
    }


def read_preset_file(path: Path) -> dict[str, Any]:
    """Parse a preset TOML file (a regular file of at most ``MAX_PRESET_BYTES``, the settings
    tree: ``config.SECTIONS``) into a flat dict of raw values (and ``extends``), not yet
    validated; the provenance keys of a run's config.toml are dropped."""
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
    return flatten(data, source, (*TOP, "extends"))


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
    """The Config a preset gives over the defaults (over its parent's, when it ``extends`` one)."""
    name, path = resolve_preset(name_or_path)
    return _resolve(name, path, ())


def _resolve(name: str, path: Path, chain: tuple[tuple[str, Path], ...]) -> Config:
    """The Config of the preset file ``path``, called ``name``; ``chain`` holds the presets
    that extend it, outermost first."""
    source = validate.quote(path)
    data = read_preset_file(path)
    data.setdefault("preset", name)
    base = Config()
    if "extends" in data:
        parent = data.pop("extends")
        builtins = builtin_presets()
        allowed = f"the name of a built-in preset ({', '.join(sorted(builtins))})"
        if not isinstance(parent, str) or parent not in builtins:
            raise ConfigError(f"{source}: key 'extends' must be {allowed}, got {parent!r}")
        chain = (*chain, (name, path.resolve()))
        names = " -> ".join([n for n, _ in chain] + [parent])
        if any(p == builtins[parent].resolve() for _, p in chain):
            raise ConfigError(
                f"{source}: key 'extends' makes a loop ({names}); it must be {allowed} that does not lead back here"
            )
        if len(chain) > MAX_EXTENDS:
            raise ConfigError(
                f"{source}: key 'extends' goes more than {MAX_EXTENDS} presets deep ({names}); "
                f"it must be {allowed} with a shorter chain"
            )
        base = _resolve(parent, builtins[parent], chain)
    return apply(base, data, source)


def describe_presets() -> list[tuple[str, str]]:
    """(name, one-line description) of each built-in preset, as it resolves."""
    out = []
    for name in sorted(builtin_presets()):
        try:
            desc = load_preset(name).description
        except ConfigError as e:
            desc = f"(broken: {e})"
        out.append((name, desc.splitlines()[0] if desc else ""))
    return out
