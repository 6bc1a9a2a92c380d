"""``hallmesh sim``: simulated hardware and fleets."""

from __future__ import annotations

import argparse
import signal
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
