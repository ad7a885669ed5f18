"""zk backup --schedule: a systemd timer on one server node that takes the backups there (see zk/schedule.py).

Targets: every server node (one holds the schedule, any other that has it
loses it). Facts: each node's init system, the cluster's unit files, the
installed script and loader, its backups. Decide: :func:`~clusterctl.zk.schedule.decide`.
Apply: the files that differ written, the timer enabled and started; or the
timer stopped and the units removed (the backups stay).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import remote
from ..core.facts import query
from ..core.session import HostContext, Outcome, Session
from ..errors import HostsFailed, UsageError
from ..zk import schedule as zs
from ..zk.server import home, java_home
from ..zk.status import probe
from . import zookeeper
from .backup import default_destination, loader_source
from .day2 import Day2Plan

STEP = "zk-backup-schedule"
RECORD = "schedule.json"


def record_path(cluster: str) -> Path:
    """Where this controller notes the node it scheduled backups on (beside its own backups)."""
    return default_destination(cluster).parent / RECORD


def read_record(cluster: str) -> zs.Record | None:
    try:
        return zs.Record.from_json(record_path(cluster).read_text())
    except OSError:
        return None


def fact_queries(cluster: str) -> list:
    where = zs.paths(cluster)
    return [query("sched.init", "init_system"),
            query("sched.service", "file", where["service"]),
            query("sched.timer", "file", where["timer"]),
            query("sched.timer_state", "unit_state", f"{zs.unit_base(cluster)}.timer"),
            query("sched.script", "file", where["script"]),
            query("sched.loader", "file", where["loader"]),
            query("sched.backups", "backups", zs.backups_root(cluster))]


def node_schedule(facts: dict) -> zs.NodeSchedule:
    def text(name: str) -> str | None:
        return facts[name].output if facts[name].rc == 0 else None
    state = dict(line.split(" ", 1) for line in facts["sched.timer_state"].output.splitlines() if " " in line)
    return zs.NodeSchedule(systemd=facts["sched.init"].output.startswith("systemd"),
                           service=text("sched.service"), timer=text("sched.timer"),
                           timer_enabled=state.get("enabled", "").strip() == "enabled",
                           script=text("sched.script"), loader=text("sched.loader"),
                           backups=zs.parse_backups(facts["sched.backups"].output))


def gather(session: Session, hosts: list[str]) -> dict[str, zs.NodeSchedule]:
    cluster = session.inventory.cluster.name
    facts = session.gather(STEP, hosts, lambda host: fact_queries(cluster))
    missing = [h for h in hosts if h not in facts]
    if missing:
        raise HostsFailed()
    return {h: node_schedule(facts[h]) for h in hosts}


@dataclass
class SchedulePlan(Day2Plan):
    wanted: zs.Wanted | None = None
    changes: dict[str, zs.NodeChange] = field(default_factory=dict)


def plan_schedule(session: Session, every: str, keep: int | None, on: str | None) -> SchedulePlan:
    """What ``--schedule EVERY`` (or "off") changes on each server node; refused (UsageError) before anything
    changes: a --keep below 1, a node that is no server, a node without systemd. Reads only."""
    inventory = session.inventory
    spec = inventory.zookeeper
    cluster = inventory.cluster.name
    servers = zookeeper.servers(inventory)
    if every not in (*zs.EVERY, "off"):
        raise UsageError(f"--schedule {every}: say daily, hourly or off")
    if every == "off":
        if keep is not None or on is not None:
            raise UsageError("--schedule off removes the schedule wherever it is: drop --keep and --on")
        wanted = None
    else:
        if keep is None or keep < 1:
            raise UsageError(f"--schedule {every} needs --keep N (N >= 1): how many of the node's backups to keep")
        if on is not None and on not in servers:
            raise UsageError(f"--on {on}: not a server of {inventory.path} ({', '.join(servers)})")
        host = on or zs.choose_node(probe(session), session.targets(servers)).host
        args = zs.TakeArgs(spec.data_dir, spec.data_log_dir, java_home(inventory), home(spec), spec.client_port,
                           cluster, host, {s.host: s.id for s in spec.servers}, keep)
        wanted = zs.Wanted(host, every, keep, zs.render_service(args), zs.render_timer(cluster, every),
                           remote.load("zk_backup.sh").text.decode(), loader_source().decode())
    nodes = gather(session, servers)
    changes = zs.decide(cluster, nodes, wanted)
    plan = SchedulePlan(wanted=wanted, changes=changes)
    base = zs.unit_base(cluster)
    for host, change in changes.items():
        if change.remove:
            plan.change(STEP, host, f"stop and remove {base}.timer and .service (its backups in "
                                    f"{zs.backups_root(cluster)} stay)")
        elif change.files or change.enable:
            written = ", ".join(change.files) or "nothing"
            plan.change(STEP, host, f"write {written}; enable and start {base}.timer: {every} backups into "
                                    f"{zs.backups_root(cluster)}/<time>/, the newest {keep} kept")
        elif wanted is not None and host == wanted.host:
            plan.note(STEP, host, f"{base}.timer already takes {every} backups here, the newest {keep} kept")
    if wanted is None and not any(c.remove for c in changes.values()):
        plan.note(STEP, servers[0], "no node has this cluster's scheduled backups: nothing to remove")
    return plan


def apply_schedule(session: Session, plan: SchedulePlan) -> None:
    """Carry out ``plan``; the record of where the schedule is follows what was done. HostsFailed otherwise."""
    cluster = session.inventory.cluster.name
    base = zs.unit_base(cluster)

    def work(ctx: HostContext) -> Outcome:
        change = plan.changes[ctx.host.name]
        if change.remove:
            ctx.run_script("zk_backup.sh", "schedule-off", base, zs.LIB_DIR, become=True)
            return Outcome.changed(f"{base}.timer removed")
        for path, text in change.files.items():
            ctx.write_file(path, text, mode="755" if path.endswith(".sh") else "644", owner="root", group="root",
                           become=True)
        if change.enable:
            ctx.run_script("zk_backup.sh", "schedule-on", f"{base}.timer", become=True)
        return Outcome.changed(f"{plan.wanted.every} backups by {base}.timer")

    hosts = [h for h, c in plan.changes.items() if c.changes]
    session.for_each(STEP, hosts, work)
    for host in hosts:
        session.forget_facts(host, "sched.")
    if any(h in session.failures for h in hosts):
        raise HostsFailed()
    path = record_path(cluster)
    if plan.wanted is None:
        path.unlink(missing_ok=True)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".{os.getpid()}")
        tmp.write_text(zs.Record.now(plan.wanted.host, plan.wanted.every, plan.wanted.keep).to_json())
        tmp.replace(path)


@dataclass(frozen=True)
class BackupAges:
    """The newest backup's age in hours: on this controller, and on the scheduled node (None: none there)."""

    here: float | None
    record: zs.Record | None = None
    on_node: float | None = None
    node_error: str = ""


def backup_ages(session: Session) -> BackupAges:
    """For zk status: the newest backup here, and on the node this controller scheduled backups on (one
    read over SSH, only when there is such a node). Never fails the run."""
    from .doctor import newest_backup_age
    cluster = session.inventory.cluster.name
    here = newest_backup_age(cluster)
    record = read_record(cluster)
    if record is None or record.host not in session.inventory.hosts:
        return BackupAges(here)
    try:
        facts = session.gather(STEP, [record.host], lambda host: [query("sched.backups", "backups",
                                                                        zs.backups_root(cluster))])
    except Exception as exc:  # status reports; an unreachable node is said, not fatal
        return BackupAges(here, record, None, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    if record.host not in facts:
        failure = session.failures.get(record.host)
        return BackupAges(here, record, None, failure.reason if failure else "it did not answer")
    backups = zs.parse_backups(facts[record.host]["sched.backups"].output)
    newest = zs.age_hours(backups[-1][1], time.time()) if backups else None
    return BackupAges(here, record, newest)

