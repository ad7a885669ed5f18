"""The stages a live ensemble goes through when the managed CA is replaced, one roll each (pure).

Trust both, then switch: stage 1 adds the new CA to every server's
truststore (each still presents its old CA's certificate), stage 2 gives
each server a certificate of the new CA (made from a new request on its
node), stage 3 takes the old CA out of the truststore. Two servers one stage
apart trust each other's certificate, two stages apart they do not (a stage 0
server does not know the new CA, a stage 3 server no longer trusts the old),
so a roll moves the servers of the lowest stage up by one, as the quorum TLS
phases do, and a run stopped half way goes on from the stage each server is in.

A server's stage is read from its node: the CAs its truststore holds and the
CA that issued its certificate; a marker ("from X to Y") written before the
files says it still runs X until it restarts.
"""

from __future__ import annotations

STAGES = {
    0: "trusts the old CA, presents the old CA's certificate",
    1: "trusts the old and the new CA, presents the old CA's certificate",
    2: "trusts the old and the new CA, presents a new CA certificate",
    3: "trusts the new CA alone, presents its certificate",
}
DONE = 3


def trusts(stage: int) -> tuple[bool, bool]:
    """(the old CA, the new CA): which ones a server at ``stage`` trusts."""
    return stage < DONE, stage >= 1


def presents_new(stage: int) -> bool:
    """A server at ``stage`` presents a certificate of the new CA."""
    return stage >= 2


def accepts(stage: int, peer: int) -> bool:
    """A server at ``stage`` accepts the certificate of a peer at ``peer``."""
    old, new = trusts(stage)
    return new if presents_new(peer) else old


def stage_of(trusted: set[str], issuer: str, old: str, new: str | None) -> int | None:
    """The stage of a server that trusts the CAs whose key ids are ``trusted`` and presents a certificate
    issued by ``issuer``; None when it is in none (it trusts neither CA, or presents another's)."""
    has_old, has_new = old in trusted, new is not None and new in trusted
    if issuer == old:
        return 1 if has_old and has_new else 0 if has_old else None
    if new is not None and issuer == new:
        return 2 if has_old and has_new else DONE if has_new else None
    return None


def next_moves(stages: dict[str, int], done: int = DONE) -> dict[str, int]:
    """The stage each server moves to in the next roll (the lowest ones, by one); empty when all are at
    ``done`` (a SASL password rotation has its own last stage)."""
    if not stages:
        return {}
    low = min(stages.values())
    if low >= done:
        return {}
    return {host: low + 1 for host, stage in stages.items() if stage == low}


def rolls_left(stages: dict[str, int], done: int = DONE) -> list[dict[str, int]]:
    """Every roll from ``stages`` to ``done``, in order (what the dry run shows)."""
    out, now = [], dict(stages)
    while True:
        moves = next_moves(now, done)
        if not moves:
            return out
        out.append(moves)
        now.update(moves)


def controller_presents_new(stages: dict[str, int]) -> bool:
    """Whether the controller's own client certificate is to come from the new CA: once every server
    trusts it (stage 1 or more), and before any trusts the new CA alone."""
    return bool(stages) and min(stages.values()) >= 1


def running_stage(written: int, marker: str | None, restarted_since_marker: bool) -> int:
    """The stage a server runs: the written one, unless the marker ("from X to Y") was written since it
    last started; then X."""
    if marker and not restarted_since_marker:
        before = marker.split()
        if len(before) >= 2 and before[0] == "from" and before[1].isdigit() and int(before[1]) <= DONE:
            return int(before[1])
    return written


def marker_text(before: int, after: int) -> str:
    return f"from {before} to {after}\n"
