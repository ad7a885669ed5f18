"""Who is in the ensemble, changed while it runs: ZooKeeper's dynamic reconfiguration, one server at a time.

The inventory's ``[zookeeper.servers]`` says what the ensemble should be; the
membership it runs is the newest one its servers hold in their dynamic config
files. The ``zk add|remove|replace|promote|demote`` commands move the running
membership to the inventory's, one server per reconfig: each reconfig is made
as ZooKeeper's super user (never by skipping ACLs), is confirmed by a write
committed after it, and comes after a check that the voters keep a quorum
through it. Planning is pure: :func:`membership_changes` (what the command asks
for, checked against both sides) and :func:`check_quorum_through` (refused
before anything changes).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Collection, Iterable

from ..errors import ClusterctlError, NoQuorum, Refused, UsageError
from ..inventory import Inventory, ZooKeeperSpec
from ..quorum import quorum_size
from ..render.zoo_cfg import parse_members, server_line
from . import superuser

if TYPE_CHECKING:
    from kazoo.client import KazooClient

ACTIONS = ("add", "remove", "promote", "demote", "retire")
MARK_PATH = "/clusterctl/membership"  # written after each reconfig: the write that proves it committed
CONNECT_TIMEOUT = 15.0

@dataclass(frozen=True, order=True)
class Member:
    id: int
    host: str
    observer: bool = False

    @property
    def role(self) -> str:
        return "observer" if self.observer else "participant"

    def describe(self) -> str:
        return f"{self.host} (server.{self.id}, {'observer' if self.observer else 'voter'})"


@dataclass(frozen=True)
class MembershipChange:
    action: str  # one of ACTIONS; "retire" only stops a server that is no member any more
    member: Member  # as it will be after the change (for remove: as it is)

    def describe(self) -> str:
        if self.action == "retire":
            return f"stop {self.member.host} and set its data aside (no member any more)"
        verbs = {"add": "add", "remove": "remove", "promote": "promote to voter", "demote": "demote to observer"}
        return f"{verbs[self.action]} {self.member.host} (server.{self.member.id})"

    def joining(self, spec: ZooKeeperSpec) -> str | None:
        """reconfig's incremental ``joining`` argument: a new server, or one with a new role."""
        if self.action in ("remove", "retire"):
            return None
        return server_line(spec, self.member.host, self.member.id, self.member.observer)

    def leaving(self) -> str | None:
        return str(self.member.id) if self.action == "remove" else None


def members_of(text: str) -> dict[int, Member]:
    """id → Member of a dynamic config (a file, or the ``/zookeeper/config`` znode) (pure)."""
    return {sid: Member(sid, host, role == "observer") for sid, (host, role) in parse_members(text).items()}


def wanted_members(spec: ZooKeeperSpec) -> dict[int, Member]:
    return {s.id: Member(s.id, s.host, s.observer) for s in spec.servers}


def apply_change(members: dict[int, Member], change: MembershipChange) -> dict[int, Member]:
    """The membership after ``change`` (pure)."""
    after = dict(members)
    if change.action == "remove":
        after.pop(change.member.id, None)
    else:
        after[change.member.id] = change.member
    return after


def listing_problem(action: str, name: str, listed: Member | None, where: str) -> str | None:
    """Why [zookeeper.servers] of ``where`` does not say yet what ``zk ACTION NAME`` does, with the fix (pure).

    ``listed`` is NAME's entry there (None when it has none). A server to add is
    listed; one to remove is not any more; one to promote or demote is listed
    in its new role.
    """
    key = f"{where}: [zookeeper.servers]: {name}"
    if action == "add" and listed is None:
        return f"{key} is not listed; add it there (with a new id) before clusterctl zk add {name}"
    if action == "remove" and listed is not None:
        return f"{key} is still listed; remove it there before clusterctl zk remove {name}"
    if action in ("promote", "demote"):
        if listed is None:
            return f"{key} is not listed; only a server listed there can be {action}d"
        if listed.observer != (action == "demote"):
            fix = "observer = true" if action == "demote" else "no observer = true"
            return f"{key}: {action} needs the inventory to say so first ({fix})"
    return None


def check_request(action: str, names: list[str], spec: ZooKeeperSpec, hosts: Collection[str], where: str) -> None:
    """Refuse (UsageError) what ``clusterctl zk ACTION NAMES`` asks that the inventory alone shows is wrong (pure).

    Nothing is asked of any host for this: a server to add, promote or demote
    is a host of the inventory, listed in [zookeeper.servers] as the command
    needs (:func:`listing_problem`); ``replace DEAD NEW`` names two hosts, the
    one no longer listed and the one listed in its place. Whether the running
    ensemble agrees is for :func:`membership_changes`.
    """
    by_host = {m.host: m for m in wanted_members(spec).values()}
    if action == "replace":
        dead, new = names
        asked = f"zk replace {dead} {new}"
        if dead == new:
            raise UsageError(f"{asked}: DEAD and NEW are the same host; name the server that is gone, then the "
                             f"host that takes its place")
        if new not in hosts:
            raise UsageError(f"{asked}: NEW {new} is not a host of {where}; add [hosts.{new}] and put it in "
                             f"{dead}'s place in [zookeeper.servers] (with a new id) first")
        if new not in by_host:
            raise UsageError(f"{where}: [zookeeper.servers]: NEW {new} is not listed; put it there in {dead}'s "
                             f"place (with a new id) before clusterctl {asked}")
        if dead in by_host:
            raise UsageError(f"{where}: [zookeeper.servers]: DEAD {dead} is still listed; put {new} there in its "
                             f"place before clusterctl {asked}")
        return
    for name in names:
        if action != "remove" and name not in hosts:
            fix = (f"add [hosts.{name}] and list it in [zookeeper.servers] with a new id first" if action == "add"
                   else f"name a server of [zookeeper.servers] ({', '.join(spec.hosts)})")
            raise UsageError(f"zk {action} {name}: {name} is not a host of {where}; {fix}")
        problem = listing_problem(action, name, by_host.get(name), where)
        if problem:
            raise UsageError(problem)


def membership_changes(action: str, names: Iterable[str], running: dict[int, Member],
                       wanted: dict[int, Member], where: str) -> list[MembershipChange]:
    """The changes ``clusterctl zk ACTION NAMES`` makes, each checked against the inventory and the ensemble (pure).

    The inventory (``where``) must already say what the command does
    (:func:`listing_problem`); the running ensemble must have the server to
    remove, promote or demote, and not the one to add. Anything else is a
    UsageError naming the fix.
    """
    by_host_running = {m.host: m for m in running.values()}
    by_host_wanted = {m.host: m for m in wanted.values()}
    changes = []
    for name in dict.fromkeys(names):
        now, then = by_host_running.get(name), by_host_wanted.get(name)
        if action == "remove" and now is None and then is None:
            # Removed already (a run that stopped before it could stop the server): finish that.
            changes.append(MembershipChange("retire", Member(0, name)))
            continue
        problem = listing_problem(action, name, then, where)
        if problem:
            raise UsageError(problem)
        if action == "add":
            if now is not None:
                raise UsageError(f"{name} is already a member of the running ensemble (server.{now.id}); "
                                 f"nothing to add")
            taken = running.get(then.id)
            if taken is not None:
                raise UsageError(f"{where}: [zookeeper.servers]: {name} = {then.id}: id {then.id} is running "
                                 f"as {taken.host}; give {name} an id no running server has")
            changes.append(MembershipChange("add", then))
        elif action == "remove":
            if now is None:
                raise UsageError(f"{name} is not a member of the running ensemble; nothing to remove")
            changes.append(MembershipChange("remove", now))
        else:
            becomes_observer = action == "demote"
            if now is None:
                raise UsageError(f"{name} must be a member of the running ensemble to be {action}d")
            if then.id != now.id:
                raise UsageError(f"{where}: [zookeeper.servers]: {name} = {then.id}, but it runs as "
                                 f"server.{now.id}; an id cannot change (remove it and add it under the new id)")
            if now.observer == becomes_observer:
                raise UsageError(f"{name} already runs as {'an observer' if now.observer else 'a voter'}; "
                                 f"nothing to {action}")
            changes.append(MembershipChange(action, then))
    return changes


@dataclass(frozen=True)
class Margin:
    voters: int
    up: int
    needed: int

    @property
    def tolerates(self) -> int:
        return self.up - self.needed

    def describe(self) -> str:
        return (f"{self.up} of {self.voters} voters up, a quorum needs {self.needed}, "
                f"tolerating {max(0, self.tolerates)} more failure{'' if self.tolerates == 1 else 's'}")


def margin(members: dict[int, Member], serving: set[str]) -> Margin:
    """How the voters of ``members`` stand when the hosts of ``serving`` are the ones up (pure)."""
    voters = [m for m in members.values() if not m.observer]
    up = sum(m.host in serving for m in voters)
    return Margin(len(voters), up, quorum_size(len(voters)) if voters else 1)


def check_quorum_through(running: dict[int, Member], serving: set[str],
                         changes: list[MembershipChange]) -> list[Margin]:
    """Refuse (Refused, exit 4) unless every change keeps a quorum; the margin after each (pure).

    The ensemble must have a quorum now. A server being added or promoted is
    counted as up: it is started and serving before its reconfig. A change
    that takes a voter away is refused when the remaining voters could not
    hold a quorum with the failures there are now, or when it would leave them
    unable to lose one more voter while they can today.
    """
    now = margin(running, serving)
    if now.up < now.needed:
        raise NoQuorum(f"refusing to change the membership: the ensemble has no quorum ({now.describe()})")
    members, up, margins = dict(running), set(serving), []
    for change in changes:
        if change.action == "retire":
            continue
        if change.action in ("add", "promote"):
            up.add(change.member.host)
        after_members = apply_change(members, change)
        before, after = margin(members, up), margin(after_members, up)
        takes_voter = change.action in ("remove", "demote") and not members[change.member.id].observer
        if takes_voter:
            if after.voters == 0:
                raise Refused(f"refusing to {change.describe()}: it is the last voter")
            if after.up < after.needed:
                raise Refused(f"refusing to {change.describe()}: the remaining voters could not keep a quorum "
                              f"({after.describe()}); nothing was changed. Bring the servers that are down back "
                              f"first, or change fewer servers")
            if after.tolerates < 1 <= before.tolerates:
                raise Refused(f"refusing to {change.describe()}: the ensemble would be left unable to lose "
                              f"one more voter ({after.describe()}); nothing was changed. Add a server first "
                              f"(clusterctl zk add), or change fewer servers")
        margins.append(after)
        members = after_members
    return margins


def removal_order(changes: list[MembershipChange], serving: dict[str, str]) -> list[MembershipChange]:
    """Removals of servers that are down first, then observers, followers, the leader last (pure).

    ``serving`` is host → role as the servers report it.
    """
    rank = {"observer": 1, "follower": 2, "leader": 3, "standalone": 3}
    return sorted(changes, key=lambda c: (rank.get(serving.get(c.member.host, ""), 0), c.member.id))


# -- the reconfig itself ------------------------------------------------------

def client_hosts(inventory: Inventory, hosts: Iterable[str]) -> str:
    from .client import endpoints
    return endpoints(inventory, hosts)


def reconfigure(inventory: Inventory, through: list[str], change: MembershipChange,
                retry_for: float = 0.0) -> dict[int, Member]:
    """One incremental reconfig, as the super user, through the servers ``through``; the new membership.

    Returns once ZooKeeper has committed the new configuration and a write
    made after it (:data:`MARK_PATH`) has been acknowledged by the ensemble.
    For ``retry_for`` seconds a leader that finds no quorum for the new
    configuration yet (a joiner still connecting to it) is asked again.
    """
    # kazoo only where a ZooKeeper session is opened: the pure planning above is imported by every zk command.
    from kazoo.exceptions import KazooException, NewConfigNoQuorumError, NoAuthError, ReconfigInProcessError

    from .client import started_client, tls_options
    from .sasl import sasl_options

    spec = inventory.zookeeper
    with started_client(client_hosts(inventory, through), timeout=10, start_within=CONNECT_TIMEOUT,
                        unreachable=f"no ZooKeeper session with any of {', '.join(through)} within "
                                    f"{CONNECT_TIMEOUT:.0f}s: the reconfig needs their client ports",
                        connection_retry={"max_tries": 5, "delay": 0.2, "max_delay": 2},
                        command_retry={"max_tries": 3, "delay": 0.5, "max_delay": 2},
                        auth_data=superuser.auth_data(inventory), tls=tls_options(inventory),
                        sasl=sasl_options(inventory)) as zk:
        try:
            try:
                data = _reconfig(zk, spec, change, time.monotonic() + retry_for)
            except NoAuthError:
                raise ClusterctlError(f"{change.describe()}: ZooKeeper refused the super user (NoAuth): the servers "
                                      f"run with another secret than {superuser.secret_path(inventory)}; run "
                                      f"clusterctl zk install and a rolling restart from the controller that made "
                                      f"it") from None
            except NewConfigNoQuorumError:
                raise ClusterctlError(f"{change.describe()}: the new configuration found no quorum to commit it "
                                      f"(is the new server connected to the leader?); the membership is "
                                      f"unchanged") from None
            except ReconfigInProcessError:
                raise ClusterctlError(f"{change.describe()}: another reconfiguration is in progress; run again "
                                      f"once it has finished") from None
            members = members_of(data.decode())
            confirm_write(zk, f"{change.describe()} at {time.time():.0f}".encode())
            return members
        except KazooException as exc:
            raise ClusterctlError(f"{change.describe()}: {type(exc).__name__} {exc}".rstrip()) from None


def readdress_clients(inventory: Inventory, through: list[str], lines: list[str]) -> None:
    """One non-incremental reconfig that gives every member the client address of its line in ``lines``
    (the membership itself unchanged), as the super user over the TLS client port; a server binds the new
    address at its next start. Only for a membership that has TLS clients on: the plaintext port may be
    out of this controller's reach."""
    from kazoo.exceptions import KazooException

    from .client import started_client, tls_options
    from .sasl import sasl_options
    port = inventory.zookeeper.tls.secure_client_port
    servers = ",".join(f"{inventory.hosts[h].address}:{port}" for h in through)
    with started_client(servers, timeout=10, start_within=CONNECT_TIMEOUT,
                        unreachable=f"no ZooKeeper session over TLS with any of {', '.join(through)} within "
                                    f"{CONNECT_TIMEOUT:.0f}s: the reconfig needs their TLS client ports",
                        connection_retry={"max_tries": 5, "delay": 0.2, "max_delay": 2},
                        command_retry={"max_tries": 3, "delay": 0.5, "max_delay": 2},
                        auth_data=superuser.auth_data(inventory), tls=tls_options(inventory, always=True),
                        sasl=sasl_options(inventory)) as zk:
        try:
            zk.reconfig(joining=None, leaving=None, new_members=",".join(lines))
            confirm_write(zk, f"client addresses at {time.time():.0f}".encode())
        except KazooException as exc:
            raise ClusterctlError(f"reconfig of the client addresses: {type(exc).__name__} {exc}".rstrip()) from None


def _reconfig(zk: KazooClient, spec: ZooKeeperSpec, change: MembershipChange, until: float) -> bytes:
    from kazoo.exceptions import NewConfigNoQuorumError  # loaded by reconfigure, which opened the session
    while True:
        try:
            data, _ = zk.reconfig(joining=change.joining(spec), leaving=change.leaving(), new_members=None)
            return data
        except NewConfigNoQuorumError:
            if time.monotonic() >= until:
                raise
            time.sleep(1.0)


def confirm_write(zk: KazooClient, note: bytes) -> None:
    """A write acknowledged by the ensemble after the reconfig: the new configuration commits writes."""
    zk.ensure_path(MARK_PATH)
    zk.set(MARK_PATH, note)
    zk.sync(MARK_PATH)
    value, _ = zk.get(MARK_PATH)
    if value != note:
        raise ClusterctlError(f"the write after the reconfig did not read back ({value[:40]!r})")
