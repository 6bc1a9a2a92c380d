"""``hallmesh provision``: field provisioning (现场部署) — tokens, enroll, check, revoke, decommission, audit.

On the counter PC: ``enroll`` and ``check``. For the admin or technician lead: ``token create``, ``agents``,
``revoke``, ``decommission``, ``audit`` (they talk to the coordinator's API with its bearer token).
See docs/provisioning.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import os
import socket
import sys
from pathlib import Path
from typing import Any

DEFAULT_URL = "http://127.0.0.1:8400"

DESCRIPTION = """\
现场部署：注册柜台电脑、检查设备、吊销或停用代理。
Field provisioning: enroll a counter PC, check it, revoke or decommission an agent.

在柜台电脑上 / on the counter PC:
  hallmesh provision enroll --coordinator URL --token CODE --service-point WINDOW --dir /etc/hallmesh
  hallmesh provision discover --config /etc/hallmesh/agent.toml [--ipp-host HOST:PORT] [--onvif-host HOST] [--yes]
  hallmesh provision check --config /etc/hallmesh/agent.toml [--test-capture] [--test-page]

管理员 / admin (API token from --api-token or HALLMESH_API_TOKEN):
  hallmesh provision token create --agent-id ID --service-point WINDOW [--qr-png FILE]
  hallmesh provision agents | revoke ID | decommission ID | audit
"""


def _admin_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--coordinator",
        default=os.environ.get("HALLMESH_COORDINATOR_URL", DEFAULT_URL),
        help=f"协调器地址 coordinator URL (default $HALLMESH_COORDINATOR_URL or {DEFAULT_URL})",
    )
    p.add_argument(
        "--api-token",
        default=os.environ.get("HALLMESH_API_TOKEN"),
        help="API 令牌 the coordinator's API token (default $HALLMESH_API_TOKEN)",
    )


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    prov = sub.add_parser(
        "provision",
        help="现场部署 field provisioning: tokens, enroll, check, revoke, decommission",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = prov.add_subparsers(dest="provision_command", required=True, metavar="ACTION")

    token = actions.add_parser("token", help="注册令牌 enrollment tokens: create, list, cancel")
    token_actions = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    create = token_actions.add_parser(
        "create", help="创建一次性注册令牌（短码 + 二维码） create a one-time token (short code + QR code)"
    )
    _admin_args(create)
    create.add_argument("--agent-id", required=True, help="代理编号 the agent id (certificate CN)")
    create.add_argument("--service-point", required=True, help="服务窗口 the service point (window) id")
    create.add_argument("--ttl-hours", type=float, default=24.0, help="有效期（小时） valid for (default 24)")
    create.add_argument("--note", default="", help="备注 a note")
    create.add_argument("--qr-png", type=Path, help="二维码图片 also write the QR code as a PNG file")
    create.add_argument("--no-qr", action="store_true", help="不在终端显示二维码 no QR code in the terminal")
    create.set_defaults(func=_token_create)
    listing = token_actions.add_parser("list", help="列出令牌 list tokens")
    _admin_args(listing)
    listing.add_argument("--agent-id")
    listing.set_defaults(func=_token_list)
    cancel = token_actions.add_parser("cancel", help="作废令牌 cancel a token")
    _admin_args(cancel)
    cancel.add_argument("token_id")
    cancel.set_defaults(func=_token_cancel)

    enroll = actions.add_parser(
        "enroll",
        help="注册本机为代理 enroll this PC as an agent (key stays here; CSR; config; MQTT test)",
        description="注册本机：本地生成密钥（0600，不离开本机），提交证书请求，写入配置并测试 MQTT 连接。\n"
        "Enroll this PC: make the key locally (0600, never leaves), send a CSR, write agent.toml and test "
        "the MQTT connection. Safe to run again if the network drops halfway.",
    )
    enroll.add_argument("--coordinator", required=True, help="协调器地址 coordinator URL")
    enroll.add_argument("--token", required=True, help="注册码 the enrollment code (e.g. K7QMP-2XW9D-HT4RB)")
    enroll.add_argument("--service-point", required=True, help="本机所在窗口 the service point of this PC")
    enroll.add_argument(
        "--dir", type=Path, default=Path("/etc/hallmesh"), help="配置目录 (default /etc/hallmesh)"
    )
    enroll.add_argument("--systemd-unit", type=Path, help="写入 systemd 单元 write a systemd unit file here")
    enroll.set_defaults(func=_enroll)

    discover = actions.add_parser(
        "discover",
        help="查找本机设备并写入配置 find devices (ONVIF, serial pads, video, SANE, IPP) and add them to agent.toml",
        description="查找本机可用的设备，匹配设备型号配置，确认后写入 agent.toml 的 [[devices]]。\n"
        "Find the devices this PC reaches, match each to a device profile, and add the accepted ones to "
        "agent.toml (asked one by one, or all with --yes). Tests and demos: only named hosts on loopback "
        "(--no-scan); --multicast and --mdns send multicast on the site LAN.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from hallmesh_cli.provision_discover import add_arguments

    add_arguments(discover)
    discover.set_defaults(func=_discover)

    check = actions.add_parser(
        "check",
        help="检查本机：代理、证书、时钟、设备 check broker, coordinator, clock, certificate, devices",
    )
    check.add_argument("--config", type=Path, default=Path("/etc/hallmesh/agent.toml"), help="agent.toml")
    check.add_argument("--json", action="store_true", help="JSON output for scripts")
    check.add_argument("--devices-only", action="store_true",
                       help="只检查设备 only the devices (skip certificate, coordinator, clock, broker)")  # fmt: skip
    check.add_argument("--device", action="append", default=[], metavar="ID",
                       help="只检查此设备 check only this device; repeat")  # fmt: skip
    check.add_argument("--test-capture", action="store_true",
                       help="试采集 scanner: one flatbed page; document camera: one capture; signature pad: INFO")  # fmt: skip
    check.add_argument("--test-page", action="store_true", help="打印测试页 printers print a test page")
    check.add_argument("--device-timeout", type=float, default=10.0,
                       help="每个设备的时限（秒） time limit per device step (default 10)")  # fmt: skip
    check.add_argument("--print-timeout", type=float, default=60.0,
                       help="等待测试页完成（秒） how long a test page may take to complete (default 60)")  # fmt: skip
    check.set_defaults(func=_check)

    agents = actions.add_parser("agents", help="已注册代理及证书 provisioned agents and certificates")
    _admin_args(agents)
    agents.set_defaults(func=_agents)
    for name, zh in (("revoke", "吊销"), ("decommission", "停用")):
        p = actions.add_parser(
            name,
            help=f"{zh} {name}: CRL, broker reload, end the live session"
            + ("; devices out of service, history kept" if name == "decommission" else ""),
        )
        _admin_args(p)
        p.add_argument("agent_id")
        p.set_defaults(func=_revoke, decommission=name == "decommission")
    audit = actions.add_parser("audit", help="审计记录 the provisioning audit trail")
    _admin_args(audit)
    audit.add_argument("--agent-id")
    audit.add_argument("--limit", type=int, default=50)
    audit.set_defaults(func=_audit)


# -- admin side ---------------------------------------------------------------------------------------------


def _api(args: argparse.Namespace, method: str, path: str, **kw: Any) -> Any:
    import httpx

    if not args.api_token:
        raise SystemExit("error: no API token: pass --api-token or set HALLMESH_API_TOKEN")
    headers = {
        "Authorization": f"Bearer {args.api_token}",
        "X-Hallmesh-Actor": f"{getpass.getuser()}@{socket.gethostname()}"[:100],
    }
    try:
        resp = httpx.request(method, args.coordinator.rstrip("/") + path, headers=headers, timeout=60, **kw)
    except httpx.HTTPError as err:
        raise SystemExit(f"error: cannot reach the coordinator at {args.coordinator}: {err}") from err
    if resp.status_code >= 400:
        try:
            detail = resp.json().get("detail", resp.text)
        except ValueError:
            detail = resp.text
        raise SystemExit(f"error: {resp.status_code}: {detail}")
    return resp.json()


def _when(ts: float | None) -> str:
    return "-" if ts is None else dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def _token_create(args: argparse.Namespace) -> int:
    import segno

    from provisioning.tokens import enroll_uri

    body = {
        "agent_id": args.agent_id,
        "service_point": args.service_point,
        "ttl_s": args.ttl_hours * 3600,
        "note": args.note,
    }
    t = _api(args, "POST", "/api/v1/provision/tokens", json=body)
    uri = enroll_uri(args.coordinator.rstrip("/"), t["code"], t["service_point"])
    qr = segno.make(uri, error="m")
    print(f"注册码 enrollment code: {t['code']}")
    print(f"代理 agent {t['agent_id']} · 窗口 service point {t['service_point']} · 有效至 valid until "
          f"{_when(t['expires_at'])} · id {t['id']}")  # fmt: skip
    print(f"hallmesh provision enroll --coordinator {args.coordinator.rstrip('/')} --token {t['code']} "
          f"--service-point {t['service_point']}")  # fmt: skip
    if args.qr_png:
        qr.save(str(args.qr_png), scale=6, border=4)
        print(f"QR code: {args.qr_png}")
    if not args.no_qr:
        qr.terminal(out=sys.stdout, compact=True)
    return 0


def _token_list(args: argparse.Namespace) -> int:
    params = {"agent_id": args.agent_id} if args.agent_id else {}
    data = _api(args, "GET", "/api/v1/provision/tokens", params=params)["data"]
    print(f"{'ID':36}  {'AGENT':24} {'SERVICE POINT':20} {'EXPIRES':19}  STATE")
    for t in data:
        state = (
            "cancelled" if t["cancelled_at"] else "used" if t["confirmed_at"] else
            "redeemed" if t["redeemed_at"] else "open"
        )  # fmt: skip
        print(
            f"{t['id']:36}  {t['agent_id']:24} {t['service_point']:20} {_when(t['expires_at']):19}  {state}"
        )
    return 0


def _token_cancel(args: argparse.Namespace) -> int:
    t = _api(args, "POST", f"/api/v1/provision/tokens/{args.token_id}/cancel")
    print(f"token {t['id']} cancelled at {_when(t['cancelled_at'])}")
    return 0


def _agents(args: argparse.Namespace) -> int:
    data = _api(args, "GET", "/api/v1/provision/agents")["data"]
    print(f"{'AGENT':28} {'SERVICE POINT':20} {'STATUS':15} {'CERT EXPIRES':19}  HOST")
    for a in data:
        print(f"{a['agent_id']:28} {a['service_point']:20} {a['status']:15} "
              f"{_when(a['certificate_expires_at']):19}  {a['hostname']}")  # fmt: skip
    return 0


def _revoke(args: argparse.Namespace) -> int:
    action = "decommission" if args.decommission else "revoke"
    r = _api(args, "POST", f"/api/v1/provision/agents/{args.agent_id}/{action}")
    print(f"{r['agent_id']}: {r['status']} in {r['seconds']:.2f} s")
    print(f"  certificates revoked: {', '.join(r['revoked_serials']) or '-'}")
    print(f"  broker reloaded (CRL): {'yes' if r['broker_reloaded'] else 'NO — reload it yourself (SIGHUP)'}")
    print(f"  live session ended:    {'yes' if r['session_ended'] else 'NO'}")
    if args.decommission:
        print(f"  devices out of service: {r['devices_out_of_service']}")
    return 0 if r["broker_reloaded"] and r["session_ended"] else 1


def _audit(args: argparse.Namespace) -> int:
    params: dict[str, Any] = {"limit": args.limit}
    if args.agent_id:
        params["agent_id"] = args.agent_id
    for a in reversed(_api(args, "GET", "/api/v1/provision/audit", params=params)["data"]):
        print(f"{_when(a['ts'])}  {a['action']:14} {a['outcome']:8} {a['agent_id']:24} {a['remote_addr']:15} "
              f"{a['actor']}: {a['detail']}")  # fmt: skip
    return 0


# -- counter PC side ----------------------------------------------------------------------------------------


def _enroll(args: argparse.Namespace) -> int:
    from provisioning.enroll import enroll
    from provisioning.errors import EnrollError

    def progress(text: str) -> None:
        print(f"  ✓ {text}", flush=True)

    print(f"注册中 enrolling at {args.coordinator} for service point {args.service_point} …", flush=True)
    try:
        result = enroll(
            args.coordinator,
            args.token,
            args.service_point,
            args.dir,
            systemd_unit=args.systemd_unit,
            progress=progress,
        )
    except EnrollError as err:
        print(f"注册失败 enrollment failed: {err}", file=sys.stderr)
        return 1
    print(f"完成 enrolled agent {result.agent_id} in {result.seconds:.2f} s; certificate until "
          f"{_when(result.not_after)}")  # fmt: skip
    print(f"next: hallmesh provision check --config {result.config_path}")
    if result.systemd_unit:
        print(f"      systemctl daemon-reload && systemctl enable --now {result.systemd_unit.name}")
    else:
        print(f"      hallmesh agent run --config {result.config_path}")
    return 0


def _discover(args: argparse.Namespace) -> int:
    from hallmesh_cli.provision_discover import main

    return main(args)


def _check(args: argparse.Namespace) -> int:
    from hallmesh_cli.provision_check import CheckOptions, main

    options = CheckOptions(
        devices_only=args.devices_only,
        only=tuple(args.device),
        test_capture=args.test_capture,
        test_page=args.test_page,
        device_timeout_s=args.device_timeout,
        print_timeout_s=args.print_timeout,
    )
    return main(args.config, args.json, options)
