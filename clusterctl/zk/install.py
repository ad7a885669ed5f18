"""Installing ZooKeeper on a server: what a node has, what it needs (pure), and doing only that.

The runbook's by-hand steps, made repeatable and made a service: the release
unpacked under install_dir (root's, read-only to the server) and pointed at by
``<install_dir>/zookeeper`` (swapped atomically), ``/etc/profile.d/zookeeper.sh``,
conf/zoo.cfg and conf/java.env rendered from the inventory, a system account
owning the data, transaction-log and log directories, myid, and where systemd
runs the node, ``zookeeper.service`` with its drop-in, enabled. A data
directory that already holds another server's myid belongs to that server: it
is refused, never overwritten.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from .. import remote
from ..core.facts import Fact, FactQuery, query
from ..core.transfer import local_file
from ..inventory import Inventory, ZooKeeperSpec
from ..package_files import tarball_top_dir
from ..plan import Change, file_change, file_diff
from ..render.jaas import NO_SASL, jaas_path
from ..render.profile import render_profile_snippet
from ..render.zk_service import (DROPIN_PATH, GUARD_PATH, UNIT, UNIT_PATH, render_dropin, render_unit,
                                 secret_env_path)
from ..render.key_values import parse_key_values
from ..render.zoo_cfg import (changed_settings, dynamic_path, parse_members, render_dynamic, render_java_env,
                              render_secret_env, render_zoo_cfg, static_differs, keystore_path, truststore_path)
from ..tls.phases import TlsState, lowest, running_state, target_state, written_state
from .server import NOT_SUPERVISED, home, java_home, pid_file

PROFILE_PATH = "/etc/profile.d/zookeeper.sh"
PENDING_SECRET = "(made at the first install)"  # a secret's file while its password is not made yet
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


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def stamp_path(spec: ZooKeeperSpec) -> str:
    """Written whenever clusterctl changes what the server reads at start, saying what changed (one line
    each): ZooKeeper rewrites zoo.cfg itself, so zoo.cfg's own mtime cannot tell a restart is needed."""
    return f"{spec.conf_dir}/.clusterctl-written"


def stamp_text(plan: "ServerPlan", before: str | None) -> str:
    """The stamp's new content: what this run changed, after what the stamp said if the server has not
    restarted since (pure)."""
    kept = []
    if plan.running is not None and before and plan.running.stale:
        kept = [line for line in before.splitlines() if line and not line.isdigit()]
    return "".join(line + "\n" for line in dict.fromkeys([*kept, *plan.config_changes]))


def tls_marker_path(spec: ZooKeeperSpec) -> str:
    """Written by a TLS roll before it changes a server's TLS phase ("from X to Y"): until the server has
    restarted since, it still runs X (see :func:`clusterctl.tls.phases.running_state`)."""
    return f"{spec.conf_dir}/.clusterctl-tls"


def ca_marker_path(spec: ZooKeeperSpec) -> str:
    """Written by a CA rotation roll before it changes a server's trust or certificate ("from X to Y"): until
    the server has restarted since, it still runs stage X (see :mod:`clusterctl.tls.rotation`)."""
    return f"{spec.conf_dir}/.clusterctl-ca"


def sasl_marker_path(spec: ZooKeeperSpec) -> str:
    """Written by a SASL password rotation roll before it changes a server's JAAS file ("from X to Y"): until
    the server has restarted since, it still runs stage X (see :mod:`clusterctl.zk.sasl_rotation`)."""
    return f"{spec.conf_dir}/.clusterctl-sasl"


def config_files(spec: ZooKeeperSpec) -> list[str]:
    """The files a running server read at start: one changed since means it needs a restart."""
    return [home(spec), stamp_path(spec), UNIT_PATH, DROPIN_PATH, tls_marker_path(spec), ca_marker_path(spec),
            sasl_marker_path(spec)]


@lru_cache(maxsize=8)
def release_member(package: Path, mtime_ns: int, member: str) -> str:
    """A text file of the release tarball (its own log4j.properties), read on the controller."""
    import tarfile
    with tarfile.open(package, "r:gz") as tar:
        found = next((m for m in tar if m.name.split("/", 1)[-1] == member), None)
        if found is None:
            return ""
        return tar.extractfile(found).read().decode("utf-8", "replace")


def server_fact(spec: ZooKeeperSpec) -> FactQuery:
    """The running server: its pid, age, manager, user and the config files changed since it started."""
    return query("zk.server", "zk_server", UNIT, pid_file(spec), *config_files(spec))


def facts(spec: ZooKeeperSpec, release: Release | None) -> list[FactQuery]:
    """What a server node has now (one round trip with every other step's); without the release
    tarball (None), all but whether that release is unpacked."""
    unpacked = [query("zk.release", "release_mark", release.directory(spec), RELEASE_MARK)] if release else []
    return unpacked + [
        query("zk.link", "link", home(spec)),
        query("zk.zoo_cfg", "file", f"{spec.conf_dir}/zoo.cfg"),
        query("zk.java_env", "file", f"{spec.conf_dir}/java.env"),
        query("zk.log4j", "file", f"{spec.conf_dir}/log4j.properties"),
        query("zk.secret", "file", secret_env_path(spec)),
        query("zk.dynamic", "zk_dynamic", f"{spec.conf_dir}/zoo.cfg"),
        query("zk.stamp", "file", stamp_path(spec)),
        query("zk.data", "zk_data", spec.data_dir, spec.data_log_dir),
        query("zk.profile", "file", PROFILE_PATH),
        query("zk.myid", "file", f"{spec.data_dir}/myid"),
        query("zk.dirs", "stat", spec.data_dir, spec.data_log_dir, spec.log_dir, spec.conf_dir),
        server_fact(spec),
        query("zk.init", "init_system"),
        query("zk.account", "account", spec.user, spec.group),
        query("zk.unit", "file", UNIT_PATH),
        query("zk.dropin", "file", DROPIN_PATH),
        query("zk.guard", "file", GUARD_PATH),
        query("zk.unit_state", "unit_state", UNIT),
        query("zk.tls_marker", "file", tls_marker_path(spec)),
        query("zk.tls_cert", "pem_certs", keystore_path(spec)),
        query("zk.tls_trust", "file", truststore_path(spec)),
        query("zk.ca_marker", "file", ca_marker_path(spec)),
        query("zk.jaas", "sha256", jaas_path(spec)),
        query("zk.sasl_marker", "file", sasl_marker_path(spec)),
        # Where the plaintext client port listens, and how many other hosts use it now: TLS needs both.
        query("zk.bound", "bound", spec.client_port),
        query("zk.plaintext_clients", "connected", spec.client_port),
    ]


@dataclass(frozen=True)
class RunningServer:
    pid: int
    seconds: int  # how long it has run
    manager: str  # "systemd" (the unit's main process) or "zkserver" (started by zkServer.sh)
    user: str
    changed_since: tuple[str, ...] = ()  # config files written after it started

    @property
    def stale(self) -> bool:
        return bool(self.changed_since)

    @classmethod
    def from_fact(cls, fact: Fact) -> RunningServer | None:
        lines = fact.lines
        first = lines[0].split() if fact.ok and lines else []
        if len(first) != 4 or not (first[0].isdigit() and first[1].isdigit()):
            return None
        seconds = int(first[1])
        changed = []
        for line in lines[1:]:
            age, _, path = line.partition(" ")
            if age.lstrip("-").isdigit() and int(age) < seconds:
                changed.append(path)
        return cls(int(first[0]), seconds, first[2], first[3], tuple(changed))


@dataclass(frozen=True)
class ServerState:
    """What one server node has, read from its facts."""

    release_sha256: str  # UNMARKED for a directory unpacked by someone else, "" when there is none
    link_target: str
    zoo_cfg: str | None
    java_env: str | None
    profile: str | None
    myid: str | None
    dirs: dict[str, str]  # path → "MODE OWNER GROUP" for each of data, log and log dirs that exists
    server: RunningServer | None
    systemd: bool = False
    account: bool = False  # the service user and group exist
    unit: str | None = None
    dropin: str | None = None
    guard: str | None = None  # the unit's start guard (remote/zk_member_guard.sh) as installed
    enabled: bool = False
    log4j: str | None = None
    secret: str | None = None
    dynamic: tuple[str, str] | None = None  # (path, content) of the membership file the static zoo.cfg names
    has_data: bool = False  # snapshots or transaction logs in the data dirs
    stamp: str | None = None  # what clusterctl last changed that the server reads at start
    tls_marker: str | None = None  # the last TLS roll's "from X to Y"
    tls_cert: str | None = None  # the certificates of its keystore (PEM; the key in it is never read)
    tls_trust: str | None = None  # the CA certificates it trusts
    ca_marker: str | None = None  # the last CA rotation roll's "from X to Y"
    jaas_sha256: str | None = None  # its JAAS file's (SASL passwords: compared, never read)
    sasl_marker: str | None = None  # the last SASL password rotation roll's "from X to Y"

    @property
    def written_tls(self) -> TlsState:
        """The TLS phase its zoo.cfg turns on."""
        return written_state(self.zoo_cfg)

    @property
    def running_tls(self) -> TlsState:
        """The TLS phase it runs (or starts with, when it is down)."""
        restarted = self.server is None or not any(p.endswith("/.clusterctl-tls") for p in self.server.changed_since)
        return running_state(self.written_tls, self.tls_marker, restarted)

    @property
    def restarted_since_ca_marker(self) -> bool:
        return self.server is None or not any(p.endswith("/.clusterctl-ca") for p in self.server.changed_since)

    @property
    def restarted_since_sasl_marker(self) -> bool:
        return self.server is None or not any(p.endswith("/.clusterctl-sasl") for p in self.server.changed_since)

    @property
    def members(self) -> dict[int, tuple[str, str]]:
        """id → (host, role) of the membership this server has (empty before it has one)."""
        return parse_members(self.dynamic[1]) if self.dynamic else {}

    @property
    def version(self) -> int:
        """The membership's version: ZooKeeper's (in the file, or its name's suffix after a reconfig),
        0 for the one clusterctl wrote at bootstrap."""
        if not self.dynamic:
            return 0
        path, content = self.dynamic
        suffix = path.rsplit("/", 1)[-1].rpartition("zoo.cfg.dynamic.")[2] if ".dynamic." in path else ""
        for text in (parse_key_values(content).get("version", ""), suffix):
            if text and all(c in "0123456789abcdefABCDEF" for c in text):
                return int(text, 16)
        return 0

    @property
    def took_part(self) -> bool:
        """Its server has run with its membership (it runs, or has written data)."""
        return self.dynamic is not None and (self.server is not None or self.has_data)

    @classmethod
    def from_facts(cls, f: dict[str, Fact], spec: ZooKeeperSpec | None = None) -> ServerState:
        def text(name: str) -> str | None:
            fact = f.get(name)
            return fact.output if fact is not None and fact.ok else None
        release = f["zk.release"].output.strip() if "zk.release" in f else ""
        link = f["zk.link"].output.strip()
        account = f["zk.account"].lines if "zk.account" in f else []
        state_lines = dict(line.split(" ", 1) for line in f["zk.unit_state"].lines if " " in line) \
            if "zk.unit_state" in f else {}
        owners = f["zk.dirs"].lines
        paths = [spec.data_dir, spec.data_log_dir, spec.log_dir, spec.conf_dir] if spec else []
        dynamic = f["zk.dynamic"].output if "zk.dynamic" in f and f["zk.dynamic"].ok else ""
        first, _, content = dynamic.partition("\n")
        return cls(
            release_sha256=release[5:] if release.startswith("mark ") else (UNMARKED if release else ""),
            link_target=link[5:] if link.startswith("link ") else (NOT_A_LINK if link else ""),
            zoo_cfg=text("zk.zoo_cfg"),
            java_env=text("zk.java_env"),
            profile=text("zk.profile"),
            myid=f["zk.myid"].output.strip() if f["zk.myid"].ok else None,
            dirs=dict(zip(paths, owners)) if f["zk.dirs"].ok else {},
            server=RunningServer.from_fact(f["zk.server"]),
            systemd="zk.init" in f and f["zk.init"].output.startswith("systemd"),
            account=any(x.startswith("user ") for x in account) and any(x.startswith("group ") for x in account),
            unit=text("zk.unit"),
            dropin=text("zk.dropin"),
            guard=text("zk.guard"),
            enabled=state_lines.get("enabled", "").strip() == "enabled",
            log4j=text("zk.log4j"),
            secret=text("zk.secret"),
            dynamic=(first, content) if first else None,
            has_data="zk.data" in f and f["zk.data"].output.strip() not in ("", "0"),
            stamp=text("zk.stamp"),
            tls_marker=text("zk.tls_marker"),
            tls_cert=text("zk.tls_cert"),
            tls_trust=text("zk.tls_trust"),
            ca_marker=text("zk.ca_marker"),
            jaas_sha256=(text("zk.jaas") or "").strip() or None,
            sasl_marker=text("zk.sasl_marker"),
        )


def myid_conflict(current: str | None, wanted: int, data_dir: str) -> str | None:
    """Why ``current`` myid must not be replaced by ``wanted``, or None when it may stay or be written (pure)."""
    if current is None or current == str(wanted):
        return None
    return (f"{data_dir}/myid holds {current!r} but the inventory gives this server id {wanted}: "
            f"refusing to overwrite another server's identity (its data belongs to that server). "
            f"Fix the inventory, or move {data_dir} away if this node really is a new server {wanted}")


@dataclass
class ServerPlan:
    """What one server node needs; empty when it is as the inventory says."""

    host: str
    server_id: int
    release: Release | None  # None: its tarball is not on this controller, and is not compared
    conflict: str | None = None
    unpack: bool = False
    relink: bool = False
    link_before: str = ""
    files: dict[str, tuple[str, str]] = field(default_factory=dict)  # path → (now, wanted), differing only
    joins: bool = False  # a server the running ensemble does not have yet: clusterctl zk add
    make_account: bool = False
    make_dirs: bool = False  # create them, or give them to the service account
    write_myid: bool = False
    enable: bool = False  # daemon-reload and enable the unit
    running: RunningServer | None = None
    replaces: bool = False  # a release directory of that name exists and is not the tarball's
    systemd: bool = False
    user: str = "zookeeper"
    dynamic_path: str = ""  # the first membership file, written only before the server has one
    settings: list[str] = field(default_factory=list)  # zoo.cfg's settings that change: "syncLimit 5 → 7"
    stamp: str | None = None  # what the stamp says was changed last
    stamp_file: str = ""
    membership_notes: list[str] = field(default_factory=list)  # where the running membership differs
    jaas_path: str = ""
    jaas: str | None = None  # the JAAS file to write (SASL passwords; never shown), None: it is as wanted

    @property
    def config_changes(self) -> list[str]:
        """What this plan writes that the running server read at start (files, the release), in words."""
        changed = []
        for path in self.files:
            if path in (PROFILE_PATH, self.dynamic_path):
                continue
            zoo_cfg = path.endswith("/zoo.cfg") and self.settings
            changed.append(f"{path} ({', '.join(self.settings)})" if zoo_cfg else path)
        if self.jaas is not None:
            changed.append(f"{self.jaas_path} (SASL passwords)")
        if self.unpack or self.relink:
            changed.insert(0, f"the release ({self.release.name})")
        return changed

    @property
    def migrate(self) -> bool:
        """A server runs as root, or outside the service where there is one (started by zkServer.sh)."""
        return self.running is not None and (self.running.user == "root"
                                             or (self.systemd and self.running.manager != "systemd"))

    @property
    def restart_reasons(self) -> list[str]:
        """Why the running server must restart to run what is (or is about to be) configured; empty if not."""
        if self.running is None:
            return []
        reasons = []
        if self.migrate and self.systemd:
            reasons.append(f"runs outside {UNIT} (as {self.running.user}, started by zkServer.sh)")
        elif self.migrate:
            reasons.append(f"runs as root, not as {self.user}")
        since = []
        for path in self.running.changed_since:
            # The stamp says what it stands for; an older one (a bare time) only that the config changed.
            said = [line for line in (self.stamp or "").splitlines() if line and not line.isdigit()]
            since += said if path == self.stamp_file and said else [path]
        changed = list(dict.fromkeys([*since, *self.config_changes]))
        if changed:
            reasons.append("runs an older configuration: changed since it started: " + ", ".join(changed))
        return reasons

    @property
    def restart_needed(self) -> bool:
        return bool(self.restart_reasons)

    @property
    def empty(self) -> bool:
        return not (self.conflict or self.unpack or self.relink or self.files or self.make_account
                    or self.make_dirs or self.write_myid or self.enable or self.jaas is not None)

    def changes(self, spec: ZooKeeperSpec) -> list[Change]:
        if self.conflict:
            return [Change(f"refused: {self.conflict}", change=False)]
        out = []
        if self.unpack:
            target = self.release.directory(spec)
            aside = f"; the {target} there now is kept as {target}.replaced-<time>" if self.replaces else ""
            out.append(Change(f"stage and unpack {self.release.name} under {spec.install_dir} "
                              f"(sha256 {self.release.sha256[:12]}…){aside}"))
        if self.make_account:
            out.append(Change(f"create the system account {spec.user}:{spec.group} (no login shell)"))
        for path, (now, wanted) in self.files.items():
            out.append(file_change(path, now, wanted, f"write {path}") if now else
                       Change(f"create {path}", file_diff(path, "", wanted)))
        if self.jaas == NO_SASL:
            out.append(Change(f"empty {self.jaas_path} of its SASL passwords (SASL is off on every server)"))
        elif self.jaas is not None:
            # Compared by its hash and never shown: its lines are passwords.
            out.append(Change(f"write {self.jaas_path} (SASL passwords, {spec.user}'s alone; not shown)"))
        if self.relink:
            out.append(Change(f"point {home(spec)} at {self.release.directory(spec)} "
                              f"(now: {self.link_before or 'missing'})"))
        if self.make_dirs:
            out.append(Change(f"create {spec.data_dir}, {spec.data_log_dir} and {spec.log_dir}, "
                              f"owned by {spec.user}"))
        if self.write_myid:
            out.append(Change(f"write myid {self.server_id} to {spec.data_dir}/myid"))
        if self.enable:
            out.append(Change(f"enable {UNIT} (it starts at boot)"))
        return out

    def notes(self) -> list[str]:
        """What plan and status say about this server beyond the changes."""
        notes = [] if self.systemd else [NOT_SUPERVISED.format(user=self.user)]
        if self.joins:
            notes.append(f"{self.host} is not in the running ensemble yet: clusterctl zk add {self.host} "
                         f"installs, starts and adds it, one at a time")
        notes += self.membership_notes
        if self.restart_needed:
            notes.append(restart_notice(self.running.pid, self.restart_reasons))
        return notes


def restart_notice(pid: int, reasons: list[str]) -> str:
    """One line: why the server must restart, e.g. "restart needed: the server (pid 42) runs as root"."""
    return f"restart needed: the server (pid {pid}) {'; '.join(reasons)}"


def profile_snippet(spec: ZooKeeperSpec) -> str:
    return render_profile_snippet({"ZOOKEEPER_HOME": home(spec)}, ["$ZOOKEEPER_HOME/bin"])


def dirs_ready(state: ServerState, spec: ZooKeeperSpec) -> bool:
    """The data, transaction-log, log and config directories exist and belong to the service account."""
    wanted = [spec.data_dir, spec.data_log_dir, spec.log_dir, spec.conf_dir]
    return all(state.dirs.get(path, "").split()[1:] == [spec.user, spec.group] for path in wanted)


def inventory_members(spec: ZooKeeperSpec) -> dict[int, tuple[str, str]]:
    return {s.id: (s.host, "observer" if s.observer else "participant") for s in spec.servers}


def running_members(states: dict[str, ServerState], leader: str | None = None) -> dict[int, tuple[str, str]]:
    """The membership the ensemble runs, else none (a new ensemble) (pure).

    The leader's, when one is known: it writes a reconfig's membership as the
    reconfig commits, while a follower may still hold the one before. Else the
    newest that servers which took part hold (reconfig gives each a higher
    version); among equal versions, the one most of them hold: a joiner
    started but not yet added holds the running membership plus itself, under
    the same version.
    """
    if leader in states and states[leader].took_part:
        return states[leader].members
    taken = [s for s in states.values() if s.took_part]
    if not taken:
        return {}
    newest = max(s.version for s in taken)
    held = [tuple(sorted(s.members.items())) for s in taken if s.version == newest]
    return dict(max(set(held), key=lambda m: (held.count(m), -len(m))))


def membership_notes(spec: ZooKeeperSpec, host: str, running: dict[int, tuple[str, str]]) -> list[str]:
    """What ``host``'s plan says where the running membership is not the inventory's (pure).

    A role that differs is said on its own server; members the inventory no
    longer lists, on the inventory's first server.
    """
    if not running:
        return []
    wanted = inventory_members(spec)
    notes = []
    own = next(s for s in spec.servers if s.host == host)
    now = running.get(own.id)
    if now is not None and now[0] == host and now[1] != wanted[own.id][1]:
        verb = "demote" if own.observer else "promote"
        notes.append(f"{host} runs as {'a voter' if now[1] == 'participant' else 'an observer'}; the inventory "
                     f"makes it {'an observer' if own.observer else 'a voter'}: clusterctl zk {verb} {host}")
    if host == spec.hosts[0]:
        listed = {s.host for s in spec.servers}
        for sid, (name, _) in sorted(running.items()):
            if name not in listed:
                notes.append(f"the running ensemble has server.{sid} ({name}), which [zookeeper.servers] does "
                             f"not list: clusterctl zk remove {name}")
    return notes


def joiner_problem(spec: ZooKeeperSpec, host: str, state: ServerState,
                   running: dict[int, tuple[str, str]]) -> str | None:
    """Why ``host`` must not join the running ensemble as it is (another ensemble's state), else None.

    A joiner clusterctl started (its membership: the running one and itself)
    has synced this ensemble's data: it may go on joining.
    """
    if state.dynamic and running.items() <= state.members.items():
        return None
    if state.has_data:
        return (f"{spec.data_dir} (or {spec.data_log_dir}) holds snapshots or transaction logs, but {host} is not in "
                f"the running ensemble: another ensemble's state would be served. Move {spec.data_dir}/version-2 "
                f"away (keep it if it matters), then run clusterctl zk add {host}")
    if state.dynamic and state.version > 0:
        return (f"{state.dynamic[0]} is the membership of an ensemble {host} is not part of (a stale dynamic "
                f"config): move it and {spec.conf_dir}/zoo.cfg away, then run clusterctl zk add {host}")
    return None


def tls_to_write(spec: ZooKeeperSpec, states: dict[str, ServerState]) -> dict[str, TlsState]:
    """The TLS phase each server's zoo.cfg keeps when it is written (pure).

    A new ensemble starts as [tls] says. On a running one the phase changes
    only in a TLS roll (see :mod:`clusterctl.steps.tls`): a server keeps the
    phase its zoo.cfg has, and one without a zoo.cfg (a joiner) gets the
    lowest phase the ensemble runs.
    """
    took = [s for s in states.values() if s.took_part]
    if not took:
        target = target_state(spec.tls.quorum, spec.tls.client, spec.sasl.quorum)
        return {host: target for host in states}
    joining = lowest(s.running_tls for s in took)
    return {host: state.written_tls if state.zoo_cfg is not None else joining for host, state in states.items()}


def decide(inventory: Inventory, host: str, state: ServerState, release: Release | None,
           running: dict[int, tuple[str, str]] | None = None, digest: str = "",
           tls: TlsState = TlsState(), jaas: str | None = None) -> ServerPlan:
    """What ``host`` needs for the inventory's ensemble (pure).

    ``running`` is the membership the ensemble runs now (from its servers'
    facts; empty for a new ensemble); ``digest`` the super user's; ``tls`` the
    TLS phase its zoo.cfg keeps (see :func:`tls_to_write`); ``jaas`` the JAAS
    file it holds (None: no SASL, see :func:`clusterctl.zk.sasl.wanted_jaas`). Without the
    ``release`` (its tarball is not here), what comes from it (the release
    itself, its log4j.properties) is left out of the comparison.
    """
    spec = inventory.zookeeper
    running = running or {}
    server = next(s for s in spec.servers if s.host == host)
    plan = ServerPlan(host, server.id, release, running=state.server, systemd=state.systemd, user=spec.user,
                    dynamic_path=dynamic_path(spec), stamp=state.stamp, stamp_file=stamp_path(spec))
    plan.conflict = myid_conflict(state.myid, server.id, spec.data_dir)
    if state.link_target == NOT_A_LINK:
        plan.conflict = plan.conflict or (f"{home(spec)} exists and is not a symbolic link: move it away, "
                                          f"clusterctl manages it as a link to the release")
    plan.joins = bool(running) and server.id not in running
    plan.membership_notes = membership_notes(spec, host, running)
    if plan.joins and not plan.conflict:
        plan.conflict = joiner_problem(spec, host, state, running)
    if plan.conflict:
        return plan
    plan.link_before = state.link_target
    java = java_home(inventory)
    login = jaas is not None  # the JVM reads the JAAS file
    wanted = {f"{spec.conf_dir}/java.env": (state.java_env or "", render_java_env(
        spec, java, supervised=state.systemd, super_digest=digest, jaas=login))}
    plan.jaas_path = jaas_path(spec)
    if jaas is None and state.jaas_sha256 is not None:
        jaas = NO_SASL  # SASL is off on every server: the passwords go from the node (the JVM no longer reads it)
    if jaas is not None and (jaas == PENDING_SECRET or state.jaas_sha256 != sha256_text(jaas)):
        plan.jaas = jaas
    if release is not None:
        plan.unpack = state.release_sha256 != release.sha256
        plan.replaces = plan.unpack and state.release_sha256 != ""
        plan.relink = state.link_target != release.directory(spec)
        wanted[f"{spec.conf_dir}/log4j.properties"] = (state.log4j or "", release_member(
            release.package, release.package.stat().st_mtime_ns, "conf/log4j.properties"))
    wanted[PROFILE_PATH] = (state.profile or "", profile_snippet(spec))
    zoo_cfg = render_zoo_cfg(spec, inventory, host, tls=tls, dynamic_file=state.dynamic[0] if state.dynamic else None)
    if state.zoo_cfg is None or static_differs(state.zoo_cfg, zoo_cfg):
        wanted[f"{spec.conf_dir}/zoo.cfg"] = (state.zoo_cfg or "", zoo_cfg)
        plan.settings = changed_settings(state.zoo_cfg, zoo_cfg) if state.zoo_cfg else []
    if state.dynamic is None:
        # The first membership: the running ensemble's and this server (a joiner), or the inventory's.
        members = dict(running or inventory_members(spec))
        members[server.id] = (host, "observer" if server.observer else "participant")
        wanted[dynamic_path(spec)] = ("", render_dynamic(spec, [(i, h, r == "observer") for i, (h, r) in members.items()]))
    if state.systemd:
        wanted[UNIT_PATH] = (state.unit or "", render_unit(spec, inventory))
        wanted[DROPIN_PATH] = (state.dropin or "", render_dropin(spec, java, jaas=login))
        wanted[GUARD_PATH] = (state.guard or "", guard_text())
        wanted[secret_env_path(spec)] = (state.secret or "", render_secret_env(digest))
    plan.files = {path: pair for path, pair in wanted.items() if pair[0] != pair[1]}
    plan.make_account = not state.account
    plan.make_dirs = not dirs_ready(state, spec)
    plan.write_myid = state.myid is None
    plan.enable = state.systemd and (not state.enabled or UNIT_PATH in plan.files or DROPIN_PATH in plan.files)
    return plan


def guard_text() -> str:
    """The unit's start guard, as it is installed on a node (package data)."""
    return remote.load("zk_member_guard.sh").text.decode()


def dir_mode(path: str) -> str:
    """The mode of a directory the install makes for ``path``: the guard's is the service account's to read
    (the unit runs it as that account), every other root's and its group's."""
    return "755" if path == GUARD_PATH else "750"


def file_owner(spec: ZooKeeperSpec, path: str) -> tuple[str, str, str]:
    """(owner, group, mode) of a file the install writes: ZooKeeper rewrites zoo.cfg and its membership
    itself; the secret is root's alone; java.env holds it where there is no systemd."""
    if path in (f"{spec.conf_dir}/zoo.cfg", dynamic_path(spec)):
        return spec.user, spec.group, "640"
    if path == secret_env_path(spec):
        return "root", "root", "600"
    if path == jaas_path(spec):
        return spec.user, spec.group, "600"
    if path == f"{spec.conf_dir}/java.env":
        return "root", spec.group, "640"
    return "root", "root", "644"
