"""clusterctl sasl rotate."""

from __future__ import annotations

import click

from ..run import load
from .options import confirmation, dry_run_option, run_options
from .tls import plan_or_run


@click.group("sasl")
def sasl_group() -> None:
    """SASL DIGEST-MD5 on the ensemble ([sasl] in the inventory; apply turns it on or off): its passwords."""


@sasl_group.command("rotate")
@run_options
@dry_run_option
@click.argument("whose", metavar="quorum|USER")
@click.option("--pause", type=click.FloatRange(0, 3600), default=0.0, show_default=True,
              help="Seconds between two servers' restarts.")
@click.option("--confirm", is_flag=True, help="Ask before each server's restart.")
def sasl_rotate(options, whose: str, dry_run: bool, pause: float, confirm: bool) -> None:
    """A new SASL password for the quorum (quorum) or a client user of [sasl] users (USER), rolled out live.

    The new password is made on this controller beside the current one
    (<file>.next, mode 600). quorum: three rolls, in which no two servers ever
    refuse each other: every server accepts a second quorum identity with the
    new password; every server logs in with it; the old identity is dropped.
    USER: one roll. A client user has one password on a server (no overlap):
    while the roll goes on, USER logs in with the old password on the servers
    not restarted yet and with the new one on the others, so its clients must
    try both, or see refusals. Without downtime: add a second user to [sasl]
    users, apply, move the clients to it, then remove the first.

    One server at a time, the leader last, each caught up before the next; at
    the end the new password replaces the kept one. Stopped half way, it goes
    on from where it stopped when run again (apply refuses until it is done).
    """
    from ..steps.sasl_rotation import QUORUM, ZkSaslRotation
    inventory = load(options)
    user = None if whose == QUORUM else whose
    steps = [ZkSaslRotation(user, pause=pause, confirm=confirmation(options, confirm))]
    plan_or_run(options, "sasl-rotate", inventory, steps, dry_run)
