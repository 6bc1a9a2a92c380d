"""Finding the devices a counter PC can reach, for ``hallmesh provision discover`` (docs/provisioning.md).

Each finder looks in one place and returns :class:`Findings`: the candidate devices it recognised, the places
where it found nothing it knows (a serial port that answers garbage), and how many bad replies it ignored.
A finder never raises on what a device sends and never waits longer than its ``timeout_s``.

    findings = await discover(DiscoveryOptions(onvif_hosts=[("127.0.0.1", 3702)], serial_ports=["/dev/pts/4"],
                              ipp_hosts=["localhost:8631"], sane_config_dir=Path("sane"), scan_system=False))
    for c in findings.candidates:
        c.kind, c.profile, c.model, c.address, c.settings    # settings = the [[devices]] keys for agent.toml

Finders:

- :func:`find_onvif` — WS-Discovery ``Probe`` by unicast to the given hosts (and to the multicast group only
  when asked), then ``GetDeviceInformation`` for manufacturer and model when credentials are given;
- :func:`find_serial` — serial ports (pyserial's list plus given paths) asked for the signature pad's INFO;
- :func:`find_video` — ``/dev/video*`` and given URLs opened with OpenCV for one frame;
- :func:`find_sane` — SANE ``get_devices()`` in a child process (so ``SANE_CONFIG_DIR`` and a hanging backend
  stay out of this one);
- :func:`find_ipp` — Get-Printer-Attributes on the given hosts, and DNS-SD ``_ipp._tcp`` only when asked.

Candidates carry plain dicts shaped like the agent's ``[[devices]]`` tables (this package does not import
``edge_agent``); the CLI validates them with the agent's loader before it writes anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import json
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit

from device_profiles.loader import builtin_profiles, match
from protocols.onvif import OnvifClient, OnvifError, ProbeMatch, parse_probe_matches, probe_message
from protocols.sigpad import (
    PROTOCOL_NAME as SIGPAD_PROTOCOL,
)
from protocols.sigpad import (
    FrameDecoder,
    FrameType,
    Info,
    SigpadPayloadError,
    encode_info_request,
    parse_info,
)

T = TypeVar("T")
Scalar = str | int | float | bool

WSD_PORT: Final = 3702
WSD_MULTICAST: Final = ("239.255.255.250", 3702)
IPP_PORT: Final = 631
IPP_PATH: Final = "/ipp/print"
MAX_WSD_REPLY: Final = 64 * 1024
SANE_LIST_CODE: Final = (
    "import json, sane\nsane.init()\nprint(json.dumps([[str(x) for x in d] for d in sane.get_devices()]))\n"
)
KIND_NAMES: Final = {
    "onvif": "camera",
    "sigpad": "sigpad",
    "doccam": "doccam",
    "scanner": "scanner",
    "printer": "printer",
}
"""Device kind → the stem of generated device ids (``camera-1``, ``scanner-1``)."""


@dataclass
class Candidate:
    """One device found: what kind of driver serves it, how it was recognised, and how to configure it."""

    kind: str
    """The agent's ``[[devices]]`` kind: onvif, sigpad, doccam, scanner or printer."""
    finder: str
    address: str
    facts: dict[str, dict[str, str]]
    settings: dict[str, Scalar]
    """The ``[[devices]]`` keys (without ``id``) that make the agent drive this device."""
    model: str = ""
    note: str = ""
    profile: str | None = None
    login_ok: bool | None = None
    """Cameras: None = not tried, True = the credentials in ``settings`` work, False = refused."""

    @property
    def identity(self) -> str:
        """What makes two candidates (or a candidate and a configured device) the same device."""
        return device_identity(self.kind, self.settings)

    def as_json(self) -> dict[str, Any]:
        settings = {k: ("********" if k == "password" else v) for k, v in self.settings.items()}
        return {
            "kind": self.kind,
            "finder": self.finder,
            "address": self.address,
            "profile": self.profile or "unknown",
            "model": self.model,
            "note": self.note,
            "facts": self.facts,
            "settings": settings,
            "login_ok": self.login_ok,
        }


@dataclass(frozen=True)
class Problem:
    """A place a finder looked at without finding a device it knows, and why."""

    finder: str
    address: str
    reason: str


@dataclass
class Findings:
    candidates: list[Candidate] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    bad_replies: dict[str, int] = field(default_factory=dict)
    """Finder → replies that were not valid (broken XML, corrupt frames, undecodable IPP)."""
    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, other: Findings) -> None:
        self.candidates += other.candidates
        self.problems += other.problems
        for k, v in other.bad_replies.items():
            self.bad_replies[k] = self.bad_replies.get(k, 0) + v
        self.seconds.update(other.seconds)

    def bad(self, finder: str, n: int = 1) -> None:
        if n:
            self.bad_replies[finder] = self.bad_replies.get(finder, 0) + n

    def as_json(self) -> dict[str, Any]:
        return {
            "candidates": [c.as_json() for c in self.candidates],
            "problems": [
                {"finder": p.finder, "address": p.address, "reason": p.reason} for p in self.problems
            ],
            "bad_replies": self.bad_replies,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }


def device_identity(kind: str, settings: dict[str, Any]) -> str:
    """The identity of a device from its ``[[devices]]`` keys (also for devices already in agent.toml)."""
    if kind == "onvif":
        return f"onvif:{settings.get('host')}:{settings.get('port', 80)}"
    if kind == "printer":
        uri = str(settings.get("uri", ""))
        parts = urlsplit(uri)
        host = "localhost" if parts.hostname in ("127.0.0.1", "::1") else parts.hostname
        return f"printer:{host}:{parts.port or IPP_PORT}{parts.path}"
    if kind == "scanner":
        return f"scanner:{settings.get('device')}"
    if kind == "sigpad":
        port = str(settings.get("port", ""))
        return f"sigpad:{os.path.realpath(port) if port.startswith('/') else port}"
    if kind == "doccam":
        return f"doccam:{settings.get('source', 0)}"
    return f"{kind}:{sorted(settings.items())}"


def identify(kind: str, facts: dict[str, dict[str, str]]) -> str | None:
    """The name of the builtin profile that fits ``facts`` for a device of driver ``kind``, or None."""
    profile = match(facts, [p for p in builtin_profiles().values() if p.driver == kind])
    return profile.name if profile is not None else None


async def in_thread(fn: Callable[[], T], timeout_s: float) -> T:
    """``fn()`` on a daemon thread of its own; TimeoutError after ``timeout_s`` (the thread is left behind).

    Not ``asyncio.to_thread``: a call stuck in a driver (a video device that never delivers) would make
    ``asyncio.run`` wait for the default executor forever at exit.
    """
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def settle(ok: bool, value: Any) -> None:
        if not done.done():
            if ok:
                done.set_result(value)
            else:
                done.set_exception(value)

    def run() -> None:
        try:
            result = fn()
        except BaseException as err:  # handed to the awaiting coroutine
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits any more
                loop.call_soon_threadsafe(settle, False, err)
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, True, result)

    threading.Thread(target=run, name="discovery", daemon=True).start()
    async with asyncio.timeout(timeout_s):
        return await done


# -- ONVIF ---------------------------------------------------------------------------------------------------


class _WsdProtocol(asyncio.DatagramProtocol):
    """Collects ProbeMatches to one message id; counts replies that are not valid WS-Discovery."""

    def __init__(self, message_id: str, expected: set[tuple[str, int]]) -> None:
        self.message_id = message_id
        self.pending = set(expected)
        self.matches: dict[str, ProbeMatch] = {}
        self.bad: list[tuple[str, str]] = []
        self.done = asyncio.Event()

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        source = (str(addr[0]), int(addr[1]))
        if len(data) > MAX_WSD_REPLY:
            self.bad.append((f"{source[0]}:{source[1]}", f"bad WS-Discovery reply: {len(data)} bytes"))
            return
        try:
            found = parse_probe_matches(data, self.message_id, source)
        except OnvifError as err:
            why = err.reason.split(f"{source[0]}:{source[1]}: ", 1)[-1]
            self.bad.append((f"{source[0]}:{source[1]}", f"bad WS-Discovery reply: {why}"))
            return
        except Exception as err:  # whatever a broken reply makes the parser do
            self.bad.append(
                (f"{source[0]}:{source[1]}", f"bad WS-Discovery reply: {type(err).__name__}: {err}")
            )
            return
        for m in found:
            self.matches.setdefault(m.endpoint, m)
        if found:
            self.pending.discard(source)
            if not self.pending:
                self.done.set()


def _xaddr_host_port(match_: ProbeMatch) -> tuple[str, int] | None:
    """Host and port of the device service, preferring an IPv4 address."""
    best: tuple[str, int] | None = None
    for xaddr in match_.xaddrs:
        parts = urlsplit(xaddr)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            continue
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            continue
        if best is None or (":" in best[0] and ":" not in parts.hostname):
            best = (parts.hostname, port)
    return best


async def ws_discovery(
    targets: Sequence[tuple[str, int]], *, multicast: bool, timeout_s: float
) -> tuple[list[ProbeMatch], list[tuple[str, str]], list[tuple[str, str]]]:
    """Probe ``targets`` by unicast (and the multicast group if ``multicast``): matches, then (address,
    reason) of the targets that stayed silent and of the replies that were not valid WS-Discovery.

    Returns when every unicast target has answered (never early with ``multicast``), else after ``timeout_s``.
    """
    loop = asyncio.get_running_loop()
    resolved: list[tuple[str, int]] = []
    unresolved: list[tuple[str, str]] = []
    for host, port in targets:
        try:
            infos = await loop.getaddrinfo(host, port, family=socket.AF_INET, type=socket.SOCK_DGRAM)
            resolved.append((str(infos[0][4][0]), int(infos[0][4][1])))
        except OSError as err:
            unresolved.append((f"{host}:{port}", f"cannot resolve ({err})"))
    if not resolved and not multicast:
        return [], unresolved, []
    loopback = not multicast and all(h.startswith("127.") for h, _ in resolved)
    message_id = f"urn:uuid:{uuid.uuid4()}"
    transport, proto = await loop.create_datagram_endpoint(
        lambda: _WsdProtocol(message_id, set(resolved)),
        local_addr=("127.0.0.1" if loopback else "0.0.0.0", 0),
        family=socket.AF_INET,
    )
    try:
        data = probe_message(message_id)
        for addr in resolved:
            transport.sendto(data, addr)
        if multicast:
            sock = transport.get_extra_info("socket")
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
            transport.sendto(data, WSD_MULTICAST)
            await asyncio.sleep(timeout_s)  # answers from unknown devices: wait the whole time
        else:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout_s):
                    await proto.done.wait()
    finally:
        transport.close()
    silent = unresolved + [
        (f"{h}:{p}", f"no WS-Discovery answer in {timeout_s:g} s") for h, p in proto.pending
    ]
    return list(proto.matches.values()), silent, proto.bad


async def identify_onvif(candidate: Candidate, username: str, password: str, timeout_s: float = 5.0) -> str:
    """Log in to a camera candidate, fill in manufacturer and model; '' when it worked, else the reason.

    On success the credentials go into ``candidate.settings`` and ``login_ok`` becomes True.
    """
    host, port = str(candidate.settings["host"]), int(candidate.settings["port"])
    client = OnvifClient(host, port, username, password, timeout_s=timeout_s)
    try:
        await client.connect()
        info = await client.device_info()
    except OnvifError as err:
        if err.kind == "unauthorized":
            candidate.login_ok = False
            candidate.note = "login refused 登录被拒"
        return err.reason
    finally:
        await client.close()
    candidate.login_ok = True
    candidate.settings["username"] = username
    candidate.settings["password"] = password
    candidate.facts["onvif"] = {"manufacturer": info.manufacturer, "model": info.model}
    candidate.model = f"{info.manufacturer} {info.model}".strip()[:128]
    candidate.settings["model"] = candidate.model
    skew = client.clock_skew_s
    clock = f", clock {skew:+.0f} s" if skew is not None and abs(skew) >= 1 else ""
    candidate.note = f"login ok, serial {info.serial_number or '-'}{clock}"
    candidate.profile = identify("onvif", candidate.facts)
    return ""


async def find_onvif(
    hosts: Sequence[tuple[str, int]],
    *,
    multicast: bool = False,
    username: str | None = None,
    password: str | None = None,
    timeout_s: float = 3.0,
) -> Findings:
    """ONVIF cameras answering a WS-Discovery Probe; logged in (model filled) when credentials are given."""
    out = Findings()
    if not hosts and not multicast:
        return out
    matches, silent, bad = await ws_discovery(hosts, multicast=multicast, timeout_s=timeout_s)
    out.bad("onvif", len(bad))
    out.problems += [Problem("onvif", where, why) for where, why in silent + bad]
    seen: set[tuple[str, int]] = set()
    for m in matches:
        where = _xaddr_host_port(m)
        if where is None:
            out.bad("onvif")
            out.problems.append(Problem("onvif", m.endpoint, f"no usable device address in {m.xaddrs}"))
            continue
        if where in seen:
            continue
        seen.add(where)
        hardware = (m.scope("hardware") or "").replace("_", " ")
        name = m.scope("name") or ""
        c = Candidate(
            kind="onvif",
            finder="ws-discovery",
            address=f"{where[0]}:{where[1]}",
            facts={"onvif": {"manufacturer": m.scope("mfr") or "", "model": hardware}},
            settings={"host": where[0], "port": where[1]},
            model=hardware or "ONVIF camera",
            note=f"name {name}" if name else "",
        )
        c.profile = identify("onvif", c.facts)
        if username is not None:
            reason = await identify_onvif(c, username, password or "", timeout_s)
            if reason and c.login_ok is None:
                out.problems.append(Problem("onvif", c.address, reason))
                continue
        out.candidates.append(c)
    return out


# -- serial signature pads -----------------------------------------------------------------------------------


def sigpad_baudrate() -> int:
    profile = builtin_profiles().get("hallmesh-sigpad")
    value = profile.connection.get("baudrate") if profile else None
    return value if isinstance(value, int) and not isinstance(value, bool) else 115_200


def probe_sigpad(path: str, baudrate: int, timeout_s: float) -> tuple[Info | None, str, int]:
    """Ask ``path`` for the pad's INFO: (info or None, why not, bad frames/bytes seen). Never raises."""
    import serial

    try:
        port = serial.Serial(path, baudrate, timeout=0.05, write_timeout=1.0)
    except (serial.SerialException, OSError, ValueError) as err:
        return None, f"cannot open: {err}", 0
    decoder = FrameDecoder()
    bad_payloads = 0
    try:
        deadline = time.monotonic() + timeout_s
        asks = [0.0, timeout_s / 3, 2 * timeout_s / 3]  # noise may eat a request or an answer
        start = time.monotonic()
        seq = 0
        while time.monotonic() < deadline:
            if asks and time.monotonic() - start >= asks[0]:
                asks.pop(0)
                port.write(encode_info_request(seq))
                seq += 1
            data = port.read(256)
            frames = decoder.feed(data) if data else decoder.expire()
            for frame in frames:
                if frame.type != FrameType.INFO:
                    continue
                try:
                    return parse_info(frame), "", decoder.crc_errors + decoder.bad_lengths + bad_payloads
                except SigpadPayloadError:
                    bad_payloads += 1
    except (serial.SerialException, OSError) as err:
        return None, f"lost while probing: {err}", decoder.crc_errors + bad_payloads
    finally:
        with contextlib.suppress(Exception):
            port.close()
    bad = decoder.crc_errors + decoder.bad_lengths + bad_payloads
    if decoder.frames or decoder.garbage_bytes:
        what = f"{decoder.garbage_bytes} byte(s) of garbage, {decoder.frames} frame(s), no valid INFO"
    else:
        what = f"no answer to INFO in {timeout_s:g} s"
    return None, f"no known device 未识别设备: {what}", bad


def system_serial_ports() -> list[str]:
    try:
        from serial.tools import list_ports

        return sorted(p.device for p in list_ports.comports())
    except Exception:  # a broken sysfs must not stop discovery
        return []


async def find_serial(paths: Sequence[str], *, scan_system: bool = True, timeout_s: float = 1.5) -> Findings:
    """Signature pads: every serial port is sent INFO_REQ at the pad's baud rate; INFO → a sigpad candidate."""
    out = Findings()
    ports = list(dict.fromkeys([*(system_serial_ports() if scan_system else []), *paths]))
    baudrate = sigpad_baudrate()

    async def one(path: str) -> None:
        try:
            info, why, bad = await in_thread(lambda: probe_sigpad(path, baudrate, timeout_s), timeout_s + 3)
        except TimeoutError:
            out.problems.append(Problem("serial", path, "the port hung while probing"))
            return
        out.bad("serial", bad)
        if info is None:
            out.problems.append(Problem("serial", path, why))
            return
        facts = {"serial": {"probe": SIGPAD_PROTOCOL, "model": info.model, "firmware": info.firmware}}
        out.candidates.append(
            Candidate(
                kind="sigpad",
                finder="serial",
                address=path,
                facts=facts,
                settings={"port": path, "baudrate": baudrate, "model": info.model[:128]},
                model=info.model,
                note=f"firmware {info.firmware}, {info.x_max}×{info.y_max}, pressure {info.pressure_max}",
                profile=identify("sigpad", facts),
            )
        )

    await asyncio.gather(*(one(p) for p in ports))
    out.candidates.sort(key=lambda c: c.address)
    return out


# -- video devices -------------------------------------------------------------------------------------------


def usb_ids(video_path: str) -> dict[str, str]:
    """USB vid/pid (and the V4L2 name) of ``/dev/videoN`` from sysfs; {} when not a USB device."""
    name = Path(video_path).name
    sys_dir = Path("/sys/class/video4linux") / name
    facts: dict[str, str] = {}
    with contextlib.suppress(OSError):
        facts["name"] = (sys_dir / "name").read_text().strip()
    with contextlib.suppress(OSError):
        d = (sys_dir / "device").resolve()
        for parent in (d, *d.parents):
            if (parent / "idVendor").is_file():
                facts["vid"] = (parent / "idVendor").read_text().strip()
                facts["pid"] = (parent / "idProduct").read_text().strip()
                break
    return facts


def grab_frame(source: int | str) -> tuple[int, int]:
    """Open ``source`` with OpenCV and read one frame: (width, height); RuntimeError saying why not."""
    import cv2

    cap = cv2.VideoCapture(source)
    try:
        if not cap.isOpened():
            raise RuntimeError("cannot open")
        ok, frame = cap.read()
        if not ok or frame is None:
            raise RuntimeError("opened, but no picture (a metadata node, or busy?)")
        h, w = frame.shape[:2]
        return int(w), int(h)
    finally:
        cap.release()


def _redact_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


async def find_video(urls: Sequence[str], *, scan_system: bool = True, timeout_s: float = 5.0) -> Findings:
    """Document cameras: each ``/dev/video*`` and each URL opened with OpenCV for one frame."""
    out = Findings()
    devices = sorted(glob.glob("/dev/video[0-9]*"), key=lambda p: int(p[10:])) if scan_system else []
    sources: list[tuple[int | str, str]] = [(int(p[10:]), p) for p in devices if p[10:].isdigit()]
    sources += [(u, _redact_url(u)) for u in urls]

    async def one(source: int | str, shown: str) -> None:
        try:
            w, h = await in_thread(lambda: grab_frame(source), timeout_s)
        except TimeoutError:
            out.problems.append(Problem("video", shown, f"no frame within {timeout_s:g} s"))
            return
        except Exception as err:  # OpenCV errors, a missing library, …
            out.problems.append(Problem("video", shown, str(err) or type(err).__name__))
            return
        facts: dict[str, dict[str, str]] = {}
        model = "network document camera" if isinstance(source, str) else "video device"
        if isinstance(source, int):
            ids = usb_ids(shown)
            if "vid" in ids:
                facts["usb"] = {"vid": ids["vid"], "pid": ids.get("pid", "")}
            model = ids.get("name", model)
        settings: dict[str, Scalar] = {"source": source, "model": model[:128]}
        if 160 <= w <= 8192 and 120 <= h <= 8192:
            settings |= {"width": w, "height": h}
        out.candidates.append(
            Candidate(
                kind="doccam",
                finder="video",
                address=shown,
                facts=facts,
                settings=settings,
                model=model,
                note=f"{w}×{h}",
                profile=identify("doccam", facts),
            )
        )

    await asyncio.gather(*(one(s, shown) for s, shown in sources))
    out.candidates.sort(key=lambda c: c.address)
    return out


# -- SANE ----------------------------------------------------------------------------------------------------


async def list_sane_devices(config_dir: Path | None, timeout_s: float) -> list[list[str]]:
    """``sane.get_devices()`` run in a child process: [[name, vendor, model, type], …]."""
    env = dict(os.environ)
    if config_dir is not None:
        env["SANE_CONFIG_DIR"] = str(config_dir)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SANE_LIST_CODE, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        async with asyncio.timeout(timeout_s):
            stdout, stderr = await proc.communicate()
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        raise
    if proc.returncode != 0:
        lines = stderr.decode(errors="replace").strip().splitlines()
        raise RuntimeError(lines[-1] if lines else f"exit code {proc.returncode}")
    data = json.loads(stdout.decode() or "[]")
    if not isinstance(data, list):
        raise RuntimeError("unexpected answer from the SANE child")
    return [[str(x) for x in d] for d in data if isinstance(d, list) and len(d) >= 3]


async def find_sane(config_dir: Path | None, *, timeout_s: float = 10.0) -> Findings:
    """SANE scanners (``config_dir`` = a private SANE_CONFIG_DIR; None = this PC's own configuration)."""
    out = Findings()
    where = str(config_dir) if config_dir is not None else "SANE"
    try:
        devices = await list_sane_devices(config_dir, timeout_s)
    except TimeoutError:
        out.problems.append(Problem("sane", where, f"no device list within {timeout_s:g} s"))
        return out
    except (OSError, RuntimeError, ValueError) as err:
        out.problems.append(Problem("sane", where, f"SANE failed: {err}"))
        return out
    if not devices:
        out.problems.append(Problem("sane", where, "no scanner found"))
    for name, vendor, model, *rest in devices:
        facts = {"sane": {"vendor": vendor, "model": model}}
        settings: dict[str, Scalar] = {"device": name, "model": f"{vendor} {model}".strip()[:128]}
        if config_dir is not None:
            settings["sane_config_dir"] = str(config_dir)  # the CLI passes it absolute
        out.candidates.append(
            Candidate(
                kind="scanner",
                finder="sane",
                address=name,
                facts=facts,
                settings=settings,
                model=f"{vendor} {model}".strip(),
                note=rest[0] if rest else "",
                profile=identify("scanner", facts),
            )
        )
    return out


# -- IPP printers --------------------------------------------------------------------------------------------


def ipp_uri(target: str) -> str:
    """``host``, ``host:port``, ``host:port/path`` or an ``ipp://`` URI → an ``ipp://`` URI."""
    if "://" in target:
        return target
    hostport, slash, path = target.partition("/")
    has_port = "]:" in hostport if hostport.startswith("[") else ":" in hostport
    return f"ipp://{hostport if has_port else f'{hostport}:{IPP_PORT}'}{'/' + path if slash else IPP_PATH}"


PRINTER_ATTRS: Final = (
    "printer-make-and-model",
    "printer-state",
    "printer-state-reasons",
    "document-format-supported",
    "printer-name",
)


async def probe_ipp(uri: str, timeout_s: float) -> Candidate:
    """Get-Printer-Attributes on ``uri``; raises :class:`protocols.ipp.IppError` when it cannot."""
    from protocols.ipp import IppClient, PrinterState

    async with IppClient(uri, timeout_s=timeout_s) as client:
        attrs = await client.get_printer_attributes(PRINTER_ATTRS)

    def text(name: str) -> str:
        a = attrs.get(name)
        return str(a.value) if a is not None and a.value is not None else ""

    make = text("printer-make-and-model")
    state_attr = attrs.get("printer-state")
    state = ""
    if state_attr is not None and isinstance(state_attr.value, int):
        with contextlib.suppress(ValueError):
            state = PrinterState(state_attr.value).name.lower()
    formats_attr = attrs.get("document-format-supported")
    formats = [str(v).split("/")[-1] for v in formats_attr.values] if formats_attr else []
    formats = [f for f in formats if f != "octet-stream"]
    reasons_attr = attrs.get("printer-state-reasons")
    reasons = [str(v) for v in reasons_attr.values if str(v) != "none"] if reasons_attr else []
    facts = {"ipp": {"make_and_model": make, "name": text("printer-name")}}
    note = ", ".join(x for x in (state, " ".join(reasons), "; ".join(formats[:5])) if x)
    return Candidate(
        kind="printer",
        finder="ipp",
        address=uri,
        facts=facts,
        settings={"uri": uri, "model": make[:128]},
        model=make or "IPP printer",
        note=note,
        profile=identify("printer", facts),
    )


async def mdns_ipp_uris(timeout_s: float) -> list[str]:
    """``ipp://`` URIs of printers announcing ``_ipp._tcp`` by DNS-SD (multicast: only when asked)."""
    from zeroconf import ServiceStateChange
    from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

    service = "_ipp._tcp.local."
    names: set[str] = set()

    def changed(zeroconf: Any, service_type: str, name: str, state_change: ServiceStateChange) -> None:
        if state_change is not ServiceStateChange.Removed:
            names.add(name)

    azc = AsyncZeroconf()
    try:
        browser = AsyncServiceBrowser(azc.zeroconf, [service], handlers=[changed])
        await asyncio.sleep(timeout_s)
        await browser.async_cancel()
        uris = []
        for name in sorted(names):
            info = AsyncServiceInfo(service, name)
            if not await info.async_request(azc.zeroconf, 1000):
                continue
            addresses = info.parsed_addresses()
            if not addresses or not info.port:
                continue
            rp = (info.properties or {}).get(b"rp") or b"ipp/print"
            host = addresses[0] if ":" not in addresses[0] else f"[{addresses[0]}]"
            uris.append(f"ipp://{host}:{info.port}/{rp.decode(errors='replace').lstrip('/')}")
        return uris
    finally:
        await azc.async_close()


async def find_ipp(targets: Sequence[str], *, mdns: bool = False, timeout_s: float = 3.0) -> Findings:
    """IPP printers: Get-Printer-Attributes on each target (and on printers found by DNS-SD if ``mdns``)."""
    from protocols.ipp import IppConnectionError, IppDecodeError, IppError

    out = Findings()
    uris = [ipp_uri(t) for t in targets]
    if mdns:
        try:
            uris += await mdns_ipp_uris(timeout_s)
        except Exception as err:  # no multicast route, zeroconf trouble: report, go on with the rest
            out.problems.append(Problem("ipp", "DNS-SD", f"_ipp._tcp browse failed: {err}"))
    uris = list(dict.fromkeys(uris))

    async def one(uri: str) -> None:
        try:
            out.candidates.append(await probe_ipp(uri, timeout_s))
        except IppDecodeError as err:
            out.bad("ipp")
            out.problems.append(Problem("ipp", uri, f"not a valid IPP answer: {err}"))
        except IppConnectionError as err:
            out.problems.append(Problem("ipp", uri, str(err)))
        except IppError as err:
            out.problems.append(Problem("ipp", uri, f"printer refused: {err}"))

    await asyncio.gather(*(one(u) for u in uris))
    out.candidates.sort(key=lambda c: c.address)
    return out


# -- all of them ---------------------------------------------------------------------------------------------


@dataclass
class DiscoveryOptions:
    onvif_hosts: list[tuple[str, int]] = field(default_factory=list)
    multicast: bool = False
    onvif_username: str | None = None
    onvif_password: str | None = None
    serial_ports: list[str] = field(default_factory=list)
    camera_urls: list[str] = field(default_factory=list)
    sane_config_dir: Path | None = None
    ipp_hosts: list[str] = field(default_factory=list)
    mdns: bool = False
    scan_system: bool = True
    """Also look at this PC's own serial ports, /dev/video* and SANE configuration (not only what was named)."""
    timeout_s: float = 3.0


def parse_host_port(text: str, default_port: int) -> tuple[str, int]:
    """``host``, ``host:port`` or ``[v6]:port`` → (host, port); ValueError for a bad port."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":")
    else:
        host, sep, port = text.rpartition(":")
        if not sep:
            host, port = text, ""
    if not host:
        raise ValueError(f"{text!r}: no host")
    value = int(port) if port else default_port
    if not 0 < value < 65536:
        raise ValueError(f"{text!r}: port out of range")
    return host, value


async def discover(options: DiscoveryOptions, progress: Callable[[str], None] | None = None) -> Findings:
    """Run every finder that has something to look at, concurrently; their findings together."""
    say = progress or (lambda _text: None)
    o = options
    jobs: list[tuple[str, str, Callable[[], Any]]] = []
    if o.onvif_hosts or o.multicast:
        what = f"{len(o.onvif_hosts)} host(s)" + (" + multicast" if o.multicast else "")
        jobs.append(("onvif", f"ONVIF 摄像机 cameras: WS-Discovery to {what}", lambda: find_onvif(
            o.onvif_hosts, multicast=o.multicast, username=o.onvif_username, password=o.onvif_password,
            timeout_s=o.timeout_s)))  # fmt: skip
    if o.serial_ports or o.scan_system:
        jobs.append(("serial", "串口 serial ports: signature pad INFO", lambda: find_serial(
            o.serial_ports, scan_system=o.scan_system, timeout_s=min(o.timeout_s, 1.5))))  # fmt: skip
    if o.camera_urls or o.scan_system:
        jobs.append(("video", "视频设备 video devices: one frame each", lambda: find_video(
            o.camera_urls, scan_system=o.scan_system, timeout_s=max(o.timeout_s, 5.0))))  # fmt: skip
    if o.sane_config_dir is not None or o.scan_system:
        where = f" ({o.sane_config_dir})" if o.sane_config_dir else ""
        jobs.append(("sane", f"扫描仪 SANE scanners{where}", lambda: find_sane(
            o.sane_config_dir, timeout_s=max(o.timeout_s, 10.0))))  # fmt: skip
    if o.ipp_hosts or o.mdns:
        what = f"{len(o.ipp_hosts)} host(s)" + (" + DNS-SD" if o.mdns else "")
        jobs.append(("ipp", f"打印机 IPP printers: {what}", lambda: find_ipp(
            o.ipp_hosts, mdns=o.mdns, timeout_s=o.timeout_s)))  # fmt: skip

    async def run(name: str, label: str, start: Callable[[], Any]) -> Findings:
        say(f"查找 looking for {label} …")
        t0 = time.monotonic()
        try:
            found: Findings = await start()
        except Exception as err:  # a finder bug must not lose the others' findings
            found = Findings(problems=[Problem(name, "-", f"{type(err).__name__}: {err}")])
        found.seconds[name] = time.monotonic() - t0
        bad = found.bad_replies.get(name, 0)
        say(f"  {name}: {len(found.candidates)} found, {len(found.problems)} without a known device"
            + (f", {bad} bad repl{'y' if bad == 1 else 'ies'}" if bad else "")
            + f" ({found.seconds[name]:.1f} s)")  # fmt: skip
        return found

    total = Findings()
    for found in await asyncio.gather(*(run(*job) for job in jobs)):
        total.add(found)
    seen: set[str] = set()
    unique = []
    for c in total.candidates:  # one printer named as localhost and as 127.0.0.1, …
        if c.identity not in seen:
            seen.add(c.identity)
            unique.append(c)
    total.candidates = unique
    return total
