"""Time staging the JDK tarball on N lab nodes in each distribution mode; print a table.

    python benchmarks/jdk_distribution.py                # N = 4 8 16, unlimited and 200mbit
    python benchmarks/jdk_distribution.py --sizes 4 8 --limits 200mbit --repeat 3

For every N and link limit: the time of one copy (direct mode to one node, the
same code path), then direct, relay and pipeline to N nodes, each from empty
stage dirs on an open session (SSH connections to the nodes are made before
the clock starts; the gather, the mode's trust probe and every node's hash
check are inside it).

The limit is a tbf qdisc on the lab bridge itself: it shapes what the
controller sends into the lab (its side of the bridge), not node-to-node
traffic, which the bridge forwards between the nodes' veths. That is the
"controller on a slow uplink, nodes on a fast LAN" case.

"cores busy" is the whole machine's CPU use during a run (of 2 here): near the
core count, a run is limited by CPU, not by the link. Needs root and the
artifacts (built if missing). Uses lab `tjbench` on
10.231.94.0/24 and always takes it down.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import time
from pathlib import Path

from clusterctl.lab.artifacts import ensure_artifacts
from clusterctl.core.session import Outcome
from clusterctl.core.transfer import MODES, distribute
from clusterctl.lab import Lab
from clusterctl.run import RunOptions, open_run
from clusterctl.steps import hosts_file, ssh_trust

from measure import background_load, busy_cpu_seconds

REPO = Path(__file__).resolve().parents[1]
LAB_NAME, LAB_SUBNET = "tjbench", "10.231.94.0/24"
STAGE = "/opt/apps"
RESET = "rm -rf /opt/apps; rm -f ~/.ssh/clusterctl-mux-*"  # fresh stage dirs and no warm node-to-node links


def shape(lab: Lab, limit: str | None) -> None:
    """Limit what the controller sends into the lab to ``limit`` (None: no limit)."""
    bridge = lab.topology.bridge
    subprocess.run(["tc", "qdisc", "del", "dev", bridge, "root"], capture_output=True)
    if limit:
        subprocess.run(["tc", "qdisc", "add", "dev", bridge, "root", "tbf", "rate", limit,
                        "burst", "256kb", "latency", "400ms"], check=True)


def reset(lab: Lab, nodes: list[str]) -> None:
    for node in nodes:
        lab.exec(node, ["sh", "-c", RESET], check=True)


def staged_in(run, lab: Lab, nodes: list[str], tarball: Path, mode: str) -> tuple[float, float]:
    """(seconds, cores busy) for distribute() to leave a verified copy on every node; exits if one failed."""
    reset(lab, nodes)
    start, cpu = time.monotonic(), busy_cpu_seconds()
    outcomes = distribute(run.session, f"stage-{mode}", nodes, tarball, STAGE, mode)
    elapsed = time.monotonic() - start
    cores = (busy_cpu_seconds() - cpu) / elapsed
    failed = {n: o.detail for n, o in outcomes.items() if o.state.value != "changed"}
    if failed or len(outcomes) != len(nodes) or run.session.failures:
        raise SystemExit(f"{mode} to {len(nodes)} nodes failed: {failed or run.session.failures}")
    return elapsed, cores


def median_run(run, lab: Lab, nodes: list[str], tarball: Path, mode: str, repeat: int) -> tuple[float, float]:
    runs = sorted(staged_in(run, lab, nodes, tarball, mode) for _ in range(repeat))
    return runs[len(runs) // 2]


def measure(lab: Lab, inventory: Path, sizes: list[int], limits: list[str | None], modes: list[str],
            repeat: int, tarball: Path) -> list[tuple]:
    rows = []
    with open(os.devnull, "w") as devnull, \
            open_run(RunOptions(inventory=str(inventory), live=False, log="/dev/null"), "bench", out=devnull) as run:
        hosts_file.run(run.session)
        ssh_trust.run(run.session)
        run.session.for_each("connect", list(run.inventory.hosts), lambda ctx: Outcome.ok(ctx.run("true").stdout))
        for limit in limits:
            shape(lab, limit)
            try:
                one, cores = median_run(run, lab, ["node1"], tarball, "direct", repeat)
                rows.append(("one copy", 1, limit, one, 1.0, cores))
                for n in sizes:
                    nodes = [f"node{k}" for k in range(1, n + 1)]
                    for mode in modes:
                        seconds, cores = median_run(run, lab, nodes, tarball, mode, repeat)
                        rows.append((mode, n, limit, seconds, seconds / one, cores))
                        print(f"  {mode:<9} N={n:<3} limit={limit or 'none':<8} {seconds:6.1f}s "
                              f"{seconds / one:5.2f}x one copy, {cores:.1f} cores busy", flush=True)
            finally:
                shape(lab, None)
    return rows


def table(rows: list[tuple], tarball: Path, load: float) -> str:
    size_mb = tarball.stat().st_size / 1e6
    lines = [f"JDK tarball {tarball.name}, {size_mb:.1f} MB; {os.cpu_count()} cores ({platform.processor() or platform.machine()}); "
             f"lab nodes and controller share them (others' background load at the start: {load:.1f} cores).", "",
             "| mode | N | controller link | seconds | × one copy | cores busy |", "|---|---:|---|---:|---:|---:|"]
    for mode, n, limit, seconds, ratio, cores in rows:
        lines.append(f"| {mode} | {n} | {limit or 'unlimited'} | {seconds:.1f} | {ratio:.2f} | {cores:.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[4, 8, 16])
    parser.add_argument("--limits", nargs="+", default=["none", "200mbit"], help="tc rates, or none")
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--repeat", type=int, default=1, help="runs per cell; the median is shown")
    args = parser.parse_args()
    limits = [None if limit == "none" else limit for limit in args.limits]
    tarball = ensure_artifacts(REPO / "artifacts", only=["jdk_tarball"])["jdk_tarball"]
    load = background_load()
    if load > 0.2:
        print(f"warning: other work keeps {load:.1f} cores busy; the times will be slower and noisier")
    lab = Lab(LAB_NAME, LAB_SUBNET)
    lab.down()
    try:
        inventory = lab.up(nodes=max(args.sizes))
        rows = measure(lab, inventory, args.sizes, limits, args.modes, args.repeat, tarball)
    finally:
        lab.down()
    print()
    print(table(rows, tarball, load))


if __name__ == "__main__":
    main()
