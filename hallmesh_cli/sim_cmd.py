"""``hallmesh sim``: simulated hardware and fleets of agents.

``terminal`` and ``fleet`` are built here; the device simulators (``doccam``, ``sigpad``, ``printer``,
``scanner-config``, ``onvif``, ``scene``) hand their arguments to the simulator module's own ``main`` —
``hallmesh sim onvif --help`` lists them.
"""

from __future__ import annotations

import argparse
import signal
from collections.abc import Callable
from pathlib import Path
from types import FrameType


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sim = sub.add_parser("sim", help="simulated hardware and fleets of agents")
    actions = sim.add_subparsers(dest="sim_command", required=True, metavar="ACTION")
    fleet = actions.add_parser(
        "fleet",
        help="many simulated agents in one process (certificates are issued from the PKI directory)",
    )
    fleet.add_argument("--pki", required=True, help="PKI directory; missing agent certificates are issued")
    fleet.add_argument("--agents", type=int, default=100, help="number of agents (default 100)")
    fleet.add_argument("--prefix", default="fleet", help="agent ids are PREFIX-0001, … (default fleet)")
    fleet.add_argument("--devices", type=int, default=5, help="sim devices per agent (default 5)")
    fleet.add_argument("--interval", type=float, default=10.0, help="telemetry interval in s (default 10)")
    fleet.add_argument("--port", type=int, default=8883, help="broker port on 127.0.0.1 (default 8883)")
    fleet.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    fleet.set_defaults(func=_fleet)

    terminal = actions.add_parser(
        "terminal",
        help="one simulated video-conference terminal on 127.0.0.1 (control protocol: docs/video-terminals.md)",
        description="A simulated video-conference terminal speaking the line-based control protocol on "
        '127.0.0.1:PORT until SIGINT/SIGTERM. Point an agent\'s [[devices]] kind = "terminal" at it.',
    )
    terminal.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (default: a free one)")
    terminal.add_argument("--model", default="HM-VT100", help="model reported in HELLO (default HM-VT100)")
    terminal.add_argument("--serial", default="SIM0001", help="serial reported in HELLO (default SIM0001)")
    terminal.add_argument(
        "--bitrate", type=float, default=1920.0, help="call bitrate in kbit/s (default 1920)"
    )
    terminal.add_argument(
        "--loss", type=float, default=0.2, help="packet loss in %% while connected (default 0.2)"
    )
    terminal.add_argument(
        "--jitter", type=float, default=8.0, help="jitter in ms while connected (default 8)"
    )
    terminal.add_argument(
        "--connect-delay", type=float, default=0.3, help="seconds from DIAL to connected (default 0.3)"
    )
    terminal.add_argument("--fail-dials", type=int, default=0, help="the first N dials fail (default 0)")
    terminal.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    terminal.set_defaults(func=_terminal)

    for name, module, text in PASSTHROUGH:
        sp = actions.add_parser(name, help=text, add_help=False, prefix_chars="\0")
        sp.add_argument("rest", nargs=argparse.REMAINDER)
        sp.set_defaults(func=_passthrough(module))


PASSTHROUGH = (
    ("doccam", "simulators.doccam", "a document camera: a skewed page on a desk as MJPEG on 127.0.0.1"),
    ("sigpad", "simulators.sigpad", "a signature pad on a pty (prints the tty path)"),
    ("printer", "simulators.ippeve", "an IPP Everywhere printer (ippeveprinter) with fault injection"),
    ("scanner-config", "simulators.sane_test", "a private SANE config with only the test backend"),
    ("onvif", "simulators.onvif_camera", "ONVIF cameras: SOAP, snapshots, MJPEG/RTSP, unicast WS-Discovery"),
    ("scene", "simulators.scene", "labelled test cameras as MJPEG over HTTP"),
)


def _passthrough(module: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        import importlib

        main: Callable[[list[str]], int] = importlib.import_module(module).main
        return int(main(list(args.rest)) or 0)

    return run


def _fleet(args: argparse.Namespace) -> int:
    from provisioning.pki import Pki
    from simulators.fleet import Fleet, FleetOptions

    pki = Pki.create(Path(args.pki))
    ids = [f"{args.prefix}-{i:04d}" for i in range(1, args.agents + 1)]
    for agent_id in ids:
        if not pki.files(agent_id).cert.exists():
            pki.issue_agent(agent_id)
    opts = FleetOptions(
        host="localhost",
        port=args.port,
        ca=pki.ca_cert_path,
        cert_dir=pki.dir / "issued",
        devices_per_agent=args.devices,
        telemetry_interval_s=args.interval,
    )
    fleet = Fleet(ids, opts)

    def _on_signal(_sig: int, _frame: FrameType | None) -> None:
        fleet.stop()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    fleet.connect_all()
    print(f"fleet of {len(ids)} agents × {args.devices} sim devices connecting to 127.0.0.1:{args.port}")
    try:
        fleet.run(args.duration)
    finally:
        fleet.close()
    return 0


def _terminal(args: argparse.Namespace) -> int:
    from hallmesh_cli.procs import stop_on_signals
    from protocols.terminal import CallStats
    from simulators.terminal import TerminalSim, TerminalSimOptions

    opts = TerminalSimOptions(
        port=args.port,
        model=args.model,
        serial=args.serial,
        connect_delay_s=args.connect_delay,
        quality=CallStats(args.bitrate, args.loss, args.jitter),
    )
    stop = stop_on_signals()
    try:
        sim = TerminalSim(opts).start()
    except RuntimeError as err:
        print(f"hallmesh sim terminal: {err}")
        return 1
    sim.fail_next_dials(args.fail_dials)
    print(f"video terminal {args.model} listening on 127.0.0.1:{sim.port}", flush=True)
    try:
        stop.wait(args.duration)
    finally:
        sim.stop()
    return 0
