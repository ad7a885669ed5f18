"""The stages a live ensemble goes through when a SASL password is replaced, one roll each (pure).

The quorum's password: a JAAS ``QuorumServer`` section may accept several
identities (``user_NAME`` entries), a ``QuorumLearner`` logs in as one. So
stage 1 accepts a second identity with the new password beside the current
one, stage 2 logs in with the new identity (both still accepted), stage 3
drops the old identity. Every quorum connection is authenticated both ways
(each side's learner to the other's server), and two servers one stage apart
always accept what the other offers; two stages apart (0 and 2, 1 and 3)
they would not, so a roll moves the servers of the lowest stage up by one,
as a CA rotation does (:func:`clusterctl.tls.rotation.rolls_left`).

A client user's password: a ``Server`` section's ``user_NAME`` holds one
password, so there is no overlap: one roll (stage 1) gives each server the
new one, and a client logs in with the old password on servers not restarted
yet, with the new one on the others.

A server's stage is read from its node: its JAAS file's sha256 against the
render of each stage (the file is never read back), and a marker ("from X to
Y") written before the file says it still runs X until it restarts.
"""

from __future__ import annotations

from dataclasses import replace

from ..render.jaas import SaslPasswords, render_jaas
from ..tls.rotation import running_stage
from .install import sha256_text

QUORUM_DONE, USER_DONE = 3, 1
QUORUM_MOVES = {1: "its QuorumServer accepts the new quorum identity beside the current one",
                2: "its QuorumLearner logs in with the new identity (both still accepted)",
                3: "the old identity dropped: the new password alone"}


def last_stage(user: str | None) -> int:
    """The stage a rotation of the quorum's password (``user`` None) or a client user's ends at."""
    return QUORUM_DONE if user is None else USER_DONE


def describe_move(user: str | None, stage: int) -> str:
    """What a roll to ``stage`` changes on a server, in words."""
    return QUORUM_MOVES[stage] if user is None else f"{user}'s new password in its Server section"


def stage_passwords(current: SaslPasswords, new: SaslPasswords | None, user: str | None) -> list[SaslPasswords]:
    """What a server's JAAS file holds at each stage, from the first; the first alone while ``new`` is not
    made yet. ``new`` is ``current`` with the quorum's (``user`` None) or ``user``'s password replaced."""
    if new is None:
        return [current]
    if user is not None:
        return [current, new]
    old_identity, new_identity = (current.quorum_user, current.quorum), (new.quorum_user, new.quorum)
    return [current, replace(current, also_accepted=(new_identity,)), replace(new, also_accepted=(old_identity,)),
            new]


def stage_renders(current: SaslPasswords, new: SaslPasswords | None, user: str | None) -> list[str]:
    """The JAAS file of each stage (see :func:`stage_passwords`)."""
    return [render_jaas(p) for p in stage_passwords(current, new, user)]


def written_stage(sha256: str | None, renders: list[str]) -> int | None:
    """The stage whose render has the JAAS file's ``sha256``; None when none has (a file of another password)."""
    for stage, text in enumerate(renders):
        if sha256 == sha256_text(text):
            return stage
    return None


def server_stage(sha256: str | None, renders: list[str], marker: str | None,
                 restarted_since_marker: bool) -> int | None:
    """The stage a server runs: the one its file is in, or the one before while it has not restarted since
    the marker was written; None when its file is in no stage."""
    written = written_stage(sha256, renders)
    return None if written is None else running_stage(written, marker, restarted_since_marker)


def quorum_accepts(stage: int, peer: int) -> bool:
    """A server at ``stage`` accepts the identity a learner at ``peer`` logs in with (quorum rotation)."""
    accepts_old, accepts_new = stage < QUORUM_DONE, stage >= 1
    return accepts_new if peer >= 2 else accepts_old
