"""A simulated ONVIF Profile S camera: SOAP over HTTP, digest-protected snapshots, MJPEG and RTSP video, PTZ,
and a unicast WS-Discovery responder — all on 127.0.0.1 (docs/devices/onvif-camera.md).

    sim = OnvifCameraSim(OnvifCameraOptions(name="cam01", index=0, clock_skew_s=3600, discovery=True))
    sim.start()                        # own thread and loop; or ``await sim.start_async()`` in a running loop
    sim.device_url                     # http://127.0.0.1:PORT/onvif/device_service
    sim.ptz_position()                 # (pan, tilt, zoom), moving with ContinuousMove
    sim.options.password = "changed"   # takes effect on the next request
    sim.stop()

Services (SOAP 1.2; addresses returned on 127.0.0.1):

- Device ``/onvif/device_service``: GetSystemDateAndTime, GetDeviceInformation, GetCapabilities, GetServices,
  GetScopes, GetHostname. GetSystemDateAndTime, GetServices, GetCapabilities and GetHostname are answered
  without authentication, as the ONVIF core specification allows and real cameras do.
- Media ``/onvif/media_service``: GetProfiles (``main`` and ``sub``), GetStreamUri, GetSnapshotUri,
  GetVideoEncoderConfigurations, GetVideoSources.
- PTZ ``/onvif/ptz_service``: ContinuousMove (with Timeout), Stop, GetStatus, GetPresets, GotoPreset, GetNodes,
  GetConfigurations. Position moves at ``ptz_speed`` × velocity per second, clamped to −1..1 (zoom 0..1).

Everything else is authenticated with a WS-UsernameToken: PasswordDigest = Base64(SHA-1(nonce + created +
password)), nonces not reused, and ``Created`` within ``auth_window_s`` of **the camera's own clock**, which
runs ``clock_skew_s`` ahead of the host's (GetSystemDateAndTime reports that clock). A failure is a SOAP Fault
``ter:NotAuthorized``; an unknown operation ``ter:ActionNotSupported``.

Snapshots ``/snapshot/{profile}.jpg`` need HTTP digest auth (MD5, qop=auth). Video: MJPEG at
``/live/{name}-{profile}/video.mjpg`` (simulators.scene); with ``rtsp=True`` a GStreamer RTSP server
(simulators/rtsp_server.py, run by Debian's /usr/bin/python3) serves ``rtsp://127.0.0.1:P/{name}/{profile}``
and GetStreamUri returns that. WS-Discovery: with ``discovery=True`` a UDP socket on 127.0.0.1 answers unicast
Probe messages with ProbeMatches (never joins multicast).

``python -m simulators.onvif_camera --help`` runs N cameras.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import logging
import secrets
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, cast
from urllib.request import parse_http_list, parse_keqv_list
from xml.sax.saxutils import escape

from aiohttp import web

from simulators.loop_thread import LoopThread
from simulators.scene import SceneServer, SceneSpec, colour_for

log = logging.getLogger(__name__)

NS: Final = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "tds": "http://www.onvif.org/ver10/device/wsdl",
    "trt": "http://www.onvif.org/ver10/media/wsdl",
    "tptz": "http://www.onvif.org/ver20/ptz/wsdl",
    "tt": "http://www.onvif.org/ver10/schema",
    "ter": "http://www.onvif.org/ver10/error",
    "wsse": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",
    "wsu": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd",
    "wsa": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "d": "http://schemas.xmlsoap.org/ws/2005/04/discovery",
    "dn": "http://www.onvif.org/ver10/network/wsdl",
}
PRE_AUTH: Final = frozenset({"GetSystemDateAndTime", "GetServices", "GetCapabilities", "GetHostname"})
PROFILES: Final = ("main", "sub")
WSS_UT_PROFILE: Final = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
RTSP_SCRIPT: Final = Path(__file__).with_name("rtsp_server.py")
SYSTEM_PYTHON: Final = "/usr/bin/python3"


@dataclass
class OnvifCameraOptions:
    """What the simulated camera is; fields may be changed while it runs (tests flip the password)."""

    name: str = "cam01"
    index: int | None = None
    port: int = 0
    username: str = "admin"
    password: str = "admin"  # noqa: S105 - a simulator's factory default
    clock_skew_s: float = 0.0
    auth_window_s: float = 5.0
    main_size: tuple[int, int] = (1280, 720)
    sub_size: tuple[int, int] = (640, 360)
    fps: float = 10.0
    rtsp: bool = False
    rtsp_port: int = 0
    discovery: bool = False
    discovery_port: int = 0
    ptz: bool = True
    ptz_speed: float = 0.5
    presets: dict[str, tuple[float, float, float]] = field(
        default_factory=lambda: {"1": (0.0, 0.0, 0.0), "2": (0.5, -0.25, 0.5)}
    )
    manufacturer: str = "hallmesh"
    model: str = "SimCam S1"
    firmware: str = "1.0.0"
    serial: str = ""


class SoapFault(Exception):
    def __init__(self, code: str, subcode: str, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.code, self.subcode, self.reason, self.status = code, subcode, reason, status


@dataclass
class _Ptz:
    """Pan/tilt/zoom that moves with a velocity until stopped or until its timeout; computed when read."""

    speed: float
    pos: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    vel: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    since: float = 0.0
    until: float = 0.0

    def position(self, now: float) -> tuple[float, float, float]:
        dt = max(min(now, self.until) - self.since, 0.0)
        out = [p + v * self.speed * dt for p, v in zip(self.pos, self.vel, strict=True)]
        return (_clamp(out[0], -1, 1), _clamp(out[1], -1, 1), _clamp(out[2], 0, 1))

    def moving(self, now: float) -> bool:
        return now < self.until and any(self.vel)

    def move(self, now: float, vel: tuple[float, float, float], timeout_s: float) -> None:
        self.pos = list(self.position(now))
        self.vel, self.since, self.until = list(vel), now, now + timeout_s

    def stop(self, now: float) -> None:
        self.move(now, (0.0, 0.0, 0.0), 0.0)

    def goto(self, now: float, target: tuple[float, float, float]) -> None:
        self.stop(now)
        self.pos = list(target)


def _clamp(v: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, v))


class OnvifCameraSim:
    """One simulated camera; see the module docstring."""

    def __init__(self, options: OnvifCameraOptions | None = None) -> None:
        self.options = options or OnvifCameraOptions()
        o = self.options
        self.port = o.port
        self.discovery_port = o.discovery_port
        self.rtsp_port = o.rtsp_port
        self.uuid = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_DNS, o.name + '.hallmesh.sim')}"
        self.requests: dict[str, int] = {}
        self._ptz = _Ptz(o.ptz_speed)
        self._nonces: deque[str] = deque(maxlen=1000)
        self._digest_nonces: deque[str] = deque(maxlen=100)
        colour = colour_for(o.index if o.index is not None else o.name)
        self.scene = SceneServer(fps=o.fps)
        for profile, (w, h) in zip(PROFILES, (o.main_size, o.sub_size), strict=True):
            self.scene.add(SceneSpec(o.name, width=w, height=h, colour=colour), f"{o.name}-{profile}")
        self._runner: web.AppRunner | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._rtsp: asyncio.subprocess.Process | None = None
        self._runner_thread: LoopThread | None = None

    # -- addresses -----------------------------------------------------------------------------------

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def device_url(self) -> str:
        return f"{self.base}/onvif/device_service"

    def stream_uri(self, profile: str) -> str:
        if self.options.rtsp:
            return f"rtsp://127.0.0.1:{self.rtsp_port}/{self.options.name}/{profile}"
        return self.mjpeg_uri(profile)

    def mjpeg_uri(self, profile: str) -> str:
        return f"{self.base}/live/{self.options.name}-{profile}/video.mjpg"

    def snapshot_uri(self, profile: str) -> str:
        return f"{self.base}/snapshot/{profile}.jpg"

    def camera_now(self) -> float:
        """The camera's clock: the host's plus ``clock_skew_s``."""
        return time.time() + self.options.clock_skew_s

    def ptz_position(self) -> tuple[float, float, float]:
        return self._ptz.position(time.monotonic())

    # -- lifecycle -----------------------------------------------------------------------------------

    async def start_async(self) -> None:
        app = web.Application(client_max_size=256 * 1024)
        app.router.add_post("/onvif/{service}", self._soap)
        app.router.add_get("/snapshot/{profile}.jpg", self._snapshot)
        self.scene.mount(app, "/live")
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, handle_signals=False, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        self.port = int(self._runner.addresses[0][1])
        if self.options.discovery:
            loop = asyncio.get_running_loop()
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _DiscoveryProtocol(self), local_addr=("127.0.0.1", self.discovery_port)
            )
            self._udp = transport
            self.discovery_port = int(transport.get_extra_info("sockname")[1])
        if self.options.rtsp:
            await self._start_rtsp()

    async def _start_rtsp(self) -> None:
        o = self.options
        colour = colour_for(o.index if o.index is not None else o.name)
        args = [str(RTSP_SCRIPT), "--port", str(self.rtsp_port), "--name", o.name, "--fps", f"{o.fps:g}"]
        args += ["--colour", ",".join(str(c) for c in colour)]
        for profile, (w, h) in zip(PROFILES, (o.main_size, o.sub_size), strict=True):
            args += ["--stream", f"{profile}={w}x{h}"]
        self._rtsp = await asyncio.create_subprocess_exec(
            SYSTEM_PYTHON, *args, stdout=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.PIPE
        )  # it ends when its stdin closes, so it cannot outlive us
        assert self._rtsp.stdout is not None
        try:
            line = await asyncio.wait_for(self._rtsp.stdout.readline(), 20)
        except TimeoutError:
            line = b""
        if not line.startswith(b"READY "):
            await self._stop_rtsp()
            raise RuntimeError(f"RTSP server did not start (said {line!r})")
        self.rtsp_port = int(line.split()[1])

    async def _stop_rtsp(self) -> None:
        proc, self._rtsp = self._rtsp, None
        if proc is None:
            return
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 5)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if proc.stdin is not None:
            proc.stdin.close()

    async def stop_async(self) -> None:
        self.scene.release()
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        await self._stop_rtsp()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    def start(self, timeout: float = 30.0) -> OnvifCameraSim:
        """Run in a thread of its own; return once every service listens."""
        self._runner_thread = LoopThread(f"onvif-sim-{self.options.name}")
        self._runner_thread.start(self.start_async, self.stop_async, timeout)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._runner_thread is not None:
            self._runner_thread.stop(timeout)
            self._runner_thread = None

    def __enter__(self) -> OnvifCameraSim:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- SOAP ----------------------------------------------------------------------------------------

    async def _soap(self, request: web.Request) -> web.Response:
        service = request.match_info["service"]
        try:
            root = ET.fromstring(await request.read())  # noqa: S314 - see the import
            body = root.find("s:Body", NS)
            if body is None or len(body) == 0:
                raise SoapFault("s:Sender", "ter:WellFormed", "no SOAP 1.2 Body")
            op_el = body[0]
            op = op_el.tag.rpartition("}")[2]
            self.requests[op] = self.requests.get(op, 0) + 1
            if op not in PRE_AUTH:
                self._authenticate(root)
            handler = getattr(self, f"_{service}_{op}", None)
            if service == "ptz_service" and not self.options.ptz:
                handler = None
            if handler is None:
                raise SoapFault("s:Receiver", "ter:ActionNotSupported", f"{op} is not supported by {service}")
            text: str = handler(op_el)
            return _envelope(text)
        except ET.ParseError as err:
            return _fault(SoapFault("s:Sender", "ter:WellFormed", f"not well-formed XML: {err}"))
        except SoapFault as fault:
            return _fault(fault)

    def _authenticate(self, root: ET.Element) -> None:
        o = self.options
        token = root.find("s:Header/wsse:Security/wsse:UsernameToken", NS)
        denied = SoapFault("s:Sender", "ter:NotAuthorized", "Sender not authorized")
        if token is None:
            raise denied
        user = token.findtext("wsse:Username", "", NS)
        password_el = token.find("wsse:Password", NS)
        nonce = token.findtext("wsse:Nonce", "", NS)
        created = token.findtext("wsu:Created", "", NS)
        if password_el is None or not hmac.compare_digest(user.encode(), o.username.encode()):
            raise denied
        given = (password_el.text or "").strip()
        if password_el.get("Type", WSS_UT_PROFILE + "#PasswordDigest").endswith("#PasswordText"):
            if not hmac.compare_digest(given.encode(), o.password.encode()):
                raise denied
            return
        try:
            stamp = datetime.fromisoformat(created.strip().replace("Z", "+00:00"))
            if stamp.tzinfo is None:
                stamp = stamp.replace(tzinfo=UTC)
            raw_nonce = base64.b64decode(nonce, validate=True)
        except ValueError as err:
            raise denied from err
        age = self.camera_now() - stamp.timestamp()
        if abs(age) > o.auth_window_s:
            raise SoapFault(
                "s:Sender",
                "ter:NotAuthorized",
                f"Created is {abs(age):.0f} s {'behind' if age > 0 else 'ahead of'} the device clock",
            )
        expected = hashlib.sha1(raw_nonce + created.encode() + o.password.encode()).digest()  # noqa: S324
        if not hmac.compare_digest(base64.b64encode(expected).decode(), given):
            raise denied
        if nonce in self._nonces:
            raise SoapFault("s:Sender", "ter:NotAuthorized", "nonce replayed")
        self._nonces.append(nonce)

    # -- device service ------------------------------------------------------------------------------

    def _device_service_GetSystemDateAndTime(self, _op: ET.Element) -> str:
        t = time.gmtime(self.camera_now())
        return (
            "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
            "<tt:DateTimeType>Manual</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>"
            "<tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone><tt:UTCDateTime>"
            f"<tt:Time><tt:Hour>{t.tm_hour}</tt:Hour><tt:Minute>{t.tm_min}</tt:Minute>"
            f"<tt:Second>{t.tm_sec}</tt:Second></tt:Time>"
            f"<tt:Date><tt:Year>{t.tm_year}</tt:Year><tt:Month>{t.tm_mon}</tt:Month>"
            f"<tt:Day>{t.tm_mday}</tt:Day></tt:Date>"
            "</tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
        )

    def _device_service_GetDeviceInformation(self, _op: ET.Element) -> str:
        o = self.options
        serial = o.serial or f"SIM-{o.name}"
        return (
            f"<tds:GetDeviceInformationResponse><tds:Manufacturer>{escape(o.manufacturer)}</tds:Manufacturer>"
            f"<tds:Model>{escape(o.model)}</tds:Model><tds:FirmwareVersion>{escape(o.firmware)}"
            f"</tds:FirmwareVersion><tds:SerialNumber>{escape(serial)}</tds:SerialNumber>"
            f"<tds:HardwareId>{escape(o.name)}</tds:HardwareId></tds:GetDeviceInformationResponse>"
        )

    def _services(self) -> list[tuple[str, str]]:
        out = [("tds", "device_service"), ("trt", "media_service")]
        return [*out, ("tptz", "ptz_service")] if self.options.ptz else out

    def _device_service_GetServices(self, _op: ET.Element) -> str:
        items = "".join(
            f"<tds:Service><tds:Namespace>{NS[p]}</tds:Namespace><tds:XAddr>{self.base}/onvif/{s}</tds:XAddr>"
            "<tds:Version><tt:Major>2</tt:Major><tt:Minor>0</tt:Minor></tds:Version></tds:Service>"
            for p, s in self._services()
        )
        return f"<tds:GetServicesResponse>{items}</tds:GetServicesResponse>"

    def _device_service_GetCapabilities(self, _op: ET.Element) -> str:
        b = self.base
        return (
            "<tds:GetCapabilitiesResponse><tds:Capabilities>"
            f"<tt:Device><tt:XAddr>{b}/onvif/device_service</tt:XAddr></tt:Device>"
            f"<tt:Media><tt:XAddr>{b}/onvif/media_service</tt:XAddr><tt:StreamingCapabilities>"
            "<tt:RTPMulticast>false</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP>"
            "<tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media>"
            + (f"<tt:PTZ><tt:XAddr>{b}/onvif/ptz_service</tt:XAddr></tt:PTZ>" if self.options.ptz else "")
            + "</tds:Capabilities></tds:GetCapabilitiesResponse>"
        )

    def _device_service_GetHostname(self, _op: ET.Element) -> str:
        return (
            "<tds:GetHostnameResponse><tds:HostnameInformation><tt:FromDHCP>false</tt:FromDHCP>"
            f"<tt:Name>{escape(self.options.name)}</tt:Name></tds:HostnameInformation></tds:GetHostnameResponse>"
        )

    def _device_service_GetScopes(self, _op: ET.Element) -> str:
        items = "".join(
            f"<tds:Scopes><tt:ScopeDef>Fixed</tt:ScopeDef><tt:ScopeItem>{escape(s)}</tt:ScopeItem></tds:Scopes>"
            for s in self.scopes()
        )
        return f"<tds:GetScopesResponse>{items}</tds:GetScopesResponse>"

    def scopes(self) -> list[str]:
        o = self.options
        return [
            "onvif://www.onvif.org/Profile/Streaming",
            "onvif://www.onvif.org/type/video_encoder",
            "onvif://www.onvif.org/type/ptz",
            f"onvif://www.onvif.org/name/{o.name}",
            f"onvif://www.onvif.org/hardware/{o.model.replace(' ', '_')}",
            "onvif://www.onvif.org/location/hallmesh",
        ]

    # -- media service -------------------------------------------------------------------------------

    def _encoder(self, profile: str) -> str:
        w, h = self.options.main_size if profile == "main" else self.options.sub_size
        return (
            f'<tt:VideoEncoderConfiguration token="enc_{profile}"><tt:Name>enc_{profile}</tt:Name>'
            "<tt:UseCount>1</tt:UseCount><tt:Encoding>H264</tt:Encoding>"
            f"<tt:Resolution><tt:Width>{w}</tt:Width><tt:Height>{h}</tt:Height></tt:Resolution>"
            "<tt:Quality>5</tt:Quality><tt:RateControl>"
            f"<tt:FrameRateLimit>{int(self.options.fps)}</tt:FrameRateLimit>"
            "<tt:EncodingInterval>1</tt:EncodingInterval><tt:BitrateLimit>2048</tt:BitrateLimit>"
            "</tt:RateControl><tt:SessionTimeout>PT60S</tt:SessionTimeout></tt:VideoEncoderConfiguration>"
        )

    def _media_service_GetProfiles(self, _op: ET.Element) -> str:
        w, h = self.options.main_size
        ptz = (
            '<tt:PTZConfiguration token="ptz"><tt:Name>ptz</tt:Name><tt:UseCount>2</tt:UseCount>'
            "<tt:NodeToken>node</tt:NodeToken></tt:PTZConfiguration>"
            if self.options.ptz
            else ""
        )
        profiles = "".join(
            f'<trt:Profiles token="{p}" fixed="true"><tt:Name>{p}</tt:Name>'
            '<tt:VideoSourceConfiguration token="vsc"><tt:Name>vsc</tt:Name><tt:UseCount>2</tt:UseCount>'
            f'<tt:SourceToken>vs</tt:SourceToken><tt:Bounds x="0" y="0" width="{w}" height="{h}"/>'
            f"</tt:VideoSourceConfiguration>{self._encoder(p)}{ptz}</trt:Profiles>"
            for p in PROFILES
        )
        return f"<trt:GetProfilesResponse>{profiles}</trt:GetProfilesResponse>"

    def _profile(self, op: ET.Element) -> str:
        token = op.findtext("trt:ProfileToken", None, NS) or op.findtext("tptz:ProfileToken", None, NS)
        if token not in PROFILES:
            raise SoapFault("s:Sender", "ter:InvalidArgVal", f"no profile {token!r}")
        return token

    def _media_service_GetVideoEncoderConfigurations(self, _op: ET.Element) -> str:
        items = "".join(self._encoder(p).replace("tt:VideoEncoderConfiguration", "trt:Configurations", 1)
                        .replace("</tt:VideoEncoderConfiguration>", "</trt:Configurations>") for p in PROFILES)  # fmt: skip
        return (
            f"<trt:GetVideoEncoderConfigurationsResponse>{items}</trt:GetVideoEncoderConfigurationsResponse>"
        )

    def _media_service_GetVideoSources(self, _op: ET.Element) -> str:
        w, h = self.options.main_size
        return (
            '<trt:GetVideoSourcesResponse><trt:VideoSources token="vs">'
            f"<tt:Framerate>{self.options.fps:g}</tt:Framerate>"
            f"<tt:Resolution><tt:Width>{w}</tt:Width><tt:Height>{h}</tt:Height></tt:Resolution>"
            "</trt:VideoSources></trt:GetVideoSourcesResponse>"
        )

    @staticmethod
    def _media_uri(tag: str, uri: str) -> str:
        return (
            f"<trt:{tag}Response><trt:MediaUri><tt:Uri>{escape(uri)}</tt:Uri>"
            "<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect>"
            "<tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout>"
            f"</trt:MediaUri></trt:{tag}Response>"
        )

    def _media_service_GetStreamUri(self, op: ET.Element) -> str:
        profile = self._profile(op)
        protocol = op.findtext("trt:StreamSetup/tt:Transport/tt:Protocol", "RTSP", NS)
        uri = self.mjpeg_uri(profile) if protocol == "HTTP" else self.stream_uri(profile)
        return self._media_uri("GetStreamUri", uri)

    def _media_service_GetSnapshotUri(self, op: ET.Element) -> str:
        return self._media_uri("GetSnapshotUri", self.snapshot_uri(self._profile(op)))

    # -- PTZ service ---------------------------------------------------------------------------------

    def _ptz_service_ContinuousMove(self, op: ET.Element) -> str:
        self._profile(op)
        pt = op.find("tptz:Velocity/tt:PanTilt", NS)
        zoom = op.find("tptz:Velocity/tt:Zoom", NS)
        try:
            vel = (
                float(pt.get("x", "0")) if pt is not None else 0.0,
                float(pt.get("y", "0")) if pt is not None else 0.0,
                float(zoom.get("x", "0")) if zoom is not None else 0.0,
            )
            timeout = _duration(op.findtext("tptz:Timeout", "PT10S", NS))
        except ValueError as err:
            raise SoapFault("s:Sender", "ter:InvalidArgVal", str(err)) from err
        if any(abs(v) > 1 for v in vel):
            raise SoapFault("s:Sender", "ter:InvalidArgVal", "velocity outside -1..1")
        self._ptz.move(time.monotonic(), vel, timeout)
        return "<tptz:ContinuousMoveResponse/>"

    def _ptz_service_Stop(self, op: ET.Element) -> str:
        self._profile(op)
        self._ptz.stop(time.monotonic())
        return "<tptz:StopResponse/>"

    def _ptz_service_GetStatus(self, op: ET.Element) -> str:
        self._profile(op)
        now = time.monotonic()
        pan, tilt, zoom = self._ptz.position(now)
        state = "MOVING" if self._ptz.moving(now) else "IDLE"
        utc = datetime.fromtimestamp(self.camera_now(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return (
            "<tptz:GetStatusResponse><tptz:PTZStatus><tt:Position>"
            f'<tt:PanTilt x="{pan:.4f}" y="{tilt:.4f}"/><tt:Zoom x="{zoom:.4f}"/></tt:Position>'
            f"<tt:MoveStatus><tt:PanTilt>{state}</tt:PanTilt><tt:Zoom>{state}</tt:Zoom></tt:MoveStatus>"
            f"<tt:UtcTime>{utc}</tt:UtcTime></tptz:PTZStatus></tptz:GetStatusResponse>"
        )

    def _ptz_service_GetPresets(self, op: ET.Element) -> str:
        self._profile(op)
        items = "".join(
            f'<tptz:Preset token="{escape(t)}"><tt:Name>preset {escape(t)}</tt:Name><tt:PTZPosition>'
            f'<tt:PanTilt x="{p}" y="{ti}"/><tt:Zoom x="{z}"/></tt:PTZPosition></tptz:Preset>'
            for t, (p, ti, z) in self.options.presets.items()
        )
        return f"<tptz:GetPresetsResponse>{items}</tptz:GetPresetsResponse>"

    def _ptz_service_GotoPreset(self, op: ET.Element) -> str:
        self._profile(op)
        token = op.findtext("tptz:PresetToken", "", NS)
        if token not in self.options.presets:
            raise SoapFault("s:Sender", "ter:InvalidArgVal", f"no preset {token!r}")
        self._ptz.goto(time.monotonic(), self.options.presets[token])
        return "<tptz:GotoPresetResponse/>"

    def _ptz_service_GetNodes(self, _op: ET.Element) -> str:
        return (
            '<tptz:GetNodesResponse><tptz:PTZNode token="node"><tt:Name>node</tt:Name>'
            "<tt:SupportedPTZSpaces/><tt:MaximumNumberOfPresets>16</tt:MaximumNumberOfPresets>"
            "<tt:HomeSupported>false</tt:HomeSupported></tptz:PTZNode></tptz:GetNodesResponse>"
        )

    def _ptz_service_GetConfigurations(self, _op: ET.Element) -> str:
        return (
            '<tptz:GetConfigurationsResponse><tptz:PTZConfiguration token="ptz"><tt:Name>ptz</tt:Name>'
            "<tt:UseCount>2</tt:UseCount><tt:NodeToken>node</tt:NodeToken>"
            "<tt:DefaultPTZTimeout>PT10S</tt:DefaultPTZTimeout></tptz:PTZConfiguration>"
            "</tptz:GetConfigurationsResponse>"
        )

    # -- snapshots with HTTP digest auth -------------------------------------------------------------

    async def _snapshot(self, request: web.Request) -> web.Response:
        profile = request.match_info["profile"]
        if profile not in PROFILES:
            raise web.HTTPNotFound()
        if not self._digest_ok(request):
            nonce = secrets.token_hex(16)
            self._digest_nonces.append(nonce)
            challenge = (
                f'Digest realm="{self._realm}", qop="auth", algorithm=MD5, nonce="{nonce}", opaque="sim"'
            )
            return web.Response(status=401, headers={"WWW-Authenticate": challenge}, text="unauthorized")
        self.requests["snapshot"] = self.requests.get("snapshot", 0) + 1
        return web.Response(
            body=self.scene.snapshot(f"{self.options.name}-{profile}"), content_type="image/jpeg"
        )

    @property
    def _realm(self) -> str:
        return f"hallmesh-{self.options.name}"

    def _digest_ok(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.lower().startswith("digest "):
            return False
        p = parse_keqv_list(parse_http_list(header[7:]))
        o = self.options
        if p.get("username") != o.username or p.get("nonce") not in self._digest_nonces:
            return False

        def md5(s: str) -> str:
            return hashlib.md5(s.encode()).hexdigest()  # noqa: S324 - RFC 7616 MD5 digest

        ha1 = md5(f"{o.username}:{self._realm}:{o.password}")
        ha2 = md5(f"{request.method}:{p.get('uri', '')}")
        if p.get("qop"):
            expected = md5(f"{ha1}:{p['nonce']}:{p.get('nc', '')}:{p.get('cnonce', '')}:{p['qop']}:{ha2}")
        else:
            expected = md5(f"{ha1}:{p['nonce']}:{ha2}")
        return hmac.compare_digest(expected, p.get("response", ""))

    # -- WS-Discovery --------------------------------------------------------------------------------

    def probe_match(self, relates_to: str) -> bytes:
        xaddrs = self.device_url
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<s:Envelope xmlns:s="{NS["s"]}" xmlns:a="{NS["wsa"]}" xmlns:d="{NS["d"]}" xmlns:dn="{NS["dn"]}">'
            "<s:Header><a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</a:Action>"
            f"<a:MessageID>urn:uuid:{uuid.uuid4()}</a:MessageID>"
            f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo>"
            "<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To></s:Header>"
            "<s:Body><d:ProbeMatches><d:ProbeMatch>"
            f"<a:EndpointReference><a:Address>{self.uuid}</a:Address></a:EndpointReference>"
            "<d:Types>dn:NetworkVideoTransmitter</d:Types>"
            f"<d:Scopes>{escape(' '.join(self.scopes()))}</d:Scopes><d:XAddrs>{xaddrs}</d:XAddrs>"
            "<d:MetadataVersion>1</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches></s:Body></s:Envelope>"
        ).encode()


class _DiscoveryProtocol(asyncio.DatagramProtocol):
    """Answers unicast WS-Discovery Probes (to the sender only; nothing multicast)."""

    def __init__(self, sim: OnvifCameraSim) -> None:
        self.sim = sim
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        try:
            root = ET.fromstring(data)  # noqa: S314 - see the import
        except ET.ParseError:
            return
        probe = root.find("s:Body/d:Probe", NS)
        message_id = root.findtext("s:Header/wsa:MessageID", "", NS)
        if probe is None or not message_id:
            return
        types = probe.findtext("d:Types", "", NS)
        wanted = {t.rpartition(":")[2] for t in types.split()}
        if wanted and not wanted & {"NetworkVideoTransmitter", "Device"}:
            return
        if self.transport is not None:
            self.transport.sendto(self.sim.probe_match(message_id), addr)


def _envelope(body: str) -> web.Response:
    ns = " ".join(f'xmlns:{k}="{NS[k]}"' for k in ("s", "tds", "trt", "tptz", "tt", "ter"))
    text = f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope {ns}><s:Body>{body}</s:Body></s:Envelope>'
    return web.Response(text=text, content_type="application/soap+xml", charset="utf-8")


def _fault(fault: SoapFault) -> web.Response:
    body = (
        f"<s:Fault><s:Code><s:Value>{fault.code}</s:Value><s:Subcode><s:Value>{fault.subcode}</s:Value>"
        f'</s:Subcode></s:Code><s:Reason><s:Text xml:lang="en">{escape(fault.reason)}</s:Text></s:Reason>'
        "</s:Fault>"
    )
    response = _envelope(body)
    response.set_status(fault.status if fault.code == "s:Sender" else 500)
    return response


def _duration(text: str) -> float:
    """Seconds of a simple xs:duration (``PT1.5S``, ``PT2M``)."""
    t = text.strip().upper()
    if not t.startswith("PT"):
        raise ValueError(f"unsupported duration {text!r}")
    seconds, number = 0.0, ""
    for ch in t[2:]:
        if ch.isdigit() or ch == ".":
            number += ch
        elif ch in "HMS" and number:
            seconds += float(number) * {"H": 3600, "M": 60, "S": 1}[ch]
            number = ""
        else:
            raise ValueError(f"unsupported duration {text!r}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simulators.onvif_camera",
        description="Run N simulated ONVIF cameras on 127.0.0.1 (SOAP, snapshots, MJPEG, optional RTSP, "
        "unicast WS-Discovery).",
    )
    parser.add_argument("--cameras", type=int, default=1, help="how many cameras (default 1)")
    parser.add_argument(
        "--port", type=int, default=8000, help="HTTP port of camera 1, +1 per camera; 0 = any"
    )
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password", default="admin")
    parser.add_argument("--clock-skew", type=float, default=0.0, help="camera clock offset in seconds")
    parser.add_argument("--fps", type=float, default=10.0)
    parser.add_argument("--no-ptz", action="store_true", help="fixed cameras without a PTZ service")
    parser.add_argument("--rtsp", action="store_true", help="also serve RTSP through GStreamer (slower)")
    parser.add_argument("--rtsp-port", type=int, default=8554, help="RTSP port of camera 1, +1 per camera")
    parser.add_argument(
        "--discovery-port", type=int, default=3702, help="WS-Discovery UDP port of camera 1, +1 …"
    )
    args = parser.parse_args(argv)

    def nth(base: int, i: int) -> int:
        return base + i if base else 0

    sims = [
        OnvifCameraSim(
            OnvifCameraOptions(
                name=f"cam{i + 1:02d}", index=i, port=nth(args.port, i), username=args.username,
                password=args.password, clock_skew_s=args.clock_skew, fps=args.fps, ptz=not args.no_ptz,
                rtsp=args.rtsp, rtsp_port=nth(args.rtsp_port, i), discovery=True,
                discovery_port=nth(args.discovery_port, i),
            )
        )
        for i in range(args.cameras)
    ]  # fmt: skip

    async def run() -> None:
        try:
            for sim in sims:
                await sim.start_async()
                print(
                    f"{sim.options.name}: {sim.device_url}  stream {sim.stream_uri('main')}  "
                    f"discovery udp 127.0.0.1:{sim.discovery_port}",
                    flush=True,
                )
            await asyncio.Event().wait()
        finally:
            for sim in sims:
                await sim.stop_async()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
