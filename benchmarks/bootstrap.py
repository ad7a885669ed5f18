"""Time `clusterctl bootstrap` cold and no-op on N lab nodes; print a table.

    python benchmarks/bootstrap.py 4 8

Needs root and built artifacts (`clusterctl artifacts --out artifacts`). Uses
lab `bench`, subnet 10.231.70.0/24, and always takes it down.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from clusterctl.artifacts import ensure_artifacts
from clusterctl.lab import Lab
from clusterctl.lab.runbook import pick_packages, render_runbook_sections

REPO = Path(__file__).resolve().parents[1]


def timed(inventory: Path) -> float:
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "clusterctl", "bootstrap", "-i", str(inventory)],
                   check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - start


def main(sizes: list[int]) -> None:
    jdk, zookeeper = pick_packages(ensure_artifacts(REPO / "artifacts"))
    rows = []
    for n in sizes:
        lab = Lab("bench", "10.231.70.0/24")
        lab.down()
        try:
            inventory = lab.up(nodes=n, inventory_extra=render_runbook_sections(
                [f"node{i}" for i in range(1, n + 1)], jdk, zookeeper, heap_mb=128))
            cold = timed(inventory)
            noop = [timed(inventory) for _ in range(3)]
            rows.append((n, cold, statistics.median(noop), min(noop), max(noop)))
        finally:
            lab.down()
    print(f"{'nodes':>5}  {'cold s':>7}  {'no-op median s':>14}  {'no-op min-max s':>15}")
    for n, cold, med, lo, hi in rows:
        print(f"{n:>5}  {cold:>7.1f}  {med:>14.2f}  {lo:>7.2f}-{hi:<7.2f}")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [4, 8])
