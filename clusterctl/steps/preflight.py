"""Preflight: what each host must have before anything is changed on it, checked from the same round trip.

Per host: free disk where packages are staged and unpacked and where the
server keeps its data, memory against the configured heap (swap on is a
warning, as ZooKeeper's admin guide has it), the server's ports free or held
by our own server, the clock against the other hosts', each server name
resolving to the address the server binds, systemd there or not, and the
login user able to do root's work. A hard failure stops the run before
anything changes anywhere; a warning is said and the run goes on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Mapping

from ..core.facts import Fact, FactQuery, query
from ..core.session import HostContext, HostResults, Outcome, Privilege
from ..core.transfer import LocalFile, StagedFile, local_file, staging_action, COPY
from ..display import human_bytes
from ..errors import ClusterctlError
from ..inventory import Host, Inventory
from ..packages import PackageFile, jdk_package, zookeeper_package
from ..render.hosts_file import parse_hosts_block
from . import jdk as jdk_steps
from . import zookeeper as zk_steps
from .base import HostPlan, Step, StepRun

MIB = 1 << 20
TXN_LOG_PREALLOCATION = 64 * MIB  # ZooKeeper preallocates each transaction log file this large
NEW_SERVER_SNAPSHOTS = 64 * MIB  # a new ensemble's snapshots are small; this leaves room for a few
JVM_OVERHEAD = 256 * MIB  # metaspace, threads, direct buffers beside the heap
CLOCK_SKEW_WARNING = 2.0  # seconds between hosts' clocks worth a warning
UNPACKED_ESTIMATE = 3  # an rpm or deb unpacks to about this many times its size


@dataclass(frozen=True)
class Check:
    name: str  # disk, memory, ports, clock, names, systemd, privilege, data_log_dir
    level: str  # ok, warn or fail
    detail: str
    fix: str = ""

    def line(self) -> str:
        return f"{self.name}: {self.detail}" + (f" (fix: {self.fix})" if self.fix else "")


@dataclass
class PreflightPlan(HostPlan):
    checks: list[Check] = field(default_factory=list)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.level == "fail"]

    @property
    def warnings(self) -> list[Check]:
        return [c for c in self.checks if c.level == "warn"]


@lru_cache(maxsize=8)
def unpacked_size(file: LocalFile) -> int:
    """Bytes a package takes once unpacked: a tarball's members exactly, an rpm or deb estimated."""
    if file.name.endswith((".tar.gz", ".tgz")):
        import tarfile
        with tarfile.open(file.path, "r:gz") as tar:
            return sum(member.size for member in tar)
    return UNPACKED_ESTIMATE * file.size


def jdk_and_server(inventory: Inventory, host: str) -> tuple[bool, bool]:
    """(gets the JDK, is a ZooKeeper server)."""
    return (inventory.jdk is not None and host in inventory.jdk.hosts,
            inventory.zookeeper is not None and host in inventory.zookeeper.hosts)


def paths_of(inventory: Inventory, host: str) -> list[str]:
    has_jdk, server = jdk_and_server(inventory, host)
    paths = []
    if has_jdk:
        paths += [inventory.jdk.stage_dir, jdk_steps.JAVA_DIR]
    if server:
        spec = inventory.zookeeper
        paths += [zk_steps.stage_dir(inventory), spec.install_dir, spec.data_dir, spec.data_log_dir]
    return list(dict.fromkeys(paths))


def unread_packages(inventory: Inventory, host: str) -> list[tuple[PackageFile, tuple[str, str]]]:
    """The packages ``host`` gets that cannot be read here, each with why: their room is not known."""
    has_jdk, server = jdk_and_server(inventory, host)
    wanted = (jdk_package(inventory) if has_jdk else []) + (zookeeper_package(inventory) if server else [])
    return [(p, problem) for p in wanted if (problem := p.problem())]


def disk_needs(inventory: Inventory, host: str, f: Mapping[str, Fact]) -> dict[str, int]:
    """path → bytes this run would write there (what is there already counts nothing)."""
    has_jdk, server = jdk_and_server(inventory, host)
    unread = {p.key for p, _ in unread_packages(inventory, host)}
    needs: dict[str, int] = {}

    def add(path: str, size: int) -> None:
        needs[path] = needs.get(path, 0) + size

    if has_jdk and "jdk.package" not in unread:
        spec = inventory.jdk
        pkg = jdk_steps.describe_package(spec)
        state = jdk_steps.HostState.from_facts(f, jdk_steps.remote_paths(spec))
        if staging_action(state.staged, pkg.file) == COPY:
            add(spec.stage_dir, pkg.file.size)
        if not jdk_steps.is_installed(pkg, state):
            add(jdk_steps.JAVA_DIR, unpacked_size(pkg.file))
    if server:
        spec = inventory.zookeeper
        state = zk_steps.zk_install.ServerState.from_facts(f, spec)
        release = None if "zookeeper.package" in unread else zk_steps.release(inventory)
        if release is not None and state.release_sha256 != release.sha256:
            package = local_file(spec.package)
            staged = StagedFile.from_fact(f[zk_steps.ZkStage().remote(inventory).fact_name])
            if staging_action(staged, package) == COPY:
                add(zk_steps.stage_dir(inventory), package.size)
            add(spec.install_dir, unpacked_size(package))
        if state.myid is None:  # a new server: room for its first snapshots and transaction log
            add(spec.data_dir, NEW_SERVER_SNAPSHOTS)
            add(spec.data_log_dir, TXN_LOG_PREALLOCATION)
    return needs


def check_disk(inventory: Inventory, host: str, f: Mapping[str, Fact]) -> list[Check]:
    free: dict[str, tuple[int, str, str]] = {}
    for line in f["preflight.disk"].lines:
        fields = line.split()
        if len(fields) >= 4 and fields[1].isdigit():
            free[fields[0]] = (int(fields[1]), fields[2], fields[3])
    per_mount: dict[str, list] = {}
    for path, size in disk_needs(inventory, host, f).items():
        if path in free:
            avail, _, mount = free[path]
            entry = per_mount.setdefault(mount, [avail, 0, []])
            entry[1] += size
            entry[2].append(path)
    checks = []
    for mount, (avail, needed, paths) in per_mount.items():
        if needed > avail:
            checks.append(Check("disk", "fail", f"{', '.join(paths)} need {human_bytes(needed)} on {mount}, "
                                f"which has {human_bytes(avail)} free", f"free space on {mount}, or point "
                                "the inventory's directories at a larger filesystem"))
    checks += [Check("disk", "warn", f"the room {p.key} needs is not checked: {problem} on this controller", fix)
               for p, (problem, fix) in unread_packages(inventory, host)]
    return checks or [Check("disk", "ok", "room for what will be written")]


def meminfo(f: Mapping[str, Fact]) -> dict[str, int]:
    values = {}
    for line in f["preflight.memory"].lines:
        name, _, kb = line.partition(" ")
        if kb.strip().isdigit():
            values[name] = int(kb) * 1024
    return values


def check_memory(inventory: Inventory, host: str, f: Mapping[str, Fact]) -> list[Check]:
    _, server = jdk_and_server(inventory, host)
    mem = meminfo(f)
    checks = []
    if server and "MemTotal" in mem:
        heap = inventory.zookeeper.heap_mb * MIB
        needed = heap + heap // 4 + JVM_OVERHEAD
        if needed > mem["MemTotal"]:
            checks.append(Check("memory", "fail", f"heap_mb {inventory.zookeeper.heap_mb} needs about "
                                f"{human_bytes(needed)} with the JVM's own, more than the host's "
                                f"{human_bytes(mem['MemTotal'])}", "lower zookeeper.heap_mb"))
        elif needed > mem.get("MemAvailable", mem["MemTotal"]):
            checks.append(Check("memory", "warn", f"{human_bytes(needed)} for the server is more than the "
                                f"{human_bytes(mem['MemAvailable'])} available now"))
    if mem.get("SwapTotal"):
        checks.append(Check("memory", "warn", f"swap is on ({human_bytes(mem['SwapTotal'])}): a server "
                            "swapped out stalls the ensemble (ZooKeeper's admin guide asks for none)",
                            "swapoff -a, or vm.swappiness=1"))
    return checks or [Check("memory", "ok", "the heap fits")]


def server_ports(inventory: Inventory) -> list[int]:
    spec = inventory.zookeeper
    ports = [spec.client_port, spec.quorum_port, spec.election_port]
    return ports + ([spec.admin_port] if spec.admin_server != "off" else [])


def check_ports(inventory: Inventory, host: str, f: Mapping[str, Fact]) -> list[Check]:
    _, server = jdk_and_server(inventory, host)
    if not server:
        return []
    running = zk_steps.zk_install.RunningServer.from_fact(f["zk.server"])
    ours = {str(running.pid)} if running else set()
    checks = []
    for line in f["preflight.ports"].lines:
        port, _, holder = line.partition(" ")
        if holder == "free" or holder.split(" ")[0] in ours:
            continue
        checks.append(Check("ports", "fail", f"port {port} is taken by {holder or 'another process'}",
                            f"stop that process, or give the inventory's zookeeper ports other numbers"))
    return checks or [Check("ports", "ok", "free, or held by this server")]


def check_names(inventory: Inventory, host: str, f: Mapping[str, Fact]) -> list[Check]:
    _, server = jdk_and_server(inventory, host)
    if not server:
        return []
    managed = parse_hosts_block(f["hosts.etc_hosts"].output if "hosts.etc_hosts" in f else "",
                                inventory.cluster.name)
    checks = []
    for line in f["preflight.names"].lines:
        name, _, address = line.partition(" ")
        wanted = inventory.hosts[name].static_address or inventory.hosts[name].address
        if address == wanted:
            continue
        if managed.get(name) != wanted:
            continue  # the hosts step writes the block first, and that answer wins
        checks.append(Check("names", "fail", f"{name} resolves to {address} here, not {wanted}, although "
                            "/etc/hosts says so", "fix /etc/nsswitch.conf (files first) or the DNS record"))
    return checks or [Check("names", "ok", "server names resolve to their addresses")]


def check_init(inventory: Inventory, host: str, f: Mapping[str, Fact]) -> list[Check]:
    _, server = jdk_and_server(inventory, host)
    init = f["zk.init"].output.split()
    if not server:
        return []
    if not init or init[0] != "systemd":
        return [Check("systemd", "warn", zk_steps.zk_install.NOT_SUPERVISED.format(user=inventory.zookeeper.user))]
    return [Check("systemd", "ok", f"systemd ({init[1] if len(init) > 1 else 'running'})")]


def check_privilege(inventory: Inventory, host: str, way: Privilege) -> list[Check]:
    """Whether the login user can do root's work, as the session found out (the sudo password tried)."""
    user = inventory.hosts[host].user
    if way.mode != "none":
        return [Check("privilege", "ok", {"root": "root", "nopasswd": "sudo, no password",
                                          "password": "sudo, with the password given"}[way.mode])]
    fix = ("pass --ask-become-pass or set CLUSTERCTL_BECOME_PASSWORD" if "password" in way.reason
           else f"log in as root, or give {user} sudo rights")
    return [Check("privilege", "fail", way.reason, fix)]


def check_log_disk(inventory: Inventory, host: str, f: Mapping[str, Fact]) -> list[Check]:
    _, server = jdk_and_server(inventory, host)
    spec = inventory.zookeeper
    disks = f["preflight.disks"].output.strip()
    if not server or not disks.isdigit() or int(disks) < 2:
        return []
    devices = {line.split()[0]: line.split()[2] for line in f["preflight.disk"].lines if len(line.split()) >= 4}
    if devices.get(spec.data_dir) and devices.get(spec.data_dir) == devices.get(spec.data_log_dir):
        return [Check("data_log_dir", "warn", f"{spec.data_log_dir} is on the same device as {spec.data_dir} "
                      f"while this host has {disks} disks: ZooKeeper's admin guide recommends a disk of its own "
                      "for the transaction log", "point zookeeper.data_log_dir at another disk")]
    return []


def check_clocks(offsets: dict[str, float]) -> dict[str, Check]:
    """host → a warning when its clock is off from the middle of all hosts' by more than the threshold (pure)."""
    if len(offsets) < 2:
        return {}
    ordered = sorted(offsets.values())
    middle = ordered[len(ordered) // 2]
    return {h: Check("clock", "warn", f"its clock is {off - middle:+.1f}s off from the other hosts'",
                     "run an NTP client (chrony, systemd-timesyncd)")
            for h, off in offsets.items() if abs(off - middle) > CLOCK_SKEW_WARNING}


class Preflight(Step):
    """Checks every host before anything changes; a hard failure anywhere stops the run (a gate)."""

    name = phase = "preflight"
    topic = "preflight."
    gate = True

    def __init__(self) -> None:
        self.privileges: dict[str, Privilege] = {}  # found out by the session when it plans

    def hosts(self, inventory: Inventory) -> list[str]:
        return list(inventory.hosts)

    def facts(self, inventory: Inventory, host: Host) -> list[FactQuery]:
        has_jdk, server = jdk_and_server(inventory, host.name)
        queries = [query("preflight.disk", "disk_free", *paths_of(inventory, host.name)),
                   query("preflight.memory", "memory"), query("preflight.clock", "clock"),
                   query("preflight.disks", "disks"),
                   query("zk.init", "init_system"), query("hosts.etc_hosts", "file", "/etc/hosts")]
        unread = {p.key for p, _ in unread_packages(inventory, host.name)}
        if has_jdk and "jdk.package" not in unread:
            queries += jdk_steps.facts(inventory.jdk)
        if server:
            # Whether the release is staged needs its size: asked only when the tarball is here.
            step = zk_steps.ZkInstall() if "zookeeper.package" in unread else zk_steps.ZkStage()
            queries += step.facts(inventory, host)
            queries += [query("preflight.ports", "listening", *server_ports(inventory)),
                        query("preflight.names", "resolve", *inventory.zookeeper.hosts)]
        return queries

    def decide(self, inventory: Inventory, facts: Mapping[str, Mapping[str, Fact]]) -> dict[str, PreflightPlan]:
        plans = {}
        for host, f in facts.items():
            way = self.privileges.get(host, Privilege("root"))
            checks = [*check_privilege(inventory, host, way), *check_disk(inventory, host, f),
                      *check_memory(inventory, host, f), *check_ports(inventory, host, f),
                      *check_names(inventory, host, f), *check_init(inventory, host, f),
                      *check_log_disk(inventory, host, f)]
            plan = PreflightPlan(checks=checks)
            failures = plan.failures
            plan.problem = "; ".join(c.line() for c in failures) if failures else None
            plan.notes = [c.line() for c in plan.warnings]
            plans[host] = plan
        return plans

    def plans(self, session) -> dict[str, PreflightPlan]:
        self.privileges = {}
        for host in session.live_hosts(self.hosts(session.inventory)):
            try:
                self.privileges[host] = session.privilege(session.inventory.hosts[host])
            except ClusterctlError as exc:  # unreachable: the gather says so for it
                self.privileges[host] = Privilege("none", str(exc))
        plans = super().plans(session)
        now = time.time()  # the clocks were read a moment ago, in the same round trip
        offsets = {}
        for host in plans:
            fact = session.gather(self.name, [host], lambda h: [query("preflight.clock", "clock")]).get(host)
            value = fact["preflight.clock"].output.strip() if fact else ""
            try:
                offsets[host] = float(value) - now
            except ValueError:
                continue
        for host, check in check_clocks(offsets).items():
            plans[host].checks.append(check)
            plans[host].notes.append(check.line())
        return plans

    def apply(self, run: StepRun, plans: dict[str, PreflightPlan]) -> HostResults:
        run.outputs[self.name] = plans
        return run.session.for_each(self.name, plans, lambda ctx: self.apply_host(ctx, plans[ctx.host.name]),
                                    changes_host=False)

    def apply_host(self, ctx: HostContext, plan: PreflightPlan) -> Outcome:
        for check in plan.warnings:
            ctx.note(f"warning: {check.line()}")
        warned = f"; warnings: {'; '.join(c.line() for c in plan.warnings)}" if plan.warnings else ""
        return Outcome.ok(f"{sum(c.level == 'ok' for c in plan.checks)} checks passed{warned}")
