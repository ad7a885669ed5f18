"""clusterctl net plan|apply: static addresses (the runbook's ifcfg-eth0)."""

from __future__ import annotations

import click

from ..display import show_plan
from ..errors import HostsFailed
from ..run import open_run
from ..steps import network
from ..steps.base import not_applied, plan_steps, run_steps
from .options import run_options


@click.group("net")
def net_group() -> None:
    """Static addresses in each node's own format, applied with automatic rollback."""


@net_group.command("plan")
@run_options
@click.option("--diff", is_flag=True, help="Show each config file's diff.")
def net_plan(options, diff: bool) -> None:
    """Show each host's network config change; change nothing."""
    steps = [network.Network()]
    with open_run(options, "net-plan", read_only=True) as run:
        planned = plan_steps(run.session, steps)
    show_plan(run.console, planned, diff=diff, not_applied=not_applied(run.inventory, steps))
    if run.exit_status:
        raise HostsFailed(run.exit_status)


@net_group.command("apply")
@run_options
@click.option("--timeout", type=click.IntRange(5, 600), default=network.DEFAULT_TIMEOUT, show_default=True,
              help="Seconds the node waits for the controller to reach its new address before rolling back.")
def net_apply(options, timeout: int) -> None:
    """Install the config and reload; each node rolls back unless reached at its new address in time."""
    with open_run(options, "net-apply") as run:
        run_steps(run.session, [network.Network(timeout)])
    if run.exit_status:
        raise HostsFailed(run.exit_status)
