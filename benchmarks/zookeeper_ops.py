"""Time the day-to-day ZooKeeper commands on a 3-server lab ensemble; print a table.

    python benchmarks/zookeeper_ops.py [--repeat 3]

Each row is one command line as an operator types it (`clusterctl zk ...`),
median and min-max over the repeats: install cold and no-op, start to every
server serving, status, smoke, a rolling restart of 3 servers. Needs root and
built artifacts (`clusterctl artifacts --out artifacts`). Uses lab `zkbench`
on 10.231.71.0/24 and always takes it down.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from clusterctl.lab import Lab
from clusterctl.lab.artifacts import ensure_artifacts
from clusterctl.lab.runbook import pick_packages, render_runbook_sections

REPO = Path(__file__).resolve().parents[1]


def timed(inventory: Path, *words: str) -> float:
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "clusterctl", *words, "-i", str(inventory)], check=True,
                   stdout=subprocess.DEVNULL, cwd=REPO)
    return time.monotonic() - start


def main(repeat: int) -> None:
    jdk, zookeeper = pick_packages(ensure_artifacts(REPO / "artifacts"))
    rows: dict[str, list[float]] = {}
    lab = Lab("zkbench", "10.231.71.0/24")
    lab.down()
    try:
        for _ in range(repeat):
            inventory = lab.up(nodes=4, inventory_extra=render_runbook_sections(
                [f"node{i}" for i in range(1, 5)], jdk, zookeeper, heap_mb=128))
            timed(inventory, "bootstrap", "--only", "hosts,ssh-trust,jdk")
            for label, words in (("zk install (cold)", ("zk", "install")),
                                 ("zk install (no-op)", ("zk", "install")),
                                 ("zk start (3 servers, until each serves)", ("zk", "start")),
                                 ("zk status", ("zk", "status")),
                                 ("zk smoke", ("zk", "smoke")),
                                 ("zk restart --rolling (3 servers)", ("zk", "restart", "--rolling"))):
                rows.setdefault(label, []).append(timed(inventory, *words))
            lab.down()
    finally:
        lab.down()
    print(f"{'command':<42} {'median s':>8}  {'min-max s':>11}")
    for label, times in rows.items():
        print(f"{label:<42} {statistics.median(times):>8.2f}  {min(times):>5.2f}-{max(times):<5.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    main(parser.parse_args().repeat)
