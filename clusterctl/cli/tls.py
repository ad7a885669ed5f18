"""clusterctl tls renew and tls rotate-ca."""

from __future__ import annotations

import click

from ..errors import HostsFailed
from ..run import load, open_run
from ..steps import zookeeper
from ..steps.base import require_packages, run_steps
from ..steps.tls import ZkTlsCerts
from .options import confirmation, dry_run_option, run_options
from .planning import show_steps_plan


@click.group("tls")
def tls_group() -> None:
    """TLS on the ensemble ([tls] in the inventory; apply turns it on or off): certificates and the CA."""


@tls_group.command("renew")
@run_options
@dry_run_option
@click.argument("nodes", nargs=-1)
@click.option("--pause", type=click.FloatRange(0, 3600), default=0.0, show_default=True,
              help="Seconds between two servers' restarts.")
@click.option("--confirm", is_flag=True, help="Ask before each server's restart.")
def tls_renew(options, nodes: tuple[str, ...], dry_run: bool, pause: float, confirm: bool) -> None:
    """A new key (made on each server's node) and certificate for the servers (all, or NODE...).

    The quorum reads a new certificate without a restart; the TLS client port of
    ZooKeeper 3.8 reads it at start, so servers with one then restart, one at a
    time, the leader last, each caught up before the next. apply does the same by
    itself for a certificate with fewer than [tls] renew_days left.
    """
    inventory = load(options)
    hosts = zookeeper.servers(inventory, nodes) if nodes else None
    steps = [ZkTlsCerts(hosts, renew=True),
             zookeeper.ZkRoll("stale", pause=pause, confirm=confirmation(options, confirm), hosts=hosts)]
    plan_or_run(options, "tls-renew", inventory, steps, dry_run)


def plan_or_run(options, command: str, inventory, steps, dry_run: bool) -> None:
    """``steps``' plan (a dry run), or their run; a host's failure is exit 1. What the inventory alone shows
    to be wrong is refused first, dry run or not (exit 2, no host contacted)."""
    require_packages(inventory, steps)
    if dry_run:
        return show_steps_plan(options, command, steps, dry_run=True)
    with open_run(options, command, inventory=inventory, needs=steps) as run:
        run_steps(run.session, steps)
    if run.exit_status:
        raise HostsFailed(run.exit_status)


@tls_group.command("rotate-ca")
@run_options
@dry_run_option
@click.option("--pause", type=click.FloatRange(0, 3600), default=0.0, show_default=True,
              help="Seconds between two servers' restarts.")
@click.option("--confirm", is_flag=True, help="Ask before each server's restart.")
def tls_rotate_ca(options, dry_run: bool, pause: float, confirm: bool) -> None:
    """A new managed CA in place of the cluster's, with no moment where two servers distrust each other.

    Made on this controller (the old one kept), then three rolls: every server
    trusts both CAs; every server gets a new key and a certificate of the new CA;
    every server trusts the new CA alone. This controller's client certificate
    moves with them; the old CA ends in retired/ beside the new one. Stopped half
    way, it goes on from where it stopped when run again (apply and tls renew
    refuse until it is finished).
    """
    from ..steps.ca_rotation import ZkCaRotation
    inventory = load(options)
    steps = [ZkCaRotation(pause=pause, confirm=confirmation(options, confirm))]
    plan_or_run(options, "tls-rotate-ca", inventory, steps, dry_run)
