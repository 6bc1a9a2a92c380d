"""One coordinator holding a whole region: 3,000 simulated agents (Ningxia's count of service points), each
with 5 sim devices reporting every 10 s. Reports presence correctness, coordinator CPU and RSS.

The fleet runs in separate processes (`hallmesh sim fleet`, one selector loop each). After all agents are
online, one fleet process is SIGKILLed: its agents' Wills must take exactly those agents offline while the
others stay online.

    python -m bench.fleet [--agents 3000] [--procs 3] [--measure 60]
"""

from __future__ import annotations

import argparse
import signal
import time

import psutil

from bench.harness import bench_world
from hallmesh_cli.procs import hallmesh_argv, spawn, terminate
from tests.support import wait_until


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agents", type=int, default=3000)
    parser.add_argument("--procs", type=int, default=3, help="fleet processes the agents are spread over")
    parser.add_argument("--measure", type=float, default=60.0, help="seconds of steady state to measure")
    args = parser.parse_args()
    per = args.agents // args.procs
    with bench_world("fleet") as bench:
        t0 = time.perf_counter()
        for p in range(args.procs):
            for i in range(1, per + 1):
                bench.pki.issue_agent(f"fleet{p}-{i:04d}")
        print(f"issued {per * args.procs} agent certificates in {time.perf_counter() - t0:.1f} s")
        coordinator = bench.start_coordinator()
        cproc = psutil.Process(coordinator.pid)
        fleets = []
        t0 = time.perf_counter()
        for p in range(args.procs):
            argv = hallmesh_argv(
                "--log-level", "WARNING", "sim", "fleet", "--pki", str(bench.pki.dir), "--agents", str(per),
                "--prefix", f"fleet{p}", "--port", str(bench.broker.port), "--interval", "10",
            )  # fmt: skip
            fleets.append(spawn(argv, bench.root / f"fleet{p}.log"))
        total = per * args.procs

        def online() -> int:
            return sum(1 for a in bench.api("/api/v1/agents")["data"] if a["online"])

        wait_until(lambda: online() == total, timeout=600, interval=1, what=f"{total} agents online")
        print(
            f"{total} agents online in the registry {time.perf_counter() - t0:.1f} s after the fleets started"
        )
        cpu0 = cproc.cpu_times()
        w0 = time.perf_counter()
        time.sleep(args.measure)  # steady state on purpose: this is what is measured
        cpu1 = cproc.cpu_times()
        wall = time.perf_counter() - w0
        busy = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
        devices = sum(a["device_count"] for a in bench.api("/api/v1/agents")["data"])
        print(
            f"steady state, {total} agents × 5 devices ({devices} devices), telemetry every 10 s: "
            f"coordinator CPU {100 * busy / wall:.1f} % of one core, RSS {cproc.memory_info().rss / 1e6:.0f} MB"
        )
        t1 = time.perf_counter()
        fleets[-1].send_signal(signal.SIGKILL)
        fleets[-1].wait()
        wait_until(lambda: online() == total - per, timeout=180, interval=0.5, what="killed fleet offline")
        offline = {a["id"] for a in bench.api("/api/v1/agents")["data"] if not a["online"]}
        killed = {f"fleet{args.procs - 1}-{i:04d}" for i in range(1, per + 1)}
        assert offline == killed, (
            f"offline agents differ from the killed fleet: {len(offline ^ killed)} differ"
        )
        print(
            f"SIGKILL of one fleet process: {per} agents offline, {total - per} still online, "
            f"after {time.perf_counter() - t1:.1f} s"
        )
        terminate(fleets[:-1])


if __name__ == "__main__":
    main()
