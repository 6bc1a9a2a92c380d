"""Memory of an idle edge agent with 5 sim devices (goal: RSS ≤ 60 MB), next to a bare interpreter holding
one idle paho TLS connection as the floor any Python agent stands on.

    python -m bench.agent_rss [--idle 15]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import psutil

from bench.harness import bench_world
from hallmesh_cli.procs import hallmesh_argv, spawn, terminate
from protocols import topics
from tests.support import MqttProbe

BARE = """
import sys, time, paho.mqtt.client as m
from paho.mqtt.enums import CallbackAPIVersion
c = m.Client(CallbackAPIVersion.VERSION2, client_id="bare")
c.tls_set(ca_certs=sys.argv[2], certfile=sys.argv[3], keyfile=sys.argv[4])
c.connect("localhost", int(sys.argv[1]))
c.loop_start()
time.sleep(float(sys.argv[5]))
"""


def mb(value: int) -> str:
    return f"{value / 1e6:.1f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--idle", type=float, default=15.0, help="seconds to idle before measuring")
    args = parser.parse_args()
    with bench_world("rss") as bench:
        agent = "rss-agent"
        files = bench.pki.issue_agent(agent)
        root = bench.root / "agent"
        root.mkdir()
        devices = "".join(
            f'\n[[devices]]\nid = "sim-{i}"\nkind = "sim"\npoll_interval_s = 5\nevent_interval_s = 30\n'
            for i in range(1, 6)
        )
        (root / "agent.toml").write_text(
            f'agent_id = "{agent}"\ndata_dir = "{root / "data"}"\n[broker]\nhost = "localhost"\n'
            f'port = {bench.broker.port}\nca = "{bench.pki.ca_cert_path}"\ncert = "{files.cert}"\n'
            f'key = "{files.key}"\n{devices}'
        )
        coord = bench.pki.files("coordinator")
        probe = MqttProbe(
            bench.broker.port, bench.pki.ca_cert_path, coord.cert, coord.key, "rss-probe"
        ).start()
        assert probe.connected.wait(10)
        probe.subscribe(topics.state(agent))
        proc = spawn(
            hallmesh_argv("--log-level", "WARNING", "agent", "run", "--config", str(root / "agent.toml")),
            root / "log",
        )
        while True:
            _topic, payload, _retained = probe.messages.get(timeout=30)
            if json.loads(payload)["body"]["online"]:
                break
        time.sleep(args.idle)  # idle on purpose: this measures the steady state
        info = psutil.Process(proc.pid).memory_full_info()
        bare = subprocess.Popen(
            [sys.executable, "-c", BARE, str(bench.broker.port), str(bench.pki.ca_cert_path), str(coord.cert),
             str(coord.key), str(args.idle + 5)]
        )  # fmt: skip
        time.sleep(args.idle)
        bare_info = psutil.Process(bare.pid).memory_full_info()
        bare.terminate()
        bare.wait()
        terminate([proc])
        probe.stop()
    print(
        f"agent, 5 sim devices, idle {args.idle:.0f} s: RSS {mb(info.rss)}  USS {mb(info.uss)}  PSS {mb(info.pss)}"
    )
    print(f"bare python + paho TLS connection:    RSS {mb(bare_info.rss)}  USS {mb(bare_info.uss)}")
    print(
        f"ratio agent/bare RSS = {info.rss / bare_info.rss:.2f}; goal RSS ≤ 60 MB: {'met' if info.rss <= 60e6 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
