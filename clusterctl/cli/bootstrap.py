"""clusterctl bootstrap and clusterctl plan."""

from __future__ import annotations

import json

import click

from .. import bootstrap
from ..display import plan_json, show_plan
from ..errors import HostsFailed
from ..run import open_run
from ..steps.base import not_applied
from ..steps.ssh_trust import VERIFY_MODES
from ..steps.zookeeper import status as zk_status
from .options import confirmation, run_options
from .zk import show_status


def _names(ctx, param, value: str | None) -> list[str]:
    return [n.strip() for n in value.split(",") if n.strip()] if value else []


phase_help = ", ".join(bootstrap.PHASES)


def runbook_options(func):
    """What bootstrap and apply take: step selection, checks, and how cautiously to roll."""
    for option in reversed([
        click.option("--only", callback=_names, help=f"Only these steps, comma-separated ({phase_help})."),
        click.option("--skip", callback=_names, help="Skip these steps, comma-separated."),
        click.option("--dry-run", is_flag=True, help="Show what would change and change nothing (same as plan)."),
        click.option("--verify", is_flag=True, help="Run the SSH proof, the JVM check and the smoke test even when "
                                                    "nothing changed."),
        click.option("--verify-ssh", type=click.Choice(VERIFY_MODES), default="ring", show_default=True,
                     help="ring: prove every pair from both ends' files and log in along a ring (N logins); "
                          "full: log in for every pair (N×N)."),
        click.option("--pause", type=click.FloatRange(0, 3600), default=0.0, show_default=True,
                     help="Seconds to wait between two servers' restarts."),
        click.option("--confirm", is_flag=True, help="Ask before restarting each server."),
    ]):
        func = option(func)
    return func


@click.command("bootstrap")
@run_options
@runbook_options
def bootstrap_command(options, only, skip, dry_run: bool, verify: bool, verify_ssh: str, pause: float,
                      confirm: bool) -> None:
    """The whole runbook: preflight, network, hosts file, SSH trust, JDK, ZooKeeper, quorum, smoke test, status.

    Re-run it at any time: it changes only what differs, and restarts only the
    servers whose configuration or release changed, one at a time, the leader
    last, each back in sync before the next. With --hosts it changes only
    those hosts (reading the others' keys and the ensemble).
    """
    _bootstrap(options, only, skip, dry_run, verify, verify_ssh, pause, confirm)


@click.command("apply")
@run_options
@runbook_options
def apply_command(options, only, skip, dry_run: bool, verify: bool, verify_ssh: str, pause: float,
                  confirm: bool) -> None:
    """Bring a running cluster to the inventory with the fewest restarts (what bootstrap does on one).

    Files are converged first; then only the servers whose running configuration
    or release is stale restart, one at a time, the leader last, the margin (one
    more failure tolerated) checked before each, each caught up before the next.
    A run that stopped half way resumes where it stopped; a no-op run restarts nothing.
    """
    _bootstrap(options, only, skip, dry_run, verify, verify_ssh, pause, confirm)


def _bootstrap(options, only, skip, dry_run, verify, verify_ssh, pause, confirm) -> None:
    steps = bootstrap.select_steps(only, skip, verify=verify, verify_ssh=verify_ssh, pause=pause,
                                   confirm=confirmation(options, confirm))
    if dry_run:
        return _plan(options, steps, diff=False, as_json=False)
    status = None
    with open_run(options, "bootstrap", needs=steps) as run:
        done = bootstrap.run(run.session, steps, verify=verify)
        if run.inventory.zookeeper and any(s.phase in ("zookeeper", "zk-start", "smoke") for s in steps) \
                and not run.session.stopping.is_set() and not done.halted_by:
            status = zk_status(run.session)
    if status is not None:
        show_status(run.console, status)
    if run.exit_status:
        raise HostsFailed(run.exit_status)


@click.command("plan")
@run_options
@click.option("--only", callback=_names, help=f"Only these steps ({phase_help}).")
@click.option("--skip", callback=_names, help="Skip these steps.")
@click.option("--diff", is_flag=True, help="Show every change in full, files as unified diffs.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON on stdout.")
def plan_command(options, only, skip, diff: bool, as_json: bool) -> None:
    """Ask every host for its state and show per host and step what would change. Changes nothing.

    By default one line per host and step; --diff shows each file's diff, --json is for scripts.
    """
    _plan(options, bootstrap.select_steps(only, skip), diff=diff, as_json=as_json)


def _plan(options, steps, *, diff: bool, as_json: bool) -> None:
    if as_json:
        options.live = False
    with open_run(options, "plan", read_only=True, out=click.get_text_stream("stderr") if as_json else None) as run:
        planned = bootstrap.plan(run.session, steps)
    skipped = not_applied(run.inventory, steps)
    if as_json:
        click.echo(json.dumps(plan_json(planned, skipped), indent=2))
    else:
        show_plan(run.console, planned, diff=diff, not_applied=skipped)
    if run.exit_status:
        raise HostsFailed(run.exit_status)
