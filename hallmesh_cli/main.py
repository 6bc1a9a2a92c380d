"""``hallmesh`` — one command, with subcommands for every part of the mesh.

Imports of the heavy parts happen inside each subcommand, so ``hallmesh agent run`` on a counter PC never
loads the coordinator's web stack.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from hallmesh_cli import (
    audit_cmd,
    broker_cmd,
    conference_cmd,
    coordinator_cmd,
    demo_cmd,
    org_cmd,
    pki_cmd,
    provision_cmd,
    sim_cmd,
)

DESCRIPTION = """\
hallmesh — edge-device agent mesh for government service halls (政务服务大厅边缘设备网格).

  hallmesh demo                          whole system on embedded defaults with simulated hardware
  hallmesh broker up --dir DIR           Mosquitto with mTLS and per-agent ACLs on loopback
  hallmesh coordinator serve             registry, ingest, API and /metrics (settings: HALLMESH_* env)
  hallmesh agent run --config FILE       the edge agent of one counter PC
  hallmesh pki …                         local CA: issue and revoke certificates
  hallmesh org seed | import | add-staff 组织机构与人员: Ningxia units, lower levels, staff (no default passwords)
  hallmesh audit verify                  审计: check the hash-chained case ledger for edits, deletions, reorderings
  hallmesh provision …                   现场部署 field provisioning: enroll, discover, check, revoke a counter PC
  hallmesh sim fleet …                   many simulated agents in one process (load tests)
  hallmesh sim terminal | doccam | sigpad | printer | scanner-config | onvif | scene
                                         simulated hardware on 127.0.0.1 (a pty for the pad)
  hallmesh conference …                  视频会议: schedule a conference, roll call, end (API client)
"""


def _agent_run(args: argparse.Namespace) -> int:
    from edge_agent.runtime import run

    return run(Path(args.config))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hallmesh", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ERROR (default INFO)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    agent = sub.add_parser("agent", help="the edge agent of a counter PC")
    agent_sub = agent.add_subparsers(dest="agent_command", required=True, metavar="ACTION")
    run = agent_sub.add_parser("run", help="run the agent until SIGINT/SIGTERM")
    run.add_argument("--config", required=True, help="path of the agent's TOML config (see docs/agent.md)")
    run.set_defaults(func=_agent_run)

    coordinator_cmd.add_parser(sub)
    broker_cmd.add_parser(sub)
    pki_cmd.add_parser(sub)
    org_cmd.add_parser(sub)
    audit_cmd.add_parser(sub)
    provision_cmd.add_parser(sub)
    conference_cmd.add_parser(sub)
    demo_cmd.add_parser(sub)
    sim_cmd.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    # Alembic announces each of its plugins at INFO on every start: noise in an operator's log.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
