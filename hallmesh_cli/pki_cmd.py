"""``hallmesh pki``: the local certificate authority."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    pki = sub.add_parser("pki", help="local CA: create, issue agent certificates, revoke")
    pki.add_argument("--dir", required=True, help="PKI directory (created with a new CA if empty)")
    actions = pki.add_subparsers(dest="pki_command", required=True, metavar="ACTION")
    actions.add_parser("init", help="create the CA, coordinator and broker certificates").set_defaults(
        func=_init
    )
    issue = actions.add_parser("issue-agent", help="issue a client certificate whose CN is the agent id")
    issue.add_argument("agent_id")
    issue.set_defaults(func=_issue)
    revoke = actions.add_parser("revoke", help="revoke a certificate and rewrite the CRL")
    revoke.add_argument("name")
    revoke.set_defaults(func=_revoke)
    actions.add_parser("list", help="list issued certificates").set_defaults(func=_list)


def _init(args: argparse.Namespace) -> int:
    from provisioning.pki import Pki

    pki = Pki.create(Path(args.dir))
    if not pki.files("coordinator").cert.exists():
        pki.issue_coordinator()
    if not pki.files("broker").cert.exists():
        pki.issue_server("broker")
    print(f"CA ready in {pki.dir}")
    return 0


def _issue(args: argparse.Namespace) -> int:
    from provisioning.errors import PkiError
    from provisioning.pki import Pki

    try:
        files = Pki.create(Path(args.dir)).issue_agent(args.agent_id)
    except PkiError as err:
        print(f"error: {err}")
        return 2
    print(f"certificate: {files.cert}\nprivate key: {files.key}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from provisioning.errors import PkiError
    from provisioning.pki import Pki

    try:
        serial = Pki(Path(args.dir)).revoke(args.name)
    except PkiError as err:
        print(f"error: {err}")
        return 2
    print(f"revoked {args.name} (serial {serial:x}); send SIGHUP to the broker to load the new CRL")
    return 0


def _list(args: argparse.Namespace) -> int:
    from provisioning.pki import Pki

    for cert in Pki(Path(args.dir)).issued():
        print(f"{cert.name:32} {cert.serial:040x} {cert.not_after} {'REVOKED' if cert.revoked else ''}")
    return 0
