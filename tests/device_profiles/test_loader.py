"""Device profiles: the builtin YAML files load, bad ones are refused naming file, field and reason, and
``match()`` picks the right profile from discovery facts."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from device_profiles.loader import (
    ProfileError,
    builtin_profiles,
    load_profile,
    load_profiles,
    match,
    parse_profile,
)
from device_profiles.schema import Profile

PROFILES = Path(__file__).resolve().parents[2] / "device_profiles" / "profiles"

SCANNER = """\
name: sane-scanner
manufacturer: any
model: SANE scanner
driver: scanner
match:
  sane: {vendor: ".*", model: ".*"}
commands:
  - name: scan
    args:
      resolution: {type: int, min: 75, max: 600, default: 300, unit: dpi}
      mode: {type: enum, choices: [Color, Gray, Lineart]}
telemetry:
  - {name: last_scan_seconds, unit: s}
health:
  - {point: last_scan_seconds, warn: 60, critical: 180}
"""


def _write(tmp_path: Path, text: str, name: str = "sane-scanner.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _refused(tmp_path: Path, text: str) -> str:
    with pytest.raises(ProfileError) as exc:
        load_profile(_write(tmp_path, text))
    return str(exc.value)


def test_every_builtin_profile_loads() -> None:
    profiles = builtin_profiles()
    assert {name: p.driver for name, p in profiles.items()} == {
        "sane-scanner": "scanner",
        "uvc-document-camera": "doccam",
        "hallmesh-sigpad": "sigpad",
        "ipp-everywhere-printer": "printer",
        "onvif-camera": "onvif",
        "video-terminal": "terminal",
    }
    files = sorted(PROFILES.glob("*.yaml"))
    assert [load_profile(f).name for f in files] == [f.stem for f in files]  # one profile per file, named so
    assert load_profiles(PROFILES) == dict(profiles)


def test_builtin_profiles_say_what_the_issue_asks() -> None:
    p = builtin_profiles()
    scan = p["sane-scanner"].command("scan")
    assert scan is not None
    resolution = scan.args["resolution"]
    assert (resolution.type, resolution.min, resolution.max, resolution.unit) == ("int", 75, 600, "dpi")
    assert scan.args["mode"].choices == ["Color", "Gray", "Lineart"]
    assert scan.args["source"].choices == ["Flatbed", "ADF"]
    assert not scan.args["case"].required
    assert {t.name for t in p["sane-scanner"].telemetry} == {"pages_scanned_total", "last_scan_seconds"}
    assert [c.name for c in p["uvc-document-camera"].commands] == ["capture", "preview"]
    sigpad = p["hallmesh-sigpad"]
    assert [c.name for c in sigpad.commands] == ["sign", "clear", "cancel"]
    assert sigpad.connection == {"baudrate": 115200, "bytesize": 8, "parity": "N", "stopbits": 1}
    assert {"frames_total", "crc_errors_total", "garbage_bytes_total"} <= {t.name for t in sigpad.telemetry}
    printer = p["ipp-everywhere-printer"]
    copies = printer.command("print").args["copies"]  # type: ignore[union-attr]
    assert (copies.min, copies.max) == (1, 99)
    supply = next(h for h in printer.health if h.point == "supply_*_percent")
    assert (supply.direction, supply.warn, supply.critical) == ("below", 15, 5)
    assert [supply.level(v) for v in (50, 15, 10, 5, 0)] == ["ok", "warn", "warn", "critical", "critical"]
    assert printer.point("supply_cyan_percent").unit == "%"  # type: ignore[union-attr]
    onvif = p["onvif-camera"]
    move = onvif.command("ptz_move")
    assert move is not None
    assert {n: (move.args[n].min, move.args[n].max) for n in ("pan", "tilt", "zoom")} == dict.fromkeys(
        ("pan", "tilt", "zoom"), (-1, 1)
    )
    assert {t.name for t in onvif.telemetry} == {"fps", "frame_age_seconds", "clock_skew_seconds"}
    assert [c.name for c in onvif.commands] == ["ptz_move", "ptz_stop", "goto_preset", "presets", "snapshot"]


def test_command_arguments_are_checked_and_defaults_filled() -> None:
    scan = builtin_profiles()["sane-scanner"].command("scan")
    assert scan is not None
    assert scan.check({"mode": "Color"}) == {"resolution": 300, "mode": "Color", "source": "Flatbed"}
    assert scan.check({"cmd_id": "c-1"})["cmd_id"] == "c-1"
    with pytest.raises(ValueError, match=r"resolution must be in \[75, 600\]"):
        scan.check({"resolution": 1200})
    with pytest.raises(ValueError, match="mode must be one of Color, Gray, Lineart"):
        scan.check({"mode": "Sepia"})
    with pytest.raises(ValueError, match="unknown argument 'duplex'"):
        scan.check({"duplex": True})
    printer = builtin_profiles()["ipp-everywhere-printer"].command("print")
    assert printer is not None
    with pytest.raises(ValueError, match="sha256 is required"):
        printer.check({})
    with pytest.raises(ValueError, match="copies must be an integer"):
        printer.check({"sha256": "ab", "copies": 1.5})


def test_a_good_profile_round_trips(tmp_path: Path) -> None:
    profile = load_profile(_write(tmp_path, SCANNER))
    assert isinstance(profile, Profile)
    assert profile.version == "1"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        # unknown fields, at the top and deep inside
        (
            "driver: scanner",
            "driver: scanner\ncolour: red",
            "sane-scanner.yaml: colour: Extra inputs are not permitted",
        ),
        (
            "unit: dpi}",
            "unit: dpi, step: 5}",
            "sane-scanner.yaml: commands[0].args.resolution.step: Extra inputs",
        ),
        # wrong types
        (
            "min: 75,",
            "min: low,",
            "sane-scanner.yaml: commands[0].args.resolution.min: Input should be a valid number",
        ),
        ("type: int,", "type: integer,", "commands[0].args.resolution.type: Input should be 'int', 'float'"),
        ("- name: scan", "- name: [scan]", "commands[0].name: Input should be a valid string"),
        # ranges and cross-field checks
        ("max: 600", "max: 50", "sane-scanner.yaml: commands[0].args.resolution.max: must be ≥ min"),
        (
            "default: 300",
            "default: 1200",
            "commands[0].args.resolution.default: must be in [75, 600], got 1200",
        ),
        ("default: 300", "default: fine", "commands[0].args.resolution.default: must be a number"),
        (
            "type: enum, choices: [Color, Gray, Lineart]",
            "type: enum",
            "commands[0].args.mode.choices: an enum argument needs choices",
        ),
        (
            "type: enum, choices: [Color, Gray, Lineart]",
            "type: str, min: 1",
            "commands[0].args.mode.min: only int and float",
        ),
        ("{point: last_scan_seconds,", "{point: fps,", "health[0].point: no telemetry point 'fps'"),
        ("critical: 180", "critical: 30", "health[0].critical: must be ≥ warn when direction is above"),
        ('vendor: ".*"', 'vendor: "(("', "match.sane.vendor: not a regular expression"),
        ("  sane:", "  usb: [{vid: xyz}]\n  sane:", "match.usb[0].vid: must be 4 hex digits"),
        ("  sane:", "  serial: {probe: modbus}\n  sane:", "match.serial.probe: unknown serial probe"),
        ("telemetry:\n", "  - name: scan\ntelemetry:\n", "commands[1].name: command 'scan' twice"),
        ("name: sane-scanner", "name: sane scanner", "sane-scanner.yaml: name: String should match pattern"),
    ],
)
def test_bad_profiles_are_refused_naming_file_field_and_reason(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    assert old in SCANNER
    assert message in _refused(tmp_path, SCANNER.replace(old, new, 1))


def test_missing_fields_and_problems_are_listed(tmp_path: Path) -> None:
    with pytest.raises(ProfileError) as exc:
        load_profile(_write(tmp_path, "name: x\ndriver: scanner\n"))
    assert exc.value.problems == [("manufacturer", "Field required"), ("model", "Field required")]
    assert (
        str(exc.value)
        == "sane-scanner.yaml: manufacturer: Field required; sane-scanner.yaml: model: Field required"
    )


def test_yaml_errors_name_line_and_column(tmp_path: Path) -> None:
    message = _refused(tmp_path, SCANNER.replace("    args:", "    args: [", 1))
    assert message.startswith("sane-scanner.yaml: line ")
    message = _refused(tmp_path, "name: a\nmodel: b\nname: c\n")
    assert message == "sane-scanner.yaml: line 3, column 1: duplicate key 'name'"
    assert _refused(tmp_path, "- just\n- a list\n") == "sane-scanner.yaml: a profile is a YAML mapping"
    with pytest.raises(ProfileError, match=r"nowhere\.yaml: cannot read"):
        load_profile(tmp_path / "nowhere.yaml")


def test_two_files_with_one_name_are_refused(tmp_path: Path) -> None:
    _write(tmp_path, SCANNER, "a.yaml")
    _write(tmp_path, SCANNER, "b.yaml")
    with pytest.raises(ProfileError, match=r"b\.yaml: name: 'sane-scanner' is also the name in a\.yaml"):
        load_profiles(tmp_path)


@pytest.mark.parametrize(
    ("facts", "name"),
    [
        ({"sane": {"vendor": "Noname", "model": "frontend-tester"}}, "sane-scanner"),
        ({"ipp": {"make_and_model": "HP LaserJet M404dn"}}, "ipp-everywhere-printer"),
        ({"onvif": {"manufacturer": "hallmesh", "model": "sim-cam"}}, "onvif-camera"),
        ({"terminal": {"model": "HM-VT100"}}, "video-terminal"),
        ({"usb": {"vid": "0AC8", "pid": "3420"}}, "uvc-document-camera"),
        ({"serial": {"probe": "hallmesh-sigpad-v1"}}, "hallmesh-sigpad"),
        ({"usb": {"vid": "0x046d", "pid": "0825"}}, None),
        ({"serial": {"probe": "something-else"}}, None),
        ({}, None),
    ],
)
def test_match_picks_the_profile_from_facts(facts: dict[str, dict[str, str]], name: str | None) -> None:
    found = match(facts)
    assert (found.name if found else None) == name


def test_a_specific_profile_beats_a_generic_one() -> None:
    specific = parse_profile(
        SCANNER.replace("name: sane-scanner", "name: fujitsu-fi-7160").replace(
            'sane: {vendor: ".*", model: ".*"}', 'sane: {vendor: "^FUJITSU$", model: "fi-7160"}'
        )
    )
    usb_exact = parse_profile(
        SCANNER.replace("name: sane-scanner", "name: exact").replace(
            'sane: {vendor: ".*", model: ".*"}', "usb: [{vid: '04c5', pid: '132e'}]"
        )
    )
    usb_vendor = parse_profile(
        SCANNER.replace("name: sane-scanner", "name: any-fujitsu").replace(
            'sane: {vendor: ".*", model: ".*"}', "usb: [{vid: '04c5'}]"
        )
    )
    everything = [*builtin_profiles().values(), specific, usb_exact, usb_vendor]
    assert match({"sane": {"vendor": "Fujitsu", "model": "fi-7160"}}, everything) is specific
    assert match({"sane": {"vendor": "Canon", "model": "LiDE 300"}}, everything).name == "sane-scanner"  # type: ignore[union-attr]
    assert match({"usb": {"vid": "04c5", "pid": "132e"}}, everything) is usb_exact
    assert match({"usb": {"vid": "04c5", "pid": "1111"}}, everything) is usb_vendor


@pytest.mark.parametrize(
    ("profile", "module", "cls"),
    [
        ("sane-scanner", "scanner", "ScannerDriver"),
        ("uvc-document-camera", "doccam", "DoccamDriver"),
        ("hallmesh-sigpad", "sigpad", "SigpadDriver"),
        ("ipp-everywhere-printer", "printer", "PrinterDriver"),
        ("onvif-camera", "onvif_camera", "OnvifDriver"),
        ("video-terminal", "terminal", "TerminalDriver"),
    ],
)
def test_profiles_list_the_commands_their_drivers_have(profile: str, module: str, cls: str) -> None:
    drivers = importlib.import_module(f"edge_agent.drivers.{module}")
    driver = getattr(drivers, cls)
    p = builtin_profiles()[profile]
    assert driver.kind == p.driver
    assert [c.name for c in p.commands] == list(driver.COMMANDS)
