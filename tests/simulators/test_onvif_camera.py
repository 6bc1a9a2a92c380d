"""The ONVIF camera simulator on the wire: SOAP and its WS-UsernameToken rules, digest snapshots, MJPEG,
PTZ motion and unicast WS-Discovery — checked with raw requests, not with our client."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import re
import socket
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime

import aiohttp
import cv2
import numpy as np
import pytest

from simulators.onvif_camera import NS, OnvifCameraOptions, OnvifCameraSim, _duration, _Ptz, main
from simulators.scene import camera_index_for_colour, decode_timestamp, probe_point

SKEW = 3600.0


@pytest.fixture(scope="module")
def sim() -> Iterator[OnvifCameraSim]:
    s = OnvifCameraSim(
        OnvifCameraOptions(
            name="sim-1", index=9, username="op", password="pw", clock_skew_s=SKEW, discovery=True
        )
    )
    s.start()
    yield s
    s.stop()


def _token(user: str, password: str, created: str, nonce: bytes | None = None, text: bool = False) -> str:
    nonce = nonce or os.urandom(16)
    if text:
        pw = f'<wsse:Password Type="{NS["wsse"][:-24]}username-token-profile-1.0#PasswordText">{password}</wsse:Password>'
    else:
        digest = base64.b64encode(
            hashlib.sha1(nonce + created.encode() + password.encode()).digest()
        ).decode()
        pw = f"<wsse:Password>{digest}</wsse:Password>"
    return (
        f'<s:Header><wsse:Security xmlns:wsse="{NS["wsse"]}" xmlns:wsu="{NS["wsu"]}"><wsse:UsernameToken>'
        f"<wsse:Username>{user}</wsse:Username>{pw}<wsse:Nonce>{base64.b64encode(nonce).decode()}</wsse:Nonce>"
        f"<wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security></s:Header>"
    )


def _created(offset: float = SKEW) -> str:
    return datetime.fromtimestamp(time.time() + offset, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def soap(
    sim: OnvifCameraSim, service: str, op: str, header: str = "", body: str = ""
) -> tuple[int, ET.Element]:
    prefix = {"device_service": "tds", "media_service": "trt", "ptz_service": "tptz"}[service]
    envelope = (
        f'<s:Envelope xmlns:s="{NS["s"]}" xmlns:{prefix}="{NS[prefix]}" xmlns:tt="{NS["tt"]}">{header}'
        f"<s:Body><{prefix}:{op}>{body}</{prefix}:{op}></s:Body></s:Envelope>"
    )
    request = urllib.request.Request(
        f"{sim.base}/onvif/{service}", envelope.encode(), {"Content-Type": "application/soap+xml"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as r:
            return r.status, ET.fromstring(r.read())
    except urllib.error.HTTPError as err:
        with err:
            return err.code, ET.fromstring(err.read())


def _subcode(root: ET.Element) -> str:
    return root.findtext("s:Body/s:Fault/s:Code/s:Subcode/s:Value", "", NS)


def test_system_date_and_time_needs_no_auth_and_shows_the_skew(sim: OnvifCameraSim) -> None:
    status, root = soap(sim, "device_service", "GetSystemDateAndTime")
    assert status == 200
    utc = root.find("s:Body/tds:GetSystemDateAndTimeResponse/tds:SystemDateAndTime/tt:UTCDateTime", NS)
    assert utc is not None
    y, mo, d, h, mi, sec = (
        int(utc.findtext(f"tt:{p}", "0", NS))
        for p in (
            "Date/tt:Year",
            "Date/tt:Month",
            "Date/tt:Day",
            "Time/tt:Hour",
            "Time/tt:Minute",
            "Time/tt:Second",
        )
    )
    camera = datetime(y, mo, d, h, mi, sec, tzinfo=UTC).timestamp()
    assert camera - time.time() == pytest.approx(SKEW, abs=3)


def test_username_token_rules(sim: OnvifCameraSim) -> None:
    status, root = soap(sim, "device_service", "GetDeviceInformation")
    assert (status, _subcode(root)) == (400, "ter:NotAuthorized")

    good = _token("op", "pw", _created())
    status, root = soap(sim, "device_service", "GetDeviceInformation", good)
    assert status == 200
    assert root.findtext("s:Body/tds:GetDeviceInformationResponse/tds:HardwareId", "", NS) == "sim-1"

    status, root = soap(sim, "device_service", "GetDeviceInformation", good)  # the same nonce again
    assert (status, _subcode(root)) == (400, "ter:NotAuthorized")
    assert "replayed" in root.findtext("s:Body/s:Fault/s:Reason/s:Text", "", NS)

    # our clock, not the camera's: refused, and the reason says by how much
    status, root = soap(sim, "device_service", "GetDeviceInformation", _token("op", "pw", _created(0)))
    assert (status, _subcode(root)) == (400, "ter:NotAuthorized")
    reason = root.findtext("s:Body/s:Fault/s:Reason/s:Text", "", NS)
    match = re.fullmatch(r"Created is (\d+) s behind the device clock", reason)
    assert match, reason
    assert int(match[1]) == pytest.approx(SKEW, abs=3)  # Created is sent in whole seconds

    for header in (_token("op", "wrong", _created()), _token("intruder", "pw", _created())):
        status, root = soap(sim, "device_service", "GetDeviceInformation", header)
        assert (status, _subcode(root)) == (400, "ter:NotAuthorized")

    status, _ = soap(sim, "device_service", "GetDeviceInformation", _token("op", "pw", _created(), text=True))
    assert status == 200


def test_faults_for_unknown_operations_and_bad_xml(sim: OnvifCameraSim) -> None:
    status, root = soap(sim, "device_service", "SystemReboot", _token("op", "pw", _created()))
    assert (status, _subcode(root)) == (500, "ter:ActionNotSupported")
    request = urllib.request.Request(f"{sim.base}/onvif/device_service", b"<s:Envelope><oops", {})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=5)
    with info.value as err:
        assert err.code == 400
        assert _subcode(ET.fromstring(err.read())) == "ter:WellFormed"


def test_media_addresses_are_on_loopback(sim: OnvifCameraSim) -> None:
    _, root = soap(sim, "device_service", "GetServices")  # answered before authentication, like real cameras
    xaddrs = [e.text or "" for e in root.iter(f"{{{NS['tds']}}}XAddr")]
    assert len(xaddrs) == 3
    assert all(x.startswith(f"http://127.0.0.1:{sim.port}/onvif/") for x in xaddrs)
    body = (
        "<trt:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream><tt:Transport><tt:Protocol>RTSP</tt:Protocol>"
        "</tt:Transport></trt:StreamSetup><trt:ProfileToken>sub</trt:ProfileToken>"
    )
    _, root = soap(sim, "media_service", "GetStreamUri", _token("op", "pw", _created()), body)
    assert root.findtext("s:Body/trt:GetStreamUriResponse/trt:MediaUri/tt:Uri", "", NS) == sim.mjpeg_uri(
        "sub"
    )


def test_snapshot_needs_http_digest_auth(sim: OnvifCameraSim) -> None:
    url = sim.snapshot_uri("main")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(url, timeout=5)
    with info.value as err:
        assert err.code == 401
        assert err.headers["WWW-Authenticate"].startswith("Digest ")

    async def fetch(password: str) -> tuple[int, bytes]:
        mw = (aiohttp.DigestAuthMiddleware("op", password),)
        async with aiohttp.ClientSession(middlewares=mw) as session, session.get(url) as r:
            return r.status, await r.read()

    assert asyncio.run(fetch("wrong"))[0] == 401
    status, data = asyncio.run(fetch("pw"))
    assert status == 200
    frame = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert frame is not None
    assert frame.shape == (720, 1280, 3)
    x, y = probe_point(1280, 720)
    assert camera_index_for_colour(frame[y, x]) == 9


def test_mjpeg_stream_read_by_opencv(sim: OnvifCameraSim) -> None:
    cap = cv2.VideoCapture(sim.mjpeg_uri("main"), cv2.CAP_FFMPEG)
    try:
        assert cap.isOpened()
        ok, frame = cap.read()
        assert ok
        assert frame.shape == (720, 1280, 3)
        ts = decode_timestamp(frame)
        assert ts is not None
        assert abs(time.time() - ts) < 5  # the picture's clock is the host's; only ONVIF time is skewed
    finally:
        cap.release()


def test_ptz_motion_follows_velocity_and_timeout() -> None:
    head = _Ptz(speed=0.5)
    head.move(100.0, (1.0, -1.0, 0.5), timeout_s=2.0)
    assert head.position(101.0) == pytest.approx((0.5, -0.5, 0.25))
    assert head.moving(101.0)
    assert head.position(110.0) == pytest.approx((1.0, -1.0, 0.5))  # stopped by its timeout after 2 s
    assert not head.moving(110.0)
    head.move(110.0, (1.0, 0.0, 0.0), timeout_s=60)
    assert head.position(200.0)[0] == 1.0  # clamped
    head.stop(200.0)
    assert not head.moving(200.0)
    assert _duration("PT1M2.5S") == 62.5
    with pytest.raises(ValueError, match="unsupported duration"):
        _duration("P1D")


def _probe_bytes(message_id: str, types: str = "dn:NetworkVideoTransmitter") -> bytes:
    return (
        f'<s:Envelope xmlns:s="{NS["s"]}" xmlns:a="{NS["wsa"]}" xmlns:d="{NS["d"]}" xmlns:dn="{NS["dn"]}">'
        f"<s:Header><a:MessageID>{message_id}</a:MessageID></s:Header>"
        f"<s:Body><d:Probe><d:Types>{types}</d:Types></d:Probe></s:Body></s:Envelope>"
    ).encode()


def test_ws_discovery_answers_unicast_probes(sim: OnvifCameraSim) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(5)
        s.sendto(b"\x00garbage", ("127.0.0.1", sim.discovery_port))  # ignored, and the responder lives on
        s.sendto(_probe_bytes("urn:uuid:other", "tds:Printer"), ("127.0.0.1", sim.discovery_port))  # not us
        s.sendto(_probe_bytes("urn:uuid:probe-1"), ("127.0.0.1", sim.discovery_port))
        data, addr = s.recvfrom(65536)
    assert addr == ("127.0.0.1", sim.discovery_port)
    root = ET.fromstring(data)
    assert (
        root.findtext("s:Header/wsa:RelatesTo", "", NS) == "urn:uuid:probe-1"
    )  # the printer probe got nothing
    match = root.find("s:Body/d:ProbeMatches/d:ProbeMatch", NS)
    assert match is not None
    assert match.findtext("d:XAddrs", "", NS) == sim.device_url
    assert "onvif://www.onvif.org/name/sim-1" in match.findtext("d:Scopes", "", NS).split()


def test_cli_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    assert "--clock-skew" in capsys.readouterr().out
