"""Scheduled backups, as pure decisions: which node takes them, the systemd timer and service that do it there,
and what each server node must change to have them (or to be rid of them).

The service runs ``zk_backup.sh take`` on the node itself (installed there
with the loader), so backups do not depend on the controller being up: the
same files and the same manifest as ``zk backup`` makes, proven by the same
offline load, into ``<root>/<cluster>/<time>/``, the newest N kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable

from ..errors import Refused, UsageError
from .status import EnsembleStatus, ServerStatus

EVERY = ("daily", "hourly")
ROOT = "/var/backups/zookeeper"
LIB_DIR = "/usr/local/lib/clusterctl"
UNIT_DIR = "/etc/systemd/system"
# How long after the calendar time a run may start, spread so that many clusters do not start at once.
SPREAD = {"daily": "30min", "hourly": "5min"}


def unit_base(cluster: str) -> str:
    """``clusterctl-backup-<cluster>``: one timer and service per cluster on a node."""
    return f"clusterctl-backup-{cluster}"


def backups_root(cluster: str) -> str:
    return f"{ROOT}/{cluster}"


def systemd_quote(word: str) -> str:
    """``word`` as one argument of an ExecStart= line (systemd.service(5), "Command lines")."""
    escaped = word.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    return f'"{escaped}"'


@dataclass(frozen=True)
class TakeArgs:
    """What ``zk_backup.sh take`` needs on the node (every path and name from the inventory)."""

    data_dir: str
    log_dir: str
    java_home: str
    zk_home: str
    client_port: int
    cluster: str
    server: str  # the node's host name in the inventory, for the manifest
    servers: dict[str, int]  # the ensemble's host → id when the schedule was installed
    keep: int

    def words(self) -> list[str]:
        members = ",".join(f"{host}={sid}" for host, sid in self.servers.items())
        return ["take", self.data_dir, self.log_dir, self.java_home, self.zk_home, str(self.client_port),
                backups_root(self.cluster), str(self.keep), self.cluster, self.server, members,
                f"{LIB_DIR}/backup_load.java"]


def render_service(args: TakeArgs) -> str:
    """The oneshot service that takes one backup on the node (pure)."""
    command = " ".join(systemd_quote(w) for w in ["/bin/bash", f"{LIB_DIR}/zk_backup.sh", *args.words()])
    return (f"# Written by clusterctl (zk backup --schedule); changes here are overwritten.\n"
            f"[Unit]\n"
            f"Description=clusterctl: a backup of ZooKeeper cluster {args.cluster} into "
            f"{backups_root(args.cluster)}\n"
            f"After=zookeeper.service\n"
            f"\n"
            f"[Service]\n"
            f"Type=oneshot\n"
            f"Nice=10\n"
            f"IOSchedulingClass=idle\n"
            f"ExecStart={command}\n")


def render_timer(cluster: str, every: str) -> str:
    """The timer that starts the service ``every`` ("daily" or "hourly"), also after a boot that missed one."""
    return (f"# Written by clusterctl (zk backup --schedule); changes here are overwritten.\n"
            f"[Unit]\n"
            f"Description=clusterctl: {every} backups of ZooKeeper cluster {cluster}\n"
            f"\n"
            f"[Timer]\n"
            f"OnCalendar={every}\n"
            f"RandomizedDelaySec={SPREAD[every]}\n"
            f"Persistent=true\n"
            f"\n"
            f"[Install]\n"
            f"WantedBy=timers.target\n")


def choose_node(status: EnsembleStatus, allowed: Iterable[str] | None = None) -> ServerStatus:
    """The default node for scheduled backups (pure): an observer, else a follower (inventory order), so the
    backups do not add to the leader's work; the leader only when no other server serves. Roles change
    (a follower may lead tomorrow): the node takes its backup whatever it is then."""
    allowed = None if allowed is None else set(allowed)
    candidates = [s for s in status.servers if s.serving and (allowed is None or s.host in allowed)]
    if not candidates:
        raise Refused("no serving server to take scheduled backups: name one with --on HOST")
    rank = {"observer": 0, "follower": 1}
    return min(candidates, key=lambda s: rank.get(s.role, 2))


@dataclass(frozen=True)
class NodeSchedule:
    """What a server node has of scheduled backups now (from its facts)."""

    systemd: bool
    service: str | None  # the unit files' text, None where absent
    timer: str | None
    timer_enabled: bool
    script: str | None  # the installed zk_backup.sh and loader
    loader: str | None
    backups: tuple[tuple[str, float], ...] = ()  # (name, mtime) of each complete backup there

    @property
    def installed(self) -> bool:
        return self.service is not None or self.timer is not None


@dataclass(frozen=True)
class Wanted:
    """What the chosen node must hold: the four files and the timer enabled."""

    host: str
    every: str
    keep: int
    service: str
    timer: str
    script: str
    loader: str


@dataclass(frozen=True)
class NodeChange:
    """What one node changes: files written (path → text), the timer enabled, or the schedule removed."""

    files: dict[str, str]
    enable: bool = False
    remove: bool = False

    @property
    def changes(self) -> bool:
        return bool(self.files) or self.enable or self.remove


def paths(cluster: str) -> dict[str, str]:
    base = unit_base(cluster)
    return {"service": f"{UNIT_DIR}/{base}.service", "timer": f"{UNIT_DIR}/{base}.timer",
            "script": f"{LIB_DIR}/zk_backup.sh", "loader": f"{LIB_DIR}/backup_load.java"}


def decide(cluster: str, nodes: dict[str, NodeSchedule], wanted: Wanted | None) -> dict[str, NodeChange]:
    """host → what changes there (pure): the wanted node gets what differs of its four files and its timer
    enabled; every other node that has the cluster's schedule has it removed (one node takes the backups).
    ``wanted`` None (--schedule off): removed everywhere. UsageError when the wanted node has no systemd."""
    where = paths(cluster)
    out: dict[str, NodeChange] = {}
    for host, node in nodes.items():
        if wanted is not None and host == wanted.host:
            if not node.systemd:
                raise UsageError(f"{host}: no systemd runs there, so no timer can take its backups: pick a node "
                                 f"with systemd (--on HOST), or run zk backup from cron on a controller")
            files = {where[k]: getattr(wanted, k) for k in where if getattr(node, k) != getattr(wanted, k)}
            enable = where["service"] in files or where["timer"] in files or not node.timer_enabled
            out[host] = NodeChange(files, enable=enable)
        elif node.installed:
            out[host] = NodeChange({}, remove=True)
        else:
            out[host] = NodeChange({})
    return out


def parse_backups(text: str) -> tuple[tuple[str, float], ...]:
    """``fact_backups``' lines (``NAME MTIME``) as (name, mtime), oldest first (pure)."""
    found = []
    for line in text.splitlines():
        name, _, mtime = line.strip().partition(" ")
        try:
            found.append((name, float(mtime)))
        except ValueError:
            continue
    return tuple(sorted(found, key=lambda b: b[1]))


def age_hours(mtime: float, now: float) -> float:
    return max(now - mtime, 0) / 3600


def describe_age(hours: float | None) -> str:
    """"3 h ago", "25 min ago", "2 d ago"; "none" for None (pure)."""
    if hours is None:
        return "none"
    if hours < 1:
        return f"{hours * 60:.0f} min ago"
    if hours < 48:
        return f"{hours:.0f} h ago"
    return f"{hours / 24:.0f} d ago"


@dataclass(frozen=True)
class Record:
    """What this controller installed (kept beside its own backups), so that ``zk status`` knows where to ask."""

    host: str
    every: str
    keep: int
    installed_at: str

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Record | None:
        try:
            data = json.loads(text)
            return cls(str(data["host"]), str(data["every"]), int(data["keep"]), str(data["installed_at"]))
        except (ValueError, KeyError, TypeError):
            return None

    @classmethod
    def now(cls, host: str, every: str, keep: int) -> Record:
        return cls(host, every, keep, datetime.now(timezone.utc).isoformat(timespec="seconds"))
