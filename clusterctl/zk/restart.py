"""Rolling restart: one server at a time, the leader last, each back in sync before the next.

Restarting a follower or an observer costs the ensemble nothing while the
others hold the quorum; restarting the leader costs one election, so it is
done once, at the end, when every other server is known to be in sync. A
roll starts only when the ensemble can lose one voter and keep its quorum.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from ..core.session import HostContext, Outcome, Session
from ..events import State
from ..errors import ClusterctlError, NoMarginToRestart, NoQuorum
from .server import control, java_home
from .status import EnsembleStatus, describe, lagging, probe, wait_until_serving

STEP = "zk-restart"
SERVER_TIMEOUT = 120.0  # seconds for one server to come back in sync

_ROLL_RANK = {"down": 0, "looking": 0, "unknown": 0, "observer": 1, "follower": 2, "standalone": 3, "leader": 3}


def rolling_order(status: EnsembleStatus) -> list[str]:
    """Hosts in restart order: servers not serving, observers, followers (by id), the leader last (pure)."""
    return [s.host for s in sorted(status.servers, key=lambda s: (_ROLL_RANK[s.role], s.id))]


def targets_in_rolling_order(session: Session, status: EnsembleStatus) -> list[str]:
    """The servers this run may restart (within --hosts, not failed), in :func:`rolling_order`."""
    return session.targets(rolling_order(status))


def check_margin(status: EnsembleStatus, host: str | None = None) -> None:
    """Raise unless the ensemble can lose one voter and still hold its quorum; or, for ``host``, unless it can
    lose that server: one that serves no one (looking, down) is not in the quorum, so restarting it takes
    nothing from it (a quorum must still be there)."""
    q = status.quorum
    if not q.has_quorum:
        raise NoQuorum(f"refusing a rolling restart: the ensemble has no quorum ({q.describe()}); "
                       f"use 'clusterctl zk start' to bring servers back")
    if host is not None and not status.server(host).serving:
        return
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
    skipped: list[str] = field(default_factory=list)
    before: EnsembleStatus | None = None
    after: EnsembleStatus | None = None


def restart_one(session: Session, host: str, timeout: float, step: str = STEP,
                reason: str = "") -> Outcome | None:
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
        why = f" ({reason})" if reason else ""
        return Outcome.changed(f"back as {role} in {time.monotonic() - started:.1f}s{why}", back.status)

    outcome = session.for_each(step, [host], work).get(host)
    return outcome if outcome is not None and outcome.succeeded else None


def rolling_restart(session: Session, *, timeout: float = SERVER_TIMEOUT, only: dict[str, str] | None = None,
                    pause: float = 0.0, confirm: Callable[[str, str], bool] | None = None,
                    step: str = STEP, before: EnsembleStatus | None = None) -> RollResult:
    """Restart servers one at a time in :func:`rolling_order`, the leader last; stop at the first that fails.

    ``only`` (host → why) restarts those servers alone, else every targeted
    one (all, or --hosts). The margin is that of the whole ensemble: it is
    checked before the roll and again before each server, which must be back
    in sync before the next goes. ``pause`` seconds pass between servers;
    ``confirm(host, question)`` is asked before each and may skip it.
    ``before`` is the ensemble a plan decided the order on (else it is asked now).
    """
    before = before or probe(session)
    wanted = targets_in_rolling_order(session, before)
    if only is not None:
        wanted = [h for h in wanted if h in only]
    # Servers that serve no one go first (rolling_order) and cost the quorum nothing: the margin that counts
    # is the one before each server that does serve.
    check_margin(before, wanted[0] if wanted else None)
    result = RollResult(wanted, before=before)
    for i, host in enumerate(result.order):
        why = (only or {}).get(host, "")
        if i:
            if pause:
                session.reporter.note(host, step, f"pausing {pause:g}s before the next server")
                time.sleep(pause)
            check_margin(probe(session), host)
        if confirm is not None and not confirm(host, f"restart {host}" + (f" ({why})" if why else "")):
            # A state, not a note: the operator's answer belongs on the screen and in the output.
            session.reporter.state(host, step, State.SKIPPED, "not restarted: skipped at the prompt")
            result.skipped.append(host)
            continue
        outcome = restart_one(session, host, timeout, step, why)
        if outcome is None:
            for rest in result.order[i + 1:]:
                session.reporter.state(rest, step, State.SKIPPED, f"not restarted: the roll stopped at {host}")
            break
        result.restarted.append(host)
    if result.restarted and len(result.restarted) + len(result.skipped) == len(result.order):
        # The leader went last: the others then follow a new leader, and the roll is done when they serve again.
        servers = [s.host for s in before.servers if s.host in session.targets([s.host])]
        whole = wait_until_serving(session, servers, timeout)
        for host, why in lagging(whole.status, servers, None).items():
            session.fail(host, step, f"not serving {timeout:.0f}s after the roll: {why}")
        result.after = whole.status
    else:
        result.after = probe(session)
    return result
