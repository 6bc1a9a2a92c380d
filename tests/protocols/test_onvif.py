"""protocols.onvif against the ONVIF camera simulator and small misbehaving servers: every failure is one
OnvifError with the right kind."""

from __future__ import annotations

import asyncio
import socket
import threading
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import cv2
import numpy as np
import pytest
from aiohttp import web

from protocols.onvif import OnvifClient, OnvifError, parse_probe_matches, probe, translate
from simulators.onvif_camera import OnvifCameraOptions, OnvifCameraSim
from simulators.scene import camera_index_for_colour, decode_timestamp, probe_point
from tests.support import free_port


@pytest.fixture(scope="module")
def sim() -> Iterator[OnvifCameraSim]:
    s = OnvifCameraSim(OnvifCameraOptions(name="hall-a", index=3, discovery=True, password="s3cret"))
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def skewed() -> Iterator[OnvifCameraSim]:
    s = OnvifCameraSim(OnvifCameraOptions(name="skewed", index=5, clock_skew_s=3600, password="s3cret"))
    s.start()
    yield s
    s.stop()


class HttpStub:
    """A tiny aiohttp server in its own thread answering every request with ``handler``."""

    def __init__(self, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> None:
        self.handler = handler
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    def __enter__(self) -> HttpStub:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handler)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = int(self._runner.addresses[0][1])

    def __exit__(self, *exc: object) -> None:
        assert self._runner is not None
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


def run(coro: Awaitable[Any]) -> Any:
    async def wrapped() -> Any:
        return await coro

    return asyncio.run(wrapped())


async def _connected(sim: OnvifCameraSim, password: str = "s3cret", **kw: float) -> OnvifClient:
    client = OnvifClient("127.0.0.1", sim.port, "admin", password, **kw)
    await client.connect()
    return client


def test_device_media_and_snapshot(sim: OnvifCameraSim) -> None:
    async def scenario() -> None:
        client = await _connected(sim)
        try:
            info = await client.device_info()
            assert (info.manufacturer, info.model, info.hardware_id) == ("hallmesh", "SimCam S1", "hall-a")
            services = client.services()
            assert services["http://www.onvif.org/ver10/media/wsdl"] == f"{sim.base}/onvif/media_service"
            assert "http://www.onvif.org/ver20/ptz/wsdl" in services
            caps = await client.capabilities()
            assert caps["Media"]["XAddr"].startswith("http://127.0.0.1:")
            assert "onvif://www.onvif.org/name/hall-a" in await client.scopes()
            profiles = await client.profiles()
            assert [(p.token, p.width, p.height, p.ptz) for p in profiles] == [
                ("main", 1280, 720, True),
                ("sub", 640, 360, True),
            ]
            assert await client.stream_uri("sub") == sim.mjpeg_uri("sub")
            assert await client.snapshot_uri("main") == sim.snapshot_uri("main")
            jpeg = await client.snapshot("sub")
            assert abs(client.clock_skew_s or 0.0) < 2
        finally:
            await client.close()
        frame = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert frame is not None
        assert frame.shape == (360, 640, 3)
        x, y = probe_point(640, 360)
        assert camera_index_for_colour(frame[y, x]) == 3
        assert decode_timestamp(frame) is not None

    run(scenario())
    assert sim.requests["snapshot"] >= 1


def test_ptz_moves_the_simulated_head(sim: OnvifCameraSim) -> None:
    async def scenario() -> None:
        client = await _connected(sim)
        try:
            await client.goto_preset("main", "1")
            assert sim.ptz_position() == (0.0, 0.0, 0.0)
            await client.ptz_move("main", pan=1.0, tilt=-0.5, zoom=0.5, timeout_s=5)
            status = await client.ptz_status("main")
            assert status.moving
            for _ in range(250):  # it moves at 0.5/s: a few polls; the bound only stops a broken sim
                if (await client.ptz_status("main")).pan >= 0.05:
                    break
                await asyncio.sleep(0.02)
            else:
                pytest.fail("the PTZ head did not move")
            await client.ptz_stop("main")
            stopped = await client.ptz_status("main")
            assert not stopped.moving
            assert stopped.pan > 0
            assert stopped.tilt < 0
            assert stopped.zoom > 0
            assert sim.ptz_position() == pytest.approx((stopped.pan, stopped.tilt, stopped.zoom), abs=1e-3)
            presets = await client.presets("main")
            assert [p.token for p in presets] == ["1", "2"]
            await client.goto_preset("main", "2")
            assert sim.ptz_position() == (0.5, -0.25, 0.5)
            with pytest.raises(OnvifError) as info:
                await client.goto_preset("main", "nope")
            assert info.value.kind == "protocol"
        finally:
            await client.close()

    run(scenario())


def test_clock_skew_is_measured_and_compensated(skewed: OnvifCameraSim) -> None:
    from onvif import ONVIFCamera

    async def scenario() -> None:
        client = await _connected(skewed)
        try:
            assert client.clock_skew_s == pytest.approx(3600, abs=2)
            assert (await client.device_info()).hardware_id == "skewed"
            assert len(await client.profiles()) == 2
        finally:
            await client.close()
        # the same camera without compensation: its clock check refuses us, so the skew is real
        raw = ONVIFCamera("127.0.0.1", skewed.port, "admin", "s3cret", adjust_time=False, no_cache=True)
        try:
            await raw.update_xaddrs()
            dev = await raw.create_devicemgmt_service()
            with pytest.raises(Exception) as info:  # noqa: PT011 - the library's own error, translated below
                await dev.GetDeviceInformation()
            err = translate(info.value, "GetDeviceInformation")
            assert err.kind == "unauthorized"
            assert "s behind the device clock" in err.reason
        finally:
            await raw.close()

    run(scenario())


def test_wrong_password_is_unauthorized(sim: OnvifCameraSim) -> None:
    with pytest.raises(OnvifError) as info:
        run(_connected(sim, password="wrong"))
    assert info.value.kind == "unauthorized"
    assert "wrong" not in info.value.reason


def test_camera_gone_is_unreachable() -> None:
    with pytest.raises(OnvifError) as info:
        run(OnvifClient("127.0.0.1", free_port(), "admin", "x").connect())
    assert info.value.kind == "unreachable"
    assert "cannot connect" in info.value.reason


def test_silent_camera_is_unreachable_after_the_timeout() -> None:
    release = threading.Event()

    async def never(_request: web.Request) -> web.Response:
        await asyncio.get_running_loop().run_in_executor(None, release.wait, 5)
        return web.Response(text="")

    with HttpStub(never) as stub:
        try:
            with pytest.raises(OnvifError) as info:
                run(OnvifClient("127.0.0.1", stub.port, "admin", "x", timeout_s=0.5).connect())
        finally:
            release.set()
    assert info.value.kind == "unreachable"
    assert "no answer within 0.5 s" in info.value.reason


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("<s:Envelope xmlns:s='http://www.w3.org/2003/05/soap-envelope'><s:Body><broken", 200),
        ("this is not xml at all", 200),
        ("<html><body>Internal error</body></html>", 500),
        ("", 404),
    ],
)
def test_broken_replies_are_protocol_errors(body: str, status: int) -> None:
    async def bad(_request: web.Request) -> web.Response:
        return web.Response(text=body, status=status, content_type="application/soap+xml")

    with HttpStub(bad) as stub, pytest.raises(OnvifError) as info:
        run(OnvifClient("127.0.0.1", stub.port, "admin", "x", timeout_s=5).connect())
    assert info.value.kind == "protocol", info.value


def test_reply_missing_fields_is_a_protocol_error(sim: OnvifCameraSim) -> None:
    """A well-formed SOAP answer without the fields a GetDeviceInformation must carry."""
    real = f"http://127.0.0.1:{sim.port}"

    async def forward(request: web.Request) -> web.Response:
        import aiohttp

        body = await request.read()
        if b"GetDeviceInformation" in body:
            envelope = (
                '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
                'xmlns:tds="http://www.onvif.org/ver10/device/wsdl"><s:Body>'
                "<tds:GetDeviceInformationResponse/></s:Body></s:Envelope>"
            )
            return web.Response(text=envelope, content_type="application/soap+xml")
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                real + request.path, data=body, headers={"Content-Type": "application/soap+xml"}
            ) as r,
        ):
            return web.Response(body=await r.read(), status=r.status, content_type="application/soap+xml")

    with HttpStub(forward) as stub, pytest.raises(OnvifError) as info:
        run(OnvifClient("127.0.0.1", stub.port, "admin", "s3cret").connect())
    assert info.value.kind == "protocol"
    assert "Manufacturer" in info.value.reason


def test_camera_without_ptz_is_unsupported() -> None:
    with OnvifCameraSim(OnvifCameraOptions(name="fixed", ptz=False, password="s3cret")) as fixed:

        async def scenario() -> None:
            client = await _connected(fixed)
            try:
                assert not any(p.ptz for p in await client.profiles())
                with pytest.raises(OnvifError) as info:
                    await client.ptz_move("main", 0.5, 0, 0)
                assert info.value.kind == "unsupported"
            finally:
                await client.close()

        run(scenario())


def test_unicast_discovery_finds_the_simulator(sim: OnvifCameraSim) -> None:
    silent = free_port()  # nobody answers there: the probe still returns, after its timeout
    matches = run(probe([("127.0.0.1", sim.discovery_port), ("127.0.0.1", silent)], timeout_s=1.0))
    assert len(matches) == 1
    m = matches[0]
    assert m.xaddrs == (sim.device_url,)
    assert m.endpoint == sim.uuid
    assert m.scope("name") == "hall-a"
    assert m.source == ("127.0.0.1", sim.discovery_port)
    assert any(t.endswith("NetworkVideoTransmitter") for t in m.types)


def test_discovery_returns_as_soon_as_everyone_answered(sim: OnvifCameraSim) -> None:
    async def timed() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        assert len(await probe([("127.0.0.1", sim.discovery_port)], timeout_s=30)) == 1
        return loop.time() - start

    assert run(timed()) < 10  # answered, not timed out


def test_discovery_finds_ipycam() -> None:
    """ipycam's own ProbeMatch (an independent implementation), sent back by a unicast responder on loopback."""
    from ipycam.config import CameraConfig
    from ipycam.onvif import ONVIFService

    service = ONVIFService(CameraConfig(name="ipycam-1", local_ip="127.0.0.1", onvif_port=8081))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as responder:
        responder.bind(("127.0.0.1", 0))
        port = responder.getsockname()[1]

        def answer() -> None:
            data, addr = responder.recvfrom(65536)
            relates_to = ET.fromstring(data).findtext(".//{*}MessageID", "")
            responder.sendto(service.create_probe_match(relates_to).encode(), addr)

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        matches = run(probe([("127.0.0.1", port)], timeout_s=10))
        thread.join(5)
    [m] = matches
    assert m.xaddrs == ("http://127.0.0.1:8081/onvif/device_service",)
    assert m.scope("name") == "ipycam-1"
    assert m.endpoint == service.device_uuid


def test_probe_replies_are_parsed_defensively() -> None:
    with pytest.raises(OnvifError) as info:
        parse_probe_matches(b"<not xml", "urn:uuid:1", ("127.0.0.1", 1))
    assert info.value.kind == "protocol"
    other = (
        b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        b'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"><s:Header>'
        b"<a:RelatesTo>urn:uuid:someone-else</a:RelatesTo></s:Header><s:Body/></s:Envelope>"
    )
    assert parse_probe_matches(other, "urn:uuid:1", ("127.0.0.1", 1)) == []


def test_translate_classifies_library_errors() -> None:
    from lxml import etree  # type: ignore[import-untyped]
    from zeep.exceptions import Fault, TransportError, XMLSyntaxError

    na = etree.QName("http://www.onvif.org/ver10/error", "ActionNotSupported")
    assert translate(Fault("nope", subcodes=[na]), "X").kind == "unsupported"
    assert translate(Fault("Sender not authorized"), "X").kind == "unauthorized"
    assert translate(Fault("boom"), "X").kind == "protocol"
    assert translate(TransportError("x", status_code=401), "X").kind == "unauthorized"
    assert translate(XMLSyntaxError("bad"), "X").kind == "protocol"
    assert translate(ConnectionResetError(), "X").kind == "unreachable"
    assert translate(AttributeError("'NoneType' object has no attribute 'Uri'"), "X").kind == "protocol"
