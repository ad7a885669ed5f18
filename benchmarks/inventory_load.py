"""Time loading inventories of many hosts; print a table.

    python benchmarks/inventory_load.py                  # 1,000 10,000 100,000 hosts
    python benchmarks/inventory_load.py --sizes 100000 --repeat 5

Two shapes of inventory: "address" hosts have an address and nothing else;
"network" hosts also have the keys an operator writes for the network step
(interface, prefix, gateway, dns) and are named in [ssh_trust] and [jdk]
hosts. Both have [jdk] and [zookeeper] with real (tiny) packages. "load" is
load_inventory, median and min-max over the repeats, wall clock and CPU
seconds (the CPU column is the steadier one on a busy machine); "parse" is
the TOML parser load_inventory uses (toml-rs, tomllib where it refuses)
alone on the same file, and "tomllib" the standard library's parser alone,
which load_inventory used before and which by itself misses the target for
the network shape.

Target: 100,000 hosts in under 2 s on a 2-core machine, which needs loading
to grow linearly with the number of hosts.
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import statistics
import tarfile
import tempfile
import time
import tomllib
from pathlib import Path

from clusterctl.inventory import load_inventory, parse_toml

TARGET_HOSTS, TARGET_SECONDS = 100_000, 2.0
NETWORK_KEYS = 'interface = "eth0"\nprefix = 8\ngateway = "10.0.0.1"\ndns = ["10.0.0.1"]\n'


def write_release(path: Path, top: str) -> None:
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(f"{top}/bin/run")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"run"))


def inventory_text(count: int, shape: str) -> str:
    """An inventory of ``count`` hosts node1..nodeN on 10.0.0.0/8, of the given shape."""
    names = [f"node{i}" for i in range(1, count + 1)]
    extra = NETWORK_KEYS if shape == "network" else ""
    lines = ['[cluster]\nname = "bench"\nknown_hosts = "known_hosts"\n']
    lines += [f'[hosts.{name}]\naddress = "10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"\n{extra}'
              for i, name in enumerate(names, start=1)]
    listed = f"hosts = [{', '.join(repr(n) for n in names)}]\n" if shape == "network" else ""
    lines.append(f"[ssh_trust]\n{listed}")
    lines.append(f'[jdk]\npackage = "jdk-17.tar.gz"\n{listed}')
    lines.append('[zookeeper]\npackage = "zookeeper.tar.gz"\n[zookeeper.servers]\nnode1 = 1\nnode2 = 2\nnode3 = 3\n')
    return "".join(lines)


def timed(work) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def parser_alone(parse, path: Path) -> None:
    gc.disable()  # as load_inventory parses
    try:
        parse(path.read_text(encoding="utf-8"))
    finally:
        gc.enable()


def measure(path: Path, count: int, repeat: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"wall": [], "cpu": [], "parse": [], "tomllib": []}
    for _ in range(repeat):
        wall, cpu = timed(lambda: check(load_inventory(path), count))
        times["wall"].append(wall)
        times["cpu"].append(cpu)
        times["parse"].append(timed(lambda: parser_alone(parse_toml, path))[0])
        times["tomllib"].append(timed(lambda: parser_alone(tomllib.loads, path))[0])
    return times


def check(inventory, count: int) -> None:
    assert len(inventory.hosts) == count and len(inventory.ssh_trust.hosts) == count


def main(sizes: list[int], repeat: int) -> None:
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start")
    print(f"{'hosts':>8}  {'shape':<8}  {'load s':>7}  {'min-max s':>13}  {'cpu s':>6}  {'parse s':>7}  "
          f"{'tomllib s':>9}  {'µs/host':>7}  target")
    with tempfile.TemporaryDirectory(prefix="inventory-bench-") as tmp:
        root = Path(tmp)
        write_release(root / "jdk-17.tar.gz", "jdk-17")
        write_release(root / "zookeeper.tar.gz", "apache-zookeeper-3.8.0-bin")
        for count in sizes:
            for shape in ("address", "network"):
                path = root / f"{shape}-{count}.toml"
                path.write_text(inventory_text(count, shape))
                times = measure(path, count, repeat)
                wall = statistics.median(times["wall"])
                target = ""
                if count == TARGET_HOSTS:
                    target = f"< {TARGET_SECONDS:.0f} s: " + ("met" if wall < TARGET_SECONDS else "missed")
                print(f"{count:>8}  {shape:<8}  {wall:>7.2f}  {min(times['wall']):>6.2f}-{max(times['wall']):<6.2f}  "
                      f"{statistics.median(times['cpu']):>6.2f}  {statistics.median(times['parse']):>7.2f}  "
                      f"{statistics.median(times['tomllib']):>9.2f}  "
                      f"{wall / count * 1e6:>7.1f}  {target}")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, TARGET_HOSTS])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    main(args.sizes, args.repeat)
