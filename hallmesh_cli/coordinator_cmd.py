"""``hallmesh coordinator serve``: registry, ingest, API and /metrics.

Every option can also be set as an environment variable ``HALLMESH_<NAME>`` (see docs/coordinator.md);
options given on the command line win.
"""

from __future__ import annotations

import argparse

_OPTIONS: list[tuple[str, type, str]] = [
    ("host", str, "listen address (default 127.0.0.1)"),
    ("port", int, "HTTP port (default 8400)"),
    ("data_dir", str, "data directory: SQLite database, blobs (default .hallmesh/coordinator)"),
    ("database_url", str, "sqlite:///… or postgresql+psycopg://… (default: SQLite in the data directory)"),
    ("mqtt_host", str, "broker host (default 127.0.0.1)"),
    ("mqtt_port", int, "broker TLS port (default 8883)"),
    ("mqtt_ca", str, "CA certificate that signed the broker's certificate"),
    ("mqtt_cert", str, "the coordinator's client certificate (CN coordinator)"),
    ("mqtt_key", str, "the coordinator's private key"),
]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    coord = sub.add_parser("coordinator", help="the central coordinator")
    actions = coord.add_subparsers(dest="coordinator_command", required=True, metavar="ACTION")
    serve = actions.add_parser(
        "serve",
        help="run the coordinator until SIGINT/SIGTERM",
        description="Run the coordinator. Each option may also come from HALLMESH_<OPTION> in the environment.",
    )
    for name, kind, text in _OPTIONS:
        serve.add_argument(f"--{name.replace('_', '-')}", dest=name, type=kind, default=None, help=text)
    serve.add_argument(
        "--demo", action="store_true", default=None, help="demo mode: generate an API token if none is set"
    )
    serve.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from coordinator.server import serve
    from coordinator.settings import Settings

    overrides = {name: getattr(args, name) for name, _k, _t in _OPTIONS if getattr(args, name) is not None}
    if args.demo:
        overrides["demo"] = True
    try:
        settings = Settings(**overrides)
    except ValidationError as err:
        for e in err.errors():
            where = ".".join(str(p) for p in e["loc"]) or "settings"
            print(f"error: {where}: {e['msg']}")
        return 2
    serve(settings)
    return 0
