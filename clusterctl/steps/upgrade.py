"""zk upgrade and jdk upgrade: a new ZooKeeper release (or JDK) onto the running ensemble, one server at a time, rolled back by itself.

1. The new release is staged and unpacked on every server beside the one
   running (its own directory): if that fails anywhere, no server is touched.
2. A copy of the leader's snapshots and transaction logs is taken
   (``<data_dir>.backup-<time>``, root's).
3. Servers switch one at a time, followers first and the leader last, each
   only while the ensemble can lose one more voter: its config directory is
   copied (``<conf_dir>.backup-<time>``), ZOOKEEPER_HOME is pointed at the new
   release, the server restarted and waited for until it serves, caught up.
   A server that does not within the timeout is switched back to the release
   and config it had, restarted, and the upgrade stops there (exit 1).
4. The previous release stays on disk until ``--cleanup``.

Run again after an interrupt or a failure, it goes on with the servers not on
the new release yet (or on it but not restarted since).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from ..core.session import HostContext, HostResults, Outcome, Session
from ..errors import ClusterctlError, HostsFailed, UsageError
from ..events import State
from ..inventory import JDK_PACKAGE_KINDS, RELEASE_KINDS, Inventory
from ..packages import (JDK, ZOOKEEPER_RELEASE, given_package, require_contents, require_metrics_provider,
                        zookeeper_package)
from ..zk import install as zk_install
from ..zk.restart import check_margin, targets_in_rolling_order
from ..zk.server import control, home, java_home
from ..zk.status import describe, probe, wait_until_serving
from . import jdk, zookeeper
from .base import run_steps
from .day2 import Day2Plan

STEP = "zk-upgrade"
UNPACK_STEP = "zk-unpack"
BACKUP_STEP = "zk-backup"
CLEANUP_STEP = "zk-cleanup"
SCRIPT = "zk_install.sh"
JDK_SCRIPT = "jdk.sh"
DEFAULT_TIMEOUT = 120.0


def with_package(inventory: Inventory, package: Path | None) -> Inventory:
    """The inventory with the release the upgrade installs: ``package`` (--package), else [zookeeper] package.

    Refused (exit 2, before any host is contacted) unless it is a ZooKeeper
    release: a tarball with bin/zkServer.sh and the server's jar, read here
    (and, with [zookeeper] metrics, the Prometheus provider's jar).
    """
    named = zookeeper_package(inventory)[0] if package is None else \
        given_package("--package", package, RELEASE_KINDS, ZOOKEEPER_RELEASE.fix)
    require_contents(inventory, named, ZOOKEEPER_RELEASE)
    require_metrics_provider(inventory, named)
    return replace(inventory, zookeeper=replace(inventory.zookeeper, package=named.path))


@dataclass(frozen=True)
class ServerRelease:
    """Where one server is: the release its ZOOKEEPER_HOME points at, whether its process predates that."""

    host: str
    current: str  # the directory the link points at
    unpacked: bool  # the new release is unpacked (and marked) on it
    stale: bool  # its server runs but started before its config or link changed

    def upgraded(self, target: str) -> bool:
        return self.current == target and not self.stale


@dataclass
class UpgradeResult:
    order: list[str]
    upgraded: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    rolled_back: str = ""


def where_servers_are(session: Session) -> dict[str, ServerRelease]:
    inventory = session.inventory
    hosts = zookeeper.servers(inventory)
    states = zookeeper.server_facts(session, hosts)
    rel = zookeeper.release(inventory)
    out = {}
    for host, state in states.items():
        out[host] = ServerRelease(host, state.link_target, state.release_sha256 == rel.sha256,
                                  state.server is not None and state.server.stale)
    return out


def check_release(inventory: Inventory, where: dict[str, ServerRelease]) -> None:
    """Refuse a release that unpacks into the directory a server runs from (an in-place replace, no way back)."""
    rel = zookeeper.release(inventory)
    target = rel.directory(inventory.zookeeper)
    for host, server in where.items():
        if server.current == target and not server.unpacked:
            raise UsageError(f"{inventory.zookeeper.package}: unpacks into {target}, where {host} runs another "
                             f"build from: an upgrade needs its own directory (repack the release under another "
                             f"top directory name) so that the old one stays to roll back to")


def stage_everywhere(session: Session, where: dict[str, ServerRelease]) -> None:
    """The new release staged and unpacked beside the running one on every server, or HostsFailed."""
    inventory = session.inventory
    spec, rel = inventory.zookeeper, zookeeper.release(inventory)
    todo = [h for h, s in where.items() if not s.unpacked]
    if todo:
        run_steps(session, [zookeeper.ZkStage(todo)])

    def unpack(ctx: HostContext) -> Outcome:
        staged = f"{zookeeper.stage_dir(inventory)}/{spec.package.name}"
        ctx.run_script(SCRIPT, "unpack", staged, spec.install_dir, rel.name, rel.sha256, zk_install.RELEASE_MARK,
                       become=True)
        session.forget_facts(ctx.host.name, "zk.")
        return Outcome.changed(f"{rel.name} unpacked beside the running release")

    session.for_each(UNPACK_STEP, [h for h in todo if h not in session.failures], unpack)
    stop_unless_staged(session, STEP, list(where))


def stop_unless_staged(session: Session, step: str, hosts: list[str]) -> None:
    """HostsFailed (each host told that no server was touched) if staging failed anywhere or was interrupted."""
    failed = sorted(h for h in hosts if h in session.failures)
    if failed or session.stopping.is_set():
        for host in hosts:
            session.reporter.note(host, step, f"no server was touched: staging failed on {', '.join(failed)}"
                                  if failed else "no server was touched: interrupted while staging")
        raise HostsFailed()


def back_up_leader(session: Session, leader: str) -> None:
    spec = session.inventory.zookeeper
    stamp = time.strftime("%Y%m%d-%H%M%S")

    def copy(ctx: HostContext) -> Outcome:
        result = ctx.run_script(SCRIPT, "backup-data", spec.data_dir, spec.data_log_dir,
                                f"{spec.data_dir}.backup-{stamp}", become=True)
        return Outcome.changed(result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "copied")

    session.for_each(BACKUP_STEP, [leader], copy)


@dataclass(frozen=True)
class Switch:
    """How one server moves onto the new build (``forward``, which returns a note) and back again."""

    label: str  # the new build, as the summary names it
    forward: Callable[[HostContext], str]
    back: Callable[[HostContext], None]


def roll(session: Session, step: str, todo: list[str], switch: Switch, *, timeout: float, pause: float = 0.0,
         confirm: Callable[[str, str], bool] | None = None, result: UpgradeResult) -> UpgradeResult:
    """``todo`` (in rolling order) onto the new build one at a time, each while the ensemble can lose one
    more voter; stops at the first server that is rolled back (or fails)."""
    for i, host in enumerate(todo):
        if i:
            if pause:
                session.reporter.note(host, step, f"pausing {pause:g}s before the next server")
                time.sleep(pause)
            check_margin(probe(session))
        if confirm is not None and not confirm(host, f"switch {host} to {switch.label}"):
            session.reporter.note(host, step, "not upgraded: skipped at the prompt")
            continue
        outcome = session.for_each(step, [host], lambda ctx: switch_server(ctx, switch, timeout)).get(host)
        if outcome is None or not outcome.succeeded:
            if outcome is not None and "rolled back" in outcome.detail:
                result.rolled_back = host
            for rest in todo[i + 1:]:
                session.reporter.note(rest, step, f"not upgraded: the upgrade stopped at {host}")
            break
        result.upgraded.append(host)
    return result


def switch_server(ctx: HostContext, switch: Switch, timeout: float) -> Outcome:
    """One server onto the new build; back onto what it had if it does not serve, caught up, in time."""
    session, inventory, host = ctx.session, ctx.session.inventory, ctx.host.name
    spec, java = inventory.zookeeper, java_home(inventory)
    began = time.monotonic()
    ctx.note(f"{switch.forward(ctx)}; restarting")
    session.forget_facts(host, "zk.")
    try:
        control(ctx, "restart", spec, java)
    except ClusterctlError as exc:  # it did not even start (the script names why): the same as not serving
        why = f"it did not start: {str(exc).splitlines()[0][:300]}"
    else:
        back = wait_until_serving(session, [host], timeout)
        if back.met:
            return Outcome.changed(f"on {switch.label}, back as {back.status.server(host).role} in "
                                   f"{time.monotonic() - began:.1f}s")
        why = describe(back.status.server(host))
    ctx.note(f"{switch.label} did not serve within {timeout:.0f}s ({why}); rolling back")
    switch.back(ctx)
    session.forget_facts(host, "zk.")
    control(ctx, "restart", spec, java)
    again = wait_until_serving(session, [host], timeout)
    state = (f"back as {again.status.server(host).role} on what it had" if again.met
             else f"and on what it had it is {describe(again.status.server(host))}")
    raise ClusterctlError(f"{switch.label} did not serve within {timeout:.0f}s ({why}): rolled back, {state}; "
                          f"the upgrade stopped here")


def settle(session: Session, timeout: float):
    """The ensemble, once every server serves (a run resumed right after an interrupt may find its last
    server still catching up), or as it is after ``timeout``."""
    return wait_until_serving(session, zookeeper.servers(session.inventory), min(timeout, 60)).status


@dataclass
class UpgradePlan(Day2Plan):
    """An upgrade's decision: where each server is, the ensemble it was decided on, the order of the roll,
    the servers on the new build already and those to switch."""

    where: dict = field(default_factory=dict)  # host → ServerRelease (zk upgrade); host → JDK state (jdk)
    before: object = None  # the EnsembleStatus the order was decided on (None: no server to roll)
    order: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    todo: list[str] = field(default_factory=list)
    others: list[str] = field(default_factory=list)  # jdk upgrade: hosts without a server, switched last

    def result(self) -> UpgradeResult:
        return UpgradeResult(self.order, already=list(self.already))


def roll_plan(decided: UpgradePlan, step: str, label: str, switch: str, back: str) -> None:
    """The roll's rows of ``decided``: each server to switch, in order, and those already on ``label``."""
    for host in decided.already:
        decided.note(step, host, f"runs {label} already")
    for i, host in enumerate(decided.todo, 1):
        role = decided.before.server(host).role if decided.before else "server"
        last = "; the leader goes last" if role == "leader" else ""
        decided.change(step, host, f"{i} of {len(decided.todo)} ({role}{last}): {switch}, restart, wait until it "
                                   f"serves, caught up; if it does not, {back} by itself and stop there")


def plan_upgrade(session: Session, *, timeout: float = DEFAULT_TIMEOUT) -> UpgradePlan:
    """What ``zk upgrade`` will do with the session's inventory's release; refused (UsageError, NoQuorum,
    NoMarginToRestart) before anything changes."""
    inventory = session.inventory
    spec, rel = inventory.zookeeper, zookeeper.release(inventory)
    target = rel.directory(spec)
    where = where_servers_are(session)
    check_release(inventory, where)
    before = settle(session, timeout)
    order = targets_in_rolling_order(session, before)
    already = [h for h in order if where[h].upgraded(target)]
    decided = UpgradePlan(where=where, before=before, order=order, already=already,
                          todo=[h for h in order if h not in already])
    if decided.todo:
        check_margin(before)
        for host, server in where.items():
            if not server.unpacked:
                decided.change(UNPACK_STEP, host, f"stage {spec.package.name} and unpack {rel.name} beside the "
                                                  f"running release (no server is touched if this fails anywhere)")
        if before.leader is not None and before.leader.host in decided.todo:
            decided.change(BACKUP_STEP, before.leader.host, f"copy the leader's snapshots and transaction logs "
                                                            f"to {spec.data_dir}.backup-<time>")
    roll_plan(decided, STEP, rel.name, f"copy {spec.conf_dir} to {spec.conf_dir}.backup-<time>, point "
                                       f"{home(spec)} at {target}", "switch back to its release and config")
    return decided


def upgrade(session: Session, decided: UpgradePlan, *, timeout: float = DEFAULT_TIMEOUT, pause: float = 0.0,
            confirm: Callable[[str, str], bool] | None = None) -> UpgradeResult:
    """Carry out ``zk upgrade`` as :func:`plan_upgrade` decided it (see the module)."""
    inventory = session.inventory
    spec, rel = inventory.zookeeper, zookeeper.release(inventory)
    target = rel.directory(spec)
    where, todo = decided.where, decided.todo
    result = decided.result()
    for host in result.already:
        session.reporter.state(host, STEP, State.UNCHANGED, f"runs {rel.name} already")
    if not todo:
        return result
    stage_everywhere(session, where)
    if decided.hosts(BACKUP_STEP):
        back_up_leader(session, decided.hosts(BACKUP_STEP)[0])
    backups: dict[str, str] = {}

    def forward(ctx: HostContext) -> str:
        backup = f"{spec.conf_dir}.backup-{time.strftime('%Y%m%d-%H%M%S')}"
        backups[ctx.host.name] = backup
        ctx.run_script(SCRIPT, "backup-conf", spec.conf_dir, backup, become=True)
        log4j = zk_install.release_member(spec.package, spec.package.stat().st_mtime_ns, "conf/log4j.properties")
        if log4j:
            ctx.write_file(f"{spec.conf_dir}/log4j.properties", log4j, become=True)
        ctx.write_file(zk_install.stamp_path(spec), f"the release ({rel.name})\n", become=True)
        ctx.run_script(SCRIPT, "relink", target, home(spec), become=True)
        return f"on {rel.name} (config kept in {backup})"

    def back(ctx: HostContext) -> None:
        ctx.run_script(SCRIPT, "restore-conf", backups[ctx.host.name], spec.conf_dir, become=True)
        ctx.run_script(SCRIPT, "relink", where[ctx.host.name].current, home(spec), become=True)

    return roll(session, STEP, todo, Switch(rel.name, forward, back), timeout=timeout, pause=pause,
                confirm=confirm, result=result)


def cleanup(session: Session) -> HostResults:
    """Remove the releases under install_dir that clusterctl unpacked and no server runs from."""
    spec = session.inventory.zookeeper

    def clean(ctx: HostContext) -> Outcome:
        result = ctx.run_script(SCRIPT, "cleanup", spec.install_dir, home(spec), zk_install.RELEASE_MARK,
                                become=True)
        removed = [line[8:] for line in result.stdout.splitlines() if line.startswith("removed ")]
        return Outcome.changed("removed " + ", ".join(removed)) if removed else \
            Outcome.unchanged("no previous release left")

    return session.for_each(CLEANUP_STEP, zookeeper.servers(session.inventory), clean)


# -- the JDK --------------------------------------------------------------------------

JDK_STEP = "jdk-upgrade"
JDK_UNPACK_STEP = "jdk-unpack"
JDK_LINK_STEP = "jdk-link"


def with_jdk_package(inventory: Inventory, package: Path) -> Inventory:
    """The inventory with ``package`` as the JDK that ``jdk upgrade`` unpacks beside the one in use.

    Refused (exit 2, before any host is contacted) unless it is a JDK tarball:
    bin/java under one top directory, read here.
    """
    named = given_package("--package", package, JDK_PACKAGE_KINDS, JDK.fix)
    if named.kind != "tarball":
        raise UsageError(f"--package: {package}: jdk upgrade switches java_home and switches it back on a "
                         f"failure, which needs the new JDK unpacked beside the old one (fix: give it a .tar.gz "
                         f"JDK; an rpm or deb upgrade replaces the JDK in place: jdk install does that, without "
                         f"a way back)")
    require_contents(inventory, named, JDK)
    return replace(inventory, jdk=replace(inventory.jdk, package=named.path, kind=named.kind))


def running_java(session: Session, hosts: list[str]) -> dict[str, str]:
    """host → the java binary its ZooKeeper server runs (resolved), "" where none runs."""
    pids = {h: state.server for h, state in zookeeper.server_facts(session, hosts).items()}

    def ask(ctx: HostContext) -> Outcome:
        server = pids.get(ctx.host.name)
        if server is None:
            return Outcome.ok(data="")
        result = ctx.run_script(JDK_SCRIPT, "exe", server.pid, become=True,
                                allow_failure="a server that exited since its facts were read runs no java")
        return Outcome.ok(data=result.stdout.strip() if result.ok else "")

    found = session.for_each(JDK_STEP, hosts, ask, report=False, changes_host=False)
    return {h: (o.data or "") for h, o in found.items()}


def plan_jdk_upgrade(session: Session, *, timeout: float = DEFAULT_TIMEOUT) -> UpgradePlan:
    """What ``jdk upgrade`` will do with the session's inventory's JDK tarball; refused before any change."""
    inventory = session.inventory
    spec = jdk.require_spec(inventory)
    pkg = jdk.describe_package(spec)  # a tarball: with_jdk_package refuses anything else
    hosts = list(spec.hosts)
    facts = session.gather(jdk.INSTALL_STEP, hosts, lambda h: jdk.facts(spec))
    states = {h: jdk.HostState.from_facts(f, jdk.remote_paths(spec)) for h, f in facts.items()}
    target = jdk.link_target(spec, pkg)
    for host, state in states.items():
        if state.java_home_link is None:
            raise UsageError(f"{host}: java_home {spec.java_home} is not a link: jdk upgrade switches that link "
                             f"(run clusterctl jdk install first)")
    servers = [h for h in zookeeper.servers(inventory) if h in states] if inventory.zookeeper else []
    java = running_java(session, servers) if servers else {}
    on_new = {h for h, st in states.items() if st.java_home_link in (target, pkg.unpacked_home)}
    before = settle(session, timeout) if servers else None
    order = targets_in_rolling_order(session, before) if before else []
    already = [h for h in order if h in on_new and java.get(h, "").startswith(pkg.unpacked_home + "/")]
    decided = UpgradePlan(where=states, before=before, order=order, already=already,
                          todo=[h for h in order if h in servers and h not in already],
                          others=[h for h in session.targets(hosts) if h not in servers and h not in on_new])
    if decided.todo:
        check_margin(before)
    if decided.todo or decided.others:
        for host, state in states.items():
            if not jdk.is_installed(pkg, state):
                decided.change(JDK_UNPACK_STEP, host, f"stage {spec.package.name} and unpack {pkg.top_dir} beside "
                                                      f"the JDK in use (no server is touched if this fails anywhere)")
    roll_plan(decided, JDK_STEP, pkg.top_dir, f"point {spec.java_home} at {target}",
              f"point {spec.java_home} back at what it had")
    for host in decided.others:
        decided.change(JDK_LINK_STEP, host, f"point {spec.java_home} at {target} (no server here; once every "
                                            f"server runs on the new JDK)")
    return decided


def upgrade_jdk(session: Session, decided: UpgradePlan, *, timeout: float = DEFAULT_TIMEOUT, pause: float = 0.0,
                confirm: Callable[[str, str], bool] | None = None) -> UpgradeResult:
    """``jdk upgrade`` as :func:`plan_jdk_upgrade` decided it: the JDK tarball unpacked beside the one in use
    on every JDK host, then java_home switched server by server as ``zk upgrade`` switches releases
    (restart, wait, back to the previous JDK by itself if the server does not serve), then on the others."""
    inventory = session.inventory
    spec = jdk.require_spec(inventory)
    pkg = jdk.describe_package(spec)
    hosts = list(spec.hosts)
    states, todo, others = decided.where, decided.todo, decided.others
    target = jdk.link_target(spec, pkg)
    result = decided.result()
    for host in result.already:
        session.reporter.state(host, JDK_STEP, State.UNCHANGED, f"runs {pkg.top_dir} already")
    if not todo and not others:
        return result
    unpack = decided.hosts(JDK_UNPACK_STEP)
    if unpack:
        run_steps(session, [jdk.JdkStage()])

        def unpack_one(ctx: HostContext) -> Outcome:
            ctx.run_script(JDK_SCRIPT, "tarball", jdk.remote_paths(spec).final, jdk.JAVA_DIR, pkg.top_dir,
                           pkg.file.sha256, become=True)
            session.forget_facts(ctx.host.name, "jdk.")
            return Outcome.changed(f"{pkg.top_dir} unpacked beside the JDK in use")

        session.for_each(JDK_UNPACK_STEP, [h for h in unpack if h not in session.failures], unpack_one)
    stop_unless_staged(session, JDK_STEP, hosts)

    def forward(ctx: HostContext) -> str:
        ctx.run_script(JDK_SCRIPT, "link", spec.java_home, target, become=True)
        return f"{spec.java_home} → {target}"

    def back(ctx: HostContext) -> None:
        ctx.run_script(JDK_SCRIPT, "link", spec.java_home, states[ctx.host.name].java_home_link, become=True)

    roll(session, JDK_STEP, todo, Switch(pkg.top_dir, forward, back), timeout=timeout, pause=pause,
         confirm=confirm, result=result)
    if len(result.upgraded) == len(todo):
        # Hosts without a server switch once every server runs on the new JDK.
        session.for_each(JDK_LINK_STEP, others, lambda ctx: Outcome.changed(forward(ctx)))
    return result
