"""zk recover: an ensemble that lost its quorum for good, rebuilt from its most recent surviving server.

Decided first, reading only (:func:`plan_recover`): which servers' nodes
answer; the membership they hold; whether a quorum of it is up (then
recover is refused: ``zk replace`` is the tool); each surviving server's
last zxid, read offline from its own snapshots and logs with the release's
classes (:mod:`clusterctl.zk.recover` decides from them). Then
(:func:`recover`):

- every surviving server is stopped;
- on the chosen one, its membership files are moved to
  ``<data_dir>.before-recover-<time>/conf`` (its data stays: it is what the
  ensemble comes back from), it is given a membership of itself alone, as
  ``zk install`` writes a first one, started, and waited for until it leads;
- every other server whose node answers is set aside (its data and
  membership moved to ``<data_dir>.before-recover-<time>``, never deleted),
  installed as a new server of the ensemble as it stands, and added with
  ``zk add``'s own step: started as a joiner, reconfigured in, waited for.

Servers whose nodes do not answer are named; run ``zk recover`` again once
they are back (it then only sets them aside and adds them: the "grow" verdict).
"""

from __future__ import annotations

import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Iterator

from ..core.session import HostContext, Outcome, Session
from ..errors import ClusterctlError, HostsFailed
from ..inventory import Host
from ..zk import recover as zkr
from ..zk.membership import Member, MembershipChange, margin
from ..zk.server import home, java_home
from ..zk.status import VOTING_ROLES, EnsembleStatus, probe
from . import membership, zookeeper
from .backup import loader_source
from .base import run_steps
from .day2 import Day2Plan

READ_STEP = "zk-recover-read"
RECOVER_STEP = "zk-recover"
ADD_STEP = membership.STEPS["add"]
SCRIPT = "zk_recover.sh"
ASIDE = "before-recover"


def answers(host: Host, timeout: float = 3.0) -> bool:
    """Whether ``host``'s sshd accepts a connection (behind a bastion: assumed; the login will tell)."""
    if host.jump:
        return True
    try:
        socket.create_connection((host.address, host.port), timeout).close()
        return True
    except OSError:
        return False


@contextmanager
def ensemble_of(session: Session, hosts: list[str]) -> Iterator[None]:
    """The session's inventory with only ``hosts`` in [zookeeper.servers] for a block: the ensemble as it
    stands while it is rebuilt, so that status, install and ``zk add`` judge the quorum by its members."""
    full = session.inventory
    spec = full.zookeeper
    session.inventory = replace(full, zookeeper=replace(spec, servers=tuple(s for s in spec.servers
                                                                            if s.host in hosts)))
    try:
        yield
    finally:
        session.inventory = full


@dataclass
class RecoverPlan(Day2Plan):
    verdict: zkr.Verdict | None = None
    members: dict[int, Member] = field(default_factory=dict)  # the membership the rebuild starts from
    stamp: str = ""

    @property
    def zxid_text(self) -> str:
        return zkr.format_zxid(self.verdict.zxid) if self.verdict and self.verdict.zxid is not None else ""

    def aside(self, session: Session) -> str:
        return f"{session.inventory.zookeeper.data_dir}.{ASIDE}-{self.stamp}"


def read_last_zxid(ctx: HostContext) -> Outcome:
    """The server's last zxid and znode count, loaded offline from its data (read only)."""
    inventory = ctx.session.inventory
    spec, loader = inventory.zookeeper, loader_source()
    result = ctx.run_script(SCRIPT, "lastzxid", java_home(inventory), home(spec), spec.data_dir, spec.data_log_dir,
                            len(loader), payload=loader, become=True)
    survivor = zkr.parse_last_zxid(ctx.host.name, result.stdout)
    return Outcome.ok(survivor.describe(), survivor)


def plan_recover(session: Session) -> RecoverPlan:
    """What ``zk recover`` will do; refused (Refused, UsageError) before anything changes. Reads only."""
    inventory = session.inventory
    servers = zookeeper.servers(inventory)
    reachable = [h for h in servers if answers(inventory.hosts[h])]
    with ensemble_of(session, reachable):
        states = zookeeper.server_facts(session, reachable)
        status = probe(session)
    running = membership.running_membership(session, reachable)
    voting = {s.host for s in status.servers if s.role in VOTING_ROLES}
    members = {m.host for m in running.values()}
    readable = [h for h in reachable if h in members and states[h].has_data and status.server(h).role not in
                VOTING_ROLES]
    survivors: dict[str, zkr.Survivor] = {}
    now = margin(running, voting) if running else None
    if readable and now.up < now.needed:
        read = session.for_each(READ_STEP, readable, read_last_zxid, report=False, changes_host=False)
        failed = {h: o.detail for h, o in read.items() if not o.succeeded}
        if failed:
            raise ClusterctlError("could not read the data of " + "; ".join(f"{h}: {d}" for h, d in failed.items()))
        survivors = {h: o.data for h, o in read.items()}
    stale = {h for h, s in states.items() if s.has_data or s.dynamic is not None}
    verdict = zkr.decide(running, set(reachable), voting, survivors, servers, stale)
    plan = RecoverPlan(verdict=verdict, stamp=time.strftime("%Y%m%d-%H%M%S"))
    aside = plan.aside(session)
    if verdict.mode == "recover":
        plan.members = {s.id: Member(s.id, s.host, s.observer) for s in inventory.zookeeper.servers
                        if s.host == verdict.source}
        for host, survivor in verdict.survivors.items():
            plan.note(READ_STEP, host, survivor.describe())
        with ensemble_of(session, reachable):
            stopping = zookeeper.plan_stop(session, reachable)
        plan.steps.update(stopping.steps)
        plan.change(RECOVER_STEP, verdict.source,
                    f"{verdict.honesty()}. Its membership files moved to {aside}/conf (its data stays), a "
                    f"membership of {verdict.source} alone written, its server started and waited for until it "
                    f"leads")
    else:
        plan.members = dict(running)
        with ensemble_of(session, verdict.rejoin):
            stopping = zookeeper.plan_stop(session, verdict.rejoin)
        plan.steps.update(stopping.steps)
    through = sorted(plan.members.values())
    spec = inventory.zookeeper
    ids = {s.host: s for s in spec.servers}
    for i, host in enumerate(verdict.rejoin, 1):
        item = MembershipChange("add", Member(ids[host].id, host, ids[host].observer))
        plan.change(RECOVER_STEP, host, f"its data and membership files moved to {aside} (kept, never deleted); "
                                        f"then installed as a new server of the ensemble")
        plan.change(ADD_STEP, host, f"{i} of {len(verdict.rejoin)}: {item.describe()} through "
                                    f"{', '.join(m.host for m in through)}: {membership.AFTERWARDS['add']}")
        through = sorted([*through, item.member])
    for host in verdict.waiting:
        plan.note(RECOVER_STEP, host, f"its node does not answer: once it is back, run clusterctl zk recover again "
                                      f"to set its old data aside and add it")
    return plan


@dataclass
class RecoverResult:
    members: dict[int, Member]
    added: list[str]
    waiting: list[str]


def recover(session: Session, plan: RecoverPlan, *, timeout: float = membership.DEFAULT_TIMEOUT) -> RecoverResult:
    """Carry out ``plan`` (see the module); HostsFailed or EnsembleNotReady where it stops."""
    verdict = plan.verdict
    stopping = [h for h in [verdict.source, *verdict.rejoin] if h]
    with ensemble_of(session, stopping):
        zookeeper.stop(session, zookeeper.plan_stop(session, stopping))
    if any(h in session.failures for h in stopping):
        raise HostsFailed()
    members = dict(plan.members)
    if verdict.mode == "recover":
        source = verdict.source
        outcome = session.for_each(RECOVER_STEP, [source], lambda ctx: set_aside(ctx, plan, keep=True)).get(source)
        if outcome is None or not outcome.succeeded:
            raise HostsFailed()
        with ensemble_of(session, [source]):
            installed = run_steps(session, [zookeeper.ZkStage([source]), zookeeper.ZkInstall([source])])
            if source in session.failures or installed.halted_by:
                raise HostsFailed()
            zookeeper.start(session, zookeeper.ZkStart([source], timeout).plans(session), timeout)
        session.reporter.note(source, RECOVER_STEP, f"serves again: {verdict.honesty()}")
    added = []
    for host in verdict.rejoin:
        if session.stopping.is_set():
            break
        outcome = session.for_each(RECOVER_STEP, [host], lambda ctx: set_aside(ctx, plan, keep=False)).get(host)
        if outcome is None or not outcome.succeeded:
            break
        members = add_back(session, members, host, timeout)
        if members is None:
            break
        added.append(host)
    for host in {m.host for m in members.values()} | set(stopping):
        session.forget_facts(host, "zk.")
    left = [h for h in verdict.rejoin if h not in added]
    for host in left:
        session.reporter.note(host, ADD_STEP, "not added: an earlier step did not complete")
    if left or any(h in session.failures for h in stopping):
        raise HostsFailed()
    return RecoverResult(members, added, verdict.waiting)


def status_after(session: Session, result: RecoverResult) -> EnsembleStatus:
    """The ensemble as it runs after the recovery: its members only (servers still lost are not asked)."""
    with ensemble_of(session, [m.host for m in result.members.values()]):
        return zookeeper.status(session)


def set_aside(ctx: HostContext, plan: RecoverPlan, *, keep: bool) -> Outcome:
    """Move the server's membership (and, unless ``keep``, its data) to the plan's aside directory."""
    spec = ctx.session.inventory.zookeeper
    result = ctx.run_script(SCRIPT, "set-aside", spec.data_dir, spec.data_log_dir, spec.conf_dir,
                            plan.aside(ctx.session), "keep" if keep else "clear", become=True)
    ctx.session.forget_facts(ctx.host.name, "zk.")
    where = result.stdout.strip().splitlines()[-1].removeprefix("aside ")
    what = "its membership files" if keep else "its data and membership files"
    return Outcome.changed(f"{what} moved to {where}")


def add_back(session: Session, members: dict[int, Member], host: str, timeout: float) -> dict[int, Member] | None:
    """``host`` installed as a new server of ``members`` and added by ``zk add``'s own step; the membership
    after, or None when it did not join (the host failed, said in the summary)."""
    spec = session.inventory.zookeeper
    server = next(s for s in spec.servers if s.host == host)
    item = MembershipChange("add", Member(server.id, host, server.observer))
    with ensemble_of(session, [*(m.host for m in members.values()), host]):
        installed = run_steps(session, [zookeeper.ZkStage([host]), zookeeper.ZkInstall([host])])
        if host in session.failures or installed.halted_by:
            return None
        outcome = session.for_each(ADD_STEP, [host],
                                   lambda ctx: membership.join(ctx, members, item, timeout)).get(host)
    if outcome is None or not outcome.succeeded:
        return None
    return outcome.data or {**members, item.member.id: item.member}
