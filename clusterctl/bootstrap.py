"""The whole runbook in order: hosts file and SSH trust → JDK → ZooKeeper → smoke → status.

Facts for every step are asked up front in one round trip per host, so a run
on a converged cluster costs one command per host before it can say
"nothing to do". Each step then decides from those facts; a host that changes
is asked again by the next step that needs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from .core.facts import Fact
from .core.session import Session
from .errors import UsageError
from .inventory import Host, Inventory
from .plan import Change
from .steps import hosts_file, jdk, ssh_trust, zookeeper


@dataclass(frozen=True)
class BootstrapStep:
    name: str
    applies: Callable[[Inventory], bool]
    hosts: Callable[[Inventory], Iterable[str]]
    facts: Callable[[Inventory, Host], dict[str, str]] | None
    plan: Callable[[Inventory, dict[str, dict[str, Fact]]], dict[str, list[Change]]] | None
    run: Callable[[Session, "BootstrapContext"], object]


@dataclass
class BootstrapContext:
    changed: bool = False  # did any earlier step change anything this run?
    verify: bool = False  # --verify: run the checks even when nothing changed


def _trust_run(session: Session, ctx: BootstrapContext) -> object:
    before = session.changes_made
    ssh_trust.run(session, verify_pairs=False)
    if ctx.verify or session.changes_made > before:
        return ssh_trust.verify(session)
    return None


STEPS: tuple[BootstrapStep, ...] = (
    BootstrapStep("hosts", lambda inv: True, hosts_file.target_hosts,
                  lambda inv, h: hosts_file.facts(h), hosts_file.plan,
                  lambda s, c: hosts_file.run(s)),
    BootstrapStep("ssh-trust", lambda inv: True, lambda inv: inv.ssh_trust.hosts,
                  lambda inv, h: ssh_trust.facts(h, inv.ssh_trust.key_type), ssh_trust.plan, _trust_run),
    BootstrapStep("jdk", lambda inv: inv.jdk is not None, lambda inv: inv.jdk.hosts,
                  lambda inv, h: jdk.facts(h, inv.jdk), jdk.plan, lambda s, c: jdk.run(s)),
    BootstrapStep("zookeeper", lambda inv: inv.zookeeper is not None, lambda inv: inv.zookeeper.hosts,
                  lambda inv, h: zookeeper.facts(h, inv.zookeeper), zookeeper.plan,
                  lambda s, c: zookeeper.install(s)),
    BootstrapStep("zk-start", lambda inv: inv.zookeeper is not None, lambda inv: inv.zookeeper.hosts,
                  None, None, lambda s, c: zookeeper.start(s)),
    BootstrapStep("smoke", lambda inv: inv.zookeeper is not None, lambda inv: inv.zookeeper.hosts,
                  None, None, lambda s, c: zookeeper.smoke(s) if (c.changed or c.verify) else None),
)
STEP_NAMES = tuple(step.name for step in STEPS)


def select_steps(only: list[str], skip: list[str]) -> list[BootstrapStep]:
    """The steps to run for --only/--skip, in runbook order; unknown names are a usage error."""
    for name in only + skip:
        if name not in STEP_NAMES:
            raise UsageError(f"unknown step {name!r}: choose from {', '.join(STEP_NAMES)}")
    return [s for s in STEPS if (not only or s.name in only) and s.name not in skip]


def prefetch(session: Session, steps: list[BootstrapStep]) -> None:
    """Ask every selected step's facts from every host in one command per host."""
    inventory = session.inventory
    wanted: dict[str, list[BootstrapStep]] = {}
    for step in steps:
        if step.facts and step.applies(inventory):
            for name in step.hosts(inventory):
                wanted.setdefault(name, []).append(step)

    def snippets(host: Host) -> dict[str, str]:
        merged: dict[str, str] = {}
        for step in wanted[host.name]:
            merged.update(step.facts(inventory, host))
        return merged

    session.prefetch(list(wanted), snippets)


def plan(session: Session, steps: list[BootstrapStep]) -> dict[str, dict[str, list[Change]]]:
    """step → host → what would change; touches nothing."""
    inventory = session.inventory
    prefetch(session, steps)
    result: dict[str, dict[str, list[Change]]] = {}
    for step in steps:
        if not step.applies(inventory) or step.plan is None:
            continue
        gathered = session.gather(step.name, step.hosts(inventory), lambda h, s=step: s.facts(inventory, h))
        result[step.name] = step.plan(inventory, gathered)
    return result


def run(session: Session, steps: list[BootstrapStep], *, verify: bool = False) -> BootstrapContext:
    """Run the selected steps in order; failed hosts are skipped by the steps after."""
    inventory = session.inventory
    ctx = BootstrapContext(verify=verify)
    prefetch(session, steps)
    for step in steps:
        if step.applies(inventory):
            step.run(session, ctx)
            ctx.changed = ctx.changed or session.changes_made > 0
    return ctx
