"""Rolling restart: one server at a time, the leader last, each back in sync before the next.

Restarting a follower or an observer costs the ensemble nothing while the
others hold the quorum; restarting the leader costs one election, so it is
done once, at the end, when every other server is known to be in sync. A
roll starts only when the ensemble can lose one voter and keep its quorum.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..core.session import HostContext, Outcome, Session
from ..errors import ClusterctlError, NoMarginToRestart, NoQuorum
from .server import control, java_home
from .status import EnsembleStatus, ServerStatus, describe, lagging, probe, wait_until_serving

STEP = "zk-restart"
SERVER_TIMEOUT = 120.0  # seconds for one server to come back in sync

_ROLL_RANK = {"down": 0, "looking": 0, "unknown": 0, "observer": 1, "follower": 2, "standalone": 3, "leader": 3}


def rolling_order(status: EnsembleStatus) -> list[str]:
    """Hosts in restart order: servers not serving, observers, followers (by id), the leader last (pure)."""
    return [s.host for s in sorted(status.servers, key=lambda s: (_ROLL_RANK[s.role], s.id))]


def check_margin(status: EnsembleStatus) -> None:
    """Raise unless the ensemble can lose one voter and still hold its quorum."""
    q = status.quorum
    if not q.has_quorum:
        raise NoQuorum(f"refusing a rolling restart: the ensemble has no quorum ({q.describe()}); "
                       f"use 'clusterctl zk start' to bring servers back")
    if q.tolerates < 1:
        down = [s.host for s in status.servers if not s.observer and s.role not in ("leader", "follower")]
        why = f" ({', '.join(down)} not in the quorum)" if down else ""
        raise NoMarginToRestart(f"refusing a rolling restart: {q.describe()}{why}; restarting any voter "
                                f"would stop the ensemble. Bring the missing voters back first, or restart "
                                f"everything at once with 'clusterctl zk restart'")


@dataclass
class RollResult:
    order: list[str]
    restarted: list[str] = field(default_factory=list)
    before: EnsembleStatus | None = None
    after: EnsembleStatus | None = None


def restart_one(session: Session, host: str, timeout: float) -> Outcome | None:
    """Restart ``host`` and wait until it is back in sync; None if the host failed (already reported)."""
    spec = session.inventory.zookeeper
    java = java_home(session.inventory)

    def work(ctx: HostContext) -> Outcome:
        started = time.monotonic()
        control(ctx, "restart", spec, java)
        back = wait_until_serving(session, [host], timeout)
        if not back.met:
            raise ClusterctlError(f"not back within {timeout:.0f}s: {host} is {describe(back.status.server(host))}; "
                                  f"{back.status.quorum.describe()}")
        role = back.status.server(host).role
        return Outcome.changed(f"back as {role} in {time.monotonic() - started:.1f}s", back.status)

    return session.for_each(STEP, [host], work).get(host)


def rolling_restart(session: Session, *, timeout: float = SERVER_TIMEOUT) -> RollResult:
    """Restart the targeted servers (all, or --hosts) in :func:`rolling_order`; stop at the first that fails.

    The margin is that of the whole ensemble, which every restart must keep.
    """
    before = probe(session)
    check_margin(before)
    result = RollResult(session.targets(rolling_order(before)), before=before)
    for host in result.order:
        outcome = restart_one(session, host, timeout)
        if outcome is None:
            for rest in result.order[len(result.restarted) + 1:]:
                session.reporter.note(rest, STEP, f"not restarted: the roll stopped at {host}")
            break
        result.restarted.append(host)
    if result.restarted == result.order:
        # The leader went last: the others then follow a new leader, and the roll is done when they serve again.
        whole = wait_until_serving(session, result.order, timeout)
        for host, why in lagging(whole.status, result.order, None).items():
            session.fail(host, STEP, f"not serving {timeout:.0f}s after the roll: {why}")
        result.after = whole.status
    else:
        result.after = probe(session)
    return result

