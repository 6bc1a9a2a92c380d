"""The schema of a device profile (docs/devices/profiles.md): one device model, the way EdgeX profiles do it.

    Profile
    ├── identity      name, version, manufacturer, model, description, driver (the agent's device kind)
    ├── match         discovery keys: usb vid/pid, SANE vendor/model, IPP make-and-model, ONVIF
    │                 manufacturer/model, video-terminal HELLO model, serial probe protocol
    ├── connection    defaults for the driver's config (port, baudrate, …): scalars only
    ├── commands[]    name, description, args {name → Argument(type, required, default, min/max, choices, unit)}
    ├── telemetry[]   name (``*`` for a family such as ``supply_*_percent``), unit, type gauge|counter
    └── health[]      thresholds on telemetry points: warn/critical, above or below

Every model forbids unknown keys. Checks that span fields raise ``ValueError`` naming the field, so the
loader can report ``file: path: reason`` (e.g. ``commands[0].args.resolution.max: must be ≥ min``).
"""

from __future__ import annotations

import fnmatch
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from protocols.sigpad import PROTOCOL_NAME as SIGPAD_PROTOCOL

Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
PointName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_*]*$")]
Text = Annotated[str, Field(max_length=1000)]
Scalar = bool | int | float | str
ArgType = Literal["int", "float", "str", "bool", "enum"]
SERIAL_PROBES = (SIGPAD_PROTOCOL,)
_CATCH_ALL = {"", ".*", ".+", "^.*$", "^.+$"}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as err:
        raise ValueError(f"not a regular expression: {err}") from err
    return value


def _hex4(value: str) -> str:
    raw = value.lower().removeprefix("0x")
    if not re.fullmatch(r"[0-9a-f]{4}", raw):
        raise ValueError("must be 4 hex digits, e.g. 04a9 or 0x04a9")
    return raw


Regex = Annotated[str, Field(max_length=256), AfterValidator(_regex)]
Hex4 = Annotated[str, AfterValidator(_hex4)]


# -- discovery ----------------------------------------------------------------------------------------


class UsbMatch(_Model):
    vid: Hex4
    pid: Hex4 | None = None


class SaneMatch(_Model):
    vendor: Regex = ".*"
    model: Regex = ".*"


class IppMatch(_Model):
    make_and_model: Regex = ".*"


class OnvifMatch(_Model):
    manufacturer: Regex = ".*"
    model: Regex = ".*"


class TerminalMatch(_Model):
    model: Regex = ".*"


class SerialMatch(_Model):
    probe: str

    @field_validator("probe")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in SERIAL_PROBES:
            raise ValueError(f"unknown serial probe; known: {', '.join(SERIAL_PROBES)}")
        return value


class Match(_Model):
    """Ways to recognise the model in discovery facts; any one of them that matches fully is enough."""

    usb: Annotated[list[UsbMatch], Field(max_length=64)] = []
    sane: SaneMatch | None = None
    ipp: IppMatch | None = None
    onvif: OnvifMatch | None = None
    terminal: TerminalMatch | None = None
    serial: SerialMatch | None = None


# -- commands -----------------------------------------------------------------------------------------


class Argument(_Model):
    type: ArgType
    description: Text = ""
    required: bool = False
    min: float | None = None
    max: float | None = None
    choices: Annotated[list[str], Field(min_length=1, max_length=64)] | None = None
    default: Any = None
    unit: Annotated[str, Field(max_length=32)] = ""

    @field_validator("min", "max")
    @classmethod
    def _numeric(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is None:
            return None
        if info.data.get("type") not in ("int", "float"):
            raise ValueError("only int and float arguments have a range")
        low = info.data.get("min")
        if info.field_name == "max" and low is not None and value < low:
            raise ValueError("must be ≥ min")
        return value

    @field_validator("choices", mode="after")
    @classmethod
    def _choices(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        kind = info.data.get("type")
        if value is not None and kind != "enum":
            raise ValueError("only enum arguments have choices")
        if value is not None and len(set(value)) != len(value):
            raise ValueError("choices must differ")
        return value

    @field_validator("default")
    @classmethod
    def _default(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            return None
        if info.data.get("required"):
            raise ValueError("a required argument has no default")
        kind = info.data.get("type")
        if kind is None:
            return value
        return _check_value(value, kind, info.data.get("min"), info.data.get("max"), info.data.get("choices"))

    @model_validator(mode="after")
    def _enum_has_choices(self) -> Argument:
        if self.type == "enum" and self.choices is None:
            raise ValueError("choices: an enum argument needs choices")
        return self

    def check(self, value: Any) -> Scalar:
        """``value`` as this argument's type; ``ValueError`` saying why it does not fit."""
        return _check_value(value, self.type, self.min, self.max, self.choices)


def _check_value(
    value: Any, kind: str, low: float | None, high: float | None, choices: list[str] | None
) -> Scalar:
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"must be true or false, got {value!r}")
        return value
    if kind in ("str", "enum"):
        if not isinstance(value, str):
            raise ValueError(f"must be a string, got {value!r}")
        if choices is not None and value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"must be a number, got {value!r}")
    if kind == "int" and not (isinstance(value, int) or float(value).is_integer()):
        raise ValueError(f"must be an integer, got {value!r}")
    number: int | float = int(value) if kind == "int" else float(value)
    if (low is not None and number < low) or (high is not None and number > high):
        raise ValueError(f"must be in [{_fmt(low)}, {_fmt(high)}], got {value!r}")
    return number


def _fmt(value: float | None) -> str:
    return "…" if value is None else f"{value:g}"


class Command(_Model):
    name: Name
    description: Text = ""
    args: Annotated[dict[Name, Argument], Field(max_length=32)] = {}

    def check(self, args: dict[str, Any]) -> dict[str, Scalar]:
        """The arguments of a call with defaults filled in; ``ValueError`` naming the first bad one.

        ``cmd_id`` (the command's id, which drivers put on their captures) passes through unchecked.
        """
        unknown = sorted(set(args) - set(self.args) - {"cmd_id"})
        if unknown:
            raise ValueError(f"{self.name}: unknown argument {unknown[0]!r}")
        out: dict[str, Scalar] = {"cmd_id": args["cmd_id"]} if isinstance(args.get("cmd_id"), str) else {}
        for name, arg in self.args.items():
            if args.get(name) is None:
                if arg.required:
                    raise ValueError(f"{self.name}: {name} is required")
                if arg.default is not None:
                    out[name] = arg.default
                continue
            try:
                out[name] = arg.check(args[name])
            except ValueError as err:
                raise ValueError(f"{self.name}: {name} {err}") from err
        return out


# -- telemetry and health -----------------------------------------------------------------------------


class TelemetryPoint(_Model):
    name: PointName
    unit: Annotated[str, Field(max_length=32)] = ""
    type: Literal["gauge", "counter"] = "gauge"
    description: Text = ""

    def covers(self, point: str) -> bool:
        """Whether a reading named ``point`` is this point (``*`` in the name stands for a family)."""
        return fnmatch.fnmatchcase(point, self.name)


class Threshold(_Model):
    point: PointName
    direction: Literal["above", "below"] = Field("above", description="which side of the limits is bad")
    warn: float | None = None
    critical: float | None = None

    @field_validator("critical")
    @classmethod
    def _order(cls, value: float | None, info: ValidationInfo) -> float | None:
        warn, direction = info.data.get("warn"), info.data.get("direction")
        if value is not None and warn is not None:
            if direction == "below" and value > warn:
                raise ValueError("must be ≤ warn when direction is below")
            if direction == "above" and value < warn:
                raise ValueError("must be ≥ warn when direction is above")
        return value

    @model_validator(mode="after")
    def _some_limit(self) -> Threshold:
        if self.warn is None and self.critical is None:
            raise ValueError("warn: a threshold needs warn, critical or both")
        return self

    def level(self, value: float) -> Literal["ok", "warn", "critical"]:
        def past(limit: float | None) -> bool:
            return limit is not None and (value <= limit if self.direction == "below" else value >= limit)

        return "critical" if past(self.critical) else "warn" if past(self.warn) else "ok"


class Profile(_Model):
    name: Name
    version: Annotated[str, Field(min_length=1, max_length=32)] = "1"
    manufacturer: Annotated[str, Field(min_length=1, max_length=128)]
    model: Annotated[str, Field(min_length=1, max_length=128)]
    description: Text = ""
    driver: Name
    match: Match = Match()
    connection: Annotated[dict[Name, Scalar], Field(max_length=32)] = {}
    commands: Annotated[list[Command], Field(max_length=64)] = []
    telemetry: Annotated[list[TelemetryPoint], Field(max_length=128)] = []
    health: Annotated[list[Threshold], Field(max_length=128)] = []

    @model_validator(mode="after")
    def _references(self) -> Profile:
        seen: set[str] = set()
        for i, command in enumerate(self.commands):
            if command.name in seen:
                raise ValueError(f"commands[{i}].name: command {command.name!r} twice")
            seen.add(command.name)
        seen.clear()
        for i, point in enumerate(self.telemetry):
            if point.name in seen:
                raise ValueError(f"telemetry[{i}].name: point {point.name!r} twice")
            seen.add(point.name)
        for i, threshold in enumerate(self.health):
            if not any(p.covers(threshold.point) or p.name == threshold.point for p in self.telemetry):
                raise ValueError(f"health[{i}].point: no telemetry point {threshold.point!r}")
        return self

    def command(self, name: str) -> Command | None:
        return next((c for c in self.commands if c.name == name), None)

    def point(self, reading: str) -> TelemetryPoint | None:
        return next((p for p in self.telemetry if p.covers(reading)), None)

    def match_score(self, facts: dict[str, dict[str, str]]) -> int:
        """How well discovery ``facts`` fit: 0 = not this model; a specific pattern counts 2, a catch-all 1."""
        m, best = self.match, 0
        usb = facts.get("usb", {})
        vid, pid = _hex_or_none(usb.get("vid")), _hex_or_none(usb.get("pid"))
        for rule in m.usb:
            if vid == rule.vid and (rule.pid is None or rule.pid == pid):
                best = max(best, 4 if rule.pid else 2)
        for key, rule_model in (
            ("sane", m.sane),
            ("ipp", m.ipp),
            ("onvif", m.onvif),
            ("terminal", m.terminal),
        ):
            if rule_model is not None and key in facts:
                best = max(best, _regex_score(rule_model.model_dump(), facts[key]))
        if m.serial is not None and facts.get("serial", {}).get("probe") == m.serial.probe:
            best = max(best, 4)
        return best


def _hex_or_none(value: str | None) -> str | None:
    try:
        return None if value is None else _hex4(value)
    except ValueError:
        return None


def _regex_score(patterns: dict[str, str], facts: dict[str, str]) -> int:
    score = 0
    for key, pattern in patterns.items():
        value = facts.get(key)
        if value is None or not re.search(pattern, value, re.IGNORECASE):
            return 0
        score += 1 if pattern in _CATCH_ALL else 2
    return score
