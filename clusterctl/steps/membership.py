"""zk add, remove, replace, promote and demote: the running ensemble moved to the inventory's, one server at a time.

What changes and whether the quorum holds through it is decided up front
(:mod:`clusterctl.zk.membership`, pure) from the servers' own membership
files and their roles; a refusal changes nothing. Then:

- add: every host is converged as ``bootstrap`` would (the new names in every
  /etc/hosts, the JDK and release on the new servers, their first membership
  file the running one plus themselves), and each new server in turn is
  started, added by reconfig, and waited for until it serves, caught up;
- remove: each server in turn (those down first, the leader last) is
  reconfigured out, then stopped, disabled, and its data and membership
  files moved aside, never deleted;
- replace: the new server added, then the dead one removed;
- promote/demote: each server's role changed by reconfig, then waited for.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

from ..core.session import HostContext, HostResults, Outcome, Session
from ..errors import ClusterctlError, HostsFailed, Interrupted, Refused, UsageError
from ..events import State
from ..render.zk_service import UNIT
from ..zk import install as zk_install
from ..zk import membership
from ..zk.membership import Member, MembershipChange
from ..zk.server import control, java_home
from ..inventory import Inventory, ZkServer
from ..zk.status import EnsembleStatus, ask_directly, describe, probe, server_status, wait_until_serving
from . import zookeeper
from .base import Step, plan_steps, run_steps
from .day2 import Day2Plan
from .runbook import runbook
from .tls import ZkTlsRoll

STEPS = {"add": "zk-add", "remove": "zk-remove", "retire": "zk-remove", "promote": "zk-promote",
         "demote": "zk-demote"}
DEFAULT_TIMEOUT = 120.0  # seconds for one server to start, join and catch up
RETIRE_SCRIPT = "zk_install.sh"


def running_membership(session: Session, hosts: Iterable[str]) -> dict[int, Member]:
    """The membership the ensemble runs: the newest one its servers' files hold (asked of ``hosts``)."""
    states = zookeeper.server_facts(session, hosts)
    return {sid: Member(sid, host, role == "observer")
            for sid, (host, role) in zk_install.running_members(states).items()}


def roles(status: EnsembleStatus) -> dict[str, str]:
    return {s.host: s.role for s in status.servers}


def check_request(inventory: Inventory, action: str, names: list[str]) -> None:
    """Refuse (UsageError, exit 2) what the inventory alone shows ``zk ACTION NAMES`` cannot do; asks no host."""
    zookeeper.servers(inventory)
    membership.check_request(action, names, inventory.zookeeper, inventory.hosts, str(inventory.path))


@dataclass
class MembershipPlan(Day2Plan):
    """A membership command's decision: the membership it starts from and its changes, in order."""

    running: dict[int, Member] = field(default_factory=dict)
    changes: list[MembershipChange] = field(default_factory=list)


# What each change does beyond its reconfig, as the plan says it.
AFTERWARDS = {
    "add": "install and start it as a joiner, wait until it has synced, reconfig it in (a committed write "
           "confirms it), wait until it serves",
    "remove": "reconfig it out (a committed write confirms it), then stop and disable its server and move its "
              "data to <data_dir>.removed-<time>",
    "retire": "stop and disable its server and move its data to <data_dir>.removed-<time>",
    "promote": "reconfig its role, wait until it serves as a voter",
    "demote": "reconfig its role, wait until it serves as an observer",
}


def plan(session: Session, action: str, names: list[str], *, with_install: bool = True,
         lead: str = "") -> MembershipPlan:
    """What ``zk ACTION NAMES`` will do, checked; raises UsageError, Refused or NoQuorum before any change.

    For servers to add, the plan also holds the install every host gets first (as ``bootstrap`` decides
    it), unless ``with_install`` is False (``plan`` shows the runbook's own). ``lead`` starts each line.
    """
    running, changes = decide_changes(session, action, names)
    decided = MembershipPlan(running=running, changes=changes)
    joiners = [c.member.host for c in changes if c.action == "add"]
    if joiners and with_install:
        decided.merge(plan_steps(session, install_steps()))
    through = sorted(running.values())
    for i, item in enumerate(changes, 1):
        others = [m.host for m in through if m.host != item.member.host]
        via = f" through {', '.join(others)}" if item.action != "retire" else ""
        decided.change(STEPS[item.action], item.member.host,
                       f"{lead}{i} of {len(changes)}: {item.describe()}{via}: {AFTERWARDS[item.action]}")
        through = sorted(membership.apply_change({m.id: m for m in through}, item).values())
    return decided


def pending(session: Session) -> Day2Plan:
    """The membership commands the inventory asks for that the running ensemble has not had yet, each
    planned as the command plans it (or refused as it would be): what ``plan`` shows beside the runbook."""
    inventory = session.inventory
    spec = inventory.zookeeper
    shown = Day2Plan()
    if spec is None:
        return shown
    running = running_membership(session, spec.hosts)
    if not running:
        return shown
    wanted = membership.wanted_members(spec)
    listed = {m.host: m for m in wanted.values()}
    asks = {
        "add": [m.host for sid, m in wanted.items() if sid not in running],
        "remove": [m.host for sid, m in running.items() if sid not in wanted and m.host not in listed],
        "promote": [m.host for sid, m in running.items() if m.observer and sid in wanted and not wanted[sid].observer],
        "demote": [m.host for sid, m in running.items() if not m.observer and sid in wanted and wanted[sid].observer],
    }
    for action, names in asks.items():
        if not names:
            continue
        command = f"clusterctl zk {action} {' '.join(names)}"
        try:
            decided = plan(session, action, names, with_install=False, lead=f"{command}: ")
        except ClusterctlError as exc:
            shown.note(STEPS[action], names[0], f"{command} would be refused now: {exc}")
            continue
        shown.steps.update(decided.steps)
    return shown


def decide_changes(session: Session, action: str,
                   names: list[str]) -> tuple[dict[int, Member], list[MembershipChange]]:
    """The running membership and the changes, checked; raises UsageError, Refused or NoQuorum."""
    inventory = session.inventory
    check_request(inventory, action, names)
    known = [n for n in names if n in inventory.hosts]
    running = running_membership(session, list(dict.fromkeys([*inventory.zookeeper.hosts, *known])))
    if not running:
        raise UsageError("no running ensemble to change (no server has taken up a membership yet): "
                         "clusterctl bootstrap starts one")
    wanted = membership.wanted_members(inventory.zookeeper)
    if action == "replace":
        dead, new = names
        changes = (membership.membership_changes("add", [new], running, wanted, str(inventory.path))
                   + membership.membership_changes("remove", [dead], running, wanted, str(inventory.path)))
    else:
        changes = membership.membership_changes(action, names, running, wanted, str(inventory.path))
    status = member_status(session, running)
    serving = {h for h, r in roles(status).items() if r in ("leader", "follower", "observer", "standalone")}
    if serving and not any(s.serving and s.via == "client port" for s in status.servers):
        raise Refused(f"refusing to change the membership: a reconfig is sent to a server's client port "
                      f"({inventory.zookeeper.client_port}) from this machine, and no server's is reachable from "
                      f"here (they answered over SSH); nothing was changed. Run clusterctl where the client "
                      f"ports can be reached")
    if action == "remove":
        changes = membership.removal_order(changes, roles(status))
    gone = [c.member.host for c in changes if c.action == "retire" and c.member.host not in inventory.hosts]
    if gone:
        raise UsageError(f"{gone[0]} is not a member of the running ensemble, nor in [hosts] of {inventory.path}: "
                         f"nothing to remove")
    membership.check_quorum_through(running, serving, changes)
    return running, changes


def member_status(session: Session, running: dict[int, Member]) -> EnsembleStatus:
    """Each running member as it reports itself (members the inventory no longer lists too)."""
    status = probe(session)
    known = {s.host for s in status.servers}
    extra = []
    for m in running.values():
        if m.host not in known and m.host in session.inventory.hosts:
            answers = ask_directly(session.inventory.hosts[m.host].address, session.inventory.zookeeper.client_port,
                                   ["srvr"])
            extra.append(server_status(ZkServer(m.host, m.id, m.observer), answers, "client port"))
    return EnsembleStatus([*status.servers, *extra])


def change(session: Session, decided: MembershipPlan, *, timeout: float = DEFAULT_TIMEOUT,
           confirm: Callable[[str, str], bool] | None = None) -> HostResults:
    """Carry out a membership plan (see the module); every server's outcome. Stops at the first failure."""
    running, changes = decided.running, decided.changes
    results = HostResults()
    joins = [c for c in changes if c.action == "add"]
    if joins:
        install(session, [c.member.host for c in joins])
    members = dict(running)
    for i, item in enumerate(changes):
        host, step = item.member.host, STEPS[item.action]
        if confirm is not None and not confirm(host, item.describe()):
            session.reporter.note(host, step, "not changed: skipped at the prompt")
            continue
        work = {"add": join, "remove": _remove, "retire": _retire, "promote": _role, "demote": _role}[item.action]
        if host in session.inventory.hosts:
            outcome = session.for_each(step, [host], lambda ctx: work(ctx, members, item, timeout)).get(host)
        else:
            outcome = remove_unlisted(session, members, item)
        if outcome is not None:
            results[host] = outcome
        if outcome is None or not outcome.succeeded:
            for rest in changes[i + 1:]:
                session.reporter.note(rest.member.host, STEPS[rest.action],
                                      f"not done: {item.describe()} did not complete")
            break
        members = outcome.data or membership.apply_change(members, item)
    # A reconfig rewrote every member's membership file: what the run read of them before is stale.
    for host in {m.host for m in running.values()} | {m.host for m in members.values()}:
        session.forget_facts(host, "zk.")
    return results


def remove_unlisted(session: Session, members: dict[int, Member], item: MembershipChange) -> Outcome:
    """A member no longer in [hosts] at all (a dead node dropped from the inventory): reconfigured out,
    its node left alone (clusterctl has no address for it)."""
    host, step = item.member.host, STEPS[item.action]
    session.reporter.state(host, step, State.RUNNING)
    try:
        after = reconfigure_out(session, members, item)
    except ClusterctlError as exc:
        session.fail(host, step, str(exc))
        return Outcome.failed(str(exc))
    outcome = Outcome.changed(f"removed from the ensemble ({len(after)} members); not in [hosts], so its node "
                              f"was not touched", after)
    session.reporter.state(host, step, outcome.state, outcome.detail)
    return outcome


def reconfigure_out(session: Session, members: dict[int, Member], item: MembershipChange) -> dict[int, Member]:
    after = membership.reconfigure(session.inventory, _through(members, item.member.host), item)
    if item.member.id in after:
        raise ClusterctlError(f"the reconfig committed, but server.{item.member.id} is still a member")
    return after


def install_steps() -> list[Step]:
    """The runbook without starting anything: what a host needs before its server can join."""
    return [s for s in runbook() if not isinstance(s, (zookeeper.ZkStart, zookeeper.ZkRoll, ZkTlsRoll,
                                                       zookeeper.ZkSmoke))]


def needs(action: str) -> list[Step]:
    """The steps whose package files ``zk ACTION`` sends: checked before the run begins."""
    return install_steps() if action in ("add", "replace") else []


def install(session: Session, joiners: list[str]) -> None:
    """Converge every host as bootstrap does, starting nothing: new servers get the running membership and themselves."""
    done = run_steps(session, install_steps())
    failed = sorted(set(session.failures) & set(joiners)) or sorted(session.failures)
    if failed or done.halted_by or session.stopping.is_set():
        for host in joiners:
            session.reporter.note(host, STEPS["add"], "not added: the install did not complete")
        raise HostsFailed()


def _through(members: dict[int, Member], but: str) -> list[str]:
    """The servers a reconfig is sent through: every member but the one changing."""
    return [m.host for m in sorted(members.values()) if m.host != but]


def join(ctx: HostContext, members: dict[int, Member], item: MembershipChange, timeout: float) -> Outcome:
    """Start a new server installed as a joiner, wait until it has synced, reconfigure it in, wait until it
    serves (zk add's step for one server; zk recover's too); the membership after it, as the outcome's data."""
    session, inventory, host = ctx.session, ctx.session.inventory, ctx.host.name
    began = time.monotonic()
    control(ctx, "start", inventory.zookeeper, java_home(inventory))
    ctx.note("started as a joiner; waiting until it has synced with the leader")
    wait_synced(session, host, timeout)
    ctx.note(f"reconfig: {item.describe()}")
    after = membership.reconfigure(inventory, _through(members, host), item, retry_for=min(timeout, 30))
    if item.member.id not in after:
        raise ClusterctlError(f"the reconfig committed, but server.{item.member.id} is not in the new membership")
    back = wait_until_serving(session, [host], timeout)
    if not back.met:
        raise ClusterctlError(f"added, but not serving within {timeout:.0f}s: {describe(back.status.server(host))}")
    return Outcome.changed(f"joined as {back.status.server(host).role} (server.{item.member.id}) in "
                           f"{time.monotonic() - began:.1f}s; {len(after)} members", after)


def wait_synced(session: Session, host: str, timeout: float) -> None:
    """Until ``host``'s new server follows (or observes) the leader: a learner the leader knows, synced.

    Only then can the leader find a quorum for a membership that counts it.
    """
    deadline = time.monotonic() + timeout
    while True:
        server = probe(session).server(host)
        if server.role in ("follower", "observer"):
            return
        if time.monotonic() > deadline:
            raise ClusterctlError(f"its server did not sync with the leader within {timeout:.0f}s of its start: "
                                  f"{describe(server)}; the membership is unchanged")
        if session.stopping.is_set():
            raise Interrupted("interrupted while waiting for the new server")
        time.sleep(0.3)


def _remove(ctx: HostContext, members: dict[int, Member], item: MembershipChange, timeout: float) -> Outcome:
    host = ctx.host.name
    ctx.note(f"reconfig: {item.describe()}")
    after = reconfigure_out(ctx.session, members, item)
    if not reachable(ctx):
        # A dead node cannot be stopped; what matters, the membership, is done.
        ctx.note(f"its node does not answer on {ctx.host.address}:{ctx.host.port}, so its server was not "
                 f"stopped; if the node comes back, run clusterctl zk remove {host} again")
        return Outcome.changed(f"removed from the ensemble ({len(after)} members); its node was not reachable",
                               after)
    return Outcome.changed(f"removed from the ensemble ({len(after)} members); {retire(ctx)}", after)


def _retire(ctx: HostContext, members: dict[int, Member], item: MembershipChange, timeout: float) -> Outcome:
    done = retire(ctx)
    if done.startswith("nothing"):
        return Outcome.unchanged(f"no member of the ensemble, and no server data left: {done}")
    return Outcome.changed(done)


def reachable(ctx: HostContext, timeout: float = 3.0) -> bool:
    """Whether the node's sshd accepts a TCP connection (through bastions: assumed, the login will tell)."""
    if ctx.host.jump:
        return True
    try:
        socket.create_connection((ctx.host.address, ctx.host.port), timeout).close()
        return True
    except OSError:
        return False


def retire(ctx: HostContext) -> str:
    """Stop and disable a removed server and move its data and membership files aside; what was done."""
    inventory = ctx.session.inventory
    spec = inventory.zookeeper
    state, _ = control(ctx, "stop", spec, java_home(inventory))
    aside = f"{spec.data_dir}.removed-{time.strftime('%Y%m%d-%H%M%S')}"
    result = ctx.run_script(RETIRE_SCRIPT, "retire", UNIT, aside, spec.data_dir, spec.data_log_dir, spec.conf_dir,
                            become=True)
    ctx.session.forget_facts(ctx.host.name, "zk.")
    moved = result.stdout.strip().splitlines()[-1:] or ["nothing to move"]
    stopped = "stopped and disabled" if state == "stopped" else "not running; disabled"
    return f"{stopped}, data {moved[0]}" if not moved[0].startswith("nothing") else moved[0]


def _role(ctx: HostContext, members: dict[int, Member], item: MembershipChange, timeout: float) -> Outcome:
    session, inventory, host = ctx.session, ctx.session.inventory, ctx.host.name
    began = time.monotonic()
    ctx.note(f"reconfig: {item.describe()}")
    after = membership.reconfigure(inventory, _through(members, host), item)
    if after.get(item.member.id) != item.member:
        raise ClusterctlError(f"the reconfig committed, but server.{item.member.id} is not "
                              f"{item.member.role} in the new membership")
    back = wait_until_serving(session, [host], timeout)
    if not back.met:
        raise ClusterctlError(f"reconfigured, but not serving within {timeout:.0f}s: "
                              f"{describe(back.status.server(host))}")
    return Outcome.changed(f"now {back.status.server(host).role} in {time.monotonic() - began:.1f}s", after)
