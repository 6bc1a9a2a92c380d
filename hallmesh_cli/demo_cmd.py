"""``hallmesh demo``: the whole system on embedded defaults with simulated hardware.

Starts Mosquitto (mTLS, ACL), the coordinator on 127.0.0.1:8400 with SQLite in the demo directory, and
several edge agents with sim devices, each in its own process; prints the URLs; Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hallmesh_cli.demo_hw import DemoHardware

DEMO_AGENTS = (
    "yinchuan-xingqing-w01",
    "yinchuan-xingqing-w02",
    "shizuishan-dawukou-w01",
    "wuzhong-litong-w01",
    "guyuan-yuanzhou-w01",
    "zhongwei-shapotou-w01",
)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = sub.add_parser("demo", help="bring up broker, coordinator and simulated agents (Ctrl-C stops all)")
    demo.add_argument("--dir", default=".demo", help="demo data directory (default .demo)")
    demo.add_argument(
        "--agents", type=int, default=4, help=f"simulated agents, 1–{len(DEMO_AGENTS)} (default 4)"
    )
    demo.add_argument("--devices", type=int, default=3, help="sim devices per agent (default 3)")
    demo.add_argument(
        "--cameras", type=int, default=2, help="simulated ONVIF cameras per agent for the wall (default 2)"
    )
    demo.add_argument("--port", type=int, default=8400, help="coordinator HTTP port (default 8400)")
    demo.add_argument("--mqtt-port", type=int, default=8883, help="broker TLS port (default 8883)")
    demo.add_argument("--duration", type=float, default=None, help="stop by itself after this many seconds")
    demo.set_defaults(func=_demo)


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _traversable_by_others(path: Path) -> bool:
    """Mosquitto runs as ``nobody``: every directory above its files must be searchable by others."""
    return all(p.stat().st_mode & 0o001 for p in [path, *path.parents] if p.exists())


def agent_config(
    agent_id: str,
    root: Path,
    pki_dir: Path,
    mqtt_port: int,
    devices: int,
    terminal_port: int | None = None,
    coordinator_url: str | None = None,
    hardware: str = "",
) -> str:
    lines = [
        f'agent_id = "{agent_id}"',
        f'data_dir = "{root / "data"}"',
        "telemetry_interval_s = 5",
        "",
        "[broker]",
        f"port = {mqtt_port}",
        'host = "localhost"',
        f'ca = "{pki_dir / "ca.pem"}"',
        f'cert = "{pki_dir / "issued" / (agent_id + ".pem")}"',
        f'key = "{pki_dir / "issued" / (agent_id + ".key")}"',
        "keepalive_s = 10",
    ]
    if coordinator_url is not None:  # captures upload there; printers fetch documents from there
        lines += ["", "[coordinator]", f'url = "{coordinator_url}"']
    for i in range(1, devices + 1):
        lines += [
            "",
            "[[devices]]",
            f'id = "sim-{i}"',
            'kind = "sim"',
            f'model = "hallmesh-sim-{i}"',
            "poll_interval_s = 5",
            f"event_interval_s = {15 * i}",
        ]
    if terminal_port is not None:  # a simulated video-conference terminal (hallmesh sim terminal)
        lines += ["", "[[devices]]", 'id = "vt-1"', 'kind = "terminal"', f"port = {terminal_port}"]
    return "\n".join(lines) + "\n" + hardware


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - loopback URL we built
                if resp.status == 200:
                    return True
        except OSError:
            time.sleep(0.1)
    return False


def hw_lines(hw: DemoHardware, agent_ids: list[str], base: str) -> list[str]:
    lines: list[str] = []
    if hw.counter is not None:
        c = hw.counter
        lines += [
            f"  counter       {agent_ids[0]}: document camera {c.doccam_url}, signature pad {c.sigpad_path},",
            f"                printer {c.printer_uri} (spool {c.spool_dir}), scanner SANE test:0",
        ]
    cams = sum(len(v) for v in hw.cameras.values())
    if cams:
        lines.append(f"  wall          {base}/wall/  ({cams} simulated ONVIF cameras)")
    return lines


def _demo(args: argparse.Namespace) -> int:
    from hallmesh_cli.procs import coordinator_env, hallmesh_argv, spawn, stop_on_signals, terminate
    from provisioning.broker import Broker, BrokerOptions
    from provisioning.errors import ProvisioningError
    from provisioning.pki import Pki

    count = max(1, min(args.agents, len(DEMO_AGENTS)))
    for port, flag in ((args.port, "--port"), (args.mqtt_port, "--mqtt-port")):
        if not _port_free(port):
            print(f"error: port {port} on 127.0.0.1 is in use; choose another with {flag}")
            return 2
    root = Path(args.dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    logs = root / "logs"
    pki = Pki.create(root / "pki")
    coord_files = pki.files("coordinator")
    if not coord_files.cert.exists():
        coord_files = pki.issue_coordinator()
    agent_ids = list(DEMO_AGENTS[:count])
    for agent_id in agent_ids:
        if not pki.files(agent_id).cert.exists():
            pki.issue_agent(agent_id)

    broker_dir = root / "broker"
    tmp_broker: Path | None = None
    if not _traversable_by_others(root):
        tmp_broker = Path(tempfile.mkdtemp(prefix="hallmesh-demo-broker-"))
        tmp_broker.chmod(0o755)
        broker_dir = tmp_broker
    stop = stop_on_signals()

    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    hw: DemoHardware | None = None
    broker = Broker(broker_dir, pki, BrokerOptions(port=args.mqtt_port))
    token = secrets.token_urlsafe(18)
    base = f"http://127.0.0.1:{args.port}"
    try:
        try:
            broker.start()
        except ProvisioningError as err:
            print(f"error: {err}")
            return 1
        env = coordinator_env(
            token=token, http_port=args.port, data_dir=root / "coordinator", mqtt_port=args.mqtt_port,
            ca=pki.ca_cert_path, cert=coord_files.cert, key=coord_files.key,
        )  # fmt: skip
        env["HALLMESH_DEMO"] = "1"
        env["HALLMESH_PKI_DIR"] = str(pki.dir)  # field provisioning: `hallmesh provision …` works in the demo
        env["HALLMESH_BROKER_DIR"] = str(broker_dir)
        coordinator = spawn(hallmesh_argv("coordinator", "serve"), logs / "coordinator.log", env=env)
        children.append(("coordinator", coordinator))
        if not _wait_http(f"{base}/healthz", coordinator):
            print(f"error: the coordinator did not come up; see {logs / 'coordinator.log'}")
            return 1
        from hallmesh_cli.demo_org import banner_lines

        org_lines = banner_lines(f"sqlite:///{root / 'coordinator' / 'coordinator.db'}", agent_ids, base)
        from hallmesh_cli.demo_hw import start_hardware

        hw = start_hardware(root, agent_ids, max(0, min(args.cameras, 16)))
        terminal_ports = [_free_port() for _ in agent_ids[:2]]  # video terminals on the first two agents
        for n, port in enumerate(terminal_ports, 1):
            argv = hallmesh_argv("sim", "terminal", "--port", str(port), "--serial", f"DEMO000{n}")
            children.append((f"terminal-{n}", spawn(argv, logs / f"terminal-{n}.log")))
        for n, agent_id in enumerate(agent_ids):
            agent_root = root / "agents" / agent_id
            agent_root.mkdir(parents=True, exist_ok=True)
            conf = agent_root / "agent.toml"
            vt_port = terminal_ports[n] if n < len(terminal_ports) else None
            counter = hw.counter.devices_toml() if n == 0 and hw.counter is not None else ""
            hardware = counter + hw.cameras_toml(agent_id)
            text = agent_config(
                agent_id, agent_root, pki.dir, args.mqtt_port, args.devices, vt_port, base, hardware
            )
            conf.write_text(text)
            proc = spawn(hallmesh_argv("agent", "run", "--config", str(conf)), logs / f"{agent_id}.log")
            children.append((agent_id, proc))
        print(
            "\n".join(
                [
                    "",
                    "hallmesh demo is running (演示环境已启动)",
                    f"  coordinator   {base}/docs        API token: {token}",
                    f"  registry      curl -H 'Authorization: Bearer {token}' {base}/api/v1/agents",
                    f"  metrics       {base}/metrics",
                    f"  health        {base}/healthz",
                    f"  API (OpenAPI) {base}/openapi.json",
                    f"  broker        mqtts://127.0.0.1:{args.mqtt_port} (mTLS; certificates in {pki.dir})",
                    f"  agents        {', '.join(agent_ids)} × {args.devices} sim devices",
                    f"  video         simulated terminals {', '.join(a + '/vt-1' for a in agent_ids[:2])}; a conference:",
                    f"                HALLMESH_API_TOKEN={token} hallmesh conference --url {base} schedule "
                    f"--title 演示会议 --address demo@mcu --duration 600 --main {agent_ids[0]}/vt-1 "
                    f"--branch {agent_ids[1] if len(agent_ids) > 1 else '<agent>'}/vt-1",
                    *hw_lines(hw, agent_ids, base),
                    f"  logs          {logs}",
                    *org_lines,
                    "Press Ctrl-C to stop everything (按 Ctrl-C 停止).",
                    "",
                ]
            ),
            flush=True,
        )
        deadline = None if args.duration is None else time.monotonic() + args.duration
        reported: set[str] = set()
        while not stop.wait(0.5):
            if deadline is not None and time.monotonic() > deadline:
                break
            for name, proc in children:
                if proc.poll() is not None and name not in reported:
                    reported.add(name)
                    print(f"warning: {name} exited with {proc.returncode}; see {logs / (name + '.log')}")
    finally:
        print("stopping agents, coordinator and broker …", flush=True)
        terminate([p for n, p in children if n != "coordinator"])
        terminate([p for n, p in children if n == "coordinator"])
        if hw is not None:
            hw.stop()
        broker.stop()
        if tmp_broker is not None:
            shutil.rmtree(tmp_broker, ignore_errors=True)
        print("stopped.", flush=True)
    return 0
