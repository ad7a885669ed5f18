"""Installing ZooKeeper on a server: what a node has, what it needs (pure), and doing only that.

The runbook's by-hand steps, made repeatable: the release unpacked under
install_dir and pointed at by ``<install_dir>/zookeeper`` (swapped atomically),
``/etc/profile.d/zookeeper.sh``, conf/zoo.cfg and conf/java.env rendered from the
inventory, the data and log directories, and myid. A data directory that
already holds another server's myid belongs to that server: it is refused,
never overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ..core.facts import Fact, FactQuery, query
from ..core.transfer import local_file
from ..inventory import Inventory, ZooKeeperSpec
from ..package_files import tarball_top_dir
from ..plan import Change, file_change, file_diff
from ..render.profile import render_profile_snippet
from ..render.zoo_cfg import render_java_env, render_zoo_cfg
from .server import home, pid_file

PROFILE_PATH = "/etc/profile.d/zookeeper.sh"
RELEASE_MARK = ".clusterctl-release"  # in the release dir: the sha256 of the tarball it was unpacked from
NOT_A_LINK = "!not-a-symlink"
UNMARKED = "!unmarked"  # the release directory exists but clusterctl did not unpack it


@dataclass(frozen=True)
class Release:
    """The release tarball on the controller: its top directory's name and its sha256."""

    package: Path
    name: str
    sha256: str

    def directory(self, spec: ZooKeeperSpec) -> str:
        return f"{spec.install_dir}/{self.name}"


@lru_cache(maxsize=8)
def _top_directory(path: Path, mtime_ns: int) -> str:
    return tarball_top_dir(path)


def release_of(package: Path) -> Release:
    """Name and hash of the release tarball (read once per process while the file is unchanged)."""
    local = local_file(package)
    return Release(package, _top_directory(package, package.stat().st_mtime_ns), local.sha256)


def facts(spec: ZooKeeperSpec, release: Release) -> list[FactQuery]:
    """What a server node has now (one round trip with every other step's)."""
    target = release.directory(spec)
    link = home(spec)
    return [
        query("zk.release", "release_mark", target, RELEASE_MARK),
        query("zk.link", "link", link),
        query("zk.zoo_cfg", "file", f"{target}/conf/zoo.cfg"),
        query("zk.java_env", "file", f"{target}/conf/java.env"),
        query("zk.profile", "file", PROFILE_PATH),
        query("zk.myid", "file", f"{spec.data_dir}/myid"),
        query("zk.dirs", "dirs", spec.data_dir, spec.data_log_dir),
        # pid, seconds it has run, seconds since its configuration last changed
        query("zk.server", "zk_server", pid_file(spec), link, f"{link}/conf/zoo.cfg", f"{link}/conf/java.env"),
    ]


@dataclass(frozen=True)
class RunningServer:
    pid: int
    stale: bool  # its configuration or release changed after it started


@dataclass(frozen=True)
class HostState:
    """What one server node has, read from its facts."""

    release_sha256: str  # UNMARKED for a directory unpacked by someone else, "" when there is none
    link_target: str
    zoo_cfg: str | None
    java_env: str | None
    profile: str | None
    myid: str | None
    dirs_exist: bool
    server: RunningServer | None

    @classmethod
    def from_facts(cls, f: dict[str, Fact]) -> HostState:
        def text(name: str) -> str | None:
            return f[name].output if f[name].ok else None
        server = None
        fields = f["zk.server"].output.split()
        if f["zk.server"].ok and len(fields) == 3 and all(x.lstrip("-").isdigit() for x in fields):
            pid, ran, config_age = map(int, fields)
            server = RunningServer(pid, stale=config_age < ran)
        release = f["zk.release"].output.strip()
        link = f["zk.link"].output.strip()
        return cls(
            release_sha256=release[5:] if release.startswith("mark ") else (UNMARKED if release else ""),
            link_target=link[5:] if link.startswith("link ") else (NOT_A_LINK if link else ""),
            zoo_cfg=text("zk.zoo_cfg"),
            java_env=text("zk.java_env"),
            profile=text("zk.profile"),
            myid=f["zk.myid"].output.strip() if f["zk.myid"].ok else None,
            dirs_exist=f["zk.dirs"].ok,
            server=server,
        )


def myid_conflict(current: str | None, wanted: int, data_dir: str) -> str | None:
    """Why ``current`` myid must not be replaced by ``wanted``, or None when it may stay or be written (pure)."""
    if current is None or current == str(wanted):
        return None
    return (f"{data_dir}/myid holds {current!r} but the inventory gives this server id {wanted}: "
            f"refusing to overwrite another server's identity (its data belongs to that server). "
            f"Fix the inventory, or move {data_dir} away if this node really is a new server {wanted}")


@dataclass
class HostPlan:
    """What one server node needs; empty when it is as the inventory says."""

    host: str
    server_id: int
    release: Release
    conflict: str | None = None
    unpack: bool = False
    relink: bool = False
    link_before: str = ""
    files: dict[str, tuple[str, str]] = field(default_factory=dict)  # path → (now, wanted), differing only
    make_dirs: bool = False
    write_myid: bool = False
    running: RunningServer | None = None
    replaces: bool = False  # a release directory of that name exists and is not the tarball's

    @property
    def config_changes(self) -> bool:
        return self.unpack or self.relink or any(path != PROFILE_PATH for path in self.files)

    @property
    def restart_needed(self) -> bool:
        """A running server that does not run what is (or is about to be) configured."""
        return self.running is not None and (self.running.stale or self.config_changes)

    @property
    def empty(self) -> bool:
        return not (self.conflict or self.unpack or self.relink or self.files or self.make_dirs or self.write_myid)

    def changes(self, spec: ZooKeeperSpec) -> list[Change]:
        if self.conflict:
            return [Change(f"refused: {self.conflict}")]
        out = []
        if self.unpack:
            target = self.release.directory(spec)
            aside = f"; the {target} there now is kept as {target}.replaced-<time>" if self.replaces else ""
            out.append(Change(f"stage and unpack {self.release.name} under {spec.install_dir} "
                              f"(sha256 {self.release.sha256[:12]}…){aside}"))
        for path, (now, wanted) in self.files.items():
            out.append(file_change(path, now, wanted, f"write {path}") if now else
                       Change(f"create {path}", file_diff(path, "", wanted)))
        if self.relink:
            out.append(Change(f"point {home(spec)} at {self.release.directory(spec)} "
                              f"(now: {self.link_before or 'missing'})"))
        if self.make_dirs:
            out.append(Change(f"create {spec.data_dir} and {spec.data_log_dir}"))
        if self.write_myid:
            out.append(Change(f"write myid {self.server_id} to {spec.data_dir}/myid"))
        if self.restart_needed:
            out.append(Change(restart_notice(self.running.pid)))
        return out


def restart_notice(pid: int) -> str:
    return (f"restart needed: the running server (pid {pid}) does not run this configuration; "
            f"run 'clusterctl zk restart --rolling'")


def profile_snippet(spec: ZooKeeperSpec) -> str:
    return render_profile_snippet({"ZOOKEEPER_HOME": home(spec)}, ["$ZOOKEEPER_HOME/bin"])


def decide(inventory: Inventory, host: str, state: HostState, release: Release) -> HostPlan:
    """What ``host`` needs for the inventory's ensemble (pure)."""
    spec = inventory.zookeeper
    server = next(s for s in spec.servers if s.host == host)
    plan = HostPlan(host, server.id, release, running=state.server)
    plan.conflict = myid_conflict(state.myid, server.id, spec.data_dir)
    if state.link_target == NOT_A_LINK:
        plan.conflict = plan.conflict or (f"{home(spec)} exists and is not a symbolic link: move it away, "
                                          f"clusterctl manages it as a link to the release")
    if plan.conflict:
        return plan
    target = release.directory(spec)
    plan.unpack = state.release_sha256 != release.sha256
    plan.replaces = plan.unpack and state.release_sha256 != ""
    plan.link_before = state.link_target
    plan.relink = state.link_target != target
    fresh = plan.unpack  # a new unpack brings a conf/ without our files
    wanted = {
        f"{target}/conf/zoo.cfg": ("" if fresh else state.zoo_cfg or "", render_zoo_cfg(spec, inventory, host)),
        f"{target}/conf/java.env": ("" if fresh else state.java_env or "", render_java_env(spec)),
        PROFILE_PATH: (state.profile or "", profile_snippet(spec)),
    }
    plan.files = {path: pair for path, pair in wanted.items() if pair[0] != pair[1]}
    plan.make_dirs = not state.dirs_exist
    plan.write_myid = state.myid is None
    return plan
