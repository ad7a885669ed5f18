"""Time `clusterctl bootstrap` cold and no-op on N lab nodes; print a table.

    python benchmarks/bootstrap.py 4 8

Needs root and built artifacts (`clusterctl artifacts --out artifacts`). Uses
lab `bench`, subnet 10.231.70.0/24, and always takes it down.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from clusterctl.lab.artifacts import ensure_artifacts
from clusterctl.lab import Lab
from clusterctl.lab.runbook import pick_packages, render_runbook_sections

REPO = Path(__file__).resolve().parents[1]


def timed(inventory: Path) -> tuple[float, float]:
    """(wall seconds, the controller's own CPU seconds) of one bootstrap run."""
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "clusterctl", "bootstrap", "-i", str(inventory)],
                   check=True, stdout=subprocess.DEVNULL)
    wall = time.monotonic() - start
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    return wall, cpu


def main(sizes: list[int]) -> None:
    jdk, zookeeper = pick_packages(ensure_artifacts(REPO / "artifacts"))
    rows = []
    for n in sizes:
        lab = Lab("bench", "10.231.70.0/24")
        lab.down()
        try:
            inventory = lab.up(nodes=n, inventory_extra=render_runbook_sections(
                [f"node{i}" for i in range(1, n + 1)], jdk, zookeeper, heap_mb=128))
            cold, _ = timed(inventory)
            noop = [timed(inventory) for _ in range(3)]
            walls = [w for w, _ in noop]
            rows.append((n, cold, statistics.median(walls), min(walls), max(walls),
                         statistics.median(c for _, c in noop)))
        finally:
            lab.down()
    # Lab nodes share this machine's cores, so node-side work shows up in wall
    # time here; the controller's CPU is what a run costs the operator's machine.
    print(f"{'nodes':>5}  {'cold s':>7}  {'no-op median s':>14}  {'no-op min-max s':>15}  {'no-op controller CPU s':>22}")
    for n, cold, med, lo, hi, cpu in rows:
        print(f"{n:>5}  {cold:>7.1f}  {med:>14.2f}  {lo:>7.2f}-{hi:<7.2f}  {cpu:>22.2f}")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [4, 8])
