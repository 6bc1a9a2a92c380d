"""Reading device profiles from YAML (docs/devices/profiles.md), the builtin ones, and matching them to
discovery facts.

    profile = load_profile(Path("my-scanner.yaml"))     # ProfileError: "my-scanner.yaml: <field>: <reason>"
    profiles = builtin_profiles()                       # name → Profile, from device_profiles/profiles/*.yaml
    match({"sane": {"vendor": "Noname", "model": "frontend-tester"}})   # → the sane-scanner profile

Errors name the file, the field path (``commands[0].args.resolution.max``) and the reason; YAML syntax
errors and duplicate keys name the line and column.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from device_profiles.schema import Profile

MAX_PROFILE_BYTES = 256 * 1024
_FIELD_PREFIX = re.compile(r"^([A-Za-z_][\w.\[\]]*): (.+)$", re.DOTALL)


class ProfileError(ValueError):
    """A profile that cannot be read or does not validate; ``problems`` holds (field path, reason) pairs."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(
            "; ".join(
                f"{source}: {path}: {reason}" if path else f"{source}: {reason}" for path, reason in problems
            )
        )


class _StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping (YAML allows it silently)."""


def _mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _value in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def _path(loc: Iterable[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _problems(err: ValidationError) -> list[tuple[str, str]]:
    problems = []
    for e in err.errors(include_url=False):
        path, reason = _path(e["loc"]), str(e["msg"]).removeprefix("Value error, ")
        nested = _FIELD_PREFIX.match(reason)  # a check across fields names its field: "max: must be ≥ min"
        if nested:
            path = f"{path}.{nested[1]}" if path else nested[1]
            reason = nested[2]
        problems.append((path, reason))
    return problems


def parse_profile(text: str, source: str = "<profile>") -> Profile:
    """A profile from YAML text; ``source`` names it in errors."""
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        raise ProfileError(source, [(where, str(err.problem or err.context or "invalid YAML"))]) from err
    except yaml.YAMLError as err:
        raise ProfileError(source, [("", f"invalid YAML: {err}")]) from err
    if not isinstance(data, dict):
        raise ProfileError(source, [("", "a profile is a YAML mapping")])
    try:
        return Profile.model_validate(data)
    except ValidationError as err:
        raise ProfileError(source, _problems(err)) from err


def load_profile(path: Path | str) -> Profile:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ProfileError(path.name, [("", f"cannot read: {err.strerror or err}")]) from err
    if len(raw) > MAX_PROFILE_BYTES:
        raise ProfileError(path.name, [("", f"larger than {MAX_PROFILE_BYTES} bytes")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ProfileError(path.name, [("", "not UTF-8")]) from err
    return parse_profile(text, path.name)


def load_profiles(directory: Path | str) -> dict[str, Profile]:
    """Every ``*.yaml`` profile in ``directory`` by name; two files with one name are refused."""
    profiles: dict[str, Profile] = {}
    files: dict[str, str] = {}
    for path in sorted(Path(directory).glob("*.yaml")):
        profile = load_profile(path)
        if profile.name in profiles:
            raise ProfileError(
                path.name, [("name", f"{profile.name!r} is also the name in {files[profile.name]}")]
            )
        profiles[profile.name], files[profile.name] = profile, path.name
    return profiles


@functools.cache
def builtin_profiles() -> Mapping[str, Profile]:
    """The profiles shipped in ``device_profiles/profiles/``, by name (read once)."""
    root = resources.files("device_profiles") / "profiles"
    profiles: dict[str, Profile] = {}
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            profile = parse_profile(entry.read_text("utf-8"), entry.name)
            profiles[profile.name] = profile
    return profiles


def match(
    facts: Mapping[str, Mapping[str, str]], profiles: Iterable[Profile] | None = None
) -> Profile | None:
    """The profile that fits discovery ``facts`` best, or ``None``.

    ``facts`` groups what discovery found by source: ``usb`` {vid, pid}, ``sane`` {vendor, model}, ``ipp``
    {make_and_model}, ``onvif`` {manufacturer, model}, ``terminal`` {model}, ``serial`` {probe}. A profile
    whose specific patterns match beats one that matches only with catch-alls; ties go to the first name.
    """
    candidates = builtin_profiles().values() if profiles is None else profiles
    plain = {k: dict(v) for k, v in facts.items()}
    scored = sorted(((p.match_score(plain), p.name, p) for p in candidates), key=lambda s: (-s[0], s[1]))
    return scored[0][2] if scored and scored[0][0] > 0 else None
