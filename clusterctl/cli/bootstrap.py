"""clusterctl bootstrap and clusterctl plan."""

from __future__ import annotations


import click

from .. import bootstrap
from ..errors import HostsFailed
from ..run import open_run
from ..steps.ssh_trust import VERIFY_MODES
from ..steps.zookeeper import status as zk_status
from .options import confirmation, run_options
from .planning import show_steps_plan
from .status_view import show_status


def _names(ctx, param, value: str | None) -> list[str]:
    return [n.strip() for n in value.split(",") if n.strip()] if value else []


phase_help = ", ".join(bootstrap.PHASES)


def runbook_options(func):
    """What bootstrap and apply take: step selection, checks, and how cautiously to roll."""
    for option in reversed([
        click.option("--only", callback=_names, help=f"Only these steps, comma-separated ({phase_help})."),
        click.option("--skip", callback=_names, help="Skip these steps, comma-separated."),
        click.option("--dry-run", is_flag=True, help="Show what would change and change nothing (as plan does, and "
                                                     "with no run log or known_hosts entry left behind)."),
        click.option("--verify", is_flag=True, help="Run the SSH proof, the JVM check and the smoke test even when "
                                                    "nothing changed."),
        click.option("--verify-ssh", type=click.Choice(VERIFY_MODES), default="ring", show_default=True,
                     help="ring: prove every pair from both ends' files and log in along a ring (N logins); "
                          "full: log in for every pair (N×N)."),
        click.option("--pause", type=click.FloatRange(0, 3600), default=0.0, show_default=True,
                     help="Seconds to wait between two servers' restarts."),
        click.option("--confirm", is_flag=True, help="Ask before restarting each server."),
        click.option("--force", is_flag=True, help="Close the plaintext client port ([tls] client = \"required\") "
                                                   "even while clients still use it."),
    ]):
        func = option(func)
    return func


@click.command("bootstrap")
@run_options
@runbook_options
def bootstrap_command(options, only, skip, dry_run: bool, verify: bool, verify_ssh: str, pause: float,
                      confirm: bool, force: bool) -> None:
    """The whole runbook: preflight, network, hosts file, SSH trust, JDK, ZooKeeper, quorum, smoke test, status.

    Re-run it at any time: it changes only what differs, and restarts only the
    servers whose configuration or release changed, one at a time, the leader
    last, each back in sync before the next. With --hosts it changes only
    those hosts (reading the others' keys and the ensemble).
    """
    _bootstrap("bootstrap", options, only, skip, dry_run, verify, verify_ssh, pause, confirm, force)


@click.command("apply")
@run_options
@runbook_options
def apply_command(options, only, skip, dry_run: bool, verify: bool, verify_ssh: str, pause: float,
                  confirm: bool, force: bool) -> None:
    """Bring a running cluster to the inventory with the fewest restarts (what bootstrap does on one).

    Files are converged first; then only the servers whose running configuration
    or release is stale restart, one at a time, the leader last, the margin (one
    more failure tolerated) checked before each, each caught up before the next.
    A run that stopped half way resumes where it stopped; a no-op run restarts nothing.
    """
    _bootstrap("apply", options, only, skip, dry_run, verify, verify_ssh, pause, confirm, force)


def _bootstrap(command: str, options, only, skip, dry_run, verify, verify_ssh, pause, confirm, force) -> None:
    steps = bootstrap.select_steps(only, skip, verify=verify, verify_ssh=verify_ssh, pause=pause,
                                   confirm=confirmation(options, confirm), force=force)
    if dry_run:
        return show_steps_plan(options, command, steps, dry_run=True)
    status = None
    with open_run(options, command, needs=steps) as run:
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
    show_steps_plan(options, "plan", bootstrap.select_steps(only, skip), diff=diff, as_json=as_json)
