"""The runbook's step 4: a ZooKeeper ensemble on the inventory's servers.

Steps: ``zk-stage`` (the release tarball, where it is not unpacked yet),
``zookeeper`` (release, zoo.cfg, java.env, profile, data dirs, myid),
``zk-start`` (start what is not running, then wait until every server
serves) and ``zk-smoke``. What a node has and needs is decided in
:mod:`clusterctl.zk.install`; servers are asked about themselves by
:mod:`clusterctl.zk.status`. ``stop``, ``restart`` and ``status`` serve the
``zk`` commands.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Mapping

from ..core.facts import FactQuery
from ..core.session import HostContext, HostResults, Outcome, Session
from ..errors import EnsembleNotReady, Refused, UsageError
from ..inventory import Host, Inventory
from ..packages import PackageFile, metrics_refusal, require, zookeeper_package
from ..render.zk_service import UNIT
from ..render.zoo_cfg import render_myid
from ..zk import install as zk_install
from ..zk import sasl, superuser
from ..events import State
from ..zk.restart import (STEP as RESTART_STEP, RollResult, check_margin, rolling_order, rolling_restart,
                          targets_in_rolling_order)
from ..zk.server import STOP_GRACE_SECONDS, control, java_home, say_unsupervised
from ..zk.status import EnsembleStatus, Waited, lagging, probe, wait_until_serving
from ..plan import Change
from .base import Facts, HostPlan, Step, StepRun
from .day2 import Day2Plan
from .stage import StageStep

PHASE = "zookeeper"
STEP = "zookeeper"
STAGE_STEP = "zk-stage"
START_STEP = "zk-start"
STOP_STEP = "zk-stop"
SMOKE_STEP = "zk-smoke"
INSTALL_SCRIPT = "zk_install.sh"
DEFAULT_STAGE_DIR = "/opt/apps"  # the runbook's; the JDK step's stage_dir when there is one
START_TIMEOUT = 60.0


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


def stage_dir(inventory: Inventory) -> str:
    return inventory.jdk.stage_dir if inventory.jdk else DEFAULT_STAGE_DIR


def release(inventory: Inventory) -> zk_install.Release:
    """The inventory's release tarball, read; refused (exit 2) when it is not on this controller."""
    require(inventory, zookeeper_package(inventory))
    return zk_install.release_of(inventory.zookeeper.package)


class _LastDecision:
    """The last ZooKeeper decision and what it was made from: install, start, roll and status decide on
    the same facts in one run, and decide once. Facts are compared by identity (the session keeps one
    object per answer until the host changes), and the entry holds them, so an identity is never reused."""

    def __init__(self) -> None:
        self.made_from: tuple | None = None
        self.plans: dict[str, zk_install.ServerPlan] = {}
        self._lock = threading.Lock()

    def get(self, made_from: tuple, decide) -> dict[str, zk_install.ServerPlan]:
        with self._lock:
            if self.made_from is None or not _same(self.made_from, made_from):
                self.plans, self.made_from = decide(), made_from
            return self.plans


def _same(a: tuple, b: tuple) -> bool:
    (inv_a, leader_a, digest_a, facts_a), (inv_b, leader_b, digest_b, facts_b) = a, b
    return (inv_a is inv_b and leader_a == leader_b and digest_a == digest_b and facts_a.keys() == facts_b.keys()
            and all(facts_a[h].keys() == facts_b[h].keys() and all(facts_a[h][n] is facts_b[h][n] for n in facts_a[h])
                    for h in facts_a))


_last_decision = _LastDecision()


def known_release(inventory: Inventory) -> zk_install.Release | None:
    """The release, when its tarball can be read here; None: what servers run is not compared with it."""
    return None if any(p.problem() for p in zookeeper_package(inventory)) else release(inventory)


def decide_all(inventory: Inventory, gathered: Mapping[str, Facts],
               leader: str | None = None) -> dict[str, zk_install.ServerPlan]:
    """Every server's plan, against the membership the ensemble runs (read from all of them; the
    ``leader``'s, when it is known), and the release when its tarball is here. Decided once for the same
    facts (see :class:`_LastDecision`)."""
    digest = superuser.known_digest(inventory)
    # Only the ZooKeeper facts count: the stage step asks the same plus its staged file's.
    zk_facts = {h: {n: fact for n, fact in f.items() if n.startswith("zk.")} for h, f in gathered.items()}
    states = {h: zk_install.ServerState.from_facts(f, inventory.zookeeper) for h, f in gathered.items()}
    phases = [p for s in states.values() for p in (s.written_tls.sasl, s.running_tls.sasl)]
    rotating = sasl.rotation_refusal(inventory)
    jaas = sasl.wanted_jaas(inventory, sasl.in_use(inventory, phases)) if not rotating else None
    made_from = (inventory, leader, (digest, jaas, rotating), zk_facts)  # the secrets the servers hold, the facts

    def decide() -> dict[str, zk_install.ServerPlan]:
        rel, spec = known_release(inventory), inventory.zookeeper
        running = zk_install.running_members(states, leader)
        tls = zk_install.tls_to_write(spec, states)
        plans = {h: zk_install.decide(inventory, h, state, rel, running, digest, tls[h], jaas)
                 for h, state in states.items()}
        for plan in plans.values():
            plan.conflict = plan.conflict or rotating
        return plans

    return _last_decision.get(made_from, decide)


class _ZkStep(Step):
    phase = PHASE
    topic = "zk."

    def __init__(self, hosts: Iterable[str] | None = None):
        self.only = list(hosts) if hosts is not None else None  # NODE arguments of a zk command

    def applies(self, inventory: Inventory) -> bool:
        return inventory.zookeeper is not None

    def not_applied(self, inventory: Inventory) -> str:
        return "the inventory has no [zookeeper] section"

    def hosts(self, inventory: Inventory) -> list[str]:
        return servers(inventory, self.only)

    def facts(self, inventory: Inventory, host: Host) -> list[FactQuery]:
        return zk_install.facts(inventory.zookeeper, known_release(inventory))


class ZkStage(_ZkStep, StageStep):
    """The release tarball staged on the servers that need it unpacked."""

    name = STAGE_STEP
    topic = "staged."

    def __init__(self, hosts: Iterable[str] | None = None):
        _ZkStep.__init__(self, hosts)
        StageStep.__init__(self)

    def package(self, inventory: Inventory) -> Path:
        return inventory.zookeeper.package

    def packages(self, inventory: Inventory) -> list[PackageFile]:
        return zookeeper_package(inventory)

    def stage_dir(self, inventory: Inventory) -> str:
        return stage_dir(inventory)

    def default_mode(self, inventory: Inventory) -> str:
        return inventory.zookeeper.distribute

    def facts(self, inventory: Inventory, host: Host) -> list[FactQuery]:
        return _ZkStep.facts(self, inventory, host) + StageStep.facts(self, inventory, host)

    def skip_reasons(self, inventory: Inventory, facts: Mapping[str, Facts]) -> dict[str, str]:
        # Decided with every server's facts: a joiner is judged against the running membership.
        decided = decide_all(inventory, facts)
        return {host: plan.conflict or ("" if plan.unpack else "the release is unpacked already")
                for host, plan in decided.items()}


@dataclass
class InstallPlan(HostPlan):
    decided: zk_install.ServerPlan | None = None


class ZkInstall(_ZkStep):
    """Release, configuration, data dirs and myid on the servers; starts nothing."""

    name = STEP

    def packages(self, inventory: Inventory) -> list[PackageFile]:
        return zookeeper_package(inventory)

    def refusal(self, inventory: Inventory) -> UsageError | None:
        return metrics_refusal(inventory)

    def decide(self, inventory: Inventory, facts: Mapping[str, Facts]) -> dict[str, InstallPlan]:
        plans = {}
        pending = superuser.known_digest(inventory) == superuser.PENDING
        refusal = self.refusal(inventory)
        for host, p in decide_all(inventory, facts).items():
            plan = InstallPlan(decided=p, problem=p.conflict or (str(refusal) if refusal else ""))
            if not p.conflict:
                plan.changes = p.changes(inventory.zookeeper)
                plan.notes = p.notes()
                if pending and not p.empty:
                    plan.notes.append(f"the super user's password is made at install, on this controller in "
                                      f"{superuser.secret_path(inventory)}")
                if p.jaas == zk_install.PENDING_SECRET:
                    plan.notes.append(f"the SASL passwords are made at install, on this controller in "
                                      f"{sasl.password_path(inventory, None).parent}")
            plans[host] = plan
        return plans

    def apply(self, run: StepRun, plans: dict[str, InstallPlan]) -> HostResults:
        inventory = run.session.inventory
        pending = any(p.decided and p.decided.jaas == zk_install.PENDING_SECRET for p in plans.values())
        if plans and (superuser.existing_password(inventory) is None or pending):
            # The cluster's first install (or its first with SASL): the passwords are made now, and the files
            # that hold them are decided again with them (deciding makes no file, so the plans say "pending").
            superuser.password(inventory)
            if pending:
                sasl.make_passwords(inventory)
            fresh = self.plans(run.session)
            plans = {h: fresh[h] for h in plans if h in fresh}
        return super().apply(run, plans)

    def apply_host(self, ctx: HostContext, plan: InstallPlan) -> Outcome:
        p = plan.decided
        if p.empty:
            return Outcome.unchanged(_restart_detail(p))
        inventory = ctx.session.inventory
        spec, rel = inventory.zookeeper, release(inventory)
        done = []
        if p.unpack:
            staged = f"{stage_dir(inventory)}/{spec.package.name}"
            ctx.run_script(INSTALL_SCRIPT, "unpack", staged, spec.install_dir, rel.name, rel.sha256,
                           zk_install.RELEASE_MARK, become=True)
            done.append(f"unpacked {rel.name}")
        if p.make_account:
            ctx.run_script(INSTALL_SCRIPT, "account", spec.user, spec.group, spec.data_dir, become=True)
            done.append(f"account {spec.user}")
        if p.make_dirs:
            ctx.run_script(INSTALL_SCRIPT, "data-dirs", spec.user, spec.group, spec.data_dir, spec.data_log_dir,
                           spec.log_dir, become=True)
            ctx.run_script(INSTALL_SCRIPT, "conf-dir", spec.user, spec.group, spec.conf_dir, become=True)
            done.append("data dirs")
        for path, (_, wanted) in p.files.items():
            owner, group, mode = zk_install.file_owner(spec, path)
            ctx.write_file(path, wanted, mode=mode, owner=owner, group=group, dir_mode=zk_install.dir_mode(path),
                           become=True)
            done.append(path.rsplit("/", 1)[1])
        if p.jaas is not None:
            owner, group, mode = zk_install.file_owner(spec, p.jaas_path)
            ctx.write_file(p.jaas_path, p.jaas, mode=mode, owner=owner, group=group, become=True)
            done.append(p.jaas_path.rsplit("/", 1)[1])
        if p.config_changes:
            # What says "the server's config was written now": zoo.cfg's own mtime is ZooKeeper's too.
            ctx.write_file(zk_install.stamp_path(spec), zk_install.stamp_text(p, p.stamp), become=True)
        if p.relink:
            ctx.run_script(INSTALL_SCRIPT, "relink", rel.directory(spec), zk_install.home(spec), become=True)
            done.append(f"{zk_install.home(spec)} → {rel.name}")
        if p.write_myid:
            # Created, never replaced: a myid written meanwhile belongs to the server that wrote it.
            if not ctx.write_file(f"{spec.data_dir}/myid", render_myid(p.server_id), mode="644", owner=spec.user,
                                  group=spec.group, become=True, create_only=True):
                raise Refused(f"{spec.data_dir}/myid appeared while installing; it was left as it is: run again "
                              f"to see whether it is this server's")
            done.append(f"myid {p.server_id}")
        if p.enable:
            ctx.run_script(INSTALL_SCRIPT, "enable", UNIT, become=True)
            done.append(f"{UNIT} enabled")
        for note in p.notes():
            ctx.note(note)
        return Outcome.changed(", ".join(done) + _restart_detail(p, lead="; "))


def _restart_detail(p: zk_install.ServerPlan, lead: str = "") -> str:
    return f"{lead}restart needed (running pid {p.running.pid})" if p.restart_needed else ""


def _how_started(supervised: bool) -> str:
    return f"by {UNIT}" if supervised else "by zkServer.sh (no systemd here)"


@dataclass(frozen=True)
class StartResult:
    outcomes: HostResults
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


@dataclass
class StartPlan(HostPlan):
    pid: int | None = None  # the running server's, if one runs
    supervised: bool = False  # systemd runs the host
    waits: str = ""  # why it is not started (a server for zk add)
    stale: bool = False  # it runs, and must restart to run what is installed


class ZkStart(_ZkStep):
    """Start the servers that are not running, then wait until every one of them serves clients.

    Serving means leader, follower or observer, in two probes in a row under
    the same leader, caught up with it. A server that does not within
    ``timeout`` seconds is a failed host (naming what it reports); raises
    EnsembleNotReady (exit 3) when the ensemble has no leader with a quorum by then.
    """

    name = START_STEP
    phase = "zk-start"

    def __init__(self, hosts: Iterable[str] | None = None, timeout: float = START_TIMEOUT, joining: bool = False,
                 roll_follows: bool = False):
        super().__init__(hosts)
        self.timeout = timeout
        self.joining = joining  # zk add: start servers the running ensemble does not have yet
        # A roll of the stale servers comes next (apply, bootstrap): a running server that must restart anyway
        # is left to it, not waited for here. One that serves no one (given the wrong quorum password, say,
        # which this run has just put right) would never serve by waiting; the roll restarts it first, with
        # its margin checked, one server at a time.
        self.roll_follows = roll_follows

    def decide(self, inventory: Inventory, facts: Mapping[str, Facts]) -> dict[str, StartPlan]:
        plans = {}
        decided = decide_all(inventory, facts)
        for host, f in facts.items():
            state = zk_install.ServerState.from_facts(f, inventory.zookeeper)
            plan = StartPlan(pid=state.server.pid if state.server else None, supervised=state.systemd,
                             stale=decided[host].restart_needed)
            if decided[host].joins and not self.joining:
                plan.waits = (f"not started: {host} is not in the running ensemble; clusterctl zk add {host} "
                              f"starts it as it adds it")
                plan.notes.append(plan.waits)
            plans[host] = plan
        return plans

    def apply(self, run: StepRun, plans: dict[str, StartPlan]) -> HostResults:
        result = start(run.session, plans, self.timeout, self.roll_follows)
        run.outputs[self.name] = result
        return result.outcomes

    def apply_host(self, ctx: HostContext, plan: StartPlan) -> Outcome:
        if plan.pid is not None:
            if not plan.supervised:
                say_unsupervised(ctx, ctx.session.inventory.zookeeper)
            return Outcome.unchanged(f"running (pid {plan.pid})")
        if plan.waits:
            return Outcome.unchanged(plan.waits)
        state, pid = control(ctx, "start", ctx.session.inventory.zookeeper, java_home(ctx.session.inventory))
        if state == "running":
            return Outcome.unchanged(f"running (pid {pid})")
        return Outcome.changed(f"started (pid {pid}) {_how_started(plan.supervised)}")


def start(session: Session, plans: dict[str, StartPlan], timeout: float, roll_follows: bool = False) -> StartResult:
    """Carry out ZkStart's plans, then wait (see :class:`ZkStart`); with ``roll_follows``, not for the running
    servers that must restart anyway (the roll that follows waits for each)."""
    step = ZkStart(timeout=timeout)
    began = time.monotonic()
    outcomes = session.for_each(START_STEP, plans, lambda ctx: step.apply_host(ctx, plans[ctx.host.name]))

    def hopeless(status: EnsembleStatus) -> bool:
        # Voters on hosts that failed this run will not come up unless they already serve.
        able = [s for s in status.servers if not s.observer and (s.serving or s.host not in session.failures)]
        return len(able) < status.quorum.needed

    # Every server it was asked to start, running before or not: exit 0 means each of them serves clients.
    asked = [h for h, p in plans.items() if h not in session.failures and not p.waits
             and not (roll_follows and p.stale and p.pid is not None)]
    waited = wait_until_serving(session, asked, timeout, hopeless=hopeless, started=bool(outcomes.changed))
    if not waited.met and waited.status.settled:
        for h, why in lagging(waited.status, asked, None).items():
            session.fail(h, START_STEP, f"not serving {time.monotonic() - began:.0f}s after start: {why}")
    result = StartResult(outcomes, outcomes.changed, waited, time.monotonic() - began)
    if not waited.status.settled:
        failed = sorted(h for h in session.inventory.zookeeper.hosts if h in session.failures)
        why = f" ({', '.join(failed)} failed earlier this run)" if failed else ""
        raise EnsembleNotReady(f"the ensemble has no quorum {result.elapsed:.0f}s after start{why}: "
                               f"{result.elected}", waited.status)
    session.reporter.note(waited.status.leader.host, START_STEP, result.elected)
    return result


@dataclass
class RollPlan(HostPlan):
    reasons: list[str] = field(default_factory=list)
    pid: int | None = None  # the server that would restart


# Where a planned restart stands in the roll before plan has asked the ensemble (decide is pure).
ROLL_PLACE = "one server at a time, the leader last"


def roll_change(pid: int | None, reasons: list[str], place: str = ROLL_PLACE) -> Change:
    return Change(f"{zk_install.restart_notice(pid, reasons)} ({place})")


def place_in_roll(plans: Mapping[str, RollPlan], status: EnsembleStatus) -> list[str]:
    """Give each planned restart its place in the roll as the ensemble stands now (``plan`` asks the servers;
    the roll asks again as it starts, so a new leader by then changes the order); the order (pure)."""
    order = [h for h in rolling_order(status) if h in plans and plans[h].reasons]
    leader = status.leader.host if status.leader else None
    for place, host in enumerate(order, 1):
        plan = plans[host]
        said = f"{place} of {len(order)} in the roll: {', '.join(order)}" + \
            ("; the leader now, so last" if host == leader else "")
        plan.changes[0] = roll_change(plan.pid, plan.reasons, said)
    return order


class ZkRoll(_ZkStep):
    """Restart, one at a time and leader last, the servers that must restart to run what is installed.

    ``policy`` "migrate" restarts only servers running outside the service
    (a cluster set up by zkServer.sh as root is converted this way, never by
    a full stop); "stale" also those whose configuration or release changed
    since they started. Servers that need nothing are not touched.
    """

    name = "zk-roll"
    phase = "zk-start"

    def __init__(self, policy: str = "migrate", timeout: float = START_TIMEOUT, pause: float = 0.0,
                 confirm=None, hosts: Iterable[str] | None = None, security_rolls_follow: bool = False):
        super().__init__(hosts)
        self.policy, self.timeout, self.pause, self.confirm = policy, timeout, pause, confirm
        # The TLS/SASL rolls come next (apply): a server their first roll restarts is not restarted twice.
        self.security_rolls_follow = security_rolls_follow

    def decide(self, inventory: Inventory, facts: Mapping[str, Facts]) -> dict[str, RollPlan]:
        plans = {}
        if self.security_rolls_follow:
            from .tls import first_roll
            moving = first_roll(inventory, facts)
        else:
            moving = {}
        for host, p in decide_all(inventory, facts).items():
            wanted = p.migrate if self.policy == "migrate" else p.restart_needed
            reasons = p.restart_reasons if wanted else []
            if reasons and host in moving and not p.migrate:
                plans[host] = RollPlan(notes=[f"restarted by the first TLS/SASL roll (into {moving[host].short}), "
                                              f"which starts it with its new configuration"])
                continue
            plans[host] = RollPlan(reasons=reasons, pid=p.running.pid if p.running else None)
            if reasons:
                # The order depends on who leads: plan adds it from the servers (place_in_roll); the roll
                # asks again as it starts.
                plans[host].changes.append(roll_change(p.running.pid, reasons))
        return plans

    def apply(self, run: StepRun, plans: dict[str, RollPlan]) -> HostResults:
        due = {h: "; ".join(p.reasons) for h, p in plans.items() if p.reasons}
        if not due:
            return HostResults()
        result = rolling_restart(run.session, timeout=self.timeout, only=due, pause=self.pause,
                                 confirm=self.confirm, step=self.name)
        run.outputs[self.name] = result
        results = HostResults()
        results.update({h: Outcome.changed("restarted") for h in result.restarted})
        return results


class ZkSmoke(_ZkStep):
    """The smoke test, when this run changed something (or when asked)."""

    name = SMOKE_STEP
    phase = "smoke"

    def __init__(self, always: bool = False):
        super().__init__()
        self.always = always

    def facts(self, inventory: Inventory, host: Host) -> list[FactQuery]:
        return []

    def decide(self, inventory: Inventory, facts: Mapping[str, Facts]) -> dict[str, HostPlan]:
        return {h: HostPlan() for h in facts}

    def check(self, inventory: Inventory, changing: Mapping[str, set[str]]) -> str:
        if not (self.always or any(changing.values())):
            return "not run: nothing changes (--verify runs it)"
        return (f"a znode written through one of {len(self.hosts(inventory))} server(s) reads back the same "
                f"through every other, then is removed")

    def apply(self, run: StepRun, plans: dict[str, HostPlan]) -> HostResults:
        if not (self.always or run.verify or run.changed_in()):
            return HostResults()
        from ..zk.smoke import smoke as smoke_test  # kazoo: loaded by the runs that open ZooKeeper sessions
        return smoke_test(run.session)


def plan_stop(session: Session, hosts: Iterable[str] | None = None) -> Day2Plan:
    """Which of the servers (all, or ``hosts``; within --hosts) run and would be stopped."""
    inventory = session.inventory
    spec = inventory.zookeeper
    chosen = session.targets(servers(inventory, hosts))
    facts = session.gather(STOP_STEP, chosen, lambda h: [zk_install.server_fact(spec)])
    plan = Day2Plan()
    for host in chosen:
        if host not in facts:
            continue
        running = zk_install.RunningServer.from_fact(facts[host]["zk.server"])
        if running is None:
            plan.note(STOP_STEP, host, "not running")
        else:
            how = f"systemctl stop {UNIT}" if running.manager == "systemd" else "SIGTERM"
            plan.change(STOP_STEP, host, f"stop the server (pid {running.pid}, {how}; SIGKILL after "
                                         f"{STOP_GRACE_SECONDS}s) and wait until it has exited")
    return plan


def stop(session: Session, plan: Day2Plan) -> HostResults:
    """Stop the servers ``plan`` names (SIGTERM, as zkServer.sh stop) and wait until each has exited."""
    inventory = session.inventory

    def apply(ctx: HostContext) -> Outcome:
        state, pid = control(ctx, "stop", inventory.zookeeper, java_home(inventory))
        session.forget_facts(ctx.host.name, "zk.")
        return Outcome.changed(f"stopped (pid {pid})") if state == "stopped" else Outcome.unchanged("not running")

    results = session.for_each(STOP_STEP, plan.hosts(STOP_STEP), apply)
    for host, per_host in plan.steps.get(STOP_STEP, {}).items():
        if not per_host.changes:
            session.reporter.state(host, STOP_STEP, State.UNCHANGED, "not running")
    return results


@dataclass
class RestartPlan(Day2Plan):
    rolling: bool = False
    before: EnsembleStatus | None = None  # the ensemble a roll was decided on
    order: list[str] = field(default_factory=list)  # a roll's: followers and observers first, the leader last
    stopping: Day2Plan | None = None  # a full restart's stops


def plan_restart(session: Session, *, rolling: bool = False) -> RestartPlan:
    """The restart of the targeted servers: a roll's order (refused, NoMarginToRestart, without the margin to
    lose one more voter), or every server stopped and then started."""
    if not rolling:
        stopping = plan_stop(session)
        plan = RestartPlan(stopping=stopping)
        plan.steps = dict(stopping.steps)
        for host in session.targets(servers(session.inventory)):
            plan.change(START_STEP, host, "start the server, then wait until every server serves")
        return plan
    before = probe(session)
    check_margin(before)
    order = targets_in_rolling_order(session, before)
    plan = RestartPlan(rolling=True, before=before, order=order)
    for i, host in enumerate(order, 1):
        role = before.server(host).role
        last = "; the leader goes last" if role == "leader" else ""
        plan.change(RESTART_STEP, host, f"{i} of {len(order)}: restart the server ({role}{last}), then wait until "
                                        f"it serves, caught up, before the next")
    return plan


def restart(session: Session, plan: RestartPlan, *, timeout: float = START_TIMEOUT) -> RollResult | StartResult:
    """Carry out ``plan``: one server at a time keeping the quorum, else all stopped then all started."""
    if plan.rolling:
        return rolling_restart(session, timeout=timeout, before=plan.before)
    stop(session, plan.stopping)
    step = ZkStart(timeout=timeout)
    return start(session, step.plans(session), timeout)


def install_facts(session: Session, hosts: Iterable[str]) -> dict[str, Facts]:
    """The install step's facts of ``hosts``, gathered under its name (read once a run, shared with the step)."""
    inventory = session.inventory
    return session.gather(STEP, hosts, lambda h: ZkInstall().facts(inventory, h))


def server_facts(session: Session, hosts: Iterable[str]) -> dict[str, zk_install.ServerState]:
    """Each of ``hosts``' server as its install facts show it: its release, link, process and membership files."""
    spec = session.inventory.zookeeper
    return {h: zk_install.ServerState.from_facts(f, spec) for h, f in install_facts(session, hosts).items()}


def status(session: Session) -> EnsembleStatus:
    """Each server as it says itself (four-letter words), with what its node says: restart needed, no systemd."""
    status = probe(session, detail=True)
    inventory = session.inventory
    # Facts this run read before it changed a server are forgotten where it changed it (install, restart,
    # reconfig), so the cached rest is still what the nodes hold.
    facts = install_facts(session, [s.host for s in status.servers])
    leader = status.leader.host if status.leader else None
    notes = {h: p.notes() for h, p in decide_all(inventory, facts, leader).items() if not p.conflict}
    for host, more in tls_status(session, facts).items():
        notes.setdefault(host, []).extend(more)
    return EnsembleStatus([replace(s, notes=tuple(notes.get(s.host, ()))) for s in status.servers])


def tls_status(session: Session, facts: Mapping[str, Facts]) -> dict[str, list[str]]:
    """Each server's TLS and SASL as status shows them (nothing while both are off everywhere)."""
    import datetime
    from ..tls.report import sasl_notes, tls_notes
    from .tls import plaintext_count
    spec = session.inventory.zookeeper
    states = {h: zk_install.ServerState.from_facts(f, spec) for h, f in facts.items()}
    sasl_on = {h: sasl_notes(spec.sasl, s.running_tls, s.zoo_cfg) for h, s in states.items()}
    if not (spec.tls.enabled or any(s.running_tls.stores for s in states.values())):
        return sasl_on
    now = datetime.datetime.now(datetime.timezone.utc)
    return {host: tls_notes(spec.tls, state.running_tls, state.tls_cert, now, plaintext_count(facts[host]),
                            spec.client_port) + sasl_on[host]
            for host, state in states.items()}


def steps(hosts: Iterable[str] | None = None, timeout: float = START_TIMEOUT, smoke: bool = False) -> list[Step]:
    """The ZooKeeper phases: stage, install, start, convert servers running outside the service (and smoke)."""
    from .tls import ZkTlsCerts  # (tls builds on this module)
    chosen: list[Step] = [ZkStage(hosts), ZkInstall(hosts), ZkTlsCerts(hosts), ZkStart(hosts, timeout),
                          ZkRoll("migrate", timeout)]
    return chosen + [ZkSmoke()] if smoke else chosen
