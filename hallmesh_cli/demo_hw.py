"""The demo's simulated hardware, run in the demo process: one fully equipped counter window and cameras.

The first demo agent is a counter PC with a document camera (a skewed page on a desk, MJPEG on loopback), a
signature pad (on a pty, signing by itself every 20 s so device-initiated captures can be seen), a printer
(ippeveprinter), and a scanner (the SANE test backend, private config). Every agent gets simulated ONVIF
cameras (4 by default) for the monitoring wall. Everything binds 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

CAMERA_PASSWORD = "demo-camera"  # noqa: S105 - the demo's simulated cameras, on loopback only


@dataclass
class CounterHardware:
    doccam_url: str
    sigpad_path: str
    printer_uri: str
    sane_config_dir: Path
    spool_dir: Path

    def devices_toml(self) -> str:
        return "\n".join(
            [
                "",
                "[[devices]]",
                'id = "doccam-1"',
                'kind = "doccam"',
                f'source = "{self.doccam_url}"',
                "preview_port = 0  # the live preview for the staff app, on the counter PC's loopback",
                "",
                "[[devices]]",
                'id = "sigpad-1"',
                'kind = "sigpad"',
                f'port = "{self.sigpad_path}"',
                "",
                "[[devices]]",
                'id = "printer-1"',
                'kind = "printer"',
                f'uri = "{self.printer_uri}"',
                "",
                "[[devices]]",
                'id = "scanner-1"',
                'kind = "scanner"',
                'device = "test:0"',
                f'sane_config_dir = "{self.sane_config_dir}"',
                "",
            ]
        )


@dataclass
class Camera:
    device_id: str
    port: int


@dataclass
class DemoHardware:
    counter: CounterHardware | None = None
    cameras: dict[str, list[Camera]] = field(default_factory=dict)
    _stops: list[object] = field(default_factory=list)

    def cameras_toml(self, agent_id: str) -> str:
        lines: list[str] = []
        for cam in self.cameras.get(agent_id, []):
            lines += [
                "",
                "[[devices]]",
                f'id = "{cam.device_id}"',
                'kind = "onvif"',
                'host = "127.0.0.1"',
                f"port = {cam.port}",
                'username = "admin"',
                f'password = "{CAMERA_PASSWORD}"',
                "poll_interval_s = 10",
            ]
        return "\n".join(lines) + "\n"

    def stop(self) -> None:
        for item in reversed(self._stops):
            with contextlib.suppress(Exception):
                item.stop()  # type: ignore[attr-defined]


def start_hardware(root: Path, agent_ids: list[str], cameras_per_agent: int) -> DemoHardware:
    """Start the simulators; on failure of one kind, log it and go on without it."""
    hw = DemoHardware()
    if agent_ids:
        try:
            hw.counter = _counter(root / "hardware", hw)
        except Exception as err:
            log.warning("counter-window simulators did not start (%s); the demo goes on without them", err)
            print(f"warning: counter-window simulators did not start: {err}", flush=True)
    if cameras_per_agent > 0:
        from simulators.onvif_camera import OnvifCameraOptions, OnvifCameraSim

        index = 0
        for agent_id in agent_ids:
            cams: list[Camera] = []
            for n in range(1, cameras_per_agent + 1):
                name = f"{agent_id.split('-')[1] if '-' in agent_id else agent_id}-cam{n}"
                sim = OnvifCameraSim(
                    OnvifCameraOptions(name=name, index=index, password=CAMERA_PASSWORD, fps=5.0, ptz=n == 1)
                ).start()
                hw._stops.append(sim)
                cams.append(Camera(f"cam-{n}", sim.port))
                index += 1
            hw.cameras[agent_id] = cams
    return hw


def _counter(root: Path, hw: DemoHardware) -> CounterHardware:
    from simulators.doccam import DoccamSim, DoccamSimOptions
    from simulators.ippeve import IppEvePrinter
    from simulators.sane_test import prepare
    from simulators.sigpad import SigpadSim, SigpadSimOptions

    root.mkdir(parents=True, exist_ok=True)
    doccam = DoccamSim(DoccamSimOptions(width=1600, height=1200, fps=5.0)).start()
    hw._stops.append(doccam)
    pad = SigpadSim(SigpadSimOptions()).start()
    hw._stops.append(pad)
    signer = _AutoSigner(pad, every_s=20.0)
    hw._stops.append(signer)
    printer = IppEvePrinter(root / "printer", name="hallmesh-demo").start()
    hw._stops.append(printer)
    sane = prepare(root / "sane")
    return CounterHardware(doccam.url, pad.path, printer.uri, sane.config_dir, printer.spool_dir)


class _AutoSigner:
    """Signs on the pad now and then, as a citizen at the counter would after pressing nothing on screen."""

    def __init__(self, pad: object, every_s: float) -> None:
        self._pad = pad
        self._stop = threading.Event()
        self._every = every_s
        self._thread = threading.Thread(target=self._run, name="demo-signer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        seed = 1
        while not self._stop.wait(self._every):
            with contextlib.suppress(Exception):
                self._pad.sign_random(seed)  # type: ignore[attr-defined]
                seed += 1

    def stop(self) -> None:
        self._stop.set()
