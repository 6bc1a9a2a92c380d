"""``hallmesh broker up``: Mosquitto with mTLS, identity as user name, per-agent ACL and a CRL, on loopback."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    broker = sub.add_parser("broker", help="the MQTT broker (Mosquitto)")
    actions = broker.add_subparsers(dest="broker_command", required=True, metavar="ACTION")
    up = actions.add_parser("up", help="write the Mosquitto config and run it until SIGINT/SIGTERM")
    up.add_argument("--dir", required=True, help="broker directory (config, ACL, persistence, log)")
    up.add_argument("--pki", required=True, help="PKI directory (a CA is created there if missing)")
    up.add_argument("--port", type=int, default=8883, help="TLS listener port on 127.0.0.1 (default 8883)")
    up.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    up.set_defaults(func=_up)


def _up(args: argparse.Namespace) -> int:
    from hallmesh_cli.procs import stop_on_signals
    from provisioning.broker import Broker, BrokerOptions
    from provisioning.errors import ProvisioningError
    from provisioning.pki import Pki

    stop = stop_on_signals()
    try:
        pki = Pki.create(Path(args.pki))
        broker = Broker(Path(args.dir), pki, BrokerOptions(port=args.port, host=args.host))
        broker.start()
    except ProvisioningError as err:
        print(f"error: {err}")
        return 2
    print(f"mosquitto: mqtts://{args.host}:{args.port}  config {broker.conf}  log {broker.log_path}")
    try:
        while not stop.wait(1.0):
            if broker.proc is None or broker.proc.poll() is not None:
                print(f"error: mosquitto exited; see {broker.log_path}")
                return 1
    finally:
        broker.stop()
    return 0
