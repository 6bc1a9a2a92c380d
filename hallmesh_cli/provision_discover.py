"""``hallmesh provision discover``: find the devices this counter PC can reach and add them to agent.toml.

The finders live in :mod:`provisioning.discovery`. This module shows what they found as a table, lets the
technician accept devices one by one (camera logins asked with getpass) or all with ``--yes``, and appends
``[[devices]]`` tables to the agent's config: the existing text, device ids and comments stay as they are;
new ids are the next free ``scanner-1``, ``printer-2``, ``camera-1``, …; the whole file is validated with the
agent's own loader before it is written (atomically, the previous file kept as ``agent.toml.bak``).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import getpass
import json
import logging
import os
import sys
import tomllib
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when the command runs: `hallmesh --help` must not load aiohttp and pydantic
    from provisioning.discovery import Candidate, DiscoveryOptions, Findings

LOGIN_TRIES = 3


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, default=Path("/etc/hallmesh/agent.toml"), help="agent.toml")
    p.add_argument("--onvif-host", action="append", default=[], metavar="HOST[:PORT]",
                   help="ONVIF 摄像机：单播 WS-Discovery 探测 probe this host by unicast (port 3702); repeat")  # fmt: skip
    p.add_argument("--multicast", action="store_true",
                   help="也向组播地址发送探测 also probe the WS-Discovery multicast group (on the site LAN)")  # fmt: skip
    p.add_argument("--onvif-user", help="摄像机用户名 camera user (otherwise asked per camera)")
    p.add_argument("--onvif-password", help="摄像机密码 camera password (otherwise asked with getpass)")
    p.add_argument("--serial", action="append", default=[], metavar="PATH",
                   help="也探测此串口 also probe this serial port or pty for a signature pad; repeat")  # fmt: skip
    p.add_argument("--camera-url", action="append", default=[], metavar="URL",
                   help="网络高拍仪 a network document camera URL (http://…/video.mjpg, rtsp://…); repeat")  # fmt: skip
    p.add_argument("--sane-config", type=Path, metavar="DIR",
                   help="SANE 配置目录 a private SANE_CONFIG_DIR (default: this PC's SANE configuration)")  # fmt: skip
    p.add_argument("--ipp-host", action="append", default=[], metavar="HOST[:PORT][/PATH]",
                   help="打印机 probe this IPP printer (host, host:port, host:port/path or ipp://…); repeat")  # fmt: skip
    p.add_argument("--mdns", action="store_true", help="DNS-SD 查找打印机 also browse _ipp._tcp (multicast)")
    p.add_argument("--no-scan", action="store_true",
                   help="只探测所列地址 probe only what is named above (not this PC's serial ports, "
                        "/dev/video* and SANE configuration)")  # fmt: skip
    p.add_argument("--timeout", type=float, default=3.0, help="每类查找的时限（秒） per-finder time limit")
    p.add_argument("--yes", "-y", action="store_true", help="全部添加 add every new device without asking")
    p.add_argument("--dry-run", action="store_true", help="只显示将写入的内容 show what would be written")
    p.add_argument("--json", action="store_true", help="JSON for scripts (writes only with --yes)")


# -- table ---------------------------------------------------------------------------------------------------


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def render_table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(_width(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    lines = [
        "  ".join(_pad(c, w) for c, w in zip(row, widths, strict=True)).rstrip() for row in [headers, *rows]
    ]
    return "\n".join(lines)


# -- the config file -----------------------------------------------------------------------------------------


@dataclass
class Choice:
    """A candidate and what happens to it."""

    candidate: Candidate
    state: str  # new | configured | no-driver
    configured_as: str = ""
    device_id: str = ""
    added: bool = False
    skipped: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            **self.candidate.as_json(),
            "state": self.state,
            "configured_as": self.configured_as or None,
            "device_id": self.device_id or None,
            "added": self.added,
            "skipped": self.skipped or None,
        }


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a valid TOML basic string


def toml_block(device_id: str, c: Candidate) -> str:
    profile = c.profile or "unknown"
    when = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = [
        "",
        f"# {c.finder} found {c.address} ({profile}) — `hallmesh provision discover`, {when}",
        "[[devices]]",
        f"id = {_toml_value(device_id)}",
        f"kind = {_toml_value(c.kind)}",
    ]
    lines += [f"{k} = {_toml_value(v)}" for k, v in c.settings.items()]
    return "\n".join(lines) + "\n"


def next_id(kind: str, taken: set[str]) -> str:
    from provisioning.discovery import KIND_NAMES

    stem = KIND_NAMES.get(kind, kind)
    n = 1
    while f"{stem}-{n}" in taken:
        n += 1
    taken.add(f"{stem}-{n}")
    return f"{stem}-{n}"


def validate(path: Path, text: str) -> str | None:
    """None if ``text`` is a config the agent accepts, else the loader's reasons."""
    from edge_agent.config import parse_config
    from edge_agent.errors import ConfigError

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        return f"{path}: not valid TOML: {err}"
    try:
        parse_config(data, source=str(path), base_dir=path.resolve().parent)
    except ConfigError as err:
        return str(err)
    return None


def write_config(path: Path, text: str) -> None:
    """Atomically replace ``path`` with ``text`` (same mode), the old file kept as ``…bak``."""
    mode = path.stat().st_mode & 0o777
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, mode)
    bak = path.with_name(path.name + ".bak")
    bak.write_bytes(path.read_bytes())
    os.chmod(bak, mode)
    os.replace(tmp, path)


# -- asking --------------------------------------------------------------------------------------------------


def _ask(prompt: str) -> str | None:
    """A line from stdin (None at end of input); the prompt goes to stderr so stdout stays the table."""
    print(prompt, end="", file=sys.stderr, flush=True)
    line = sys.stdin.readline()
    return None if not line else line.strip()


def _ask_secret(prompt: str) -> str | None:
    if sys.stdin.isatty():
        try:
            return getpass.getpass(prompt, stream=sys.stderr)
        except EOFError:
            return None
    return _ask(prompt)  # scripted input (a pipe): nothing to hide from a screen


def _yes(prompt: str) -> bool:
    answer = _ask(prompt)
    return answer is not None and answer.lower() in ("y", "yes", "是", "好")


def _login(c: Candidate, user: str | None, password: str | None, timeout_s: float) -> bool:
    """Ask for a camera's login until it works (or the technician gives up)."""
    for attempt in range(LOGIN_TRIES):
        u = user if user is not None and attempt == 0 else _ask(f"  用户名 user for {c.address} [admin]: ")
        if u is None:
            return False
        u = u or "admin"
        pw = (
            password
            if password is not None and attempt == 0
            else _ask_secret(f"  密码 password for {u}@{c.address}: ")
        )
        if pw is None:
            return False
        from provisioning.discovery import identify_onvif

        reason = asyncio.run(identify_onvif(c, u, pw, timeout_s))
        if not reason:
            print(f"  ✓ {c.model}: {c.note}", file=sys.stderr)
            return True
        print(f"  ✗ {reason}", file=sys.stderr)
    return False


# -- the command ---------------------------------------------------------------------------------------------


def _options(args: argparse.Namespace) -> DiscoveryOptions:
    from provisioning.discovery import DiscoveryOptions, parse_host_port

    try:
        hosts = [parse_host_port(h, 3702) for h in args.onvif_host]
    except ValueError as err:
        raise SystemExit(f"error: --onvif-host {err}") from err
    return DiscoveryOptions(
        onvif_hosts=hosts,
        multicast=args.multicast,
        onvif_username=args.onvif_user,
        onvif_password=args.onvif_password,
        serial_ports=list(args.serial),
        camera_urls=list(args.camera_url),
        sane_config_dir=args.sane_config.resolve() if args.sane_config else None,
        ipp_hosts=list(args.ipp_host),
        mdns=args.mdns,
        scan_system=not args.no_scan,
        timeout_s=args.timeout,
    )


def _choices(findings: Findings, devices: list[dict[str, Any]]) -> list[Choice]:
    from edge_agent.drivers.registry import KINDS
    from provisioning.discovery import device_identity

    configured = {
        device_identity(str(d.get("kind")), d): str(d.get("id")) for d in devices if isinstance(d, dict)
    }
    out = []
    for c in findings.candidates:
        if c.identity in configured:
            out.append(Choice(c, "configured", configured_as=configured[c.identity]))
        elif c.kind not in KINDS:
            out.append(Choice(c, "no-driver", skipped=f"this agent has no {c.kind} driver yet"))
        else:
            out.append(Choice(c, "new"))
    return out


STATE_LABELS = {"new": "新 new", "configured": "已配置 configured", "no-driver": "无驱动 no driver"}


def print_findings(choices: list[Choice], findings: Findings, out: Callable[[str], None]) -> None:
    headers = ["#", "类型 KIND", "配置 PROFILE", "设备 MODEL", "地址 ADDRESS", "状态 STATE", "说明 NOTE"]
    rows = []
    for i, ch in enumerate(choices, 1):
        c = ch.candidate
        state = STATE_LABELS[ch.state] + (f" ({ch.configured_as})" if ch.configured_as else "")
        rows.append([str(i), c.kind, c.profile or "unknown 未知", c.model, c.address, state, c.note])
    if rows:
        out(render_table(headers, rows))
    else:
        out("未发现设备 no devices found")
    if findings.problems:
        out("")
        out("未识别 nothing known found at:")
        for p in findings.problems:
            out(f"  {p.finder:6}  {p.address}: {p.reason}")
    if findings.bad_replies:
        bad = ", ".join(f"{k} {v}" for k, v in sorted(findings.bad_replies.items()))
        out(f"无效应答 bad replies ignored: {bad}")


def main(args: argparse.Namespace) -> int:
    from provisioning.discovery import discover

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per IPP request is noise here
    path: Path = args.config
    try:
        original = path.read_text(encoding="utf-8")
        existing = tomllib.loads(original)
    except OSError as err:
        print(f"error: {path}: cannot read: {err.strerror or err} (enroll first: hallmesh provision enroll)",
              file=sys.stderr)  # fmt: skip
        return 1
    except tomllib.TOMLDecodeError as err:
        print(f"error: {path}: not valid TOML: {err}", file=sys.stderr)
        return 1
    devices = existing.get("devices", [])
    devices = devices if isinstance(devices, list) else []

    def progress(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    options = _options(args)
    findings = asyncio.run(discover(options, progress))
    choices = _choices(findings, devices)
    if not args.json:
        print_findings(choices, findings, print)

    new = [ch for ch in choices if ch.state == "new"]
    interactive = not args.yes and not args.json
    if interactive and new:
        print("", file=sys.stderr)
    for ch in new:
        c = ch.candidate
        what = f"{c.kind} {c.model} ({c.profile or 'unknown'}) at {c.address}"
        if args.json and not args.yes:
            ch.skipped = "listed only (--json without --yes)"
            continue
        if interactive and not _yes(f"添加 add {what}? [y/N] "):
            ch.skipped = "not accepted"
            continue
        if c.kind == "onvif" and c.login_ok is not True:
            if not interactive:
                ch.skipped = "camera login not verified: pass --onvif-user and --onvif-password"
                continue
            refused = c.login_ok is False  # the flags' login was already refused: ask, do not retry it
            user, password = (None, None) if refused else (args.onvif_user, args.onvif_password)
            if not _login(c, user, password, args.timeout):
                ch.skipped = "camera login failed"
                continue
        ch.added = True

    taken = {str(d.get("id")) for d in devices if isinstance(d, dict)}
    blocks = []
    for ch in choices:
        if ch.added:
            ch.device_id = next_id(ch.candidate.kind, taken)
            blocks.append(toml_block(ch.device_id, ch.candidate))
    text = original if original.endswith("\n") or not original else original + "\n"
    text += "".join(blocks)
    added = [ch for ch in choices if ch.added]
    problem = validate(path, text) if added else None
    wrote = bool(added) and problem is None and not args.dry_run
    if wrote:
        write_config(path, text)

    if args.json:
        result = findings.as_json()
        result["candidates"] = [ch.as_json() for ch in choices]
        result |= {"config": str(path), "written": wrote, "error": problem}
        print(json.dumps(result, ensure_ascii=False, indent=1))
        return 1 if problem else 0
    for ch in choices:
        if ch.skipped and ch.state in ("new", "no-driver"):
            print(f"跳过 skipped {ch.candidate.kind} {ch.candidate.address}: {ch.skipped}")
    if problem:
        print(f"未写入 not written: the agent would refuse the result:\n{problem}", file=sys.stderr)
        return 1
    if not added:
        print("配置未改变 agent.toml unchanged: no device added")
        return 0
    ids = ", ".join(ch.device_id for ch in added)
    if args.dry_run:
        print(f"演练 dry run: would add {ids} to {path}:")
        print("".join(blocks).strip("\n"))
        return 0
    print(f"已写入 added {ids} to {path} (previous file: {path.name}.bak)")
    print(f"next: hallmesh provision check --config {path} --test-capture --test-page")
    return 0
