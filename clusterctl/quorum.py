"""ZooKeeper quorum arithmetic: a quorum is more than half of the voters."""

from __future__ import annotations


def quorum_size(voters: int) -> int:
    """How many voters must be up for the ensemble to serve writes."""
    if voters < 1:
        raise ValueError("an ensemble needs at least one voter")
    return voters // 2 + 1


def failures_tolerated(voters: int) -> int:
    """How many voters may fail with the ensemble still holding a quorum."""
    return voters - quorum_size(voters)


def has_quorum(voters: int, up: int) -> bool:
    return up >= quorum_size(voters)


def even_voters_warning(voters: int) -> str:
    """Why an even number of voters buys nothing over one fewer."""
    return (f"{voters} voters tolerate {failures_tolerated(voters)} failure(s), no more than "
            f"{voters - 1} would; {voters + 1} voters would tolerate {failures_tolerated(voters + 1)}")
