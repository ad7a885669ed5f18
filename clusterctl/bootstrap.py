"""The whole runbook as one list of steps: preflight → network → hosts file → SSH trust → JDK → ZooKeeper → smoke.

Facts for every step are asked up front in one round trip per host, so a run
on a converged cluster costs one command per host before it can say
"nothing to do". Each step then decides from those facts; a host that a step
changed is asked again by the next step that needs it.
"""

from __future__ import annotations

from typing import Sequence

from .core.session import Session
from .steps import hosts_file, jdk, network, preflight, ssh_trust, tls, zookeeper
from .steps.base import HostPlan, Step, StepRun, plan_steps, run_steps, select


def runbook(*, verify: bool = False, verify_ssh: str = "ring", jdk_mode: str | None = None,
            start_timeout: float = zookeeper.START_TIMEOUT, pause: float = 0.0, confirm=None,
            force: bool = False) -> list[Step]:
    """Every step of the runbook, in order. Checks run when something changed, or always with ``verify``.

    On a running ensemble the last steps restart, one at a time and the leader last, only the
    servers whose configuration or release changed since they started (``pause`` seconds apart,
    each after ``confirm(host, question)`` when given).
    """
    return [
        preflight.Preflight(),
        network.Network(),
        hosts_file.HostsFile(),
        ssh_trust.SshKeys(),
        ssh_trust.SshTrust(),
        ssh_trust.SshVerify(verify_ssh, always=verify),
        *jdk.steps(jdk_mode),
        zookeeper.ZkStage(),
        zookeeper.ZkInstall(),
        tls.ZkTlsCerts(),
        zookeeper.ZkStart(timeout=start_timeout),
        zookeeper.ZkRoll("stale", start_timeout, pause=pause, confirm=confirm, security_rolls_follow=True),
        tls.ZkTlsRoll(max(start_timeout, 120.0), pause=pause, confirm=confirm, force=force),
        zookeeper.ZkSmoke(always=verify),
    ]


PHASES = tuple(dict.fromkeys(step.phase for step in runbook()))


def select_steps(only: Sequence[str] = (), skip: Sequence[str] = (), **options) -> list[Step]:
    """The runbook's steps of the phases ``only`` names (all when empty), less ``skip``; bad names: UsageError."""
    return select(runbook(**options), only, skip)


def plan(session: Session, steps: Sequence[Step]) -> dict[str, dict[str, HostPlan]]:
    """step → host → what would change; touches nothing. With the ZooKeeper steps, also the membership
    commands the inventory asks for (zk add, remove, promote, demote), as each would plan itself."""
    planned = plan_steps(session, steps)
    if any(isinstance(s, zookeeper.ZkInstall) for s in steps) and session.inventory.zookeeper is not None:
        from .steps.membership import pending  # here: the membership commands' install is the runbook
        planned.update(pending(session).steps)
    return planned


def run(session: Session, steps: Sequence[Step], *, verify: bool = False) -> StepRun:
    """Run the selected steps in order; failed hosts are skipped by the steps after."""
    return run_steps(session, steps, verify=verify)
