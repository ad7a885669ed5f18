"""Measuring one run of a program: wall time, its CPU and peak memory, the machine's load and memory."""

from __future__ import annotations

import os
import platform
import signal
import subprocess
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from clusterctl.lab import Lab
from clusterctl.lab.node_cgroup import cgroup2_mount


@dataclass
class Measured:
    wall: float  # seconds
    cpu: float  # the child's user + system seconds, with its waited-for children (RUSAGE of wait4)
    peak_rss_mb: float  # ru_maxrss of the child: its largest process, not a sum
    load_before: float  # 1-minute load average
    load_after: float
    memory_used_gb: float  # MemAvailable at the start minus its lowest value during the run (others' use too)
    returncode: int
    killed: str = ""  # why the run was killed, if it was

    def as_dict(self) -> dict:
        return asdict(self)


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def mem_available_bytes() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no MemAvailable in /proc/meminfo")


def busy_cpu_seconds() -> float:
    """CPU seconds this machine has spent on anything but idling, since boot (all cores)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def background_load(seconds: float = 3.0) -> float:
    """Cores kept busy by others while this process does nothing."""
    before = busy_cpu_seconds()
    time.sleep(seconds)
    return (busy_cpu_seconds() - before) / seconds


class LowestMemAvailable:
    """Samples MemAvailable every ``interval`` seconds in a thread, keeping the lowest.

    Below ``guard`` bytes it calls ``on_low`` once: lab nodes' memory is this
    machine's, shared with other people's work, and running out of it would
    let the kernel's OOM killer pick among their processes too.
    """

    def __init__(self, interval: float = 0.5, guard: int = 0, on_low=None):
        self.interval = interval
        self.guard = guard
        self.on_low = on_low
        self.tripped = False
        self.lowest = mem_available_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.lowest = min(self.lowest, mem_available_bytes())
            if self.lowest < self.guard and not self.tripped and self.on_low:
                self.tripped = True
                self.on_low()

    def __enter__(self) -> LowestMemAvailable:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.lowest = min(self.lowest, mem_available_bytes())


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_measured(argv: list[str], output: Path, timeout: float, cwd: Path | None = None,
                 baseline_available: int | None = None, memory_guard_gb: float = 1.5) -> Measured:
    """Run ``argv`` to the end, its stdout and stderr into ``output``; what it cost.

    A run still going after ``timeout`` seconds, or while MemAvailable falls
    below ``memory_guard_gb``, is killed (``killed`` says why): its own
    process group, whose id is the child's pid. ``baseline_available`` is
    MemAvailable before the lab was built, so that the memory column counts
    the lab's nodes too; without it, the run's own.
    """
    load_before = load_average()
    baseline = baseline_available if baseline_available is not None else mem_available_bytes()
    killed: list[str] = []
    group: list[int] = []

    def kill(why: str) -> None:
        killed.append(why)
        if group:
            _kill_group(group[0])

    guard = int(memory_guard_gb * 1e9)
    low = f"MemAvailable fell below {memory_guard_gb} GB"
    with open(output, "wb") as out, LowestMemAvailable(guard=guard, on_low=lambda: kill(low)) as memory:
        start = time.monotonic()
        child = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 cwd=cwd, start_new_session=True)
        group.append(child.pid)
        killer = threading.Timer(timeout, kill, [f"still running after {timeout:.0f}s"])
        killer.start()
        # wait4 rather than RUSAGE_CHILDREN: this child's own figures, not a running maximum.
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.monotonic() - start
        killer.cancel()
        child.returncode = os.waitstatus_to_exitcode(status)
    return Measured(wall=wall, cpu=usage.ru_utime + usage.ru_stime, peak_rss_mb=usage.ru_maxrss / 1024,
                    load_before=load_before, load_after=load_average(),
                    memory_used_gb=(baseline - memory.lowest) / 1e9, returncode=child.returncode,
                    killed=killed[0] if killed else "")


def machine() -> dict:
    """What the numbers were measured on."""
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or platform.machine())
    total = next(int(line.split()[1]) * 1024 for line in Path("/proc/meminfo").read_text().splitlines()
                 if line.startswith("MemTotal:"))
    return {"nproc": os.cpu_count(), "cpu": model, "ram_gb": round(total / 2**30, 1),
            "kernel": platform.release(), "os": _os_name(), "python": platform.python_version()}


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.system()


def lab_memory_gb(lab: Lab) -> float:
    """Memory the lab holds now: its nodes' tmpfs disks plus the PSS of every process in its cgroups.

    This machine's memory controller is cgroup v1 while the lab's cgroups are
    in the v2 tree, so the kernel keeps no per-lab total; this adds it up.
    """
    disks = 0
    for node in lab.nodes:
        stat = os.statvfs(lab.topology.node_dir(node) / "fs")
        disks += (stat.f_blocks - stat.f_bfree) * stat.f_frsize
    mount_point, _ = cgroup2_mount()
    pss = 0
    for procs in (mount_point / lab.topology.cgroup).rglob("cgroup.procs"):
        for pid in procs.read_text().split():
            try:
                rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            except OSError:
                continue  # gone meanwhile
            pss += next((int(line.split()[1]) * 1024 for line in rollup.splitlines() if line.startswith("Pss:")), 0)
    return (disks + pss) / 1e9
