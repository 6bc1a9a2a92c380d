"""``hallmesh conference``: schedule video conferences and follow their roll call through the coordinator's API."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

EPILOG = """\
examples:
  export HALLMESH_API_TOKEN=...            # the coordinator's API token
  hallmesh conference schedule --title "全区政务服务视频会议" --address meeting-7@mcu.region \\
      --start +60 --duration 3600 --main region.main/vt-main \\
      --branch yinchuan.br/vt-1 --branch wuzhong.br/vt-1
  hallmesh conference list
  hallmesh conference show <id>            # the roll call: connected, muted, packet loss
  hallmesh conference end <id>
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    conf = sub.add_parser(
        "conference",
        help="schedule video conferences, show their roll call, end them (coordinator API)",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    conf.add_argument("--url", default="http://127.0.0.1:8400", help="coordinator URL (default %(default)s)")
    conf.add_argument("--token", default=None, help="API token (default: $HALLMESH_API_TOKEN)")
    conf.add_argument("--json", action="store_true", help="print the API's JSON answer")
    actions = conf.add_subparsers(dest="conference_command", required=True, metavar="ACTION")

    schedule = actions.add_parser(
        "schedule", help="schedule a conference of the main venue and branch venues"
    )
    schedule.add_argument("--title", required=True)
    schedule.add_argument("--address", required=True, help="conference address every terminal dials")
    schedule.add_argument("--start", default="+0", help="Unix time, or +SECONDS from now (default +0: now)")
    schedule.add_argument("--duration", type=float, default=3600, help="seconds (default 3600)")
    schedule.add_argument("--main", required=True, metavar="AGENT/DEVICE", help="the main venue's terminal")
    schedule.add_argument(
        "--branch", action="append", required=True, metavar="AGENT/DEVICE", help="a branch venue's terminal"
    )
    schedule.set_defaults(func=_schedule)

    listing = actions.add_parser("list", help="conferences, newest start first")
    listing.add_argument("--status", choices=["scheduled", "running", "ended", "cancelled"])
    listing.set_defaults(func=_list)

    show = actions.add_parser("show", help="a conference and its roll call")
    show.add_argument("id")
    show.set_defaults(func=_show)

    end = actions.add_parser("end", help="end a running conference (hang up all) or cancel a scheduled one")
    end.add_argument("id")
    end.set_defaults(func=_end)


def _terminal(value: str) -> dict[str, str]:
    agent, sep, device = value.partition("/")
    if not sep or not agent or not device:
        raise SystemExit(f"hallmesh conference: {value!r} is not AGENT/DEVICE")
    return {"agent_id": agent, "device_id": device}


def _call(args: argparse.Namespace, method: str, path: str, body: Any = None) -> Any:
    import logging

    import httpx

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request is noise here
    token = args.token or os.environ.get("HALLMESH_API_TOKEN")
    if not token:
        print("hallmesh conference: no API token (--token or HALLMESH_API_TOKEN)", file=sys.stderr)
        raise SystemExit(2)
    try:
        resp = httpx.request(
            method, f"{args.url}{path}", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
    except httpx.HTTPError as err:
        print(f"hallmesh conference: cannot reach {args.url}: {err}", file=sys.stderr)
        raise SystemExit(1) from err
    if resp.status_code >= 400:
        print(f"hallmesh conference: {resp.status_code}: {resp.text}", file=sys.stderr)
        raise SystemExit(1)
    return resp.json()


def _print_detail(args: argparse.Namespace, conf: dict[str, Any]) -> int:
    if args.json:
        print(json.dumps(conf, ensure_ascii=False, indent=2))
        return 0
    print(f"{conf['id']}  {conf['status']}  {conf['title']}  {conf['address']}")
    print(f"connected {conf['connected']} of {len(conf['participants'])}")
    print(
        f"{'role':<7}{'terminal':<36}{'state':<12}{'muted':<7}{'loss %':>7}{'kbit/s':>8}{'drops':>6}  agent"
    )
    for p in conf["participants"]:
        loss = "" if p["packet_loss_percent"] is None else f"{p['packet_loss_percent']:g}"
        rate = "" if p["bitrate_kbps"] is None else f"{p['bitrate_kbps']:g}"
        online = "online" if p["agent_online"] else "OFFLINE"
        print(
            f"{p['role']:<7}{p['agent_id'] + '/' + p['device_id']:<36}{p['state']:<12}"
            f"{'yes' if p['muted'] else '':<7}{loss:>7}{rate:>8}{p['drops']:>6}  {online}"
        )
    return 0


def _schedule(args: argparse.Namespace) -> int:
    start = time.time() + float(args.start[1:]) if args.start.startswith("+") else float(args.start)
    body = {
        "title": args.title,
        "address": args.address,
        "start_at": start,
        "end_at": start + args.duration,
        "main": _terminal(args.main),
        "branches": [_terminal(b) for b in args.branch],
    }
    return _print_detail(args, _call(args, "POST", "/api/v1/conferences", body))


def _list(args: argparse.Namespace) -> int:
    query = f"?status={args.status}" if args.status else ""
    data = _call(args, "GET", f"/api/v1/conferences{query}")
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    for c in data["data"]:
        start = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(c["start_at"]))
        print(f"{c['id']}  {c['status']:<10}{start}  {c['title']}")
    return 0


def _show(args: argparse.Namespace) -> int:
    return _print_detail(args, _call(args, "GET", f"/api/v1/conferences/{args.id}"))


def _end(args: argparse.Namespace) -> int:
    return _print_detail(args, _call(args, "POST", f"/api/v1/conferences/{args.id}/end"))
