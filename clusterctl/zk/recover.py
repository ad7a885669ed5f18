"""zk recover as pure decisions: whether the ensemble lost its quorum for good, which surviving server's
data it comes back from, and which servers are set aside and added back.

A quorum lost for good (too many voters gone with their machines) cannot be
repaired by a reconfig, which needs a quorum of the old membership. What is
left is each surviving server's data: the one with the most recent state
(the highest last zxid, read offline from its snapshots and logs) becomes an
ensemble of one, and the others join it as new servers would. Whatever was
acknowledged after that zxid was held only by servers that are gone: it
cannot be known, and it is lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import Refused, UsageError
from .fourlw import format_zxid
from .membership import Member, margin


@dataclass(frozen=True)
class Survivor:
    """A reachable server's data as the offline load reported it (``zxid`` None: it holds none)."""

    host: str
    zxid: int | None
    znodes: int = 0

    def describe(self) -> str:
        if self.zxid is None:
            return f"{self.host}: no data"
        return f"{self.host}: last zxid {format_zxid(self.zxid)}, {self.znodes} znodes"


def parse_last_zxid(host: str, text: str) -> Survivor:
    """``zk_recover.sh lastzxid``'s answer (``empty``, or ``zxid 0x…`` and ``count N``) (pure).
    ValueError when it is neither."""
    zxid = count = None
    for line in text.splitlines():
        words = line.split()
        if words == ["empty"]:
            return Survivor(host, None)
        if len(words) == 2 and words[0] == "zxid":
            zxid = int(words[1], 16)
        elif len(words) == 2 and words[0] == "count":
            count = int(words[1])
    if zxid is None or count is None:
        raise ValueError(f"no zxid and count in the offline load's answer: {text.strip()[-200:]!r}")
    return Survivor(host, zxid, count)


@dataclass
class Verdict:
    """What zk recover does: ``recover`` (from ``source``, the ensemble rebuilt) or ``grow`` (a recovered
    ensemble serves; servers the inventory lists are added back)."""

    mode: str
    source: str = ""
    survivors: dict[str, Survivor] = field(default_factory=dict)
    lost: list[str] = field(default_factory=list)  # members of the old membership that do not answer
    rejoin: list[str] = field(default_factory=list)  # set aside (their server stopped) and added, in this order
    waiting: list[str] = field(default_factory=list)  # inventory servers that do not answer: added once back

    @property
    def zxid(self) -> int | None:
        return self.survivors[self.source].zxid if self.source else None

    def honesty(self) -> str:
        """What the recovery keeps and what it cannot know, in a sentence or two."""
        s = self.survivors[self.source]
        others = [v.describe() for h, v in self.survivors.items() if h != self.source]
        line = (f"recovers to zxid {format_zxid(s.zxid)}, {s.host}'s data ({s.znodes} znodes), the most recent a "
                f"surviving server holds")
        line += f" (the others: {'; '.join(others)})" if others else ""
        if self.lost:
            line += (f". Writes acknowledged after it, which only {', '.join(self.lost)} may have had, cannot be "
                     f"known: if there were any, they are lost")
        return line


def decide(running: dict[int, Member], reachable: set[str], voting: set[str], survivors: dict[str, Survivor],
           servers: list[str], stale: set[str]) -> Verdict:
    """The verdict (pure); Refused (exit 4) or UsageError (exit 2) where zk recover is not the tool.

    ``running``: the newest membership the reachable servers hold; ``reachable``: the hosts that answer;
    ``voting``: the hosts whose server serves as leader or follower; ``survivors``: the offline reading of
    reachable members' data; ``servers``: the inventory's, in order; ``stale``: reachable hosts holding data
    or a membership from before (which zk add would refuse).
    """
    if not running:
        raise UsageError("no ensemble to recover: no server that answers holds a membership (clusterctl bootstrap "
                         "starts one)")
    now = margin(running, voting)
    members = {m.host for m in running.values()}
    if now.up >= now.needed:
        missing = [h for h in servers if h not in members]
        back = [h for h in missing if h in reachable]
        if not missing:
            raise Refused(f"a quorum is up ({now.describe()}): zk recover is for an ensemble that lost its quorum "
                          f"for good; nothing was changed. Put a new server in a dead one's place with clusterctl "
                          f"zk replace DEAD NEW")
        if not any(h in stale for h in back):
            waiting = [h for h in missing if h not in reachable]
            why = (f"{', '.join(waiting)} {'does' if len(waiting) == 1 else 'do'} not answer: run clusterctl zk "
                   f"recover again once back" if waiting else "")
            add = [h for h in back if h not in stale]
            why += ("; " if why and add else "") + (f"add {' '.join(add)} with clusterctl zk add" if add else "")
            raise Refused(f"a quorum is up ({now.describe()}) and no server left behind by a recovery answers; "
                          f"nothing was changed: {why}")
        return Verdict("grow", rejoin=back, waiting=[h for h in missing if h not in reachable])
    voters_here = sorted(m.host for m in running.values() if not m.observer and m.host in reachable)
    if len(voters_here) >= now.needed:
        raise Refused(f"{', '.join(voters_here)} answer: {len(voters_here)} of {now.voters} voters, enough for a "
                      f"quorum, so they can elect a leader themselves; nothing was changed. Start their servers "
                      f"(clusterctl zk start), or wait for the election")
    order = {h: i for i, h in enumerate(servers)}
    candidates = [survivors[m.host] for m in running.values() if m.host in survivors
                  and survivors[m.host].zxid is not None]
    if not candidates:
        raise Refused("no server that answers holds this ensemble's data: nothing to recover from; nothing was "
                      "changed (a backup brings it back: clusterctl zk restore)")
    voter = {m.host: not m.observer for m in running.values()}
    source = max(candidates, key=lambda s: (s.zxid, voter[s.host], -order.get(s.host, len(order)))).host
    lost = [m.host for m in sorted(running.values()) if m.host not in reachable]
    rejoin = [h for h in servers if h != source and h in reachable]
    return Verdict("recover", source, dict(survivors), lost, rejoin, [h for h in servers if h not in reachable])
