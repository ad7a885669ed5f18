"""clusterctl net plan|apply: static addresses (the runbook's ifcfg-eth0)."""

from __future__ import annotations

import click

from ..errors import HostsFailed
from ..display import show_plan
from ..run import open_run
from ..steps import network
from .options import run_options


@click.group("net")
def net_group() -> None:
    """Static addresses in each node's own format, applied with automatic rollback."""


@net_group.command("plan")
@run_options
def net_plan(options) -> None:
    """Show each host's network config change as a diff; change nothing."""
    with open_run(options, "net-plan") as run:
        gathered = run.session.gather(network.STEP, network.target_hosts(run.inventory), network.facts)
        planned = {network.STEP: network.plan(run.inventory, gathered)}
    show_plan(run.console, planned)
    if run.exit_status:
        raise HostsFailed(run.exit_status)


@net_group.command("apply")
@run_options
@click.option("--timeout", type=click.IntRange(5, 600), default=20, show_default=True,
              help="Seconds the node waits for the controller to reach its new address before rolling back.")
def net_apply(options, timeout: int) -> None:
    """Install the config and reload; each node rolls back unless reached at its new address in time."""
    with open_run(options, "net-apply") as run:
        network.run(run.session, timeout=timeout)
    if run.exit_status:
        raise HostsFailed(run.exit_status)
