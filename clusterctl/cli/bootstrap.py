"""clusterctl bootstrap and clusterctl plan."""

from __future__ import annotations

import click
from .. import bootstrap
from ..errors import HostsFailed
from ..display import show_plan
from ..run import open_run
from ..steps import zookeeper
from .options import run_options
from .zk import show_status


def _names(ctx, param, value: str | None) -> list[str]:
    return [n.strip() for n in value.split(",") if n.strip()] if value else []


step_help = ", ".join(bootstrap.STEP_NAMES)


@click.command("bootstrap")
@run_options
@click.option("--only", callback=_names, help=f"Only these steps, comma-separated ({step_help}).")
@click.option("--skip", callback=_names, help="Skip these steps, comma-separated.")
@click.option("--dry-run", is_flag=True, help="Show what would change and change nothing (same as plan).")
@click.option("--verify", is_flag=True, help="Run the SSH matrix and smoke test even when nothing changed.")
def bootstrap_command(options, only, skip, dry_run: bool, verify: bool) -> None:
    """The whole runbook: hosts file, SSH trust, JDK, ZooKeeper, quorum, smoke test, status."""
    steps = bootstrap.select_steps(only, skip)
    if dry_run:
        return _plan(options, steps)
    status = None
    with open_run(options, "bootstrap") as run:
        bootstrap.run(run.session, steps, verify=verify)
        if run.inventory.zookeeper and any(s.name.startswith("z") for s in steps):
            status = zookeeper.status(run.session)
    if status is not None:
        show_status(run.console, status)
    if run.exit_status:
        raise HostsFailed(run.exit_status)


@click.command("plan")
@run_options
@click.option("--only", callback=_names, help=f"Only these steps ({step_help}).")
@click.option("--skip", callback=_names, help="Skip these steps.")
def plan_command(options, only, skip) -> None:
    """Ask every host for its state and show per host and step what would change. Changes nothing."""
    _plan(options, bootstrap.select_steps(only, skip))


def _plan(options, steps) -> None:
    with open_run(options, "plan") as run:
        planned = bootstrap.plan(run.session, steps)
    show_plan(run.console, planned)
    if run.exit_status:
        raise HostsFailed(run.exit_status)
