"""A thin async ONVIF Profile S client over onvif-zeep-async, and a unicast WS-Discovery probe.

    client = OnvifClient("127.0.0.1", 8000, "admin", password)
    await client.connect()              # measures the camera's clock skew, compensates it, checks the login
    client.clock_skew_s                 # camera clock − ours, seconds (None when the camera will not say)
    await client.device_info()          # DeviceInformation
    profiles = await client.profiles()  # [Profile(token, name, width, height, fps, ...)], main stream first
    await client.stream_uri(profiles[0].token)
    await client.snapshot(profiles[0].token)     # JPEG bytes, fetched with HTTP digest auth
    await client.ptz_move(token, pan=0.5, tilt=0, zoom=0, timeout_s=1); await client.ptz_stop(token)
    await client.close()                # always: it owns aiohttp sessions

    matches = await probe([("127.0.0.1", 3702)], timeout_s=2)   # unicast WS-Discovery, no multicast

Every failure — aiohttp connection errors, timeouts, zeep faults (``ter:NotAuthorized`` …), broken XML, replies
missing what they must carry — is raised as one :class:`OnvifError` whose ``kind`` says what to do about it:

    OnvifError
        kind = "unreachable"   -- no connection, connection lost, or no answer within ``timeout_s``
        kind = "unauthorized"  -- wrong user or password, or a clock too far off to authenticate
        kind = "protocol"      -- the camera answered something that is not valid ONVIF
        kind = "unsupported"   -- the camera lacks the service or operation (no PTZ, no snapshot URI)

The library is imported on first use, not at import time (it calls ``logging.basicConfig`` when imported).
Passwords never appear in reasons or logs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import socket
import time
import uuid
import xml.etree.ElementTree as ET  # only bounded UDP replies; expat 2.5 refuses entity bombs
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeVar, cast

import aiohttp

log = logging.getLogger(__name__)

OnvifErrorKind = Literal["unreachable", "unauthorized", "protocol", "unsupported"]
T = TypeVar("T")

_NS: Final = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "d": "http://schemas.xmlsoap.org/ws/2005/04/discovery",
    "dn": "http://www.onvif.org/ver10/network/wsdl",
}


class OnvifError(Exception):
    """A camera operation failed; ``kind`` classifies it, ``reason`` says it for a human."""

    def __init__(self, kind: OnvifErrorKind, reason: str) -> None:
        super().__init__(f"{kind}: {reason}")
        self.kind: OnvifErrorKind = kind
        self.reason = reason


@dataclass(frozen=True, slots=True)
class DeviceInformation:
    manufacturer: str
    model: str
    firmware_version: str
    serial_number: str
    hardware_id: str


@dataclass(frozen=True, slots=True)
class Profile:
    token: str
    name: str
    encoding: str
    width: int
    height: int
    fps: float
    ptz: bool

    @property
    def pixels(self) -> int:
        return self.width * self.height


@dataclass(frozen=True, slots=True)
class PtzStatus:
    pan: float
    tilt: float
    zoom: float
    moving: bool


@dataclass(frozen=True, slots=True)
class Preset:
    token: str
    name: str


@dataclass(frozen=True, slots=True)
class ProbeMatch:
    """One device that answered a WS-Discovery Probe."""

    endpoint: str
    xaddrs: tuple[str, ...]
    scopes: tuple[str, ...]
    types: tuple[str, ...]
    source: tuple[str, int]

    def scope(self, kind: str) -> str | None:
        """The value of scope ``onvif://www.onvif.org/{kind}/VALUE`` (``name``, ``hardware``, ``location``)."""
        prefix = f"onvif://www.onvif.org/{kind}/"
        return next((s[len(prefix) :] for s in self.scopes if s.startswith(prefix)), None)


def translate(err: BaseException, what: str, timeout_s: float = 0.0) -> OnvifError:
    """The :class:`OnvifError` for a library error ``err`` raised while doing ``what``."""
    from onvif.exceptions import ONVIFAuthError, ONVIFError, ONVIFTimeoutError
    from zeep import exceptions as zx

    if isinstance(err, OnvifError):
        return err
    if isinstance(err, ONVIFAuthError):
        return OnvifError("unauthorized", f"{what}: the camera refused the credentials")
    if isinstance(err, TimeoutError | ONVIFTimeoutError):
        return OnvifError("unreachable", f"{what}: no answer within {timeout_s:g} s")
    if isinstance(err, aiohttp.ClientConnectorError):
        errno = err.os_error.errno
        why = os.strerror(errno) if errno else err.strerror
        return OnvifError("unreachable", f"{what}: cannot connect to {err.host}:{err.port} ({why})")
    if isinstance(err, aiohttp.ClientConnectionError | OSError):
        return OnvifError("unreachable", f"{what}: connection failed ({type(err).__name__}: {err})")
    if isinstance(err, zx.Fault):
        return _fault(err, what)
    if isinstance(err, zx.TransportError):
        if err.status_code in (401, 403):
            return OnvifError("unauthorized", f"{what}: HTTP {err.status_code} from the camera")
        return OnvifError("protocol", f"{what}: HTTP {err.status_code} without a SOAP answer")
    if isinstance(err, ONVIFError):
        if err.__cause__ is not None and not isinstance(err.__cause__, ONVIFError):
            return translate(err.__cause__, what, timeout_s)
        if "support" in str(err):
            return OnvifError("unsupported", f"{what}: {err.reason.removeprefix('Unknown error: ')}")
        return OnvifError("protocol", f"{what}: {err.reason.removeprefix('Unknown error: ')}")
    if isinstance(err, zx.Error):  # XMLSyntaxError, XMLParseError, ValidationError, LookupError, …
        message = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
        return OnvifError("protocol", f"{what}: malformed reply ({type(err).__name__}: {message})")
    if isinstance(err, aiohttp.ClientError):
        return OnvifError("protocol", f"{what}: {type(err).__name__}: {err}")
    if isinstance(err, AttributeError) and "getroottree" in str(err):  # zeep's forgiving parser found no XML
        return OnvifError("protocol", f"{what}: malformed reply (not XML)")
    # lxml.etree.XMLSyntaxError, and the AttributeError/TypeError/… of a reply missing a field
    return OnvifError("protocol", f"{what}: unexpected reply ({type(err).__name__}: {str(err)[:200]})")


def _fault(err: Any, what: str) -> OnvifError:
    from onvif.util import extract_subcodes_as_strings

    subcodes = extract_subcodes_as_strings(err.subcodes) if err.subcodes is not None else []
    text = " ".join([str(err.message or ""), *subcodes])
    message = str(err.message or "no reason given")
    if any("NotAuthorized" in s for s in subcodes) or "not authorized" in text.lower():
        return OnvifError("unauthorized", f"{what}: the camera refused the credentials ({message})")
    if any(("ActionNotSupported" in s or "NotSupported" in s) for s in subcodes):
        return OnvifError("unsupported", f"{what}: {message}")
    return OnvifError("protocol", f"{what}: SOAP fault {', '.join(subcodes) or err.code}: {message}")


def _text(value: Any, field: str, what: str) -> str:
    if value is None:
        raise OnvifError("protocol", f"{what}: the reply has no {field}")
    return str(value)


def _number(obj: Any, path: str, default: float | None = None) -> float:
    value = obj
    for part in path.split("."):
        value = getattr(value, part, None) if value is not None else None
    if value is None:
        if default is None:
            raise OnvifError("protocol", f"the reply has no {path}")
        return default
    try:
        return float(value)
    except (TypeError, ValueError) as err:
        raise OnvifError("protocol", f"{path} is not a number: {value!r}") from err


class OnvifClient:
    """One camera. Not thread-safe: use it from one event loop."""

    def __init__(
        self, host: str, port: int, username: str, password: str, *, timeout_s: float = 10.0
    ) -> None:
        self.host, self.port = host, port
        self.username = username
        self._password = password
        self.timeout_s = timeout_s
        self.clock_skew_s: float | None = None
        self._cam: Any = None

    def __repr__(self) -> str:
        return f"OnvifClient({self.host}:{self.port}, user={self.username!r})"

    @property
    def connected(self) -> bool:
        return self._cam is not None

    async def _guard(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        try:
            async with asyncio.timeout(self.timeout_s):
                return await call()
        except OnvifError:
            raise
        except Exception as err:
            raise translate(err, what, self.timeout_s) from err

    async def connect(self) -> None:
        """Open the camera: measure its clock, find its services, and check the credentials."""
        from onvif import ONVIFCamera

        await self.close()
        self._cam = ONVIFCamera(
            self.host, self.port, self.username, self._password, adjust_time=True, no_cache=True
        )
        try:
            self.clock_skew_s = await self._measure_skew()
            await self._guard("find services", self._cam.update_xaddrs)
            await self.device_info()  # the first call that needs the credentials
        except BaseException:
            await self.close()
            raise

    async def _measure_skew(self) -> float | None:
        """Camera clock − our clock, from an unauthenticated GetSystemDateAndTime (midpoint of the round trip)."""
        from zeep.exceptions import Fault

        devicemgmt = await self._guard("open device service", self._cam.create_devicemgmt_service)
        sent = time.time()
        try:
            reply = await self._guard(
                "GetSystemDateAndTime", lambda: devicemgmt.authless_GetSystemDateAndTime()
            )
        except OnvifError as err:
            if isinstance(
                err.__cause__, Fault
            ):  # a camera that wants auth even for this: let adjust_time try
                return None
            raise
        received = time.time()
        if reply is None:
            raise OnvifError("protocol", "GetSystemDateAndTime: empty or malformed reply")
        try:
            d, t = reply.UTCDateTime.Date, reply.UTCDateTime.Time
            camera = dt.datetime(d.Year, d.Month, d.Day, t.Hour, t.Minute, t.Second, tzinfo=dt.UTC)
        except (AttributeError, TypeError, ValueError) as err:
            raise OnvifError("protocol", f"GetSystemDateAndTime: no valid UTCDateTime ({err})") from err
        # the camera says whole seconds: on average half a second passed since the second it reports began
        return round(camera.timestamp() + 0.5 - (sent + received) / 2, 1)

    async def close(self) -> None:
        cam, self._cam = self._cam, None
        if cam is not None:
            try:
                await cam.close()
            except Exception as err:  # closing sockets must not fail the caller
                log.debug("closing ONVIF client %s:%s: %s", self.host, self.port, err)

    def _camera(self) -> Any:
        if self._cam is None:
            raise OnvifError("unreachable", "not connected")
        return self._cam

    async def _service(self, name: str) -> Any:
        cam = self._camera()
        return await self._guard(f"open {name} service", lambda: cam.create_onvif_service(name))

    # -- device --------------------------------------------------------------------------------------

    async def device_info(self) -> DeviceInformation:
        dev = await self._service("devicemgmt")
        r = await self._guard("GetDeviceInformation", lambda: dev.GetDeviceInformation())
        w = "GetDeviceInformation"
        return DeviceInformation(
            manufacturer=_text(getattr(r, "Manufacturer", None), "Manufacturer", w),
            model=_text(getattr(r, "Model", None), "Model", w),
            firmware_version=str(getattr(r, "FirmwareVersion", "") or ""),
            serial_number=str(getattr(r, "SerialNumber", "") or ""),
            hardware_id=str(getattr(r, "HardwareId", "") or ""),
        )

    def services(self) -> dict[str, str]:
        """Service namespace → address, as found on connect."""
        return dict(self._camera().xaddrs)

    async def capabilities(self) -> dict[str, Any]:
        """GetCapabilities as plain dicts (``{"Media": {"XAddr": …}, "PTZ": …}``)."""
        cam = self._camera()
        caps = await self._guard("GetCapabilities", cam.get_capabilities)
        return dict(caps or {})

    async def scopes(self) -> list[str]:
        dev = await self._service("devicemgmt")
        r = await self._guard("GetScopes", lambda: dev.GetScopes())
        return [str(s.ScopeItem) for s in (r or []) if getattr(s, "ScopeItem", None)]

    # -- media ---------------------------------------------------------------------------------------

    async def profiles(self) -> list[Profile]:
        """The media profiles that carry video, as the camera lists them (usually main stream first)."""
        media = await self._service("media")
        result = await self._guard("GetProfiles", lambda: media.GetProfiles())
        out = []
        for p in result or []:
            enc = getattr(p, "VideoEncoderConfiguration", None)
            if enc is None or getattr(p, "token", None) is None:
                continue
            out.append(
                Profile(
                    token=str(p.token),
                    name=str(getattr(p, "Name", "") or p.token),
                    encoding=str(getattr(enc, "Encoding", "") or ""),
                    width=int(_number(enc, "Resolution.Width")),
                    height=int(_number(enc, "Resolution.Height")),
                    fps=_number(enc, "RateControl.FrameRateLimit", 0.0),
                    ptz=getattr(p, "PTZConfiguration", None) is not None,
                )
            )
        if not out:
            raise OnvifError("unsupported", "GetProfiles: the camera has no video profile")
        return out

    async def stream_uri(self, profile: str, protocol: str = "RTSP") -> str:
        media = await self._service("media")
        request = {
            "StreamSetup": {"Stream": "RTP-Unicast", "Transport": {"Protocol": protocol}},
            "ProfileToken": profile,
        }
        r = await self._guard("GetStreamUri", lambda: media.GetStreamUri(request))
        return _text(getattr(r, "Uri", None), "Uri", "GetStreamUri")

    async def snapshot_uri(self, profile: str) -> str:
        media = await self._service("media")
        r = await self._guard("GetSnapshotUri", lambda: media.GetSnapshotUri({"ProfileToken": profile}))
        return _text(getattr(r, "Uri", None), "Uri", "GetSnapshotUri")

    async def snapshot(self, profile: str) -> bytes:
        """A JPEG from the camera's snapshot URI, fetched with HTTP digest auth."""
        await self.snapshot_uri(profile)  # a fault here is reported as such, not swallowed as "no URI"
        cam = self._camera()
        data = await self._guard("snapshot", lambda: cam.get_snapshot(profile))
        if data is None:
            raise OnvifError("protocol", "snapshot: the camera did not return an image")
        if not data.startswith(b"\xff\xd8"):
            raise OnvifError("protocol", f"snapshot: not a JPEG ({len(data)} bytes)")
        return cast(bytes, data)

    # -- PTZ -----------------------------------------------------------------------------------------

    async def ptz_move(
        self, profile: str, pan: float, tilt: float, zoom: float = 0.0, timeout_s: float | None = None
    ) -> None:
        """ContinuousMove with velocities in −1..1; the camera stops by itself after ``timeout_s``."""
        ptz = await self._service("ptz")
        request: dict[str, Any] = {
            "ProfileToken": profile,
            "Velocity": {"PanTilt": {"x": pan, "y": tilt}, "Zoom": {"x": zoom}},
        }
        if timeout_s is not None:
            request["Timeout"] = dt.timedelta(seconds=timeout_s)
        await self._guard("ContinuousMove", lambda: ptz.ContinuousMove(request))

    async def ptz_stop(self, profile: str) -> None:
        ptz = await self._service("ptz")
        request = {"ProfileToken": profile, "PanTilt": True, "Zoom": True}
        await self._guard("Stop", lambda: ptz.Stop(request))

    async def ptz_status(self, profile: str) -> PtzStatus:
        ptz = await self._service("ptz")
        r = await self._guard("GetStatus", lambda: ptz.GetStatus({"ProfileToken": profile}))
        move = getattr(r, "MoveStatus", None)
        moving = any(str(getattr(move, k, "IDLE") or "IDLE").upper() == "MOVING" for k in ("PanTilt", "Zoom"))
        return PtzStatus(
            pan=_number(r, "Position.PanTilt.x"),
            tilt=_number(r, "Position.PanTilt.y"),
            zoom=_number(r, "Position.Zoom.x", 0.0),
            moving=moving,
        )

    async def presets(self, profile: str) -> list[Preset]:
        ptz = await self._service("ptz")
        r = await self._guard("GetPresets", lambda: ptz.GetPresets({"ProfileToken": profile}))
        return [
            Preset(token=str(p.token), name=str(getattr(p, "Name", "") or p.token))
            for p in (r or [])
            if getattr(p, "token", None) is not None
        ]

    async def goto_preset(self, profile: str, preset: str) -> None:
        ptz = await self._service("ptz")
        request = {"ProfileToken": profile, "PresetToken": preset}
        await self._guard("GotoPreset", lambda: ptz.GotoPreset(request))


# -- WS-Discovery (unicast only) -------------------------------------------------------------------------


def probe_message(message_id: str, types: str = "dn:NetworkVideoTransmitter") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<s:Envelope xmlns:s="{_NS["s"]}" xmlns:a="{_NS["a"]}" xmlns:d="{_NS["d"]}" xmlns:dn="{_NS["dn"]}">'
        '<s:Header><a:Action s:mustUnderstand="1">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe'
        f"</a:Action><a:MessageID>{message_id}</a:MessageID>"
        '<a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To></s:Header>'
        f"<s:Body><d:Probe><d:Types>{types}</d:Types></d:Probe></s:Body></s:Envelope>"
    ).encode()


def parse_probe_matches(data: bytes, message_id: str, source: tuple[str, int]) -> list[ProbeMatch]:
    """The ProbeMatch entries of a reply to ``message_id``; raises OnvifError("protocol") on broken XML.

    Lenient where devices are known to stray (ipycam 1.3.0 sends a bare ProbeMatch without ProbeMatches, with
    the EndpointReference in the discovery namespace): any ProbeMatch in the Body counts.
    """
    try:
        root = ET.fromstring(data)  # noqa: S314 - see the import
    except ET.ParseError as err:
        raise OnvifError("protocol", f"WS-Discovery reply from {source[0]}:{source[1]}: {err}") from err
    if root.findtext("s:Header/a:RelatesTo", "", _NS).strip() != message_id:
        return []
    out = []
    for m in root.iterfind("s:Body//d:ProbeMatch", _NS):
        endpoint = m.findtext("{*}EndpointReference/{*}Address", "").strip()
        xaddrs = tuple(m.findtext("d:XAddrs", "", _NS).split())
        if not endpoint or not xaddrs:
            continue
        scopes = tuple(m.findtext("d:Scopes", "", _NS).split())
        types = tuple(m.findtext("d:Types", "", _NS).split())
        out.append(ProbeMatch(endpoint, xaddrs, scopes, types, source))
    return out


class _ProbeProtocol(asyncio.DatagramProtocol):
    def __init__(self, message_id: str, expected: set[tuple[str, int]]) -> None:
        self.message_id = message_id
        self.pending = set(expected)
        self.matches: dict[str, ProbeMatch] = {}
        self.done = asyncio.Event()

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        source = (str(addr[0]), int(addr[1]))
        try:
            found = parse_probe_matches(data, self.message_id, source)
        except OnvifError as err:
            log.debug("ignored WS-Discovery reply: %s", err.reason)
            return
        for match in found:
            self.matches.setdefault(match.endpoint, match)
        if found:
            self.pending.discard(source)
            if not self.pending:
                self.done.set()


async def probe(
    targets: Sequence[tuple[str, int]], timeout_s: float = 2.0, types: str = "dn:NetworkVideoTransmitter"
) -> list[ProbeMatch]:
    """Send a WS-Discovery Probe to each ``(host, port)`` by unicast; the devices that answered in time.

    Returns as soon as every target has answered, else after ``timeout_s``. Nothing is sent multicast.
    """
    loop = asyncio.get_running_loop()
    resolved = []
    for host, port in targets:
        infos = await loop.getaddrinfo(host, port, family=socket.AF_INET, type=socket.SOCK_DGRAM)
        resolved.append((str(infos[0][4][0]), int(infos[0][4][1])))
    if not resolved:
        return []
    local = "127.0.0.1" if all(h.startswith("127.") for h, _ in resolved) else "0.0.0.0"
    message_id = f"urn:uuid:{uuid.uuid4()}"
    transport, proto = await loop.create_datagram_endpoint(
        lambda: _ProbeProtocol(message_id, set(resolved)), local_addr=(local, 0), family=socket.AF_INET
    )
    try:
        data = probe_message(message_id, types)
        for addr in resolved:
            transport.sendto(data, addr)
        try:
            async with asyncio.timeout(timeout_s):
                await proto.done.wait()
        except TimeoutError:
            pass
    finally:
        transport.close()
    return list(proto.matches.values())
