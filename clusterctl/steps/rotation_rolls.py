"""The rolls of a rotation (``tls rotate-ca``, ``sasl rotate``): roll after roll, the servers of the lowest
stage each moved up by one, until every server is at the last stage.

Each roll is apply's (:func:`clusterctl.steps.upgrade.roll`): one server at a
time, followers first and the leader last, the margin checked before each,
each caught up before the next; a server that does not serve after its change
is put back to its previous stage by itself and the rotation stops there.
Stages are read again from the nodes before each roll, so a rotation stopped
half way goes on from where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

from ..core.session import HostContext, HostResults, Outcome
from ..tls.rotation import DONE, rolls_left
from ..zk import install as zk_install
from ..zk.restart import targets_in_rolling_order
from ..zk.status import probe


@dataclass(frozen=True)
class Rotation:
    """What a rotation rolls: each server's stage from its node, how a server is put at a stage, in words."""

    label: str  # "CA rotation": the summary names each roll after it
    stage_of: Callable[[Mapping[str, zk_install.ServerState]], dict[str, int | None]]  # None: in no stage
    put: Callable[[HostContext, int, int], None]  # (ctx, stage before, stage after): its files changed
    describe: Callable[[int], str]  # what a server at a stage has
    lost: str  # why a server in no stage fails
    done: int = DONE  # the last stage
    before_roll: Callable[[dict[str, int]], None] | None = None  # run before each roll, given the stages


def roll_through(step, session, rotation: Rotation, *, timeout: float, pause: float = 0.0,
                 confirm=None) -> tuple[HostResults, bool]:
    """Roll after roll until every server is at ``rotation.done`` (True), or one is put back or skipped.
    ``step`` (a ZooKeeper step) gathers the servers' facts again before each roll."""
    from .upgrade import Switch, UpgradeResult, roll
    spec = session.inventory.zookeeper
    results, done = HostResults(), 0
    while True:
        for host in spec.hosts:
            session.forget_facts(host, "zk.")
        stages = rotation.stage_of({h: zk_install.ServerState.from_facts(f, spec)
                                    for h, f in step.gather(session).items()})
        lost = [h for h, s in stages.items() if s is None]
        if lost:
            for host in lost:
                results[host] = Outcome.failed(rotation.lost)
            return results, False
        if rotation.before_roll is not None:
            rotation.before_roll(stages)
        upcoming = rolls_left(stages, rotation.done)
        if not upcoming:
            return results, True
        moves = upcoming[0]
        done += 1
        order = [h for h in targets_in_rolling_order(session, probe(session)) if h in moves]
        if len(order) < len(moves):
            # --hosts, or a server this run failed: the others cannot move on without it.
            for host in sorted(set(moves) - set(order)):
                results[host] = Outcome.failed(f"not in this run, and the rotation's next roll needs it "
                                               f"(stage {stages[host]} → {moves[host]})")
            return results, False
        label = f"{rotation.label} roll {done} ({len(upcoming)} left)"

        def forward(ctx: HostContext, moves=moves, stages=stages) -> str:
            host = ctx.host.name
            rotation.put(ctx, stages[host], moves[host])
            return f"stage {stages[host]} → {moves[host]}"

        def back(ctx: HostContext, moves=moves, stages=stages) -> None:
            host = ctx.host.name
            rotation.put(ctx, moves[host], stages[host])

        result = roll(session, step.name, order, Switch(label, forward, back), timeout=timeout, pause=pause,
                      confirm=confirm, result=UpgradeResult(order))
        results.update({h: Outcome.changed(f"stage {moves[h]}: {rotation.describe(moves[h])}")
                        for h in result.upgraded})
        if len(result.upgraded) < len(order):
            return results, False
