"""zk upgrade: a new ZooKeeper release onto the running ensemble, one server at a time, rolled back by itself.

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
from ..inventory import Inventory
from ..zk import install as zk_install
from ..zk.restart import check_margin, rolling_order
from ..zk.server import control, home, java_home
from ..zk.status import describe, probe, wait_until_serving
from . import zookeeper
from .base import run_steps

STEP = "zk-upgrade"
UNPACK_STEP = "zk-unpack"
BACKUP_STEP = "zk-backup"
CLEANUP_STEP = "zk-cleanup"
SCRIPT = "zk_install.sh"
DEFAULT_TIMEOUT = 120.0


def with_package(inventory: Inventory, package: Path) -> Inventory:
    """The inventory with ``package`` as the ZooKeeper release: what the run installs."""
    return replace(inventory, zookeeper=replace(inventory.zookeeper, package=package))


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
    facts = session.gather(zookeeper.STEP, hosts, lambda h: zookeeper.ZkInstall().facts(inventory, h))
    rel = zookeeper.release(inventory)
    out = {}
    for host, f in facts.items():
        state = zk_install.HostState.from_facts(f, inventory.zookeeper)
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
    failed = sorted(h for h in where if h in session.failures)
    if failed or session.stopping.is_set():
        for host in where:
            session.reporter.note(host, STEP, f"no server was touched: staging failed on {', '.join(failed)}"
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


def upgrade(session: Session, *, timeout: float = DEFAULT_TIMEOUT, pause: float = 0.0,
            confirm: Callable[[str, str], bool] | None = None) -> UpgradeResult:
    """Carry out ``zk upgrade`` with the session's inventory's release (see the module)."""
    inventory = session.inventory
    spec, rel = inventory.zookeeper, zookeeper.release(inventory)
    target = rel.directory(spec)
    where = where_servers_are(session)
    check_release(inventory, where)
    # A run resumed right after an interrupt may find its last server still catching up: give it time.
    before = wait_until_serving(session, zookeeper.servers(inventory), min(timeout, 60)).status
    order = session.targets(rolling_order(before))
    result = UpgradeResult(order)
    result.already = [h for h in order if where[h].upgraded(target)]
    todo = [h for h in order if h not in result.already]
    for host in result.already:
        session.reporter.state(host, STEP, State.UNCHANGED, f"runs {rel.name} already")
    if not todo:
        return result
    check_margin(before)
    stage_everywhere(session, where)
    if before.leader is not None and before.leader.host in todo:
        back_up_leader(session, before.leader.host)
    for i, host in enumerate(todo):
        if i:
            if pause:
                session.reporter.note(host, STEP, f"pausing {pause:g}s before the next server")
                time.sleep(pause)
            check_margin(probe(session))
        if confirm is not None and not confirm(host, f"switch {host} to {rel.name}"):
            session.reporter.note(host, STEP, "not upgraded: skipped at the prompt")
            continue
        previous = where[host].current
        outcome = session.for_each(STEP, [host], lambda ctx: switch(ctx, previous, timeout)).get(host)
        if outcome is None or not outcome.succeeded:
            if outcome is not None and "rolled back" in outcome.detail:
                result.rolled_back = host
            for rest in todo[i + 1:]:
                session.reporter.note(rest, STEP, f"not upgraded: the upgrade stopped at {host}")
            break
        result.upgraded.append(host)
    return result


def switch(ctx: HostContext, previous: str, timeout: float) -> Outcome:
    """One server onto the new release; back onto ``previous`` (and its config) if it does not serve in time."""
    session, inventory, host = ctx.session, ctx.session.inventory, ctx.host.name
    spec, rel = inventory.zookeeper, zookeeper.release(inventory)
    java = java_home(inventory)
    began = time.monotonic()
    backup = f"{spec.conf_dir}.backup-{time.strftime('%Y%m%d-%H%M%S')}"
    ctx.run_script(SCRIPT, "backup-conf", spec.conf_dir, backup, become=True)
    log4j = zk_install.release_member(spec.package, spec.package.stat().st_mtime_ns, "conf/log4j.properties")
    if log4j:
        ctx.write_file(f"{spec.conf_dir}/log4j.properties", log4j, become=True)
    ctx.write_file(zk_install.stamp_path(spec), f"the release ({rel.name})\n", become=True)
    ctx.run_script(SCRIPT, "relink", rel.directory(spec), home(spec), become=True)
    session.forget_facts(host, "zk.")
    ctx.note(f"on {rel.name} (config kept in {backup}); restarting")
    control(ctx, "restart", spec, java)
    back = wait_until_serving(session, [host], timeout)
    if back.met:
        return Outcome.changed(f"on {rel.name}, back as {back.status.server(host).role} in "
                               f"{time.monotonic() - began:.1f}s")
    why = describe(back.status.server(host))
    ctx.note(f"{rel.name} did not serve within {timeout:.0f}s ({why}); rolling back to {previous}")
    ctx.run_script(SCRIPT, "restore-conf", backup, spec.conf_dir, become=True)
    ctx.run_script(SCRIPT, "relink", previous, home(spec), become=True)
    session.forget_facts(host, "zk.")
    control(ctx, "restart", spec, java)
    again = wait_until_serving(session, [host], timeout)
    state = (f"back on {previous.rsplit('/', 1)[-1]} as {again.status.server(host).role}" if again.met
             else f"and on {previous.rsplit('/', 1)[-1]} it is {describe(again.status.server(host))}")
    raise ClusterctlError(f"{rel.name} did not serve within {timeout:.0f}s ({why}): rolled back, {state}; "
                          f"the upgrade stopped here")


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
