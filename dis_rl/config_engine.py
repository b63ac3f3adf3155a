"""The typed-YAML engine under every dis-rl config: YAML files -> strict dataclasses.

Knows nothing of what a run config holds (`dis_rl.config` is the schema): it reads a YAML file
strictly (a key given twice, bad YAML, a huge file or a non-mapping is refused, naming the file),
lays ``section.key=value`` overrides over a mapping, and builds a dataclass from it, checking every
key against the field types and suggesting the nearest valid key for a misspelt one. Every problem
is a `ConfigError` naming the key and the file. The RL configs and the compare files use it too.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import reprlib
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from dis_rl.resources import config_names, shipped_config


class ConfigError(ValueError):
    """A user-caused configuration problem (bad file, key, type or value)."""


def short_repr(value: Any) -> str:
    """A bounded repr for messages (a YAML alias can make a value huge)."""
    return reprlib.repr(value)


def _coerce(value: Any, annotation: Any, key: str) -> Any:
    """Check ``value`` against a dataclass field type (ints are accepted for floats)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(annotation):
            try:
                return _coerce(value, option, key)
            except ConfigError:
                continue
        raise ConfigError(f"{key}: {short_repr(value)} does not match {annotation}")
    if annotation is type(None):
        if value is None:
            return None
        raise ConfigError(f"{key}: expected null, got {short_repr(value)}")
    if origin is tuple:
        args = typing.get_args(annotation)
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise ConfigError(f"{key}: expected a list of {len(args)} values, got {short_repr(value)}")
        return tuple(_coerce(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if origin is list:
        (arg,) = typing.get_args(annotation)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {short_repr(value)}")
        return [_coerce(v, arg, f"{key}[{i}]") for i, v in enumerate(value)]
    if annotation is float:
        if isinstance(value, str):  # YAML 1.1 reads '3e-4' (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {short_repr(value)}")
        try:
            number = float(value)
        except OverflowError:  # an integer too large for a float
            number = math.inf
        if not math.isfinite(number):  # nan/inf pass every range check and then break the run
            raise ConfigError(f"{key}: expected a finite number, got {short_repr(value)}")
        return number
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {short_repr(value)}")
        return value
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {short_repr(value)}")
        return value
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {short_repr(value)}")
        return value
    raise AssertionError(f"unsupported config annotation {annotation} at {key}")


def build_dataclass(cls: type, data: Any, prefix: str) -> Any:
    """``cls`` (a dataclass whose fields are plain types, lists, tuples, unions or dataclasses) from a
    mapping; an unknown key (with the nearest valid one), a wrong type or a non-mapping is a
    `ConfigError` naming the dotted key under ``prefix``."""
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix or 'config'}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(map(str, set(data) - set(fields)))  # YAML keys may be numbers, dates, ...
    if unknown:
        where = f"{prefix}." if prefix else ""
        hint = difflib.get_close_matches(unknown[0], list(fields), n=1)
        suggestion = f" (did you mean '{where}{hint[0]}'?)" if hint else ""
        raise ConfigError(f"unknown key {where}{unknown[0]}{suggestion}; valid keys: {sorted(fields)}")
    kwargs = {}
    for name, value in data.items():
        key = f"{prefix}.{name}" if prefix else name
        annotation = hints[name]
        if dataclasses.is_dataclass(annotation):
            kwargs[name] = build_dataclass(annotation, value, key)
        else:
            kwargs[name] = _coerce(value, annotation, key)
    return cls(**kwargs)


def _merged(old: Any, new: Any) -> Any:
    """``new`` laid over ``old``: mappings merge key by key (so ``model={hidden: 128}`` changes one
    key of the section and ``model={}`` none), anything else replaces."""
    if isinstance(old, dict) and isinstance(new, dict):
        return {**old, **{k: _merged(old.get(k), v) for k, v in new.items()}}
    return new


def _set_override(tree: dict, dotted: str, raw: str) -> None:
    parts = dotted.split(".")
    node = tree
    for part in parts[:-1]:
        child = node.get(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override {dotted}: {part} is not a section")
        node[part] = node = dict(child)  # a copy: the caller's nested sections stay as they were
    try:  # `key=` is the empty string: a shell turns `key=''` into it, and YAML would read None
        value = yaml.safe_load(raw) if raw.strip() else ""
    except (yaml.YAMLError, ValueError, RecursionError) as err:
        raise ConfigError(f"override {dotted}: {raw!r} is not a YAML value ({str(err)[:200]})") from None
    node[parts[-1]] = _merged(node.get(parts[-1]), value)


def apply_overrides(data: dict | None, overrides: list[str] | None, example: str = "train.lr=3e-4") -> dict:
    """A copy of ``data`` with ``section.key=value`` overrides applied (values parsed as YAML)."""
    data = dict(data or {})
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like section.key=value (e.g. {example})")
        key, raw = item.split("=", 1)
        _set_override(data, key.strip(), raw)
    return data


def build_config(cls: type, data: dict, source: str):
    """``cls`` (a config dataclass with ``validate()``) from a mapping; any problem becomes a
    `ConfigError` that names ``source`` (the file)."""
    try:
        cfg = build_dataclass(cls, data, "")
        cfg.validate()
    except (ConfigError, ValueError) as err:
        raise ConfigError(f"{source}: {err}") from None
    return cfg


def locate_config(path: str | Path, what: str = "config file") -> Path:
    """``path`` when it is a file, else the shipped config of that name (`dis_rl.resources`); anything
    else is a `ConfigError` that lists the shipped names."""
    path = Path(path)
    if path.is_file():
        return path
    shipped = shipped_config(path)
    if shipped is not None:
        return shipped
    raise ConfigError(f"{what} not found: {path} is neither a file nor a shipped config "
                      f"(`dis-rl configs` lists them: {', '.join(config_names())})")


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (plain YAML keeps the last silently)."""


def _mapping_without_duplicates(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        line = key_node.start_mark.line + 1
        try:
            if key in seen:
                raise ConfigError(f"line {line}: key {key!r} is given twice (first on line {seen[key]}); keep one")
            seen[key] = line
        except TypeError:  # an unhashable key: the regular constructor says so
            continue
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


MAX_CONFIG_BYTES = 1 << 20  # a config holding every ARC task id by name is ~100 KB


def read_yaml(path: str | Path, what: str = "config file") -> dict:
    """A YAML file's top-level mapping (``path`` or a shipped config name). A missing, empty or
    non-UTF-8 file, bad YAML, a key given twice or a non-mapping is a `ConfigError` naming the file."""
    path = locate_config(path, what)
    size = path.stat().st_size
    if size > MAX_CONFIG_BYTES:  # parsing 10 MB of YAML takes minutes in pure Python: say so at once
        raise ConfigError(f"{path}: the {what} is {size / 2**20:.1f} MiB; configs are at most "
                          f"{MAX_CONFIG_BYTES / 2**20:.0f} MiB (list task ids in a folder of task files instead)")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text ({err})") from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid YAML: nested too deeply") from None
    except (ValueError, OverflowError) as err:  # a value YAML cannot build (an integer of 5000 digits)
        raise ConfigError(f"{path}: not valid YAML: {str(err).split(';')[0][:200]}") from None
    if data is None:
        raise ConfigError(f"{path}: the {what} is empty; write {{}} in it to use every default")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data
