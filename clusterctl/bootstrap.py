"""The whole runbook as one list of steps: preflight → network → hosts file → SSH trust → JDK → ZooKeeper → smoke.

Facts for every step are asked up front in one round trip per host, so a run
on a converged cluster costs one command per host before it can say
"nothing to do". Each step then decides from those facts; a host that a step
changed is asked again by the next step that needs it.
"""

from __future__ import annotations

from typing import Sequence

from .core.session import Session
from .steps import zookeeper
from .steps.base import HostPlan, Step, StepRun, plan_steps, run_steps, select
from .steps.runbook import runbook

__all__ = ["PHASES", "plan", "run", "runbook", "select_steps"]


PHASES = tuple(dict.fromkeys(step.phase for step in runbook()))


def select_steps(only: Sequence[str] = (), skip: Sequence[str] = (), **options) -> list[Step]:
    """The runbook's steps of the phases ``only`` names (all when empty), less ``skip``; bad names: UsageError."""
    return select(runbook(**options), only, skip)


def plan(session: Session, steps: Sequence[Step]) -> dict[str, dict[str, HostPlan]]:
    """step → host → what would change; touches nothing. A roll's restarts say their order as the ensemble
    stands now (its servers asked); with the ZooKeeper steps, also the membership commands the inventory
    asks for (zk add, remove, promote, demote), as each would plan itself."""
    planned = plan_steps(session, steps)
    roll = planned.get(zookeeper.ZkRoll.name, {})
    if any(p.reasons for p in roll.values()):
        zookeeper.place_in_roll(roll, zookeeper.probe(session))
    if any(isinstance(s, zookeeper.ZkInstall) for s in steps) and session.inventory.zookeeper is not None:
        from .steps.membership import pending  # here: the membership commands' install is the runbook
        planned.update(pending(session).steps)
    return planned


def run(session: Session, steps: Sequence[Step], *, verify: bool = False) -> StepRun:
    """Run the selected steps in order; failed hosts are skipped by the steps after."""
    return run_steps(session, steps, verify=verify)
