"""The runbook's step 4: a ZooKeeper ensemble on the inventory's servers.

Entry points for the command line and for bootstrap: ``facts``/``plan``
(what would change, touching nothing), ``install``, ``start``, ``stop``,
``restart``, ``status`` and ``smoke``. What a node has and needs is decided in
:mod:`clusterctl.zk.install`; servers are asked about themselves by
:mod:`clusterctl.zk.status`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterable

from ..core.facts import Fact
from ..core.session import HostContext, Outcome, Session
from ..core.transfer import distribute
from ..errors import NoQuorum, UsageError
from ..events import State
from ..inventory import Host, Inventory, ZooKeeperSpec
from ..plan import Change
from ..zk import install as zk_install
from ..zk.restart import RollResult, rolling_restart
from ..zk.server import java_home, parse_control_output, start_script, stop_script
from ..zk.smoke import smoke as smoke_test
from ..zk.status import EnsembleStatus, Waited, lagging, probe, wait_until_serving

STEP = "zookeeper"
STAGE_STEP = "zk-stage"
START_STEP = "zk-start"
STOP_STEP = "zk-stop"
DEFAULT_STAGE_DIR = "/opt/apps"  # the runbook's; the JDK step's stage_dir when there is one
START_TIMEOUT = 60.0


def facts(host: Host, spec: ZooKeeperSpec) -> dict[str, str]:
    return zk_install.facts(spec, zk_install.release_of(spec.package))


def servers(inventory: Inventory, names: Iterable[str] | None = None) -> list[str]:
    """The ensemble's hosts (``names`` None), or those of ``names``, each a server, in inventory order."""
    spec = inventory.zookeeper
    if spec is None:
        raise UsageError(f"{inventory.path}: no [zookeeper] section")
    if names is None:
        return list(spec.hosts)
    wanted = set(names)
    unknown = sorted(wanted - set(spec.hosts))
    if unknown:
        raise UsageError(f"{unknown[0]} is not a ZooKeeper server (servers: {', '.join(spec.hosts)})")
    return [h for h in spec.hosts if h in wanted]


def _decide_all(inventory: Inventory, gathered: dict[str, dict[str, Fact]]) -> dict[str, zk_install.HostPlan]:
    release = zk_install.release_of(inventory.zookeeper.package)
    return {h: zk_install.decide(inventory, h, zk_install.HostState.from_facts(f), release)
            for h, f in gathered.items()}


def plan(inventory: Inventory, gathered: dict[str, dict[str, Fact]]) -> dict[str, list[Change]]:
    """Per server: what install would change (zoo.cfg and the other files as diffs)."""
    return {h: p.changes(inventory.zookeeper) for h, p in _decide_all(inventory, gathered).items()}


def stage_dir(inventory: Inventory) -> str:
    return inventory.jdk.stage_dir if inventory.jdk else DEFAULT_STAGE_DIR


def install(session: Session, hosts: Iterable[str] | None = None) -> dict[str, Outcome]:
    """Install the release, configuration, data dirs and myid on the servers; start nothing."""
    inventory = session.inventory
    spec = inventory.zookeeper
    names = servers(inventory, hosts)
    gathered = session.gather(STEP, names, lambda h: facts(h, spec))
    plans = _decide_all(inventory, gathered)
    for name, p in plans.items():
        if p.conflict:
            session.fail(name, STEP, p.conflict)
    release = zk_install.release_of(spec.package)
    unpack = [h for h, p in plans.items() if p.unpack and not p.conflict]
    if unpack:
        distribute(session, STAGE_STEP, unpack, spec.package, stage_dir(inventory), spec.distribute)
    staged = f"{stage_dir(inventory)}/{spec.package.name}"

    def apply(ctx: HostContext) -> Outcome:
        p = plans[ctx.host.name]
        if p.empty:
            return Outcome.unchanged(_restart_detail(p))
        done = []
        if p.unpack:
            ctx.run(zk_install.unpack_script(spec, release, staged), sudo=True)
            done.append(f"unpacked {release.name}")
        for path, (_, wanted) in p.files.items():
            ctx.write_file(path, wanted, mode="644", sudo=True)
            done.append(path.rsplit("/", 1)[1])
        if p.relink:
            ctx.run(zk_install.relink_script(spec, release), sudo=True)
            done.append(f"{zk_install.home(spec)} → {release.name}")
        if p.make_dirs or p.write_myid:
            ctx.run(zk_install.data_dirs_script(spec, p.server_id), sudo=True)
            done.append(f"myid {p.server_id}" if p.write_myid else "data dirs")
        session.forget_facts(ctx.host.name)
        if p.restart_needed:
            ctx.note(zk_install.restart_notice(p.running.pid))
        return Outcome.changed(", ".join(done) + _restart_detail(p, lead="; "))

    # Refused hosts are failed already; listing them again would show them as skipped.
    return session.for_each(STEP, [h for h in names if h in plans and not plans[h].conflict], apply)


def _restart_detail(p: zk_install.HostPlan, lead: str = "") -> str:
    return f"{lead}restart needed (running pid {p.running.pid})" if p.restart_needed else ""


class EnsembleNotReady(NoQuorum):
    """Started, but no leader with a quorum in time; carries the last status for the display."""

    def __init__(self, message: str, status: EnsembleStatus):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class StartResult:
    outcomes: dict[str, Outcome]
    started: list[str]
    waited: Waited
    elapsed: float  # seconds from issuing the starts to the last status

    @property
    def elected(self) -> str:
        """One line: who leads and how long the ensemble took to settle."""
        leader = self.waited.status.leader
        if leader is None:
            return f"no leader after {self.elapsed:.1f}s; {self.waited.status.quorum.describe()}"
        return (f"leader: {leader.host} (myid {leader.id}), {self.elapsed:.1f}s after start; "
                f"{self.waited.status.quorum.describe()}")


def _running(session: Session, names: list[str]) -> dict[str, int | None]:
    """host → pid of its running server, or None; from the (possibly cached) facts."""
    spec = session.inventory.zookeeper
    gathered = session.gather(STEP, names, lambda h: facts(h, spec))
    return {h: (s.server.pid if s.server else None)
            for h, s in ((h, zk_install.HostState.from_facts(f)) for h, f in gathered.items())}


def start(session: Session, hosts: Iterable[str] | None = None, *, timeout: float = START_TIMEOUT) -> StartResult:
    """Start the servers that are not running, then wait until every one of them serves clients.

    Serving means leader, follower or observer, in two probes in a row under
    the same leader, caught up with it. A server that does not within
    ``timeout`` seconds is a failed host (naming what it reports); raises
    NoQuorum when the ensemble has no leader with a quorum by then.
    """
    inventory = session.inventory
    spec = inventory.zookeeper
    names = servers(inventory, hosts)
    running = _running(session, names)
    java = java_home(inventory)

    def apply(ctx: HostContext) -> Outcome:
        pid = running[ctx.host.name]
        if pid is not None:
            return Outcome.unchanged(f"running (pid {pid})")
        result = ctx.run(start_script(spec, java))
        session.forget_facts(ctx.host.name)
        state, new_pid = parse_control_output(result.stdout)
        if state == "running":
            return Outcome.unchanged(f"running (pid {new_pid})")
        return Outcome.changed(f"started (pid {new_pid})")

    began = time.monotonic()
    outcomes = session.for_each(START_STEP, [h for h in names if h in running], apply)
    started = [h for h, o in outcomes.items() if o.state == State.CHANGED]

    def hopeless(status: EnsembleStatus) -> bool:
        # Voters on hosts that failed this run will not come up unless they already serve.
        able = [s for s in status.servers if not s.observer and (s.serving or s.host not in session.failures)]
        return len(able) < status.quorum.needed

    # Every server it was asked to start, running before or not: exit 0 means each of them serves clients.
    asked = [h for h in names if h not in session.failures]
    waited = wait_until_serving(session, asked, timeout, hopeless=hopeless)
    if not waited.met and waited.status.settled:
        for h, why in lagging(waited.status, asked, None).items():
            session.fail(h, START_STEP, f"not serving {time.monotonic() - began:.0f}s after start: {why}")
    result = StartResult(outcomes, started, waited, time.monotonic() - began)
    if not waited.status.settled:
        failed = sorted(h for h in names if h in session.failures)
        why = f" ({', '.join(failed)} failed earlier this run)" if failed else ""
        raise EnsembleNotReady(f"the ensemble has no quorum {result.elapsed:.0f}s after start{why}: "
                               f"{result.elected}", waited.status)
    leader = waited.status.leader
    session.reporter.note(leader.host, START_STEP, result.elected)
    return result


def stop(session: Session, hosts: Iterable[str] | None = None) -> dict[str, Outcome]:
    """Stop the servers (SIGTERM, as zkServer.sh stop) and wait until each has exited."""
    spec = session.inventory.zookeeper

    def apply(ctx: HostContext) -> Outcome:
        result = ctx.run(stop_script(spec))
        session.forget_facts(ctx.host.name)
        state, pid = parse_control_output(result.stdout)
        return Outcome.changed(f"stopped (pid {pid})") if state == "stopped" else Outcome.unchanged("not running")

    return session.for_each(STOP_STEP, servers(session.inventory, hosts), apply)


def restart(session: Session, *, rolling: bool = False, timeout: float = START_TIMEOUT) -> RollResult | StartResult:
    """Every server: one at a time keeping the quorum (``rolling``), else all stopped then all started."""
    if rolling:
        return rolling_restart(session, timeout=timeout)
    stop(session)
    return start(session, timeout=timeout)


def status(session: Session) -> EnsembleStatus:
    """Each server's role as it says itself, and the quorum verdict."""
    return probe(session, detail=True)


def smoke(session: Session) -> dict[str, Outcome]:
    """Write a znode through one server, read it back through all others, remove it."""
    return smoke_test(session)
